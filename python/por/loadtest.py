"""Real inclusion proofs for a synthetic round of any size, without a STARK proof.

The proof service's load test needs 10^6 customers' inclusion proofs in the proof store.
Proving 10^6 customers takes about half an hour, so this builds the same Merkle tree the
liabilities prover builds — account commitments from real per-customer nonces, leaves and
nodes hashed by the Rust core (``por._core``: Poseidon2, docs/hashing.md), leaves ordered by
commitment sort key, padded to 2^h with zero-balance leaves under random commitments above
the last key — and writes each customer's real ``por-inclusion-proof`` v1 (every one verifies
with :func:`por.inclusion.verify_inclusion` against the tree's root). **The tree is not backed
by a STARK proof**: ``liabilities/public.json`` written by :func:`write_bundle` carries no
proof and says so (``"load_test": true``).

Memory: the tree is kept as numpy arrays (2^(h+1) x 8 x uint32: 64 MiB at h = 20) and the
proofs are produced as a stream, so 10^6 customers fit in well under 1 GiB.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from por import _core
from por.amounts import DEFAULT_ASSETS
from por.inclusion import make_inclusion_proof
from por.liabilities import derive_nonce, tree_height_for
from por.merkle import digest_to_hex, sort_key

ASSETS = [a.symbol for a in DEFAULT_ASSETS]
P = int(_core.FIELD_MODULUS)


def account_id_for(i: int) -> str:
    """The synthetic customer ``i``'s account id."""
    return f"user-{i:08d}"


@dataclass
class SyntheticTree:
    """A round's Merkle tree over ``n`` synthetic customers (levels bottom-up)."""

    round_id: str
    assets: list[str]
    n: int
    height: int
    levels: list[np.ndarray]      # levels[j]: (2^(h-j), 8) uint32
    order: np.ndarray             # order[leaf index] = customer number (leaf i < n)
    nonces: list[bytes]           # by customer number
    commitments: np.ndarray       # (n, 8) uint32, by customer number
    balances: np.ndarray          # (n, 2K) uint64, by customer number

    @property
    def root(self) -> list[int]:
        return self.levels[-1][0].tolist()

    @property
    def root_hex(self) -> str:
        return digest_to_hex(self.root)


def _balances(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Each customer holds equity in 1-5 assets and, one in ten, a small debt in one."""
    bal = np.zeros((n, 2 * k), dtype=np.uint64)
    held = rng.integers(1, 6, size=n)
    for j in range(5):
        who = np.nonzero(held > j)[0]
        col = rng.integers(0, k, size=who.size)
        bal[who, col] = rng.integers(1, 10**12, size=who.size, dtype=np.uint64)
    debtors = np.nonzero(rng.random(n) < 0.1)[0]
    dcol = rng.integers(0, k, size=debtors.size)
    # a debt of at most 1 % of the largest holding keeps every customer solvent
    bal[debtors, k + dcol] = bal[debtors, :k].max(axis=1) // 100
    return bal


def build_tree(n: int, *, round_id: str = "load-test", seed: int = 1,
               assets: list[str] | None = None,
               progress: Callable[[str, int, int], None] | None = None) -> SyntheticTree:
    """Commit ``n`` synthetic customers and build their padded Merkle tree with ``por._core``."""
    step = progress or (lambda stage, done, total: None)
    assets = list(assets or ASSETS)
    k = len(assets)
    rng = np.random.default_rng(seed)
    secret = rng.bytes(32)
    balances = _balances(rng, n, k)
    h = tree_height_for(n)
    cap = 1 << h

    nonces: list[bytes] = []
    commits = np.zeros((n, 8), dtype=np.uint32)
    keys = np.zeros(n, dtype=np.uint64)
    seen: set[int] = set()
    for i in range(n):
        acc = account_id_for(i)
        attempt = 0
        while True:  # a 60-bit sort-key clash takes the next nonce, as commit_customers does
            nonce = derive_nonce(secret, round_id, acc, attempt)
            c = _core.account_commitment(acc.encode(), nonce)
            key = sort_key(c)
            if key not in seen:
                break
            attempt += 1
        seen.add(key)
        nonces.append(nonce)
        commits[i] = c
        keys[i] = key
        if i % 65536 == 0:
            step("commit", i, n)
    del seen
    order = np.argsort(keys, kind="stable")

    leaves = np.zeros((cap, 8), dtype=np.uint32)
    bal_lists = balances.tolist()
    for li, ci in enumerate(order.tolist()):
        leaves[li] = _core.leaf_hash(commits[ci].tolist(), bal_lists[ci])
        if li % 65536 == 0:
            step("leaves", li, n)
    del bal_lists
    # padding: zero balances under random commitments whose keys lie above the last key
    if cap > n:
        lo = int(keys[order[-1]]) + 1
        if lo + 4 * cap > 1 << 60:
            raise ValueError("no room for padding keys above the last key; use another seed")
        pad_keys = np.sort(rng.choice(np.arange(lo, lo + 4 * cap, dtype=np.uint64),
                                      size=cap - n, replace=False))
        zeros = [0] * (2 * k)
        for j, kk in enumerate(pad_keys.tolist()):
            c = [kk >> 30, kk & ((1 << 30) - 1)] + rng.integers(0, P, size=6).tolist()
            leaves[n + j] = _core.leaf_hash(c, zeros)
    levels = [leaves]
    done = 0
    while levels[-1].shape[0] > 1:
        cur = levels[-1].tolist()
        nxt = np.zeros((len(cur) // 2, 8), dtype=np.uint32)
        for j in range(len(cur) // 2):
            nxt[j] = _core.node_hash(cur[2 * j], cur[2 * j + 1])
        done += len(cur) // 2
        levels.append(nxt)
        step("tree", done, cap - 1)
    return SyntheticTree(round_id=round_id, assets=assets, n=n, height=h, levels=levels,
                         order=order, nonces=nonces, commitments=commits, balances=balances)


def iter_proofs(tree: SyntheticTree, *, start: int = 0, stop: int | None = None
                ) -> Iterator[tuple[str, bytes]]:
    """``(account_id, proof JSON bytes)`` for the customers at leaf indices [start, stop)."""
    k = len(tree.assets)
    root = tree.root
    stop = tree.n if stop is None else min(stop, tree.n)
    h = tree.height
    for li in range(start, stop):
        ci = int(tree.order[li])
        acc = account_id_for(ci)
        siblings = [tree.levels[j][(li >> j) ^ 1].tolist() for j in range(h)]
        bal = tree.balances[ci].tolist()
        proof = make_inclusion_proof(
            round_id=tree.round_id, account_id=acc, nonce=tree.nonces[ci], assets=tree.assets,
            equity=bal[:k], debt=bal[k:], leaf_index=li, siblings=siblings, root=root,
            commitment=tree.commitments[ci].tolist(),
            leaf=tree.levels[0][li].tolist(), check=False)
        yield acc, proof.to_json().encode()


def public_document(tree: SyntheticTree) -> dict:
    """The round's public facts as ``liabilities/public.json`` keys (no STARK behind them)."""
    k = len(tree.assets)
    tot = tree.balances.astype(object).sum(axis=0) if tree.n else [0] * (2 * k)
    return {
        "format": "por-liabilities", "version": 1, "round_id": tree.round_id,
        "assets": tree.assets, "equity_totals": [str(int(v)) for v in tot[:k]],
        "debt_totals": [str(int(v)) for v in tot[k:]], "root": tree.root_hex,
        "tree_height": tree.height, "max_customers": 1 << tree.height,
        "load_test": True,
        "note": "synthetic load-test round: this tree is NOT backed by a STARK proof",
    }


def write_bundle(tree: SyntheticTree, bundle: str | os.PathLike) -> Path:
    """A minimal bundle directory (``liabilities/public.json`` only) for ``por serve``."""
    out = Path(bundle) / "liabilities"
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "public.json.tmp"
    tmp.write_text(json.dumps(public_document(tree), indent=1) + "\n")
    os.replace(tmp, out / "public.json")
    return Path(bundle)


__all__ = ["SyntheticTree", "build_tree", "iter_proofs", "write_bundle", "public_document",
           "account_id_for", "ASSETS"]
