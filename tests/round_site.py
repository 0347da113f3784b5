"""A small real round, laid out as a customer sees it, served over real HTTP on loopback.

Used by the web-verifier (Chromium) tests and the customer CLI tests. Everything is made by
the product itself: `por generate` (a synthetic exchange), `por prove liabilities` (the real
Plonky3 proof and the customers' inclusion proofs). The public bundle is laid out as in the
contract (BUNDLE/liabilities/public.json + proof file(s), BUNDLE/report.json); the private
inclusion proofs stay outside it.

report.json is the contract's minimum (docs: report.json fields), computed here exactly from
the synthetic exchange's reserves.csv and the PROVEN totals (the report helper's `por report`
writes the full one; these tests only read the contract fields).
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WEB_DIR = REPO / "python" / "por" / "web"


def por(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the `por` CLI as a customer or operator would (a real subprocess)."""
    return subprocess.run([sys.executable, "-m", "por", *args], capture_output=True, text=True,
                          check=check, timeout=300)


def make_report(public: dict, reserves_csv: Path) -> dict:
    """The contract fields of report.json from reserves and the proven totals (exact)."""
    reserves: dict[str, int] = {}
    with open(reserves_csv, newline="") as f:
        for rec in csv.DictReader(f):
            reserves[rec["asset"]] = reserves.get(rec["asset"], 0) + int(rec["amount"])
    assets = []
    for sym, e, d in zip(public["assets"], public["equity_totals"], public["debt_totals"]):
        net = int(e) - int(d)
        res = reserves.get(sym, 0)
        pct = None if net <= 0 else res * 10000 // net  # rounded down, 2 decimals
        assets.append({
            "asset": sym, "reserves": str(res), "equity": e, "debt": d,
            "net_liabilities": str(net), "ratio_num": str(res), "ratio_den": str(net),
            "ratio_percent": None if pct is None else f"{pct // 100}.{pct % 100:02d}",
            "below_100": net > 0 and res < net,
            "reserves_usd": "0", "net_liabilities_usd": "0", "reserves_verified_by": "test",
        })
    return {"format": "por-report", "version": 1, "round_id": public["round_id"],
            "snapshot_time": "2026-10-31T23:59:59Z", "assets": assets, "totals_usd": {}}


@dataclass
class Round:
    round_id: str
    bundle: Path          # the public round bundle (liabilities/, report.json)
    proofs: Path          # the customers' private inclusion proofs (one file each)
    snapshot: Path

    def proof_files(self) -> list[Path]:
        return sorted(self.proofs.glob("*.json"))


def make_round(base: Path, *, users: int, seed: int, round_id: str | None = None,
               with_report: bool = True, targets: tuple[str, ...] = ()) -> Round:
    """Generate and prove one round under ``base`` (snapshot/, bundle/, private/)."""
    snap = base / "snapshot"
    args = ["generate", "--users", str(users), "--seed", str(seed), "--out", str(snap)]
    if round_id:
        args += ["--round-id", round_id]
    for t in targets:
        args += ["--target", t]
    por(*args)
    bundle = base / "bundle"
    private = base / "private"
    # the public part goes to BUNDLE/liabilities; the round secret and the proof store to the
    # private directory, from which every customer's inclusion proof is exported
    por("prove", "liabilities", "--snapshot", str(snap), "--out", str(bundle / "liabilities"),
        "--private", str(private / "liabilities"))
    por("proofs", "export", "--private", str(private / "liabilities"), "--out", str(private / "inclusion"))
    public = json.loads((bundle / "liabilities" / "public.json").read_text())
    if with_report:
        rep = make_report(public, snap / "exchange" / "reserves.csv")
        (bundle / "report.json").write_text(json.dumps(rep, indent=1))
    return Round(public["round_id"], bundle, private / "inclusion", snap)


class _Handler(SimpleHTTPRequestHandler):
    """Static files, plus GET /api/v1/proof with a bearer token (the serve contract)."""

    tokens: dict[str, Path] = {}

    def log_message(self, fmt, *args):  # keep test output clean
        pass

    def do_GET(self):  # noqa: N802
        if self.path.split("?")[0] == "/api/v1/proof":
            auth = self.headers.get("Authorization", "")
            path = self.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
            if path is None:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


class Site:
    """A directory with verify/ (the page) and bundle/ served by a real HTTP server."""

    def __init__(self, root: Path, tokens: dict[str, Path] | None = None):
        self.root = root
        handler = type("Handler", (_Handler,), {"tokens": dict(tokens or {})})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0),
                                          partial(handler, directory=str(root)))
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_site(root: Path, rnd: Round, *, tokens: dict[str, Path] | None = None) -> Site:
    """verify/ = a copy of python/por/web, bundle/ = the round's public bundle."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(WEB_DIR, root / "verify", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(rnd.bundle, root / "bundle")
    return Site(root, tokens)
