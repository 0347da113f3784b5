"""Benchmark: ownership signatures verified per second (prints one JSON document).

Generates real keys and signatures for a mix of schemes and chains (EVM personal_sign, TRON
TIP-191, BIP-322 simple P2WPKH and P2TR key path (the direct check in por.assets.bip322), BIP-137 P2WSH
2-of-3 multisig, ed25519 on Solana / Aptos / Polkadot / Cardano / TON) and times `verify_entry` over N addresses.
Signing is slower than verifying, so DISTINCT signed entries are generated (N_DISTINCT) and
the verification pass runs over N entries cycling through them (each verification is done
from scratch: no caching in the verifier). Usage: bench/assets.py [N] [N_DISTINCT]
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time

import coincurve
from btclib import b32
from btclib.hashes import hash160
from nacl.signing import SigningKey

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from por.assets import ownership as own  # noqa: E402
from por.assets.wallets import WalletEntry  # noqa: E402

MSG = "por benchmark round"


ED_CHAINS = ("solana", "aptos", "polkadot", "cardano", "ton")


def make(i: int) -> WalletEntry:
    kind = i % 6
    k = os.urandom(32)
    m = MSG.encode()
    base = dict(source="bench", row=i, layout="por-wallets-v1", message=MSG)
    if kind == 0:
        pk = coincurve.PrivateKey(k)
        rs = pk.sign_recoverable(own.evm_digest(m, over_keccak=False), hasher=None)
        addr = "0x" + own._eth_address_of(pk.public_key).hex()
        return WalletEntry(chain="ethereum", address=addr, assets=("ETH",),
                           scheme="evm-personal-sign",
                           signatures=("0x" + (rs[:64] + bytes([27 + rs[64]])).hex(),), **base)
    if kind == 1:
        pk = coincurve.PrivateKey(k)
        rs = pk.sign_recoverable(own.tron_digest(m, v1=False), hasher=None)
        return WalletEntry(chain="tron", address=own.tron_address_of(pk.public_key),
                           assets=("USDT",), scheme="tron-tip191",
                           signatures=("0x" + (rs[:64] + bytes([27 + rs[64]])).hex(),), **base)
    if kind == 2:
        pub = coincurve.PrivateKey(k).public_key.format()
        return WalletEntry(chain="bitcoin", assets=("BTC",), scheme="bip322-simple",
                           address=b32.address_from_witness(0, hash160(pub), "mainnet"),
                           signatures=(own.bip322_sign_p2wpkh(k, m),), **base)
    if kind == 3:
        ks = [k, os.urandom(32), os.urandom(32)]
        pubs = [coincurve.PrivateKey(x).public_key.format() for x in ks]
        script = b"\x52" + b"".join(b"\x21" + p for p in pubs) + b"\x53\xae"
        return WalletEntry(chain="bitcoin", assets=("BTC",), scheme="btc-bms-multisig",
                           address=b32.address_from_witness(0, hashlib.sha256(script).digest(), "mainnet"),
                           redeem_script=script.hex(),
                           signatures=(own.bms_sign(ks[0], m), own.bms_sign(ks[2], m)), **base)
    if kind == 4:
        addr, sig = own.bip322_sign_p2tr(k, m)
        return WalletEntry(chain="bitcoin", assets=("BTC",), scheme="bip322-simple",
                           address=addr, signatures=(sig,), **base)
    sk = SigningKey(k)
    pk = bytes(sk.verify_key)
    chain = ED_CHAINS[(i // 6) % len(ED_CHAINS)]
    return WalletEntry(chain=chain, address=own.ed25519_address(chain, pk), assets=("SOL",),
                       scheme="ed25519-okx", public_keys=(pk.hex(),),
                       signatures=(sk.sign(own.okx_signed_bytes(m)).signature.hex(),), **base)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    n_distinct = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    t0 = time.perf_counter()
    distinct = [make(i) for i in range(n_distinct)]
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    bad = 0
    per_scheme: dict[str, list[float]] = {}
    for i in range(n):
        e = distinct[i % n_distinct]
        s = time.perf_counter()
        ok = own.verify_entry(e, MSG).ok
        kind = e.scheme + ("/p2tr" if e.address.startswith("bc1p") else "")
        per_scheme.setdefault(kind, []).append(time.perf_counter() - s)
        bad += not ok
    t_ver = time.perf_counter() - t0
    if bad:
        raise SystemExit(f"{bad} signatures did not verify")
    result = {
        "bench": "assets.ownership",
        "addresses_verified": n,
        "distinct_signed_entries": n_distinct,
        "note": "signatures generated for n_distinct entries, verification cycles over them",
        "generation_s": round(t_gen, 2),
        "verification_s": round(t_ver, 2),
        "signatures_per_s": round(n / t_ver, 1),
        "per_scheme_us": {k: round(1e6 * sum(v) / len(v), 1) for k, v in sorted(per_scheme.items())},
        "per_scheme_count": {k: len(v) for k, v in sorted(per_scheme.items())},
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores_used": 1,
    }
    from por.assets.evm import bench_reads

    # balance reads at a past block against the in-process EVM (py-evm): ETH and ERC-20
    result["balance_reads"] = bench_reads(400)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
