"""The assets half of `make demo`: real chains for the synthetic exchange's reserves.

Starts, in this process, an in-process EVM chain (py-evm, with the USDT-like and USDC-like
Vyper ERC-20s deployed) and a served regtest Bitcoin chain, funds the exchange's wallets from
``exchange/reserves.csv`` at the snapshot height (and pays them again after it, so that a read
at the wrong height would show), then runs the real CLI against them:
``por wallets sign``, ``por prove assets`` and ``por verify assets``. Reserves on chains that
por cannot read here (TRON, the ed25519 chains, AVAX, ETC, LTC, DOGE, BCH, XRP, FIL, ERC-20s other than
USDT/USDC) go into a declared-balances file,
marked "declared (unverified by por)" in the bundle.

Run: ``python -m por.demo ROUND_DIR ASSETS_DIR`` (``make demo`` passes ``BUNDLE/assets``); the
signed wallet file and the declared balances are written to ``ROUND_DIR/exchange/``.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from por.amounts import get_asset
from por.assets.btcchain import start_demo_btc_node
from por.assets.evm import TOKEN_CONTRACTS, start_demo_chain

SIGNED_CHAINS = ("bitcoin", "ethereum", "tron", "solana", "aptos", "ton", "polkadot", "cardano",
                 "avalanche", "ethereumclassic", "litecoin", "dogecoin", "bitcoincash", "xrp",
                 "filecoin")


def _por(*args: str) -> None:
    cmd = [sys.executable, "-m", "por", *args]
    print("$ por " + " ".join(args), flush=True)
    subprocess.run(cmd, check=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    round_dir, bundle = Path(argv[0]), Path(argv[1])
    bundle.mkdir(parents=True, exist_ok=True)
    with open(round_dir / "exchange" / "reserves.csv", newline="") as f:
        reserves = [(r["chain"], r["address"], r["asset"], int(r["amount"])) for r in csv.DictReader(f)]

    evm = [(a, s, v) for c, a, s, v in reserves if c == "ethereum" and (s == "ETH" or s in TOKEN_CONTRACTS)]
    btc = [(a, v) for c, a, s, v in reserves if c == "bitcoin" and s == "BTC"]
    declared = [(c, a, s, v) for c, a, s, v in reserves
                if c in SIGNED_CHAINS and not (c == "ethereum" and (s == "ETH" or s in TOKEN_CONTRACTS))
                and c != "bitcoin"]
    unreachable = sorted({c for c, *_ in reserves if c not in SIGNED_CHAINS})

    print(f"starting an in-process EVM chain for {len(evm)} reserve balances "
          f"and a regtest Bitcoin chain for {len(btc)} ...", flush=True)
    chain = start_demo_chain(evm)
    node = start_demo_btc_node(btc)
    try:
        work = round_dir / "exchange"  # the operator's inputs: kept out of the public bundle
        declared_path = work / "declared-balances.csv"
        with open(declared_path, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["address", "chain", "asset", "amount", "height"])
            for c, a, s, v in declared:
                w.writerow([a, c, s, get_asset(s).format(v), 1])
        message = f"por demo round: I control this address ({round_dir.name})"
        wallets = work / "wallets.json"
        _por("wallets", "sign", "--keys", str(round_dir / "exchange" / "wallet_keys.json"),
             "--reserves", str(round_dir / "exchange" / "reserves.csv"),
             "--message", message, "--out", str(wallets))
        tokens = [x for s, addr in chain.tokens.items() for x in ("--evm-token", f"{s}={addr}")]
        _por("prove", "assets", "--wallets", str(wallets), "--out", str(bundle),
             "--message", message, "--evm-rpc", chain.url, "--btc-rpc", node.url,
             "--height", f"ethereum={chain.block}", "--height", f"bitcoin={node.height}",
             "--balances", str(declared_path), *tokens)
        _por("verify", "assets", str(bundle), "--evm-rpc", chain.url, "--btc-rpc", node.url)
    finally:
        chain.close()
        node.close()
    if unreachable:
        print("not in the assets proof (no wallet keys or client for these chains yet): "
              + ", ".join(unreachable))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
