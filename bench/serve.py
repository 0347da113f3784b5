#!/usr/bin/env python3
"""The proof service under load: proof lookups per second and latency, SQLite and PostgreSQL.

    python bench/serve.py [--customers 1000000] [--tokens 200000] [--duration 30]
                          [--connections 32] [--workers 2] [--stores sqlite,postgresql]
                          [--work-dir /tmp/por-bench-serve]

1. Builds a real Merkle tree over N synthetic customers with por._core hashing and writes
   every customer's real inclusion proof into a SQLite store (por.loadtest; NOT backed by a
   STARK proof — proving 10^6 customers takes about half an hour and is not what is measured
   here). The store is kept in --work-dir and reused by later runs with the same N and seed.
2. Copies the proofs into a real PostgreSQL server started on loopback by
   scripts/pg-local.sh (stopped at the end).
3. For each store: starts `por serve` (uvicorn, --workers processes) on loopback, checks
   that 100 random customers' proofs fetched over HTTP verify against the tree's root, then
   runs wrk (Debian package) with bench/serve_wrk.lua, which sends the next of --tokens
   distinct valid ed25519 tokens with every request (random accounts out of the N): a 5 s
   warm-up, then --duration seconds at saturation (--connections, no pause: the most the
   service answers), then --duration seconds paced (--paced-connections, each waiting
   --pause-ms after every reply: 2,000-2,900 requests/s offered, depending on the latency;
   the latency at about the target load).

Prints one JSON document: throughput, latency percentiles, errors, setup times, store sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "python"))

from por import loadtest  # noqa: E402
from por.inclusion import verify_inclusion  # noqa: E402
from por.store import open_store  # noqa: E402
from por.tokens import TokenKey, issue_token, write_key  # noqa: E402

ROUND = "2026-11"


def log(msg: str) -> None:
    sys.stderr.write(f"[bench/serve {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_sqlite(work: Path, n: int, seed: int) -> dict:
    """The SQLite store and bundle for N customers (built once, then reused)."""
    marker = work / f"ready-{n}-{seed}.json"
    db = work / f"proofs-{n}-{seed}.db"
    bundle = work / f"bundle-{n}-{seed}"
    if marker.exists() and db.exists():
        info = json.loads(marker.read_text())
        info["reused"] = True
        return info
    for p in (db, Path(str(db) + "-wal"), Path(str(db) + "-shm")):
        p.unlink(missing_ok=True)
    t0 = time.perf_counter()
    tree = loadtest.build_tree(n, round_id=ROUND, seed=seed,
                               progress=lambda s, d, t: d % 262144 == 0 and log(f"{s} {d}/{t}"))
    t_tree = time.perf_counter() - t0
    loadtest.write_bundle(tree, bundle)
    t1 = time.perf_counter()
    with open_store(db) as s:
        count = s.put_many(ROUND, loadtest.iter_proofs(tree))
        size = s.size_bytes()
    t_load = time.perf_counter() - t1
    info = {"customers": n, "seed": seed, "tree_height": tree.height, "root": tree.root_hex,
            "assets": tree.assets, "db": str(db), "bundle": str(bundle), "stored": count,
            "build_tree_s": round(t_tree, 1), "proofs_to_sqlite_s": round(t_load, 1),
            "sqlite_bytes": size, "builder_peak_rss_mb": round(peak_rss_mb()),
            "reused": False}
    marker.write_text(json.dumps(info, indent=1))
    return info


def make_tokens(work: Path, n: int, count: int) -> tuple[Path, Path, list[str]]:
    key = TokenKey.generate()
    kp = write_key(key, work / "bench-token.key", overwrite=True)
    pub = write_key(key.public_only(), work / "bench-token.key.pub", overwrite=True)
    rng = random.Random(2026)
    accounts = [loadtest.account_id_for(rng.randrange(n)) for _ in range(count)]
    path = work / "tokens.txt"
    with open(path, "w") as f:
        for acc in accounts:
            f.write(issue_token(key, acc, ROUND, 86400) + "\n")
    return kp, pub, accounts


class Server:
    def __init__(self, bundle: str, db_url: str, pub: Path, workers: int, log_path: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "por", "serve", bundle, "--db", db_url, "--token-key",
             str(pub), "--port", str(self.port), "--workers", str(workers)],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO / "python")})
        for _ in range(300):
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1).read()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"por serve did not start; see {log_path}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def check_sample(base: str, token_file: Path, accounts: list[str], info: dict) -> int:
    """Fetch 100 proofs over HTTP; each must verify against the tree's root."""
    tokens = token_file.read_text().split()
    for i in range(0, len(tokens), max(1, len(tokens) // 100)):
        req = urllib.request.Request(base + "/api/v1/proof",
                                     headers={"Authorization": "Bearer " + tokens[i]})
        body = urllib.request.urlopen(req, timeout=10).read()
        verify_inclusion(body, info["root"], info["assets"], ROUND,
                         expected_tree_height=info["tree_height"],
                         expected_account_id=accounts[i])
    return len(range(0, len(tokens), max(1, len(tokens) // 100)))


def run_wrk(base: str, token_file: Path, seconds: int, connections: int, threads: int,
            pause_ms: int = 0) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
           "-s", str(REPO / "bench" / "serve_wrk.lua"), base, "--", str(token_file)]
    if pause_ms:
        cmd.append(str(pause_ms))
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    m = re.search(r"WRK_JSON (\{.*\})", out)
    if not m:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    r = json.loads(m.group(1))
    secs = r["duration_us"] / 1e6
    errors = sum(v for k, v in r.items() if k.startswith("errors_"))
    lat = {k: round(v / 1000, 2) for k, v in r["latency_us"].items()}
    return {"requests": r["requests"], "seconds": round(secs, 2),
            "requests_per_s": round(r["requests"] / secs), "errors": errors,
            "errors_detail": {k[7:]: v for k, v in r.items() if k.startswith("errors_")},
            "latency_ms": lat, "command": " ".join(cmd)}


def bench_store(name: str, db_url: str, info: dict, pub: Path, token_file: Path,
                accounts: list[str], args, work: Path) -> dict:
    log(f"{name}: starting por serve ({args.workers} workers)")
    srv = Server(info["bundle"], db_url, pub, args.workers, work / f"serve-{name}.log")
    try:
        checked = check_sample(srv.base, token_file, accounts, info)
        log(f"{name}: {checked} proofs fetched over HTTP verify; warm-up")
        run_wrk(srv.base, token_file, 5, args.connections, args.threads)
        log(f"{name}: saturation, {args.duration} s")
        sat = run_wrk(srv.base, token_file, args.duration, args.connections, args.threads)
        log(f"{name}: {sat['requests_per_s']} req/s, p99 {sat['latency_ms']['p99']} ms, "
            f"{sat['errors']} errors")
        log(f"{name}: paced ({args.paced_connections} connections, {args.pause_ms} ms "
            f"pause), {args.duration} s")
        paced = run_wrk(srv.base, token_file, args.duration, args.paced_connections,
                        args.threads, args.pause_ms)
        log(f"{name}: {paced['requests_per_s']} req/s, p99 {paced['latency_ms']['p99']} ms, "
            f"{paced['errors']} errors")
        return {"saturation": sat, "paced": paced, "proofs_verified_over_http": checked}
    finally:
        srv.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tokens", type=int, default=200_000)
    ap.add_argument("--duration", type=int, default=30)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--paced-connections", type=int, default=64,
                    help="connections of the paced run (each pauses --pause-ms after a reply)")
    ap.add_argument("--pause-ms", type=int, default=22,
                    help="64 connections / (22 ms + latency): 2,000-2,900 requests/s offered")
    ap.add_argument("--stores", default="sqlite,postgresql")
    ap.add_argument("--work-dir", default="/tmp/por-bench-serve")
    ap.add_argument("--pg-url", default=None,
                    help="use this PostgreSQL (loaded once, reused) instead of starting one")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/serve.py needs wrk (apt-get install wrk; scripts/system-deps.sh)")
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]

    log(f"preparing {args.customers} customers' proofs (SQLite, reused when present)")
    info = prepare_sqlite(work, args.customers, args.seed)
    log(f"tree height {info['tree_height']}, {info['stored']} proofs; issuing {args.tokens} tokens")
    t = time.perf_counter()
    _, pub, accounts = make_tokens(work, args.customers, args.tokens)
    t_tokens = time.perf_counter() - t
    token_file = work / "tokens.txt"

    result: dict = {
        "bench": "proof service (por serve): GET /api/v1/proof under wrk",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]},
        "customers": info["customers"], "tree_height": info["tree_height"],
        "stark_backed": False,
        "setup": {k: info[k] for k in ("build_tree_s", "proofs_to_sqlite_s", "sqlite_bytes",
                                       "builder_peak_rss_mb", "reused")},
        "distinct_tokens": args.tokens, "token_issue_s": round(t_tokens, 1),
        "workers": args.workers, "wrk": {"threads": args.threads,
                                         "connections": args.connections,
                                         "paced_connections": args.paced_connections,
                                         "pause_ms": args.pause_ms,
                                         "duration_s": args.duration},
        "stores": {},
    }
    if "sqlite" in stores:
        result["stores"]["sqlite"] = bench_store("sqlite", "sqlite:///" + info["db"], info, pub,
                                                 token_file, accounts, args, work)
    if "postgresql" in stores:
        pg_dir = work / "pg"
        own_pg = not args.pg_url
        if own_pg:
            subprocess.run(["bash", str(REPO / "scripts" / "pg-local.sh"), "stop", str(pg_dir)],
                           capture_output=True)
            out = subprocess.run(["bash", str(REPO / "scripts" / "pg-local.sh"), "start",
                                  str(pg_dir)], capture_output=True, text=True, check=True)
            pg_url = out.stdout.strip().splitlines()[-1]
        else:
            pg_url = args.pg_url
        try:
            with open_store(info["db"]) as src, open_store(pg_url) as dst:
                if dst.count(ROUND) != info["stored"]:
                    log(f"copying the proofs into PostgreSQL at {pg_url}")
                    t = time.perf_counter()
                    n = dst.put_many(ROUND, src.iter_round(ROUND))
                    assert n == info["stored"], (n, info["stored"])
                    result["setup"]["proofs_to_postgresql_s"] = round(time.perf_counter() - t, 1)
                result["setup"]["postgresql_bytes"] = dst.size_bytes()
            result["stores"]["postgresql"] = bench_store("postgresql", pg_url, info, pub,
                                                         token_file, accounts, args, work)
        finally:
            if own_pg:
                subprocess.run(["bash", str(REPO / "scripts" / "pg-local.sh"), "stop",
                                str(pg_dir)], capture_output=True)
    result["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["peak_rss_mb_bench_process"] = round(peak_rss_mb())
    result["targets"] = {"requests_per_s": 2000, "p99_ms": 50, "errors": 0}
    result["meets_targets"] = {
        f"{name}/{mode}": (r[mode]["requests_per_s"] >= 2000 and r[mode]["latency_ms"]["p99"] < 50
                           and r[mode]["errors"] == 0)
        for name, r in result["stores"].items() for mode in ("saturation", "paced")}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
