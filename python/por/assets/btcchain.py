"""Build a real regtest-format Bitcoin chain, and serve it over Bitcoin Core's JSON-RPC.

Used by the tests and the demo to stand in for a Bitcoin Core regtest node (which cannot be
installed on the build machine). Everything is real Bitcoin data:

* secp256k1 keys (coincurve / libsecp256k1), P2WPKH, P2WSH 2-of-3 multisig and P2PKH outputs;
* transactions in segwit serialisation with BIP-143 signatures (segwit inputs) and legacy
  SIGHASH_ALL signatures (P2PKH inputs), low-S DER, txids and wtxids;
* coinbases with the BIP-34 height, the segwit witness commitment and the block subsidy + fees;
* block headers with regtest proof of work (nBits 0x207fffff, the nonce ground until the hash is
  below the target), merkle roots, and blocks serialised byte for byte as Bitcoin Core stores them
  (``getblock HASH 0``). Block 0 is Bitcoin's real regtest genesis block.

:class:`RegtestRpcServer` is a real HTTP JSON-RPC server on 127.0.0.1 that answers the calls
por's reader makes (getblockcount, getblockhash, getbestblockhash, getblock verbosity 0,
invalidateblock, reconsiderblock, scantxoutset) from these blocks, with the UTXO code of
:mod:`por.assets.bitcoin`. See docs/chains.md for what that does and does not prove.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Sequence

import coincurve

from por.assets.bitcoin import (
    SATS_PER_BTC,
    Block,
    BlockHeader,
    Tx,
    TxIn,
    TxOut,
    UtxoSet,
    bip34_height_script,
    bits_to_target,
    block_subsidy,
    display_hash,
    hash160,
    merkle_root,
    parse_block,
    ser_bytes,
    sha256d,
    script_to_address,
    address_to_script,
    witness_commitment,
    WITNESS_COMMITMENT_HEADER,
)

REGTEST_BITS = 0x207FFFFF
SIGHASH_ALL = 1
OP_CHECKMULTISIG = 0xAE


# --------------------------------------------------------------------------------------
# keys, scripts, wallets
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """A secp256k1 key pair (compressed public key)."""

    secret: bytes

    @classmethod
    def from_label(cls, label: str) -> "Key":
        """A deterministic key for tests and demos (sha256 of a label): never for real funds."""
        return cls(hashlib.sha256(b"por-test-key:" + label.encode()).digest())

    @property
    def priv(self) -> coincurve.PrivateKey:
        return coincurve.PrivateKey(self.secret)

    @property
    def pub(self) -> bytes:
        return self.priv.public_key.format(compressed=True)

    def sign(self, digest: bytes) -> bytes:
        """DER ECDSA signature (libsecp256k1: RFC 6979 nonce, low S) of a 32-byte digest."""
        return self.priv.sign(digest, hasher=None)


def push(data: bytes) -> bytes:
    if len(data) < 0x4C:
        return bytes([len(data)]) + data
    if len(data) <= 0xFF:
        return b"\x4c" + bytes([len(data)]) + data
    return b"\x4d" + struct.pack("<H", len(data)) + data


def p2pkh_script(pub: bytes) -> bytes:
    return b"\x76\xa9\x14" + hash160(pub) + b"\x88\xac"


def p2wpkh_script(pub: bytes) -> bytes:
    return b"\x00\x14" + hash160(pub)


def multisig_script(m: int, pubs: Sequence[bytes]) -> bytes:
    assert 1 <= m <= len(pubs) <= 16
    return bytes([0x50 + m]) + b"".join(push(p) for p in pubs) + bytes([0x50 + len(pubs),
                                                                            OP_CHECKMULTISIG])


def p2wsh_script(witness_script: bytes) -> bytes:
    return b"\x00\x20" + hashlib.sha256(witness_script).digest()


@dataclass(frozen=True)
class Wallet:
    """A reserve wallet: ``p2wpkh`` / ``p2pkh`` (one key) or ``p2wsh-multisig`` (m of n)."""

    kind: str
    keys: tuple[Key, ...]
    m: int = 1

    @classmethod
    def p2wpkh(cls, label: str) -> "Wallet":
        return cls("p2wpkh", (Key.from_label(label),))

    @classmethod
    def p2pkh(cls, label: str) -> "Wallet":
        return cls("p2pkh", (Key.from_label(label),))

    @classmethod
    def multisig(cls, label: str, m: int = 2, n: int = 3) -> "Wallet":
        return cls("p2wsh-multisig", tuple(Key.from_label(f"{label}/{i}") for i in range(n)), m)

    @property
    def witness_script(self) -> bytes:
        if self.kind != "p2wsh-multisig":
            raise ValueError("only a multisig wallet has a witness script")
        return multisig_script(self.m, [k.pub for k in self.keys])

    @property
    def script_pubkey(self) -> bytes:
        if self.kind == "p2wpkh":
            return p2wpkh_script(self.keys[0].pub)
        if self.kind == "p2pkh":
            return p2pkh_script(self.keys[0].pub)
        if self.kind == "p2wsh-multisig":
            return p2wsh_script(self.witness_script)
        raise ValueError(f"unknown wallet kind {self.kind!r}")

    def address(self, network: str = "regtest") -> str:
        return script_to_address(self.script_pubkey, network)


# --------------------------------------------------------------------------------------
# signature hashes and signing
# --------------------------------------------------------------------------------------


def sighash_legacy(tx: Tx, index: int, script_code: bytes, hashtype: int = SIGHASH_ALL) -> bytes:
    """The original SIGHASH_ALL digest (for P2PKH inputs)."""
    ins = tuple(
        TxIn(i.prev_txid, i.prev_index, script_code if k == index else b"", i.sequence)
        for k, i in enumerate(tx.inputs)
    )
    copy = Tx(tx.version, ins, tx.outputs, tx.locktime)
    return sha256d(copy.serialize(with_witness=False) + struct.pack("<I", hashtype))


def sighash_bip143(tx: Tx, index: int, script_code: bytes, value: int,
                   hashtype: int = SIGHASH_ALL) -> bytes:
    """BIP-143 SIGHASH_ALL digest for a segwit v0 input."""
    prevouts = b"".join(i.prev_txid + struct.pack("<I", i.prev_index) for i in tx.inputs)
    sequences = b"".join(struct.pack("<I", i.sequence) for i in tx.inputs)
    outputs = b"".join(struct.pack("<q", o.value) + ser_bytes(o.script_pubkey)
                       for o in tx.outputs)
    i = tx.inputs[index]
    pre = (
        struct.pack("<i", tx.version)
        + sha256d(prevouts)
        + sha256d(sequences)
        + i.prev_txid + struct.pack("<I", i.prev_index)
        + ser_bytes(script_code)
        + struct.pack("<q", value)
        + struct.pack("<I", i.sequence)
        + sha256d(outputs)
        + struct.pack("<I", tx.locktime)
        + struct.pack("<I", hashtype)
    )
    return sha256d(pre)


@dataclass(frozen=True)
class Coin:
    """An unspent output and the wallet that can spend it."""

    txid: bytes
    vout: int
    value: int
    wallet: Wallet


def build_tx(coins: Sequence[Coin], outputs: Sequence[TxOut], locktime: int = 0) -> Tx:
    """A signed transaction spending ``coins`` to ``outputs`` (version 2, final sequences)."""
    unsigned = tuple(TxIn(c.txid, c.vout, b"", 0xFFFFFFFD) for c in coins)
    tx = Tx(2, unsigned, tuple(outputs), locktime)
    signed = []
    for k, c in enumerate(coins):
        w = c.wallet
        base = unsigned[k]
        if w.kind == "p2pkh":
            key = w.keys[0]
            sig = key.sign(sighash_legacy(tx, k, w.script_pubkey)) + bytes([SIGHASH_ALL])
            signed.append(TxIn(base.prev_txid, base.prev_index, push(sig) + push(key.pub),
                               base.sequence))
        elif w.kind == "p2wpkh":
            key = w.keys[0]
            code = p2pkh_script(key.pub)  # BIP-143 scriptCode of P2WPKH
            sig = key.sign(sighash_bip143(tx, k, code, c.value)) + bytes([SIGHASH_ALL])
            signed.append(TxIn(base.prev_txid, base.prev_index, b"", base.sequence,
                               (sig, key.pub)))
        elif w.kind == "p2wsh-multisig":
            ws = w.witness_script
            digest = sighash_bip143(tx, k, ws, c.value)
            sigs = tuple(key.sign(digest) + bytes([SIGHASH_ALL]) for key in w.keys[: w.m])
            signed.append(TxIn(base.prev_txid, base.prev_index, b"", base.sequence,
                               (b"",) + sigs + (ws,)))
        else:
            raise ValueError(f"cannot sign for wallet kind {w.kind!r}")
    return Tx(2, tuple(signed), tuple(outputs), locktime)


# --------------------------------------------------------------------------------------
# blocks and the chain
# --------------------------------------------------------------------------------------


def regtest_genesis() -> Block:
    """Bitcoin's regtest genesis block (hash 0f9188f1...2206), rebuilt from its parts."""
    msg = b"The Times 03/Jan/2009 Chancellor on brink of second bailout for banks"
    script_sig = bytes.fromhex("04ffff001d0104") + push(msg)
    satoshi_pub = bytes.fromhex(
        "04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f3"
        "5504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5f"
    )
    cb = Tx(1, (TxIn(b"\x00" * 32, 0xFFFFFFFF, script_sig, 0xFFFFFFFF),),
            (TxOut(50 * SATS_PER_BTC, push(satoshi_pub) + b"\xac"),), 0)
    header = BlockHeader(1, b"\x00" * 32, merkle_root([cb.txid]), 1296688602, REGTEST_BITS, 2)
    return Block(header, (cb,))


def grind(header: BlockHeader) -> BlockHeader:
    """Find a nonce whose header hash is at or below the target of ``header.bits``."""
    target = bits_to_target(header.bits)
    prefix = header.serialize()[:76]
    for nonce in range(1 << 32):
        h = sha256d(prefix + struct.pack("<I", nonce))
        if int.from_bytes(h, "little") <= target:
            return BlockHeader(header.version, header.prev_hash, header.merkle_root,
                               header.time, header.bits, nonce)
    raise RuntimeError("no nonce found")  # pragma: no cover


@dataclass
class RegtestChain:
    """A growing regtest chain. Every mined block is re-checked by :class:`UtxoSet`."""

    start_time: int = 1_700_000_000
    blocks: list[Block] = field(default_factory=list)
    utxos: UtxoSet = field(default_factory=lambda: UtxoSet("regtest"))
    wallets: dict[bytes, Wallet] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.blocks:
            g = regtest_genesis()
            self.blocks.append(g)
            self.utxos.apply(g)

    @property
    def height(self) -> int:
        return len(self.blocks) - 1

    @property
    def raw_blocks(self) -> list[bytes]:
        return [b.serialize() for b in self.blocks]

    def track(self, *wallets: Wallet) -> None:
        for w in wallets:
            self.wallets[w.script_pubkey] = w

    def coins(self, wallet: Wallet) -> list[Coin]:
        return [Coin(u.txid, u.vout, u.value, wallet)
                for u in self.utxos.unspents([wallet.script_pubkey])
                if not u.coinbase or self.height + 1 - u.height >= 100]

    def balance(self, wallet: Wallet) -> int:
        return self.utxos.balances([wallet.script_pubkey])[wallet.script_pubkey]

    def mine(self, txs: Sequence[Tx] = (), to: Wallet | None = None) -> Block:
        height = self.height + 1
        fees = 0
        pending: dict[tuple[bytes, int], int] = {}
        for t in txs:
            v_in = 0
            for i in t.inputs:
                op = (i.prev_txid, i.prev_index)
                u = self.utxos.utxos.get(op)
                v_in += pending.pop(op) if op in pending else (u.value if u else 0)
            fees += v_in - sum(o.value for o in t.outputs)
            for v, o in enumerate(t.outputs):
                pending[(t.txid, v)] = o.value
        to = to or Wallet.p2wpkh("miner")
        self.track(to)
        nonce = b"\x00" * 32
        body = [TxOut(block_subsidy(height, "regtest") + fees, to.script_pubkey)]
        cb_in = TxIn(b"\x00" * 32, 0xFFFFFFFF, bip34_height_script(height) + b"\x00",
                     0xFFFFFFFF, (nonce,))
        cb0 = Tx(2, (cb_in,), tuple(body), 0)
        commit = witness_commitment([cb0, *txs], nonce)
        cb = Tx(2, (cb_in,), tuple(body) + (TxOut(0, WITNESS_COMMITMENT_HEADER + commit),), 0)
        all_txs = (cb, *txs)
        prev = self.blocks[-1]
        header = grind(BlockHeader(0x20000000, prev.hash, merkle_root([t.txid for t in all_txs]),
                                   max(prev.header.time, self.start_time) + 600,
                                   REGTEST_BITS, 0))
        block = Block(header, all_txs)
        assert parse_block(block.serialize()) == block  # the parser reads back what we wrote
        self.utxos.apply(block)
        self.blocks.append(block)
        return block

    def pay(self, source: Wallet, payments: Sequence[tuple[bytes, int]], fee: int = 1_000
            ) -> Tx:
        """A signed transaction from ``source`` paying (scriptPubKey, sats) pairs, change back."""
        need = sum(v for _, v in payments) + fee
        chosen, total = [], 0
        for c in self.coins(source):
            chosen.append(c)
            total += c.value
            if total >= need:
                break
        if total < need:
            raise ValueError(f"{source.kind} wallet has {total} sats spendable, needs {need}")
        outs = [TxOut(v, s) for s, v in payments]
        if total > need:
            outs.append(TxOut(total - need, source.script_pubkey))
        return build_tx(chosen, outs)

    def sweep(self, source: Wallet, to_script: bytes, fee: int = 1_000) -> Tx:
        coins = self.coins(source)
        return build_tx(coins, [TxOut(sum(c.value for c in coins) - fee, to_script)])


# --------------------------------------------------------------------------------------
# a Bitcoin Core JSON-RPC stand-in on 127.0.0.1
# --------------------------------------------------------------------------------------


class RpcFault(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_DESC = re.compile(r"^addr\(([^)]+)\)(#[a-z0-9]{8})?$")


class RegtestRpcServer:
    """Serves a list of raw regtest blocks over Bitcoin Core's JSON-RPC, with basic auth.

    ``faults`` (a set) injects misbehaviour for tests: ``"scan_error"`` (scantxoutset answers
    an error), ``"stale_scan"`` (scantxoutset scans the full chain, ignoring the rewind),
    ``"ignore_invalidate"`` (invalidateblock does nothing). ``calls`` records every method.
    """

    def __init__(self, raw_blocks: Sequence[bytes], user: str = "por", password: str = "pw",
                 network: str = "regtest") -> None:
        self.raw = [bytes(b) for b in raw_blocks]
        self.blocks = [parse_block(b) for b in self.raw]
        self.hashes = [b.hash_hex for b in self.blocks]
        self.height_of = {h: k for k, h in enumerate(self.hashes)}
        self.network = network
        self.user, self.password = user, password
        self.invalid: set[int] = set()
        self.faults: set[str] = set()
        self.calls: list[str] = []
        self._lock = threading.Lock()
        self._utxo_cache: dict[int, UtxoSet] = {}
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    # -- lifecycle --
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.user}:{self.password}@127.0.0.1:{self.port}/"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "RegtestRpcServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- chain state --
    @property
    def tip_height(self) -> int:
        return (min(self.invalid) - 1) if self.invalid else len(self.blocks) - 1

    def utxo_set(self, height: int) -> UtxoSet:
        if height not in self._utxo_cache:
            us = UtxoSet(self.network)
            for b in self.blocks[: height + 1]:
                us.apply(b)
            self._utxo_cache[height] = us
        return self._utxo_cache[height]

    def _height(self, block_hash: Any) -> int:
        if not isinstance(block_hash, str) or block_hash not in self.height_of:
            raise RpcFault(-5, "Block not found")
        return self.height_of[block_hash]

    # -- methods --
    def dispatch(self, method: str, params: list[Any]) -> Any:
        self.calls.append(method)
        tip = self.tip_height
        if method == "getblockcount":
            return tip
        if method == "getbestblockhash":
            return self.hashes[tip]
        if method == "getblockhash":
            h = params[0] if params else None
            if not isinstance(h, int) or not 0 <= h <= tip:
                raise RpcFault(-8, "Block height out of range")
            return self.hashes[h]
        if method == "getblock":
            k = self._height(params[0])
            verbosity = params[1] if len(params) > 1 else 1
            if verbosity != 0:
                raise RpcFault(-8, "this stand-in serves verbosity 0 (raw hex) only")
            return self.raw[k].hex()
        if method == "invalidateblock":
            k = self._height(params[0])
            if k == 0:
                raise RpcFault(-8, "Genesis block cannot be invalidated")
            if "ignore_invalidate" not in self.faults:
                self.invalid.add(k)
            return None
        if method == "reconsiderblock":
            k = self._height(params[0])
            self.invalid = {i for i in self.invalid if i < k}
            return None
        if method == "scantxoutset":
            if not params or params[0] != "start":
                raise RpcFault(-8, "this stand-in implements scantxoutset \"start\" only")
            if "scan_error" in self.faults:
                raise RpcFault(-8, "Scan already in progress, use action \"abort\" or \"status\"")
            scripts: dict[bytes, str] = {}
            for d in params[1]:
                desc = d if isinstance(d, str) else d.get("desc", "")
                m = _DESC.match(desc)
                if not m:
                    raise RpcFault(-5, f"this stand-in understands addr(...) only, not {desc!r}")
                try:
                    scripts[address_to_script(m.group(1), self.network)] = desc
                except ValueError as exc:
                    raise RpcFault(-5, str(exc)) from None
            at = len(self.blocks) - 1 if "stale_scan" in self.faults else tip
            us = self.utxo_set(at)
            unspents, total = [], 0
            for u in us.unspents(scripts):
                total += u.value
                unspents.append({
                    "txid": display_hash(u.txid), "vout": u.vout,
                    "scriptPubKey": u.script_pubkey.hex(), "desc": scripts[u.script_pubkey],
                    "amount": Decimal(u.value) / SATS_PER_BTC, "coinbase": u.coinbase,
                    "height": u.height,
                })
            return {"success": True, "txouts": len(us.utxos), "height": at,
                    "bestblock": self.hashes[at], "unspents": unspents,
                    "total_amount": Decimal(total) / SATS_PER_BTC}
        raise RpcFault(-32601, "Method not found")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                want = base64.b64encode(f"{server.user}:{server.password}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {want}":
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                req_id = None
                try:
                    req = json.loads(body, parse_float=Decimal)
                    req_id = req.get("id")
                    with server._lock:
                        result = server.dispatch(req["method"], list(req.get("params", [])))
                    doc, status = {"result": result, "error": None, "id": req_id}, 200
                except RpcFault as f:
                    doc = {"result": None, "error": {"code": f.code, "message": f.message},
                           "id": req_id}
                    status = 500  # as Bitcoin Core does for JSON-RPC 1.0 errors
                except (ValueError, KeyError, TypeError, IndexError) as exc:
                    doc = {"result": None, "error": {"code": -32700, "message": str(exc)},
                           "id": req_id}
                    status = 500
                out = _dumps_exact(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        return Handler


def _dumps_exact(doc: Any) -> str:
    """JSON with Decimal amounts written as exact numbers with 8 decimals, as Core does."""
    marks: list[str] = []

    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            marks.append(f"{o:.8f}")
            return f"\x00AMOUNT{len(marks) - 1}\x00"
        raise TypeError(f"cannot encode {type(o).__name__}")

    text = json.dumps(doc, default=default)
    return re.sub(r'"\\u0000AMOUNT(\d+)\\u0000"', lambda m: marks[int(m.group(1))], text)


@dataclass
class DemoBtcNode:
    """A regtest chain that funded the given addresses, served on 127.0.0.1 (close() it)."""

    url: str
    height: int  # the snapshot height: every reserve funded at or before it
    block_hash: str
    chain: RegtestChain = field(repr=False)
    server: RegtestRpcServer = field(repr=False)

    def close(self) -> None:
        self.server.close()


def start_demo_btc_node(reserves: Sequence[tuple[str, int]], user: str = "por",
                        password: str = "demo") -> DemoBtcNode:
    """Mine a regtest chain paying each (address, sats), take the snapshot height, then pay
    every address 1 more satoshi in a later block (so a read at the wrong height shows), and
    serve it over JSON-RPC. Regtest halves every 150 blocks: about 7,000 BTC in all at most."""
    miner = Wallet.p2wpkh("demo-miner")
    c = RegtestChain()
    payments = [(address_to_script(a, "regtest"), int(v)) for a, v in reserves]
    need = sum(v for _, v in payments) + 10_000
    for _ in range(101):
        c.mine(to=miner)
    while sum(x.value for x in c.coins(miner)) < need:
        if c.height > 400:
            raise ValueError(f"demo reserves of {need} sats exceed what regtest can mine")
        c.mine(to=miner)
    if payments:
        c.mine([c.pay(miner, payments, fee=10_000)], to=miner)
    snapshot = c.height
    if payments:
        c.mine([c.pay(miner, [(s, 1_000) for s, _ in payments], fee=10_000)], to=miner)
    server = RegtestRpcServer(c.raw_blocks, user=user, password=password)
    return DemoBtcNode(server.url, snapshot, c.blocks[snapshot].hash_hex, c, server)


def write_blk_files(raw_blocks: Sequence[bytes], blocks_dir: str | Path, network: str = "regtest",
                    *, order: Sequence[int] | None = None, max_file_bytes: int = 128 << 20,
                    xor_key: bytes | None = None, padding: int = 0) -> list[Path]:
    """Write blocks as Bitcoin Core stores them: ``blk00000.dat``, ``blk00001.dat``, ... of
    records ``magic | size | block``, a new file once ``max_file_bytes`` is reached, in the
    given ``order`` of indices (Core stores blocks as they arrive, not by height), each file
    followed by ``padding`` zero bytes (Core pre-allocates), optionally XOR-obfuscated with an
    8-byte ``xor_key`` written to ``xor.dat`` (Core 28+)."""
    from por.assets.bitcoin import NETWORK_MAGIC

    d = Path(blocks_dir)
    d.mkdir(parents=True, exist_ok=True)
    magic = NETWORK_MAGIC[network]
    files: list[bytearray] = [bytearray()]
    for i in (order if order is not None else range(len(raw_blocks))):
        rec = magic + len(raw_blocks[i]).to_bytes(4, "little") + bytes(raw_blocks[i])
        if files[-1] and len(files[-1]) + len(rec) > max_file_bytes:
            files.append(bytearray())
        files[-1] += rec
    if xor_key is not None:
        if len(xor_key) != 8:
            raise ValueError("xor_key must be 8 bytes")
        (d / "xor.dat").write_bytes(xor_key)
    out = []
    for n, data in enumerate(files):
        data = bytes(data) + bytes(padding)
        if xor_key:
            k = (xor_key * (len(data) // 8 + 1))[: len(data)]
            data = bytes(a ^ b for a, b in zip(data, k))
        path = d / f"blk{n:05d}.dat"
        path.write_bytes(data)
        out.append(path)
    return out
