"""Benchmark the liabilities proof: python bench/liabilities.py [log2_customers ...] -> JSON lines."""
import json
import os
import resource
import sys
import time

from por import _core

K = 22
PRICES = [10**15 + a for a in range(K)]
HAIRCUTS = [9000 + a for a in range(K)]


def run(logn):
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
    path = _core.merkle_path(levels, 0)
    incl = 8 * 4 + 4 + len(path) * 8 * 4 + 2 * K * 8  # commitment, index, siblings, balances (binary)
    return {
        "customers": n, "assets": K, "prove_s": round(t1 - t0, 3),
        "customers_per_s": round(n / (t1 - t0), 1), "verify_s": round(t2 - t1, 3),
        "proof_bytes": len(proof), "inclusion_proof_bytes": incl,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


if __name__ == "__main__":
    for a in sys.argv[1:] or ["10"]:
        print(json.dumps(run(int(a))), flush=True)
