"""Benchmark the liabilities proof; prints one JSON line per size.

    python bench/liabilities.py [--shard-height H] [--single-max M] LOG2_N [LOG2_N ...]

Sizes up to 2^M customers (default M = 14) are ONE proof: `_core.prove_liabilities` on random
commitments and balances of 22 assets, timed around the call; verification is
`_core.verify_liabilities` in the same process (first call: the verifier also commits the
(K, h) schedule, which it memoises).

Larger sizes run the product's own sharded pipeline on a synthetic exchange of 22 assets
(`por.synthetic.generate`, then `por.liabilities.prove(..., shard_height=H,
write_inclusion=False)`, the same code as `por prove liabilities --shard-size 2^H`, one local
prover process that uses every core) and verify it with `por.liabilities.verify`, the code of
`por verify liabilities` (every shard proof, the key-range tiling, the totals and the root).
`proof_bytes` is then the sum of all shard proofs and `max_proof_bytes` the largest one.
`peak_rss_mb` is the larger of this process's and its prover child's peak.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from por import _core

K = 22
PRICES = [10**15 + a for a in range(K)]
HAIRCUTS = [9000 + a for a in range(K)]


def inclusion_bytes(height: int) -> int:
    """Binary content of one inclusion proof: commitment, index, siblings, balances."""
    return 8 * 4 + 4 + height * 8 * 4 + 2 * K * 8


def peak_rss_mb() -> int:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) // 1024


def run_single(logn: int) -> dict:
    n = 1 << logn
    rows = []
    for i in range(n):
        c = _core.account_commitment(f"u{i}".encode(), os.urandom(32))
        eq = [(i * 7919 + a * 104729) % (1 << 50) for a in range(K)]
        rows.append((c, eq + [e // 4 for e in eq]))
    rows.sort(key=lambda r: (r[0][0] << 30) + r[0][1])
    cs, bal = [r[0] for r in rows], [r[1] for r in rows]
    t0 = time.perf_counter()
    proof, public, levels = _core.prove_liabilities(b"bench", PRICES, HAIRCUTS, cs, bal, logn)
    t1 = time.perf_counter()
    _core.verify_liabilities(proof, public)
    t2 = time.perf_counter()
    incl = inclusion_bytes(len(_core.merkle_path(levels, 0)))
    return {
        "customers": n, "assets": K, "mode": "single", "proofs": 1,
        "prove_s": round(t1 - t0, 3), "customers_per_s": round(n / (t1 - t0), 1),
        "verify_s": round(t2 - t1, 3), "proof_bytes": len(proof), "max_proof_bytes": len(proof),
        "inclusion_proof_bytes": incl, "peak_rss_mb": peak_rss_mb(),
    }


def run_sharded(logn: int, shard_height: int) -> dict:
    from por import liabilities
    from por.synthetic import generate

    n = 1 << logn
    with tempfile.TemporaryDirectory(prefix="por-bench-") as tmp:
        base = Path(tmp)
        t0 = time.perf_counter()
        generate(base / "round", n, 7)
        gen_s = time.perf_counter() - t0
        res = liabilities.prove(base / "round", base / "bundle",
                                private=base / "private", shard_height=shard_height,
                                write_inclusion=False)
        t1 = time.perf_counter()
        liabilities.verify(base / "bundle")
        verify_s = time.perf_counter() - t1
        sizes = [int(e["proof_bytes"]) for e in res.public["shards"]]
        height = int(res.public["tree_height"])
    prove_s = res.timings["prove shards"]
    incl = inclusion_bytes(height)  # a path through the shard and the top tree
    return {
        "customers": n, "assets": K, "mode": "sharded", "shard_height": shard_height,
        "proofs": len(sizes), "generate_s": round(gen_s, 1),
        "commit_s": round(res.timings["commit"], 3),
        "prove_s": round(prove_s, 3), "customers_per_s": round(n / prove_s, 1),
        "verify_s": round(verify_s, 3), "proof_bytes": sum(sizes), "max_proof_bytes": max(sizes),
        "inclusion_proof_bytes": incl, "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", nargs="*", type=int, default=[10], help="log2 of the customer count")
    ap.add_argument("--shard-height", type=int, default=12,
                    help="log2 of the shard size for sizes above --single-max (default 12)")
    ap.add_argument("--single-max", type=int, default=14,
                    help="largest log2 size proven as one proof (default 14)")
    a = ap.parse_args()
    for logn in a.sizes:
        row = run_single(logn) if logn <= a.single_max else run_sharded(logn, a.shard_height)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
