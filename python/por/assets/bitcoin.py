"""Bitcoin reserves at the snapshot height: a raw-block parser, a UTXO set, and an RPC reader.

Two independent ways to get the balance of reserve addresses at height ``h``:

* **Offline** - :func:`balances_from_blocks` parses raw blocks exactly as Bitcoin Core stores
  and serves them (``getblock HASH 0``), checks every header's link to its parent, its proof of
  work and its merkle root (and the segwit witness commitment), replays every transaction into a
  UTXO set up to height ``h`` and sums the unspent outputs paying each address.
* **RPC** - :func:`read_balances_rpc` drives a Bitcoin Core node with the standard pattern for
  a past height: ``invalidateblock`` the block at ``h+1`` (rewinding the node's UTXO set to
  ``h``), ``scantxoutset``, check that the scan ran at exactly the snapshot block, and
  ``reconsiderblock`` in a ``finally`` block so that the node always returns to its tip.

Amounts are integers in satoshi. Amounts in RPC answers (JSON numbers such as ``0.5``) are
parsed as :class:`decimal.Decimal` and converted exactly; a float never touches them.

The offline path checks each input's script and signature with btclib's script engine (on by
default). What it does NOT check: difficulty retargeting on mainnet (each header's own target
is checked against its hash and against the network's proof-of-work limit), timestamps,
block weight/sigop limits, relative/absolute lock times and BIP-30; it is meant for the few
hundred blocks of a test chain or an audit of a short range, not for a full mainnet replay.
See docs/chains.md.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

SATS_PER_BTC = 100_000_000
MAX_MONEY = 21_000_000 * SATS_PER_BTC
COINBASE_PREVOUT = (b"\x00" * 32, 0xFFFFFFFF)
WITNESS_COMMITMENT_HEADER = bytes.fromhex("6a24aa21a9ed")

#: Per-network constants: genesis block hash (display hex), proof-of-work limit, subsidy halving
#: interval, first height with a BIP-34 coinbase height.
NETWORKS: dict[str, dict[str, Any]] = {
    "mainnet": {
        "genesis": "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
        "pow_limit": 0x00000000FFFF << (8 * 26),
        "halving": 210_000,
        "bip34": 227_931,
    },
    "testnet": {
        "genesis": "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
        "pow_limit": 0x00000000FFFF << (8 * 26),
        "halving": 210_000,
        "bip34": 21_111,
    },
    "regtest": {
        "genesis": "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
        "pow_limit": (1 << 255) - 1,
        "halving": 150,
        "bip34": 1,
    },
}


class BitcoinError(ValueError):
    """A block, transaction, chain or RPC answer that fails a check."""


class BitcoinRpcError(RuntimeError):
    """The node answered a JSON-RPC call with an error, or could not be reached."""


def sha256d(b: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def hash160(b: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(b).digest()).digest()


def display_hash(h: bytes) -> str:
    """Internal byte order (as hashed) -> the reversed hex that Bitcoin shows."""
    return h[::-1].hex()


def bits_to_target(bits: int) -> int:
    """Decode the compact ``nBits`` target; raise on a negative or overflowing encoding."""
    exponent = bits >> 24
    mantissa = bits & 0x007FFFFF
    if bits & 0x00800000:
        raise BitcoinError(f"nBits {bits:#010x} encodes a negative target")
    if exponent <= 3:
        target = mantissa >> (8 * (3 - exponent))
    else:
        target = mantissa << (8 * (exponent - 3))
    if target == 0:
        raise BitcoinError(f"nBits {bits:#010x} encodes a zero target")
    if target >= 1 << 256:
        raise BitcoinError(f"nBits {bits:#010x} overflows 256 bits")
    return target


def block_subsidy(height: int, network: str) -> int:
    halvings = height // NETWORKS[network]["halving"]
    return 0 if halvings >= 64 else (50 * SATS_PER_BTC) >> halvings


# --------------------------------------------------------------------------------------
# serialisation primitives
# --------------------------------------------------------------------------------------


def ser_varint(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + struct.pack("<I", n)
    return b"\xff" + struct.pack("<Q", n)


def ser_bytes(b: bytes) -> bytes:
    return ser_varint(len(b)) + b


class Reader:
    """A cursor over bytes that raises :class:`BitcoinError` naming what ran short."""

    def __init__(self, data: bytes, what: str = "data") -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.what = what

    def read(self, n: int, field_name: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise BitcoinError(
                f"{self.what}: truncated reading {field_name} at byte {self.pos} "
                f"(need {n}, have {len(self.data) - self.pos})"
            )
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out

    def u32(self, f: str) -> int:
        return struct.unpack("<I", self.read(4, f))[0]

    def i32(self, f: str) -> int:
        return struct.unpack("<i", self.read(4, f))[0]

    def u64(self, f: str) -> int:
        return struct.unpack("<Q", self.read(8, f))[0]

    def varint(self, f: str) -> int:
        first = self.read(1, f)[0]
        if first < 0xFD:
            return first
        size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
        n = int.from_bytes(self.read(size, f), "little")
        if n < {2: 0xFD, 4: 0x10000, 8: 0x100000000}[size]:
            raise BitcoinError(f"{self.what}: non-canonical varint for {f} at byte {self.pos}")
        return n

    def var_bytes(self, f: str, limit: int = 4_000_000) -> bytes:
        n = self.varint(f)
        if n > limit:
            raise BitcoinError(f"{self.what}: {f} length {n} is over {limit}")
        return self.read(n, f)

    def at_end(self) -> bool:
        return self.pos == len(self.data)


# --------------------------------------------------------------------------------------
# transactions and blocks
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TxIn:
    prev_txid: bytes  # internal byte order
    prev_index: int
    script_sig: bytes
    sequence: int
    witness: tuple[bytes, ...] = ()

    @property
    def is_coinbase_input(self) -> bool:
        return (self.prev_txid, self.prev_index) == COINBASE_PREVOUT


@dataclass(frozen=True, slots=True)
class TxOut:
    value: int  # satoshi
    script_pubkey: bytes


@dataclass(frozen=True, slots=True)
class Tx:
    version: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    locktime: int

    @property
    def has_witness(self) -> bool:
        return any(i.witness for i in self.inputs)

    def serialize(self, with_witness: bool = True) -> bytes:
        segwit = with_witness and self.has_witness
        out = [struct.pack("<i", self.version)]
        if segwit:
            out.append(b"\x00\x01")
        out.append(ser_varint(len(self.inputs)))
        for i in self.inputs:
            out.append(i.prev_txid + struct.pack("<I", i.prev_index))
            out.append(ser_bytes(i.script_sig) + struct.pack("<I", i.sequence))
        out.append(ser_varint(len(self.outputs)))
        for o in self.outputs:
            out.append(struct.pack("<q", o.value) + ser_bytes(o.script_pubkey))
        if segwit:
            for i in self.inputs:
                out.append(ser_varint(len(i.witness)))
                out.extend(ser_bytes(w) for w in i.witness)
        out.append(struct.pack("<I", self.locktime))
        return b"".join(out)

    @property
    def txid(self) -> bytes:
        """Internal byte order; :func:`display_hash` gives the usual hex."""
        return sha256d(self.serialize(with_witness=False))

    @property
    def wtxid(self) -> bytes:
        return sha256d(self.serialize(with_witness=True))

    @property
    def is_coinbase(self) -> bool:
        return len(self.inputs) == 1 and self.inputs[0].is_coinbase_input


def parse_tx(r: Reader) -> Tx:
    """Parse one transaction (legacy or segwit: marker 0x00, flag 0x01, then witnesses)."""
    version = r.i32("tx version")
    n_in = r.varint("input count")
    segwit = False
    if n_in == 0:
        flag = r.read(1, "segwit flag")[0]
        if flag != 1:
            raise BitcoinError(f"{r.what}: segwit flag must be 0x01, got {flag:#04x}")
        segwit = True
        n_in = r.varint("input count")
        if n_in == 0:
            raise BitcoinError(f"{r.what}: transaction has no inputs")
    raw_inputs = []
    for k in range(n_in):
        prev_txid = r.read(32, f"input {k} prev txid")
        prev_index = r.u32(f"input {k} prev index")
        script_sig = r.var_bytes(f"input {k} scriptSig", 10_000)
        sequence = r.u32(f"input {k} sequence")
        raw_inputs.append((prev_txid, prev_index, script_sig, sequence))
    n_out = r.varint("output count")
    outputs = []
    for k in range(n_out):
        value = struct.unpack("<q", r.read(8, f"output {k} value"))[0]
        if not 0 <= value <= MAX_MONEY:
            raise BitcoinError(f"{r.what}: output {k} value {value} is out of range")
        outputs.append(TxOut(value, r.var_bytes(f"output {k} scriptPubKey", 10_000)))
    witnesses: list[tuple[bytes, ...]] = [()] * n_in
    if segwit:
        for k in range(n_in):
            n_items = r.varint(f"input {k} witness count")
            witnesses[k] = tuple(
                r.var_bytes(f"input {k} witness item {j}") for j in range(n_items)
            )
        if not any(witnesses):
            raise BitcoinError(f"{r.what}: segwit serialisation with all witnesses empty")
    locktime = r.u32("locktime")
    inputs = tuple(TxIn(*raw, witness=w) for raw, w in zip(raw_inputs, witnesses))
    return Tx(version, inputs, tuple(outputs), locktime)


@dataclass(frozen=True, slots=True)
class BlockHeader:
    version: int
    prev_hash: bytes  # internal byte order
    merkle_root: bytes
    time: int
    bits: int
    nonce: int

    def serialize(self) -> bytes:
        return (
            struct.pack("<i", self.version)
            + self.prev_hash
            + self.merkle_root
            + struct.pack("<III", self.time, self.bits, self.nonce)
        )

    @property
    def hash(self) -> bytes:
        return sha256d(self.serialize())

    @property
    def hash_hex(self) -> str:
        return display_hash(self.hash)


@dataclass(frozen=True, slots=True)
class Block:
    header: BlockHeader
    txs: tuple[Tx, ...]

    def serialize(self) -> bytes:
        return (
            self.header.serialize()
            + ser_varint(len(self.txs))
            + b"".join(t.serialize() for t in self.txs)
        )

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def hash_hex(self) -> str:
        return self.header.hash_hex


def parse_block(raw: bytes, what: str = "block") -> Block:
    """Parse a raw block (``getblock HASH 0`` / blk*.dat record) exactly; no trailing bytes."""
    r = Reader(raw, what)
    h = r.read(80, "header")
    version, = struct.unpack("<i", h[:4])
    time, bits, nonce = struct.unpack("<III", h[68:80])
    header = BlockHeader(version, h[4:36], h[36:68], time, bits, nonce)
    r.what = f"{what} {header.hash_hex}"
    n_tx = r.varint("transaction count")
    if n_tx == 0:
        raise BitcoinError(f"{r.what}: block has no transactions")
    txs = []
    for k in range(n_tx):
        r_what = r.what
        r.what = f"{r_what} tx {k}"
        txs.append(parse_tx(r))
        r.what = r_what
    if not r.at_end():
        raise BitcoinError(f"{r.what}: {len(raw) - r.pos} trailing bytes after the last tx")
    return Block(header, tuple(txs))


def merkle_root(hashes: list[bytes]) -> bytes:
    """Bitcoin's merkle root (duplicating the last hash of an odd level)."""
    if not hashes:
        raise BitcoinError("merkle root of no transactions")
    level = list(hashes)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def witness_commitment(txs: Iterable[Tx], witness_nonce: bytes) -> bytes:
    wtxids = [b"\x00" * 32] + [t.wtxid for t in list(txs)[1:]]
    return sha256d(merkle_root(wtxids) + witness_nonce)


def bip34_height_script(height: int) -> bytes:
    """The push of ``height`` that BIP-34 puts first in the coinbase scriptSig."""
    if height == 0:
        return b"\x00"  # OP_0
    if 1 <= height <= 16:
        return bytes([0x50 + height])  # OP_1..OP_16
    n = height.to_bytes((height.bit_length() + 8) // 8, "little")  # CScriptNum, sign bit free
    return bytes([len(n)]) + n


def check_block(block: Block, network: str, height: int | None = None) -> None:
    """Check one block on its own: proof of work, merkle root, coinbase, witness commitment."""
    params = NETWORKS[network]
    name = f"block {block.hash_hex}" + (f" (height {height})" if height is not None else "")
    target = bits_to_target(block.header.bits)
    if target > params["pow_limit"]:
        raise BitcoinError(f"{name}: target of nBits {block.header.bits:#010x} is above the "
                           f"{network} proof-of-work limit")
    if int.from_bytes(block.hash, "little") > target:
        raise BitcoinError(f"{name}: bad proof of work (hash above the target of nBits "
                           f"{block.header.bits:#010x})")
    if merkle_root([t.txid for t in block.txs]) != block.header.merkle_root:
        raise BitcoinError(f"{name}: merkle root does not match the transactions")
    if not block.txs[0].is_coinbase:
        raise BitcoinError(f"{name}: first transaction is not a coinbase")
    for k, t in enumerate(block.txs[1:], 1):
        if t.is_coinbase or any(i.is_coinbase_input for i in t.inputs):
            raise BitcoinError(f"{name}: transaction {k} is a second coinbase")
    if height is not None and height >= params["bip34"]:
        want = bip34_height_script(height)
        if not block.txs[0].inputs[0].script_sig.startswith(want):
            raise BitcoinError(f"{name}: coinbase does not start with the BIP-34 height {height}")
    if any(t.has_witness for t in block.txs):
        cb = block.txs[0]
        commits = [o.script_pubkey for o in cb.outputs
                   if o.script_pubkey.startswith(WITNESS_COMMITMENT_HEADER)
                   and len(o.script_pubkey) >= 38]
        if not commits:
            raise BitcoinError(f"{name}: has witness data but no witness commitment")
        wit = cb.inputs[0].witness
        if len(wit) != 1 or len(wit[0]) != 32:
            raise BitcoinError(f"{name}: coinbase witness must be one 32-byte nonce")
        if commits[-1][6:38] != witness_commitment(block.txs, wit[0]):
            raise BitcoinError(f"{name}: witness commitment does not match the witnesses")


# --------------------------------------------------------------------------------------
# the UTXO set
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Utxo:
    txid: bytes
    vout: int
    value: int
    script_pubkey: bytes
    height: int
    coinbase: bool


@dataclass
class UtxoSet:
    """Unspent outputs after applying blocks 0..height in order, with full chain checks."""

    network: str = "regtest"
    #: also run every input's script (signatures included) through btclib's script engine
    verify_scripts: bool = False
    utxos: dict[tuple[bytes, int], Utxo] = field(default_factory=dict)
    height: int = -1
    tip: bytes = b"\x00" * 32
    block_hashes: list[bytes] = field(default_factory=list)

    def apply(self, block: Block) -> None:
        height = self.height + 1
        name = f"block {block.hash_hex} (height {height})"
        if block.header.prev_hash != self.tip:
            raise BitcoinError(
                f"{name}: broken chain link: prev-hash {display_hash(block.header.prev_hash)} "
                f"is not the hash of block {height - 1} ({display_hash(self.tip)})"
            )
        if height == 0 and block.hash_hex != NETWORKS[self.network]["genesis"]:
            raise BitcoinError(f"{name}: is not the {self.network} genesis block "
                               f"{NETWORKS[self.network]['genesis']}")
        check_block(block, self.network, height)
        spent: dict[tuple[bytes, int], Utxo] = {}
        fees = 0
        new: dict[tuple[bytes, int], Utxo] = {}
        for k, t in enumerate(block.txs):
            txid = t.txid
            if k > 0:
                value_in = 0
                for j, i in enumerate(t.inputs):
                    op = (i.prev_txid, i.prev_index)
                    u = new.pop(op, None) or self.utxos.get(op)
                    if u is None or op in spent:
                        raise BitcoinError(
                            f"{name}: tx {display_hash(txid)} input {j} spends "
                            f"{display_hash(i.prev_txid)}:{i.prev_index}, which is not unspent"
                        )
                    if u.coinbase and height - u.height < 100:
                        raise BitcoinError(f"{name}: tx {display_hash(txid)} input {j} spends "
                                           f"an immature coinbase output")
                    spent[op] = u
                    value_in += u.value
                value_out = sum(o.value for o in t.outputs)
                if value_out > value_in:
                    raise BitcoinError(f"{name}: tx {display_hash(txid)} creates money "
                                       f"({value_out} out > {value_in} in)")
                fees += value_in - value_out
                if self.verify_scripts:
                    _verify_scripts(t, [spent[(i.prev_txid, i.prev_index)] for i in t.inputs],
                                    f"{name}: tx {display_hash(txid)}")
            for v, o in enumerate(t.outputs):
                if o.script_pubkey[:1] == b"\x6a":  # OP_RETURN: provably unspendable
                    continue
                new[(txid, v)] = Utxo(txid, v, o.value, o.script_pubkey, height, k == 0)
        if height > 0:
            cb_out = sum(o.value for o in block.txs[0].outputs)
            if cb_out > block_subsidy(height, self.network) + fees:
                raise BitcoinError(f"{name}: coinbase pays {cb_out}, more than subsidy + fees")
        for op in spent:
            self.utxos.pop(op, None)
        if height > 0:  # the genesis coinbase is not spendable and not in Core's UTXO set
            self.utxos.update(new)
        self.height = height
        self.tip = block.hash
        self.block_hashes.append(block.hash)

    def balances(self, scripts: Iterable[bytes]) -> dict[bytes, int]:
        want = {s: 0 for s in scripts}
        for u in self.utxos.values():
            if u.script_pubkey in want:
                want[u.script_pubkey] += u.value
        return want

    def unspents(self, scripts: Iterable[bytes]) -> list[Utxo]:
        want = set(scripts)
        return sorted((u for u in self.utxos.values() if u.script_pubkey in want),
                      key=lambda u: (u.height, u.txid, u.vout))


def _verify_scripts(tx: Tx, prevouts: list[Utxo], name: str) -> None:
    """Check every input's scriptSig / witness against the output it spends (btclib's script
    engine, consensus flags: P2SH, segwit, strict DER, low S, ...)."""
    from btclib.script.engine import verify_transaction
    from btclib.tx import Tx as BTx
    from btclib.tx import TxOut as BTxOut

    try:
        verify_transaction([BTxOut(u.value, u.script_pubkey) for u in prevouts],
                           BTx.parse(tx.serialize()))
    except Exception as exc:  # btclib raises several error types; all mean "invalid"
        raise BitcoinError(f"{name}: script verification failed: {exc}") from None


# --------------------------------------------------------------------------------------
# addresses
# --------------------------------------------------------------------------------------


def address_to_script(address: str, network: str) -> bytes:
    """The scriptPubKey an address pays to; raise naming the address if it is invalid or for
    another network. Supports P2PKH, P2SH, P2WPKH, P2WSH and P2TR (bech32/bech32m, base58)."""
    from btclib.script import ScriptPubKey  # a well-kept codec for bech32 / base58check

    try:
        spk = ScriptPubKey.from_address(address)
    except Exception as exc:  # btclib raises its own ValueError subclasses
        raise BitcoinError(f"invalid Bitcoin address {address!r}: {exc}") from None
    ok = {spk.network}
    if spk.network == "testnet" and not address.lower().startswith("tb1"):
        ok.add("regtest")  # base58 regtest and testnet addresses share version bytes
    if network not in ok:
        raise BitcoinError(f"address {address!r} is for {spk.network}, not {network}")
    return bytes(spk.script)


def script_to_address(script: bytes, network: str) -> str:
    from btclib.script import ScriptPubKey

    return ScriptPubKey(script, network).address


# --------------------------------------------------------------------------------------
# offline path
# --------------------------------------------------------------------------------------


def utxo_set_at(raw_blocks: Iterable[bytes], height: int, network: str = "regtest",
                verify_scripts: bool = True) -> UtxoSet:
    """Parse and check raw blocks from genesis and apply them up to ``height`` inclusive."""
    if network not in NETWORKS:
        raise BitcoinError(f"unknown network {network!r}; one of {sorted(NETWORKS)}")
    if height < 0:
        raise BitcoinError(f"height must be >= 0, got {height}")
    us = UtxoSet(network, verify_scripts=verify_scripts)
    for k, raw in enumerate(raw_blocks):
        if us.height == height:
            break
        us.apply(parse_block(bytes(raw), what=f"block #{k}"))
    if us.height != height:
        raise BitcoinError(f"only {us.height + 1} blocks given; need blocks 0..{height}")
    return us


def balances_from_blocks(raw_blocks: Iterable[bytes], addresses: Iterable[str], height: int,
                         network: str = "regtest", verify_scripts: bool = True
                         ) -> dict[str, int]:
    """Balance in satoshi of each address at ``height``, from raw blocks starting at genesis.

    Every header's link, proof of work and merkle root (and witness commitment) is checked,
    every input must spend an unspent output, no transaction may create money, and (with
    ``verify_scripts``) every input's signature is checked; a block that fails raises
    :class:`BitcoinError`. Blocks after ``height`` are not read.
    """
    addresses = list(addresses)
    scripts = {a: address_to_script(a, network) for a in addresses}
    us = utxo_set_at(raw_blocks, height, network, verify_scripts)
    by_script = us.balances(scripts.values())
    return {a: by_script[s] for a, s in scripts.items()}


# --------------------------------------------------------------------------------------
# Bitcoin Core JSON-RPC
# --------------------------------------------------------------------------------------


def btc_to_sats(amount: Any, what: str) -> int:
    """An RPC amount (a JSON number parsed as Decimal, or a decimal string) -> exact satoshi."""
    if isinstance(amount, float) or isinstance(amount, bool):
        raise BitcoinError(f"{what}: amount {amount!r} was parsed as a float; refusing")
    d = Decimal(str(amount)) if not isinstance(amount, Decimal) else amount
    sats = d * SATS_PER_BTC
    if not d.is_finite() or sats != sats.to_integral_value() or sats < 0:
        raise BitcoinError(f"{what}: amount {amount} is not a whole number of satoshi")
    return int(sats)


class BitcoinRpc:
    """A minimal Bitcoin Core JSON-RPC client (HTTP basic auth; user:password in the URL)."""

    def __init__(self, url: str, timeout: float = 600.0) -> None:
        import urllib.parse

        import requests

        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BitcoinRpcError(f"bad Bitcoin RPC URL {url!r}; want http://user:pass@host:port")
        self.auth = (urllib.parse.unquote(parts.username or ""),
                     urllib.parse.unquote(parts.password or ""))
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))
        self.timeout = timeout
        self.session = requests.Session()
        self._id = 0

    def call(self, method: str, *params: Any) -> Any:
        import requests

        self._id += 1
        body = {"jsonrpc": "1.0", "id": self._id, "method": method, "params": list(params)}
        try:
            resp = self.session.post(self.url, data=json.dumps(body), auth=self.auth,
                                     headers={"Content-Type": "application/json"},
                                     timeout=self.timeout)
        except requests.RequestException as exc:
            raise BitcoinRpcError(f"bitcoin RPC {self.url}: {method} failed: {exc}") from None
        if resp.status_code == 401:
            raise BitcoinRpcError(f"bitcoin RPC {self.url}: authentication refused (401)")
        try:
            doc = json.loads(resp.text, parse_float=Decimal)
        except ValueError:
            raise BitcoinRpcError(f"bitcoin RPC {self.url}: {method}: HTTP {resp.status_code}, "
                                  f"not JSON: {resp.text[:200]!r}") from None
        if doc.get("error"):
            err = doc["error"]
            raise BitcoinRpcError(f"bitcoin RPC {method} error {err.get('code')}: "
                                  f"{err.get('message')}")
        if resp.status_code != 200:
            raise BitcoinRpcError(f"bitcoin RPC {method}: HTTP {resp.status_code}")
        return doc["result"]


@dataclass(frozen=True)
class RpcSnapshot:
    """What :func:`read_balances_rpc_detailed` saw: the snapshot block and each balance."""

    height: int
    block_hash: str
    balances: dict[str, int]
    unspents: tuple[dict[str, Any], ...]


def read_balances_rpc_detailed(rpc_url: str, addresses: list[str], height: int,
                               network: str | None = None) -> RpcSnapshot:
    """Rewind the node to ``height``, scan its UTXO set for ``addresses``, always un-rewind.

    ``network`` (mainnet/testnet/regtest) is found from the node's genesis block when None.
    Raises :class:`BitcoinError` if the scan did not run at exactly the snapshot block.
    """
    rpc = BitcoinRpc(rpc_url)
    genesis = rpc.call("getblockhash", 0)
    found = next((n for n, p in NETWORKS.items() if p["genesis"] == genesis), None)
    if found is None:
        raise BitcoinError(f"the node's genesis block {genesis} is not one of {sorted(NETWORKS)}")
    if network is not None and network != found:
        raise BitcoinError(f"the node runs {found}, not {network}")
    network = found
    scripts = {a: address_to_script(a, network) for a in addresses}
    if len(set(scripts.values())) != len(scripts):
        raise BitcoinError("two addresses map to the same scriptPubKey")
    tip_height = int(rpc.call("getblockcount"))
    if not 0 <= height <= tip_height:
        raise BitcoinError(f"snapshot height {height} is not in the node's chain 0..{tip_height}")
    snap_hash = rpc.call("getblockhash", height)
    tip_hash = rpc.call("getbestblockhash")
    descriptors = [f"addr({a})" for a in addresses]
    next_hash = rpc.call("getblockhash", height + 1) if height < tip_height else None
    try:
        if next_hash is not None:
            rpc.call("invalidateblock", next_hash)
        best = rpc.call("getbestblockhash")
        if best != snap_hash:
            raise BitcoinError(f"after invalidateblock the node's tip is {best}, not the "
                               f"snapshot block {snap_hash} at height {height}")
        scan = rpc.call("scantxoutset", "start", descriptors)
    finally:
        if next_hash is not None:
            rpc.call("reconsiderblock", next_hash)
    if next_hash is not None:
        back = rpc.call("getbestblockhash")
        if back != tip_hash:
            # Another block may have arrived meanwhile; what matters is that the snapshot block
            # is still on the active chain, so the node was put back, not left rewound.
            if rpc.call("getblockhash", height) != snap_hash or \
                    int(rpc.call("getblockcount")) <= height:
                raise BitcoinError(f"reconsiderblock did not restore the node: tip {back}")
    if not isinstance(scan, dict) or not scan.get("success"):
        raise BitcoinError(f"scantxoutset did not succeed: {scan!r}")
    if scan.get("bestblock") != snap_hash or scan.get("height") != height:
        raise BitcoinError(
            f"scantxoutset ran at block {scan.get('bestblock')} (height {scan.get('height')}), "
            f"not at the snapshot block {snap_hash} (height {height})"
        )
    by_script = {s: a for a, s in scripts.items()}
    balances = {a: 0 for a in addresses}
    unspents = []
    total = 0
    for k, u in enumerate(scan.get("unspents", [])):
        spk = bytes.fromhex(u["scriptPubKey"])
        if spk not in by_script:
            raise BitcoinError(f"scantxoutset unspent {k} pays {u['scriptPubKey']}, "
                               f"which is none of the requested addresses")
        sats = btc_to_sats(u["amount"], f"scantxoutset unspent {k}")
        if int(u.get("height", height)) > height:
            raise BitcoinError(f"scantxoutset unspent {k} was created at height {u['height']}, "
                               f"after the snapshot {height}")
        balances[by_script[spk]] += sats
        total += sats
        unspents.append({"txid": u["txid"], "vout": int(u["vout"]), "address": by_script[spk],
                         "sats": sats, "height": int(u.get("height", -1))})
    if "total_amount" in scan and btc_to_sats(scan["total_amount"], "total_amount") != total:
        raise BitcoinError("scantxoutset total_amount does not equal the sum of its unspents")
    return RpcSnapshot(height, snap_hash, balances, tuple(unspents))


def read_balances_rpc(rpc_url: str, addresses: list[str], height: int,
                      network: str | None = None) -> dict[str, int]:
    """Balance in satoshi of each address at ``height``, read from a Bitcoin Core node."""
    return read_balances_rpc_detailed(rpc_url, addresses, height, network).balances


# --------------------------------------------------------------------------------------
# Bitcoin Core's block files (blocks/blk*.dat)
# --------------------------------------------------------------------------------------

#: the 4 bytes before every block record in blk*.dat (the network's message start)
NETWORK_MAGIC = {"mainnet": bytes.fromhex("f9beb4d9"), "testnet": bytes.fromhex("0b110907"),
                 "regtest": bytes.fromhex("fabfbfda")}


def read_blk_records(blocks_dir: str | Path) -> tuple[str, list[bytes]]:
    """Every block record of ``blocks_dir/blk?????.dat``, in file order, and the network.

    Bitcoin Core's layout: records ``magic(4) | size(4, little endian) | block``; a file may end
    in zero padding (pre-allocation). Since Core 28 the files may be XOR-obfuscated with the
    8-byte key in ``blocks_dir/xor.dat`` (all-zero = none). Records come in arrival order, not
    height order: :func:`main_chain` orders them.
    """
    d = Path(blocks_dir)
    files = sorted(d.glob("blk[0-9][0-9][0-9][0-9][0-9].dat"))
    if not files:
        raise BitcoinError(f"{d}: no blk?????.dat files")
    key = b""
    if (d / "xor.dat").exists():
        key = (d / "xor.dat").read_bytes()
        if len(key) != 8:
            raise BitcoinError(f"{d / 'xor.dat'}: XOR key must be 8 bytes, got {len(key)}")
        if key == bytes(8):
            key = b""
    network: str | None = None
    records: list[bytes] = []
    for f in files:
        data = f.read_bytes()
        if key:
            k = (key * (len(data) // 8 + 1))[: len(data)]
            data = bytes(a ^ b for a, b in zip(data, k))
        i = 0
        while i < len(data):
            magic = data[i : i + 4]
            if magic == b"\x00\x00\x00\x00" and not data[i:].strip(b"\x00"):
                break  # pre-allocated tail
            net = next((n for n, m in NETWORK_MAGIC.items() if m == magic), None)
            if net is None:
                raise BitcoinError(f"{f.name} offset {i}: bad magic {magic.hex()}")
            if network is None:
                network = net
            elif net != network:
                raise BitcoinError(f"{f.name} offset {i}: {net} block among {network} blocks")
            if i + 8 > len(data):
                raise BitcoinError(f"{f.name} offset {i}: truncated record header")
            size = int.from_bytes(data[i + 4 : i + 8], "little")
            if size < 81 or i + 8 + size > len(data):
                raise BitcoinError(f"{f.name} offset {i}: record of {size} bytes is truncated")
            records.append(data[i + 8 : i + 8 + size])
            i += 8 + size
    if network is None:
        raise BitcoinError(f"{d}: the block files hold no blocks")
    return network, records


def main_chain(records: Iterable[bytes], network: str) -> list[bytes]:
    """The raw blocks of the most-work chain from the network's genesis, in height order.

    Headers are linked by prev-hash; work per block is 2^256 / (target + 1) from nBits; blocks
    that do not connect to genesis (orphans) are ignored. Everything else (proof of work,
    merkle roots, spends, signatures) is checked later by :func:`utxo_set_at`.
    """
    by_hash: dict[bytes, bytes] = {}
    for raw in records:
        by_hash.setdefault(sha256d(raw[:80]), raw)
    genesis = bytes.fromhex(NETWORKS[network]["genesis"])[::-1]
    if genesis not in by_hash:
        raise BitcoinError(f"the block files do not hold the {network} genesis block")
    work: dict[bytes, int] = {genesis: 0}

    def total_work(h: bytes) -> int | None:
        path = []
        while h not in work:
            raw = by_hash.get(h)
            if raw is None:
                return None
            path.append(h)
            h = raw[4:36]
        for x in reversed(path):
            parent = by_hash[x][4:36]
            if work.get(parent) is None:
                work[x] = None  # type: ignore[assignment]
                continue
            target = bits_to_target(int.from_bytes(by_hash[x][72:76], "little"))
            work[x] = work[parent] + (1 << 256) // (target + 1)
        return work[path[0]] if path else work[h]

    best, best_work = genesis, 0
    for h in by_hash:
        w = total_work(h)
        if w is not None and w > best_work:
            best, best_work = h, w
    chain = []
    h = best
    while True:
        chain.append(by_hash[h])
        if h == genesis:
            break
        h = by_hash[h][4:36]
    return chain[::-1]


def balances_from_blk_dir(blocks_dir: str | Path, addresses: Iterable[str], height: int,
                          network: str | None = None) -> dict[str, int]:
    """:func:`balances_from_blocks` over Bitcoin Core's ``blk*.dat`` files in ``blocks_dir``."""
    net, records = read_blk_records(blocks_dir)
    if network is not None and network != net:
        raise BitcoinError(f"{blocks_dir}: {net} blocks, but {network} was asked for")
    chain = main_chain(records, net)
    if len(chain) <= height:
        raise BitcoinError(f"{blocks_dir}: the best chain has {len(chain)} blocks; need blocks "
                           f"0..{height}")
    return balances_from_blocks(chain, addresses, height, net)


def fetch_raw_blocks(rpc_url: str, up_to_height: int) -> list[bytes]:
    """Raw blocks 0..up_to_height from a node (``getblockhash`` + ``getblock HASH 0``), for
    :func:`balances_from_blocks`, which re-checks them without trusting the node's UTXO scan."""
    rpc = BitcoinRpc(rpc_url)
    out = []
    for h in range(up_to_height + 1):
        out.append(bytes.fromhex(rpc.call("getblock", rpc.call("getblockhash", h), 0)))
    return out
