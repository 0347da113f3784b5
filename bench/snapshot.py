"""Benchmark: generate a synthetic round and load + validate it (por.snapshot).

Usage: .venv/bin/python bench/snapshot.py [--users 1000000] [--formats parquet,csv]

Each step runs in its own child process; its wall time and peak RSS (ru_maxrss of that
child, from os.wait4) are reported. Prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform

import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(step: str, out: str, users: int, fmt: str) -> None:
    if step == "generate":
        from por.synthetic import generate

        generate(out, users, seed=1, fmt=fmt)
    else:
        from por.snapshot import validate

        s = validate(out)
        assert s.customers == users
    print(json.dumps({"ok": True}))


def run_child(step: str, out: str, users: int, fmt: str) -> dict:
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [sys.executable, __file__, "--child", step, "--out", out, "--users", str(users), "--formats", fmt],
        stdout=subprocess.PIPE,
    )
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{step} {fmt} failed with exit code {p.returncode}")
    # ru_maxrss is in KiB on Linux
    return {"seconds": round(wall, 2), "peak_rss_mib": round(ru.ru_maxrss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--formats", default="parquet,csv")
    ap.add_argument("--child", choices=["generate", "validate"])
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.child:
        child(a.child, a.out, a.users, a.formats)
        return
    results = {}
    with tempfile.TemporaryDirectory(prefix="por-bench-") as tmp:
        for fmt in a.formats.split(","):
            out = str(Path(tmp) / fmt)
            gen = run_child("generate", out, a.users, fmt)
            size = (Path(out) / f"balances.{fmt}").stat().st_size
            val = run_child("validate", out, a.users, fmt)
            results[fmt] = {
                "generate": gen,
                "validate": {**val, "rows_per_second": int(a.users / val["seconds"])},
                "balances_file_mib": round(size / 2**20, 1),
            }
    doc = {
        "benchmark": "snapshot",
        "users": a.users,
        "assets": 22,
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(),
        },
        "note": "seconds include starting Python and importing pyarrow/numpy in the child",
        "results": results,
    }
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":

    main()
