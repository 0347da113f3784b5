"""Shards: one round of millions of customers as many independent liabilities proofs, bound
into one global statement (docs/liabilities-bundle.md, version 2).

Customers, sorted by the 60-bit sort key of their account commitment, are cut into shards of
2^h customers. Shard ``i`` of ``S``:

* is proven on its own (:func:`prove_shard`, a pure function that an executor runs in another
  process or on a Ray worker), with the round id bytes ``"<round>#<i>/<S>"`` (so a shard proof
  is bound to its round, its position and the shard count) and the public key range
  ``[key_lo_i, key_hi_i)``: ``key_lo_0 = 0``, ``key_hi_{S-1} = 2^60``, ``key_hi_i = key_lo_{i+1}``
  = the first key of shard ``i+1``; every sort key of the shard (padding included) is proven
  to lie in its range, so ranges that tile ``[0, 2^60)`` in order make commitments distinct
  across the whole round;
* uses the deterministic seed ``HMAC-SHA256(round secret, "por-shard-seed-v1" | round id | i)``,
  so a round's bytes are a function of (snapshot, round secret), whichever executor ran it.

The global tree is ONE Merkle tree of height ``h + g`` (``g = ceil(log2 S)``) whose ``2^g``
bottom subtrees of height ``h`` are the shards; positions of absent shards hold the all-zero
digest. A customer's path leaf -> shard root -> global root is a plain version-1 inclusion
path (docs/inclusion-proof.md).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from por import _core

SHARD_SEED_TAG = b"por-shard-seed-v1"
KEY_SPACE = 1 << 60
ZERO_DIGEST = [0] * 8
#: Default shard size (2^12 customers: about 2.2 GB and 7 s per shard on the dev machine).
DEFAULT_SHARD_HEIGHT = 12


def core_has_ranges() -> bool:
    """Does this build of por._core take ``seed=`` and ``key_range=`` (deterministic shards)?"""
    sig = getattr(_core.prove_liabilities, "__text_signature__", None) or ""
    return "seed" in sig and "key_range" in sig


def shard_tag(round_id: str, index: int, count: int) -> str:
    """The round-id bytes a shard's AIR gets: ``"<round>#<i>/<S>"``."""
    return f"{round_id}#{index}/{count}"


def shard_seed(secret: bytes, round_id: str, index: int) -> bytes:
    """The prover's 32-byte seed for shard ``index`` (padding keys, hiding randomness)."""
    msg = SHARD_SEED_TAG + b"\0" + round_id.encode() + b"\0" + index.to_bytes(8, "big")
    return hmac.new(secret, msg, hashlib.sha256).digest()


def top_height(count: int) -> int:
    """g: the height of the tree over ``count`` shard roots (0 for one shard)."""
    return (max(count, 1) - 1).bit_length()


@dataclass(frozen=True)
class ShardPlan:
    index: int
    count: int
    height: int
    start: int   # first customer (position in key order)
    stop: int    # one past the last
    key_lo: int
    key_hi: int


def plan_shards(keys: Sequence[int], height: int) -> list[ShardPlan]:
    """Cut customers sorted by strictly increasing sort key into shards of 2^height."""
    n = len(keys)
    if n == 0:
        raise ValueError("no customers to shard")
    size = 1 << height
    count = -(-n // size)
    plans = []
    for i in range(count):
        start, stop = i * size, min(n, (i + 1) * size)
        lo = 0 if i == 0 else keys[start]
        hi = KEY_SPACE if i == count - 1 else keys[stop]
        plans.append(ShardPlan(i, count, height, start, stop, lo, hi))
    return plans


@dataclass(frozen=True)
class ShardTask:
    """Everything one shard proof needs (picklable: it travels to a worker process / Ray)."""

    round_id: str
    index: int
    count: int
    height: int
    prices: list[int]
    haircuts: list[int]
    commitments: list[list[int]]
    balances: list[list[int]]
    key_lo: int
    key_hi: int
    seed: bytes

    def input_digest(self) -> str:
        """SHA-256 of every input: a finished shard on disk is reused only if this matches."""
        h = hashlib.sha256()
        h.update(f"por-shard-input-v1\0{self.round_id}\0{self.index}\0{self.count}\0"
                 f"{self.height}\0{self.key_lo}\0{self.key_hi}\0".encode())
        h.update(np.asarray(self.prices, dtype=np.uint64).tobytes())
        h.update(np.asarray(self.haircuts, dtype=np.uint64).tobytes())
        h.update(np.asarray(self.commitments, dtype=np.uint64).tobytes())
        h.update(np.asarray(self.balances, dtype=np.uint64).tobytes())
        h.update(hashlib.sha256(self.seed).digest())
        return h.hexdigest()


@dataclass
class ShardOutput:
    index: int
    proof: bytes
    public: dict[str, Any]   # JSON-able: key_lo, key_hi, root (hex), limb_sums, totals
    levels: bytes            # the shard tree, leaves first: uint32 little-endian, 8 per digest


def levels_to_bytes(levels: list[list[list[int]]]) -> bytes:
    flat = [d for level in levels for d in level]
    return np.asarray(flat, dtype="<u4").tobytes()


def levels_from_bytes(data: bytes, height: int) -> list[np.ndarray]:
    """Back to per-level arrays of shape (2^(height-j), 8)."""
    arr = np.frombuffer(data, dtype="<u4").reshape(-1, 8)
    if len(arr) != (1 << (height + 1)) - 1:
        raise ValueError(f"shard tree of height {height} has {(1 << (height + 1)) - 1} digests, "
                         f"found {len(arr)}")
    out, pos = [], 0
    for j in range(height + 1):
        n = 1 << (height - j)
        out.append(arr[pos:pos + n])
        pos += n
    return out


def prove_shard(task: ShardTask) -> ShardOutput:
    """Prove one shard (pure: inputs in, bytes out). Runs in a worker process or on Ray."""
    from por.merkle import digest_to_hex

    kwargs: dict[str, Any] = {}
    if core_has_ranges():
        kwargs = {"seed": task.seed, "key_range": (task.key_lo, task.key_hi)}
    proof, public, levels = _core.prove_liabilities(
        shard_tag(task.round_id, task.index, task.count).encode(), task.prices, task.haircuts,
        task.commitments, task.balances, task.height, **kwargs)
    pub = {
        "index": task.index,
        "key_lo": str(task.key_lo),
        "key_hi": str(task.key_hi),
        "root": digest_to_hex(public["root"]),
        "equity_totals": [str(v) for v in public["equity_totals"]],
        "debt_totals": [str(v) for v in public["debt_totals"]],
        "limb_sums": [[int(x) for x in row] for row in public["limb_sums"]],
        "proof_version": int(public.get("version", 1)),
    }
    return ShardOutput(task.index, bytes(proof), pub, levels_to_bytes(levels))


def top_levels(shard_roots: Sequence[Sequence[int]], g: int) -> list[list[list[int]]]:
    """The top tree over the shard roots (absent shards = zero digest), leaves first."""
    level = [list(r) for r in shard_roots] + [ZERO_DIGEST] * ((1 << g) - len(shard_roots))
    levels = [level]
    while len(level) > 1:
        level = [list(_core.node_hash(level[i], level[i + 1])) for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def shard_public_for_core(round_id: str, count: int, assets_k: int, prices: Sequence[int],
                          haircuts: Sequence[int], height: int, entry: dict[str, Any]
                          ) -> dict[str, Any]:
    """The public-values dict :func:`por._core.verify_liabilities` takes, for one shard entry
    of a version-2 ``public.json``. Built by the verifier from the global statement: the
    round tag, prices, haircuts and height are never read from the shard entry."""
    from por.merkle import digest_from_hex

    return {
        "format": "por-liabilities-public",
        "version": int(entry["proof_version"]),
        "round_id": shard_tag(round_id, int(entry["index"]), count).encode(),
        "num_assets": assets_k,
        "tree_height": height,
        "prices": [int(p) for p in prices],
        "haircuts": [int(h) for h in haircuts],
        "limb_sums": [[int(x) for x in row] for row in entry["limb_sums"]],
        "equity_totals": [int(v) for v in entry["equity_totals"]],
        "debt_totals": [int(v) for v in entry["debt_totals"]],
        "root": list(digest_from_hex(entry["root"])),
        "key_lo": int(entry["key_lo"]),
        "key_hi": int(entry["key_hi"]),
    }


__all__ = [
    "SHARD_SEED_TAG", "KEY_SPACE", "ZERO_DIGEST", "DEFAULT_SHARD_HEIGHT", "ShardPlan", "ShardTask",
    "ShardOutput", "core_has_ranges", "shard_tag", "shard_seed", "top_height", "plan_shards",
    "prove_shard", "top_levels", "levels_to_bytes", "levels_from_bytes", "shard_public_for_core",
]
