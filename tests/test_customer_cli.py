"""`por verify user`: the customer's CLI, offline and over HTTP, one round and many.

Real rounds made by `por generate` + `por prove liabilities`, a real HTTP server on loopback
for the URL mode, and every tamper a customer's check must catch, each with its reason.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from round_site import make_round, make_site, por


@pytest.fixture(scope="module")
def rounds(tmp_path_factory):
    """Two monthly rounds of the same exchange (same customers, new nonces), the second with
    BTC reserves below 100 %."""
    base = tmp_path_factory.mktemp("rounds")
    r1 = make_round(base / "r1", users=20, seed=5, round_id="2026-10")
    r2 = make_round(base / "r2", users=20, seed=5, round_id="2026-11", targets=("BTC=99.5",))
    return r1, r2


@pytest.fixture(scope="module")
def site(rounds, tmp_path_factory):
    r1, r2 = rounds
    root = tmp_path_factory.mktemp("site")
    s = make_site(root, r1)
    (root / "rounds").mkdir()
    for r in (r1, r2):
        shutil.copytree(r.bundle, root / "rounds" / r.round_id)
    yield s
    s.close()


def run_json(*args: str) -> tuple[int, dict]:
    p = por("verify", "user", *args, "--json", check=False)
    return p.returncode, json.loads(p.stdout)


def run_text(*args: str):
    p = por("verify", "user", *args, check=False)
    # rich wraps lines to the terminal width: compare words, not line breaks
    p.stdout, p.stderr = " ".join(p.stdout.split()), " ".join(p.stderr.split())
    return p


def test_round_bundle_passes_with_balances_totals_and_ratios(rounds):
    r1, _ = rounds
    f = max(r1.proof_files(), key=lambda f: len(json.loads(f.read_text())["balances"]))
    proof = json.loads(f.read_text())
    rc, doc = run_json("--proof", str(f), "--bundle", str(r1.bundle))
    assert rc == 0 and doc["ok"] is True
    assert doc["account_id"] == proof["account_id"] and doc["round_id"] == "2026-10"
    assert doc["liabilities"]["verified"] is True and doc["liabilities"]["layout"] == "round-bundle"
    assert doc["report"]["present"] is True
    assert [r["asset"] for r in doc["your_balances"]] == list(proof["balances"])
    for r in doc["your_balances"]:
        assert r["equity"] == proof["balances"][r["asset"]]["equity"]
        assert r["ratio_percent"] is not None or r["asset"] not in ("BTC", "ETH", "USDT")
    report = json.loads((r1.bundle / "report.json").read_text())
    assert [t["ratio_percent"] for t in doc["totals"]] == [a["ratio_percent"] for a in report["assets"]]
    assert doc["totals"][0]["ratio_percent"] == "104.00"
    # the old keys of `por verify user --json` are still there
    for k in ("balances", "leaf_index", "tree_height", "commitment", "leaf", "root", "totals"):
        assert k in doc
    p = run_text("--proof", str(f), "--bundle", str(r1.bundle))
    assert p.returncode == 0 and "INCLUDED" in p.stdout and "104.00 %" in p.stdout


def test_liabilities_directory_still_works(rounds, tmp_path):
    r1, _ = rounds
    f = r1.proof_files()[0]
    # BUNDLE/liabilities: the report next to it is found
    rc, doc = run_json("--proof", str(f), "--bundle", str(r1.bundle / "liabilities"))
    assert rc == 0 and doc["liabilities"]["layout"] == "liabilities-dir"
    assert doc["report"]["present"] is True
    # what `por prove liabilities --out` writes (no report anywhere): says so
    out = tmp_path / "liabilities-only"
    shutil.copytree(r1.bundle / "liabilities", out)
    rc, doc = run_json("--proof", str(f), "--bundle", str(out))
    assert rc == 0 and doc["report"]["present"] is False
    assert all(t["ratio_percent"] is None for t in doc["totals"])
    p = run_text("--proof", str(f), "--bundle", str(out))
    assert p.returncode == 0 and "no report" in p.stdout


def test_bundle_from_a_url(rounds, site):
    r1, _ = rounds
    f = r1.proof_files()[2]
    rc, doc = run_json("--proof", str(f), "--bundle", site.base + "/bundle")
    assert rc == 0, doc
    assert sorted(doc["liabilities"]["downloaded"]) == [
        "liabilities/public.json", "liabilities/shards/000000.bin", "report.json"]
    assert doc["report"]["present"] is True
    rc, doc = run_json("--proof", str(f), "--bundle", site.base + "/bundle/liabilities/")
    assert rc == 0 and doc["liabilities"]["layout"] == "liabilities-dir"
    rc, doc = run_json("--proof", str(f), "--bundle", site.base + "/nothing-here")
    assert rc == 1 and doc["details"]["reason"] == "bundle"
    rc, doc = run_json("--proof", str(f), "--bundle", "http://127.0.0.1:9/bundle")
    assert rc == 1 and doc["details"]["reason"] == "bundle"


def test_url_files_are_checked_against_the_manifest(rounds, site):
    r1, _ = rounds
    root = site.root / "bundle"
    files = {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(root.rglob("*")) if p.is_file()}
    (root / "manifest.json").write_text(json.dumps({"format": "por-manifest", "files": files}))
    f = r1.proof_files()[0]
    try:
        rc, doc = run_json("--proof", str(f), "--bundle", site.base + "/bundle")
        assert rc == 0, doc
        files["liabilities/shards/000000.bin"] = "0" * 64
        (root / "manifest.json").write_text(json.dumps({"files": [
            {"path": k, "sha256": v} for k, v in files.items()]}))
        rc, doc = run_json("--proof", str(f), "--bundle", site.base + "/bundle")
        assert rc == 1 and doc["details"]["reason"] == "bundle"
        assert "SHA-256" in doc["error"] and "000000.bin" in doc["error"]
    finally:
        (root / "manifest.json").unlink()


def _tampered(tmp_path: Path, src: Path, kind: str) -> Path:
    p = json.loads(src.read_text())
    if kind == "balance":
        sym, b = next(iter(p["balances"].items()))
        p["balances"][sym] = {**b, "equity": str(int(b["equity"]) + 1)}
    elif kind == "nonce":
        p["nonce"] = ("1" if p["nonce"][0] != "1" else "2") + p["nonce"][1:]
    elif kind == "index":
        p["leaf_index"] ^= 1
    elif kind == "sibling":
        raw = bytearray(base64.b64decode(p["siblings"]))
        raw[0] ^= 1
        p["siblings"] = base64.b64encode(bytes(raw)).decode()
    elif kind == "round":
        p["round_id"] = "2026-09"
    elif kind == "format":
        p["leaf_index"] = -1
    out = tmp_path / f"{kind}.json"
    out.write_text(json.dumps(p))
    return out


@pytest.mark.parametrize("kind,reason", [("balance", "balance"), ("nonce", "commitment"),
                                         ("index", "path"), ("sibling", "path"),
                                         ("round", "round"), ("format", "format")])
def test_tampered_proof_fails_loudly_naming_the_step(rounds, tmp_path, kind, reason):
    r1, _ = rounds
    bad = _tampered(tmp_path, r1.proof_files()[4], kind)
    rc, doc = run_json("--proof", str(bad), "--bundle", str(r1.bundle))
    assert rc == 1 and doc["ok"] is False and doc["details"]["reason"] == reason
    p = run_text("--proof", str(bad), "--bundle", str(r1.bundle))
    assert p.returncode == 1 and "NOT included" in p.stderr and f"({reason}:" in p.stderr
    assert "INCLUDED" not in p.stdout


def test_a_tampered_liabilities_proof_is_refused(rounds, tmp_path):
    r1, _ = rounds
    b = tmp_path / "bundle"
    shutil.copytree(r1.bundle, b)
    pub = json.loads((b / "liabilities" / "public.json").read_text())
    pub["equity_totals"][0] = str(int(pub["equity_totals"][0]) + 1)
    (b / "liabilities" / "public.json").write_text(json.dumps(pub))
    rc, doc = run_json("--proof", str(r1.proof_files()[0]), "--bundle", str(b))
    assert rc == 1 and doc["details"]["reason"] == "liabilities"
    p = run_text("--proof", str(r1.proof_files()[0]), "--bundle", str(b))
    assert p.returncode == 1 and "does NOT verify" in p.stderr


@pytest.mark.parametrize("edit", ["ratio", "equity", "below", "round"])
def test_a_report_that_contradicts_the_proof_is_refused(rounds, tmp_path, edit):
    r1, _ = rounds
    b = tmp_path / "bundle"
    shutil.copytree(r1.bundle, b)
    rep = json.loads((b / "report.json").read_text())
    line = rep["assets"][0]
    if edit == "ratio":
        line["ratio_percent"] = "105.00"
    elif edit == "equity":
        line["equity"] = str(int(line["equity"]) - 1)
    elif edit == "below":
        line["below_100"] = not line["below_100"]
    else:
        rep["round_id"] = "2026-09"
    (b / "report.json").write_text(json.dumps(rep))
    rc, doc = run_json("--proof", str(r1.proof_files()[0]), "--bundle", str(b))
    assert rc == 1 and doc["details"]["reason"] == "report", doc


def _history(tmp_path: Path, rounds, account: str) -> Path:
    h = tmp_path / "history"
    (h / "proofs").mkdir(parents=True)
    for r in rounds:
        shutil.copy(r.proofs / f"{account}.json", h / "proofs" / f"{r.round_id}.json")
        shutil.copytree(r.bundle, h / "bundles" / r.round_id)
    return h


def test_history_checks_every_round(rounds, tmp_path, site):
    r1, r2 = rounds
    account = r1.proof_files()[0].stem
    h = _history(tmp_path, rounds, account)
    rc, doc = run_json("--history", str(h))
    assert rc == 0 and doc["ok"] is True
    assert [r["round_id"] for r in doc["rounds"]] == ["2026-10", "2026-11"]
    assert all(r["ok"] and r["account_id"] == account for r in doc["rounds"])
    p = run_text("--history", str(h))
    assert p.returncode == 0 and "2026-10" in p.stdout and "2026-11" in p.stdout
    assert p.stdout.count("INCLUDED") == 2
    # the bundles from a URL base instead
    rc, doc = run_json("--history", str(h), "--bundle", site.base + "/rounds")
    assert rc == 0 and [r["ok"] for r in doc["rounds"]] == [True, True]


def test_history_reports_each_failed_round(rounds, tmp_path):
    r1, r2 = rounds
    account = r1.proof_files()[0].stem
    h = _history(tmp_path, rounds, account)
    bad = _tampered(tmp_path, h / "proofs" / "2026-11.json", "balance")
    shutil.copy(bad, h / "proofs" / "2026-11.json")
    rc, doc = run_json("--history", str(h))
    assert rc == 1 and doc["ok"] is False
    assert [(r["round_id"], r["ok"], r.get("reason")) for r in doc["rounds"]] == [
        ("2026-10", True, None), ("2026-11", False, "balance")]
    p = run_text("--history", str(h))
    assert p.returncode == 1 and "FAILED" in p.stdout and "2026-11 (balance)" in p.stderr
    # a second proof for the same round (another customer's) is refused, not silently used
    shutil.copy(r2.proofs / f"{account}.json", h / "proofs" / "2026-11.json")
    shutil.copy(r2.proof_files()[1], h / "proofs" / "extra.json")
    rc, doc = run_json("--history", str(h))
    assert rc == 1
    assert [(r["round_id"], r["ok"], r.get("reason")) for r in doc["rounds"]] == [
        ("2026-10", True, None), ("2026-11", True, None), ("2026-11", False, "round")]


def test_usage_errors(rounds):
    r1, _ = rounds
    p = run_text("--proof", str(r1.proof_files()[0]))
    assert p.returncode == 1 and "--bundle" in p.stderr
    p = run_text("--bundle", str(r1.bundle), "--proof", str(r1.proof_files()[0]),
                 "--history", str(r1.bundle))
    assert p.returncode == 1
