"""Benchmark: the report, the signed bundle and verification (prints one JSON document).

Usage: bench/report.py [USERS] [ROUNDS]

Builds one real round of USERS customers (default 10^4: generate, prove liabilities, sign the
wallets, prove assets from declared balances), then times each step of `por report`
(verifying both proofs, building report.json, rendering report.html, printing report.pdf with
headless Chromium, hashing and signing the manifest) and `por verify bundle`. With ROUNDS > 0
it also times `generate_history` of ROUNDS rounds of 200 customers and `load_history` on them.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from por import __version__  # noqa: E402
from por.bundle import (  # noqa: E402
    load_signing_key, make_manifest, verify_bundle, verify_proofs, write_key, write_report)
from por.history import generate_history, load_history, make_round  # noqa: E402
from por.render import render_html, render_pdf  # noqa: E402
from por.report import build_report  # noqa: E402


def timed(f, *a, **kw):
    t = time.perf_counter()
    r = f(*a, **kw)
    return r, round(time.perf_counter() - t, 3)


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    out: dict = {"bench": "report", "users": users, "por": __version__,
                 "machine": f"{platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}"}
    with tempfile.TemporaryDirectory(prefix="por-bench-report-") as d:
        d = Path(d)
        key = d / "report.key"
        write_key(key)
        bundle = d / "bundle"
        _, out["make_round_s"] = timed(
            make_round, d / "round", bundle, d / "private", users=users, seed=1,
            round_id="2026-11", snapshot_time="2026-11-30T23:59:59Z",
            targets_bps={"BTC": 10400, "ETH": 10200}, sign_key=key, pdf=False)
        v, out["verify_proofs_s"] = timed(verify_proofs, bundle)
        rep, out["build_report_s"] = timed(build_report, v.liabilities, v.assets, v.round_meta, __version__)
        html, out["render_html_s"] = timed(render_html, rep, "sha256:" + "0" * 64)
        (d / "r.html").write_text(html)
        _, out["render_pdf_s"] = timed(render_pdf, d / "r.html", d / "r.pdf")
        sk = load_signing_key(key)
        _, out["manifest_sign_s"] = timed(make_manifest, bundle, v.round_meta, {}, sk)
        _, out["por_report_total_s"] = timed(write_report, bundle, key, d / "round", pdf=True)
        _, out["verify_bundle_s"] = timed(verify_bundle, bundle, str(key) + ".pub")
        out["bundle_bytes"] = {p.relative_to(bundle).as_posix(): p.stat().st_size
                               for p in sorted(bundle.rglob("*")) if p.is_file()}
        if rounds:
            _, out["generate_history_s"] = timed(generate_history, d / "hist", d / "hist-work", key,
                                                 rounds=rounds, users=200)
            _, out["load_history_s"] = timed(load_history, d / "hist", str(key) + ".pub", None)
            out["history_rounds"] = rounds
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
