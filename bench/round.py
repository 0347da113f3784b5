"""Benchmark a whole sharded liabilities round and print one JSON document.

    python bench/round.py [--customers 100000] [--shard-size 4096] [--workers 1]
                          [--executor local|ray] [--ray-address ADDR] [--db URL] [--dir DIR]
                          [--verify-users 20]

Stages: generate (not part of a round, reported apart), snapshot check, commit, prove shards,
aggregate, store load, verify (the global statement: every shard proof), verify users (a few
customers' inclusion proofs, pure Python). Reports wall time per stage, peak RSS of this
process and of the prover processes, the global proof's bytes (all shard proofs + public.json),
the store's size and the inclusion proof sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--shard-size", type=int, default=4096)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--executor", default="local", choices=["local", "ray"])
    ap.add_argument("--ray-address", default=None)
    ap.add_argument("--db", default=None, help="store URL (default: SQLite in the private dir)")
    ap.add_argument("--dir", default=None, help="work directory (default: a temp dir, removed)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verify-users", type=int, default=20)
    a = ap.parse_args()
    if a.shard_size < 2 or a.shard_size & (a.shard_size - 1):
        ap.error("--shard-size must be a power of two")

    from por.inclusion import verify_inclusion
    from por.liabilities import prove, verify
    from por.store import open_store
    from por.synthetic import generate

    base = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix="por-round-"))
    base.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not (base / "round" / "round.json").exists():
        generate(base / "round", a.customers, a.seed)
    gen_s = time.perf_counter() - t0

    out = base / "bundle" / "liabilities"
    r = prove(base / "round", out, shard_height=a.shard_size.bit_length() - 1,
              executor=a.executor, workers=a.workers, ray_address=a.ray_address, db=a.db)
    stages = {k: round(v, 3) for k, v in r.timings.items()}
    t0 = time.perf_counter()
    doc = verify(out)
    stages["verify"] = round(time.perf_counter() - t0, 3)

    rid = doc["round_id"]
    sizes = []
    t0 = time.perf_counter()
    with open_store(r.store_url) as st:
        store_bytes = st.size_bytes()
        n_store = st.count(rid)
        step = max(1, r.customers // max(1, a.verify_users))
        picked = []
        for i, (acc, proof) in enumerate(st.iter_round(rid)):
            sizes.append(len(proof))
            if i % step == 0 and len(picked) < a.verify_users:
                picked.append(proof)
        t_scan = time.perf_counter() - t0
        t0 = time.perf_counter()
        for proof in picked:  # the customer's own check, against the verified statement
            verify_inclusion(proof, doc["root"], doc["assets"], rid,
                             expected_tree_height=doc["tree_height"])
        t_users = time.perf_counter() - t0
    public_bytes = (out / "public.json").stat().st_size
    result = {
        "bench": "round",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "customers": r.customers,
        "assets": len(doc["assets"]),
        "shard_size": 1 << doc["shard_height"],
        "shards": r.shards,
        "tree_height": doc["tree_height"],
        "executor": a.executor,
        "workers": a.workers,
        "generate_s": round(gen_s, 3),
        "stages_s": stages,
        "round_s": round(sum(v for k, v in stages.items() if k != "verify"), 3),
        "customers_per_s_prove": round(r.customers / max(stages["prove shards"], 1e-9), 1),
        "verify_user_ms": round(1000 * t_users / max(1, len(picked)), 2),
        "global_proof_bytes": r.proof_bytes + public_bytes,
        "shard_proof_bytes_mean": r.proof_bytes // r.shards,
        "public_json_bytes": public_bytes,
        "store": r.store_url.split("://")[0] if r.store_url else None,
        "store_rows": n_store,
        "store_bytes": store_bytes,
        "store_scan_s": round(t_scan, 3),
        "inclusion_proof_bytes": {"mean": round(sum(sizes) / len(sizes), 1), "max": max(sizes),
                                  "over_2048": sum(1 for s in sizes if s > 2048)},
        "peak_rss_mb": {
            "driver": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "provers": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024,
        },
    }
    print(json.dumps(result, indent=1), flush=True)
    if not a.dir:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(str(base / "bundle") + ".private", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
