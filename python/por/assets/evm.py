"""EVM reserves at the snapshot block: native ETH and ERC-20 balances over JSON-RPC.

:func:`read_balances` asks an Ethereum JSON-RPC endpoint, AT THE SNAPSHOT BLOCK, for
``eth_getBalance(address, block)`` (native ETH) and ``eth_call(balanceOf(address), block)``
(ERC-20 tokens, after checking with ``eth_getCode`` that the token address holds a contract
at that block and reading its ``decimals()``).

Units. The chain's raw integer (wei, or the token's own base unit, 10**-decimals()) is kept in
:class:`EvmBalance` ``.raw``; ``.amount`` is the same balance in por's registry base unit
(:mod:`por.amounts`): ``floor(raw / 10**(chain_decimals - registry_decimals))``. For ETH that is
gwei = floor(wei / 10**9); for an 18-decimal token with 9 registry decimals, floor(raw / 10**9).
Rounding down can only understate reserves, never overstate them, so it is the conservative
choice for a proof of reserves; the dropped remainder is reported (``.dropped``).

For tests and the demo, :func:`start_demo_chain` deploys two real ERC-20 contracts written in
Vyper (``contracts/TetherLike.vy``, ``contracts/CircleLike.vy``; compiled offline by the vyper
package) on an in-process py-evm chain (eth-tester), funds the given addresses, and serves the
chain over real HTTP JSON-RPC on 127.0.0.1 (:class:`EvmRpcServer`), so that
``--evm-rpc http://127.0.0.1:PORT`` works like any node.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, Mapping

from por.amounts import get_asset

NATIVE_ASSET = "ETH"
NATIVE_DECIMALS = 18  # wei

#: Well-known ERC-20 contracts on Ethereum mainnet (chain id 1) and their on-chain decimals.
MAINNET_TOKENS: dict[str, tuple[str, int]] = {
    "USDT": ("0xdAC17F958D2ee523a2206206994597C13D831ec7", 6),
    "USDC": ("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", 6),
    "LINK": ("0x514910771AF9Ca656af840dff83E8264EcF986CA", 18),
    "SHIB": ("0x95aD61b0a150d79219dCF64E1E6Cc01f0B64C4cE", 18),
    "UNI": ("0x1f9840a85d5aF5bf1D1762F925BDADdC4201F984", 18),
    "OKB": ("0x75231F58b43240C9718Dd58B4967c5114342a86c", 18),
    "PEPE": ("0x6982508145454Ce325dDbE47a25d4ec3d2311933", 18),
}

SEL_BALANCE_OF = bytes.fromhex("70a08231")  # balanceOf(address)
SEL_DECIMALS = bytes.fromhex("313ce567")  # decimals()
CONTRACTS_DIR = Path(__file__).with_name("contracts")


class EvmError(ValueError):
    """A balance that could not be read exactly as asked (bad address, token, block, node)."""


@dataclass(frozen=True)
class EvmBalance:
    address: str  # as the caller wrote it
    asset: str
    block: int
    raw: int  # the chain's integer: wei, or token base units (10**-chain_decimals)
    chain_decimals: int
    amount: int  # in por's registry base unit (floor)
    dropped: int  # raw - amount * 10**(chain_decimals - registry_decimals) (>= 0)
    token: str | None  # the ERC-20 contract address, None for native ETH


@dataclass(frozen=True)
class EvmSnapshot:
    chain_id: int
    block: int
    block_hash: str
    balances: tuple[EvmBalance, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, "block": self.block, "block_hash": self.block_hash,
                "balances": [asdict(b) for b in self.balances]}


def connect(rpc_url_or_web3: Any) -> Any:
    """A :class:`web3.Web3` for a URL (HTTP JSON-RPC) or an existing Web3 instance."""
    from web3 import Web3

    if isinstance(rpc_url_or_web3, Web3):
        return rpc_url_or_web3
    if not isinstance(rpc_url_or_web3, str) or not rpc_url_or_web3.startswith(("http://",
                                                                              "https://")):
        raise EvmError(f"bad EVM RPC endpoint {rpc_url_or_web3!r}; want http(s)://host:port")
    return Web3(Web3.HTTPProvider(rpc_url_or_web3, request_kwargs={"timeout": 60}))


def _to_registry(raw: int, chain_decimals: int, asset: str) -> tuple[int, int]:
    reg = get_asset(asset).decimals
    if chain_decimals >= reg:
        q, r = divmod(raw, 10 ** (chain_decimals - reg))
        return q, r
    return raw * 10 ** (reg - chain_decimals), 0


def _checksum(address: str, what: str) -> str:
    from web3 import Web3

    ok = isinstance(address, str) and Web3.is_address(address) and len(address) == 42
    if ok:
        body = address[2:]
        mixed = body != body.lower() and body != body.upper()
        ok = not mixed or Web3.is_checksum_address(address)
    if not ok:
        raise EvmError(f"{what}: {address!r} is not a valid EVM address (20 bytes hex; "
                       f"mixed case must match its EIP-55 checksum)")
    return Web3.to_checksum_address(address)


def read_balances_detailed(rpc_url_or_web3: Any, queries: Iterable[tuple[str, str]],
                           block: int, tokens: Mapping[str, str] | None = None) -> EvmSnapshot:
    """Read every (address, asset) balance at ``block``; raw chain units and registry units.

    ``tokens`` maps an asset symbol to its ERC-20 contract address; when ``None`` the known
    Ethereum mainnet contracts are used if the endpoint's chain id is 1. Raises
    :class:`EvmError` for an invalid address, an asset with no known contract, an address
    with no contract code at ``block``, a block beyond the chain head, or a node error.
    """
    w3 = connect(rpc_url_or_web3)
    try:
        chain_id = int(w3.eth.chain_id)
        head = int(w3.eth.block_number)
    except Exception as exc:
        raise EvmError(f"EVM RPC {rpc_url_or_web3!r} did not answer: {exc}") from None
    if isinstance(block, bool) or not isinstance(block, int) or block < 0:
        raise EvmError(f"snapshot block must be a non-negative integer, got {block!r}")
    if block > head:
        raise EvmError(f"snapshot block {block} is beyond the chain head {head}")
    try:
        block_hash = w3.eth.get_block(block)["hash"].to_0x_hex()
    except Exception as exc:
        raise EvmError(f"cannot read block {block}: {exc}") from None

    expected_decimals: dict[str, int] = {}
    if tokens is None:
        tokens = {a: addr for a, (addr, _) in MAINNET_TOKENS.items()} if chain_id == 1 else {}
        if chain_id == 1:
            expected_decimals = {a: d for a, (_, d) in MAINNET_TOKENS.items()}
    token_info: dict[str, tuple[str, int]] = {}

    def token(asset: str) -> tuple[str, int]:
        if asset in token_info:
            return token_info[asset]
        if asset not in tokens:
            raise EvmError(f"unknown token {asset!r}: no ERC-20 contract address for it on "
                           f"chain id {chain_id} (known: {sorted(tokens) or 'none'})")
        addr = _checksum(tokens[asset], f"token contract for {asset}")
        code = w3.eth.get_code(addr, block_identifier=block)
        if len(code) == 0:
            raise EvmError(f"token {asset}: no contract code at {addr} at block {block}")
        out = _eth_call(w3, addr, SEL_DECIMALS, block, f"token {asset} decimals()")
        dec = int.from_bytes(out, "big")
        if dec > 77:
            raise EvmError(f"token {asset} at {addr}: decimals() = {dec} is not plausible")
        if asset in expected_decimals and dec != expected_decimals[asset]:
            raise EvmError(f"token {asset} at {addr}: decimals() = {dec}, expected "
                           f"{expected_decimals[asset]}")
        token_info[asset] = (addr, dec)
        return addr, dec

    results = []
    for address, asset in queries:
        try:
            get_asset(asset)
        except KeyError:
            raise EvmError(f"{address}: asset {asset!r} is not in the asset registry") from None
        cs = _checksum(address, f"{asset} reserve address")
        if asset == NATIVE_ASSET:
            try:
                raw = int(w3.eth.get_balance(cs, block_identifier=block))
            except Exception as exc:
                raise EvmError(f"eth_getBalance({cs}, {block}) failed: {exc}") from None
            dec, contract = NATIVE_DECIMALS, None
        else:
            contract, dec = token(asset)
            out = _eth_call(w3, contract, SEL_BALANCE_OF + bytes(12) + bytes.fromhex(cs[2:]),
                            block, f"{asset} balanceOf({cs})")
            raw = int.from_bytes(out, "big")
        amount, dropped = _to_registry(raw, dec, asset)
        results.append(EvmBalance(address, asset, block, raw, dec, amount, dropped, contract))
    return EvmSnapshot(chain_id, block, block_hash, tuple(results))


def _eth_call(w3: Any, to: str, data: bytes, block: int, what: str) -> bytes:
    try:
        out = bytes(w3.eth.call({"to": to, "data": "0x" + data.hex()}, block_identifier=block))
    except Exception as exc:
        raise EvmError(f"{what} at block {block}: eth_call failed: {exc}") from None
    if len(out) != 32:
        raise EvmError(f"{what} at block {block}: expected one 32-byte word, got "
                       f"{len(out)} bytes (not an ERC-20 contract?)")
    return out


def read_balances(rpc_url_or_web3: Any, queries: Iterable[tuple[str, str]], block: int,
                  tokens: Mapping[str, str] | None = None) -> dict[tuple[str, str], int]:
    """``{(address, asset): balance in por registry base units}`` at ``block`` (see module
    docstring for the conservative floor conversion)."""
    snap = read_balances_detailed(rpc_url_or_web3, queries, block, tokens)
    return {(b.address, b.asset): b.amount for b in snap.balances}


# --------------------------------------------------------------------------------------
# the in-process chain: contracts, deployment, a JSON-RPC server
# --------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def compile_contract(name: str) -> tuple[list[dict[str, Any]], str]:
    """(abi, bytecode hex) of ``contracts/<name>.vy``, compiled offline with vyper."""
    import vyper

    src = (CONTRACTS_DIR / f"{name}.vy").read_text()
    out = vyper.compile_code(src, output_formats=["abi", "bytecode"])
    return out["abi"], out["bytecode"]


TOKEN_CONTRACTS = {"USDT": "TetherLike", "USDC": "CircleLike"}


def new_tester_chain(funds_wei: int = 10**33) -> Any:
    """A fresh in-process py-evm chain (eth-tester) whose first account holds ``funds_wei``."""
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import EthereumTesterProvider, Web3

    state = PyEVMBackend.generate_genesis_state(overrides={"balance": funds_wei},
                                                num_accounts=2)
    tester = EthereumTester(PyEVMBackend(genesis_state=state))
    return Web3(EthereumTesterProvider(tester))


def deploy_token(w3: Any, asset: str) -> str:
    abi, bytecode = compile_contract(TOKEN_CONTRACTS[asset])
    owner = w3.eth.accounts[0]
    txh = w3.eth.contract(abi=abi, bytecode=bytecode).constructor().transact({"from": owner})
    return w3.eth.wait_for_transaction_receipt(txh)["contractAddress"]


def token_contract(w3: Any, asset: str, address: str) -> Any:
    return w3.eth.contract(address=address, abi=compile_contract(TOKEN_CONTRACTS[asset])[0])


def fund(w3: Any, tokens: Mapping[str, str], address: str, asset: str, amount: int) -> None:
    """Give ``address`` ``amount`` registry base units of ETH (sent) or a token (minted)."""
    owner = w3.eth.accounts[0]
    to = _checksum(address, "funded address")
    if asset == NATIVE_ASSET:
        wei = amount * 10 ** (NATIVE_DECIMALS - get_asset("ETH").decimals)
        txh = w3.eth.send_transaction({"from": owner, "to": to, "value": wei})
    else:
        if asset not in tokens:
            raise EvmError(f"the demo chain has no {asset} token (only {sorted(tokens)})")
        txh = token_contract(w3, asset, tokens[asset]).functions.mint(to, amount).transact(
            {"from": owner})
    w3.eth.wait_for_transaction_receipt(txh)


class EvmRpcServer:
    """Serves an in-process eth-tester chain over HTTP JSON-RPC on 127.0.0.1 (standard wire
    format: hex quantities and data). Implements the read methods por uses plus
    web3_clientVersion / net_version; other methods answer -32601."""

    def __init__(self, w3: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.w3 = w3
        self.tester = w3.provider.ethereum_tester
        self.requests = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def serve_forever(self) -> None:
        self._thread.join()

    @staticmethod
    def _block(tag: Any) -> Any:
        if tag in ("latest", "earliest", "pending"):
            return tag
        if tag in ("safe", "finalized"):
            return "latest"
        if isinstance(tag, str) and tag.startswith("0x"):
            return int(tag, 16)
        raise ValueError(f"bad block tag {tag!r}")

    def dispatch(self, method: str, params: list[Any]) -> Any:
        t = self.tester
        if method == "web3_clientVersion":
            return "por-eth-tester/py-evm"
        if method == "eth_chainId":
            return hex(self.w3.eth.chain_id)
        if method == "net_version":
            return str(self.w3.eth.chain_id)
        if method == "eth_blockNumber":
            return hex(t.get_block_by_number("latest")["number"])
        if method == "eth_getBalance":
            return hex(t.get_balance(params[0], self._block(params[1])))
        if method == "eth_getCode":
            return t.get_code(params[0], self._block(params[1]))
        if method == "eth_call":
            tx = dict(params[0])
            tx.setdefault("from", t.get_accounts()[0])
            for k in ("gas", "value", "gasPrice"):
                if k in tx:
                    tx[k] = int(tx[k], 16)
            if "input" in tx and "data" not in tx:
                tx["data"] = tx.pop("input")
            return t.call(tx, self._block(params[1]))
        if method == "eth_getBlockByNumber":
            b = t.get_block_by_number(self._block(params[0]), full_transactions=False)
            return {"number": hex(b["number"]), "hash": b["hash"],
                    "parentHash": b["parent_hash"], "timestamp": hex(b["timestamp"]),
                    "stateRoot": b["state_root"], "transactions": list(b["transactions"]),
                    "gasLimit": hex(b["gas_limit"]), "gasUsed": hex(b["gas_used"]),
                    "miner": b["coinbase"], "extraData": b["extra_data"],
                    "logsBloom": hex(b["logs_bloom"]) if isinstance(b["logs_bloom"], int)
                    else b["logs_bloom"], "nonce": b["nonce"],
                    "baseFeePerGas": hex(b.get("base_fee_per_gas") or 0),
                    "difficulty": hex(b.get("difficulty", 0)), "size": hex(b.get("size", 0)),
                    "sha3Uncles": b["sha3_uncles"], "uncles": [],
                    "receiptsRoot": b["receipts_root"],
                    "transactionsRoot": b["transactions_root"], "mixHash": b.get(
                        "mix_hash", "0x" + "00" * 32)}
        raise LookupError(method)

    def _answer(self, req: Any) -> dict[str, Any]:
        rid = req.get("id") if isinstance(req, dict) else None
        try:
            method, params = req["method"], list(req.get("params", []))
            with self._lock:
                self.requests += 1
                result = self.dispatch(method, params)
            return {"jsonrpc": "2.0", "id": rid, "result": result}
        except LookupError as exc:
            return {"jsonrpc": "2.0", "id": rid,
                    "error": {"code": -32601, "message": f"method not found: {exc}"}}
        except Exception as exc:  # a node answers errors, it does not crash
            return {"jsonrpc": "2.0", "id": rid,
                    "error": {"code": -32000, "message": f"{type(exc).__name__}: {exc}"}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    req = json.loads(body)
                    doc: Any = ([server._answer(r) for r in req] if isinstance(req, list)
                                else server._answer(req))
                except ValueError:
                    doc = {"jsonrpc": "2.0", "id": None,
                           "error": {"code": -32700, "message": "parse error"}}
                out = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        return Handler


@dataclass
class DemoChain:
    """A running in-process EVM chain served on 127.0.0.1 (close() when done)."""

    url: str
    block: int  # the snapshot block: every reserve funded at or before it
    tokens: dict[str, str]
    w3: Any = field(repr=False)
    server: EvmRpcServer = field(repr=False)

    def close(self) -> None:
        self.server.close()

    def info(self) -> dict[str, Any]:
        return {"url": self.url, "block": self.block, "tokens": self.tokens,
                "chain_id": int(self.w3.eth.chain_id)}


def start_demo_chain(reserves: Iterable[tuple[str, str, int]], after_snapshot: bool = True,
                     port: int = 0) -> DemoChain:
    """Deploy the USDT-like and USDC-like tokens, fund each (address, asset, amount in registry
    base units), take the snapshot block, then (``after_snapshot``) send every funded address
    one more unit of each of its assets so that reading at the wrong block would show."""
    w3 = new_tester_chain()
    tokens = {a: deploy_token(w3, a) for a in TOKEN_CONTRACTS}
    reserves = list(reserves)
    for address, asset, amount in reserves:
        fund(w3, tokens, address, asset, amount)
    block = int(w3.eth.block_number)
    if after_snapshot:
        for address, asset, _ in reserves:
            fund(w3, tokens, address, asset, 1)
    server = EvmRpcServer(w3, port=port)
    return DemoChain(server.url, block, tokens, w3, server)


def bench_reads(n: int = 200) -> dict[str, Any]:
    """Balance reads per second at a past block: in process (web3 + eth-tester) and through
    the HTTP JSON-RPC server. Half the reads are ETH, half ERC-20 ``balanceOf``."""
    from eth_account import Account

    addrs = [Account.create().address for _ in range(8)]
    chain = start_demo_chain([(a, s, 10**6 + i) for i, a in enumerate(addrs)
                              for s in ("ETH", "USDT")])
    try:
        queries = [(addrs[i % len(addrs)], ("ETH", "USDT")[i % 2]) for i in range(n)]
        out: dict[str, Any] = {"reads": n}
        for name, target in (("in_process", chain.w3), ("http", chain.url)):
            t0 = time.perf_counter()
            read_balances(target, queries, chain.block, chain.tokens)
            dt = time.perf_counter() - t0
            out[name] = {"seconds": round(dt, 4), "reads_per_second": round(n / dt, 1)}
        return out
    finally:
        chain.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m por.assets.evm serve-demo --fund ADDR:ASSET:AMOUNT ... [--port P]
    [--info FILE]``: run a demo chain until interrupted (prints its URL, block and tokens as
    JSON). ``python -m por.assets.evm bench [N]``: print :func:`bench_reads` as JSON."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m por.assets.evm")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve-demo")
    s.add_argument("--fund", action="append", default=[], help="ADDRESS:ASSET:BASE_UNITS")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--info", type=Path, help="also write the JSON info to this file")
    b = sub.add_parser("bench")
    b.add_argument("n", type=int, nargs="?", default=200)
    args = ap.parse_args(argv)
    if args.cmd == "bench":
        print(json.dumps(bench_reads(args.n)))
        return
    reserves = []
    for k, f in enumerate(args.fund):
        parts = f.split(":")
        if len(parts) != 3 or not parts[2].isdigit():
            raise SystemExit(f"--fund #{k + 1} {f!r}: want ADDRESS:ASSET:BASE_UNITS")
        reserves.append((parts[0], parts[1], int(parts[2])))
    chain = start_demo_chain(reserves, port=args.port)
    info = json.dumps(chain.info())
    if args.info:
        args.info.write_text(info + "\n")
    print(info, flush=True)
    try:
        chain.server.serve_forever()
    except KeyboardInterrupt:
        chain.close()


if __name__ == "__main__":
    main()
