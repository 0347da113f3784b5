"""History: every round verified, series per asset with month-over-month changes, months
below 100 % flagged; and the CLI writes the HTML, PNG (headless Chromium) and JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from por.bundle import BundleError
from por.history import history_table, load_history
from tests.round_bundle import build_round

TARGETS = [
    {"BTC": 10400, "ETH": 10200, "USDC": 10100},
    {"BTC": 10300, "ETH": 9950, "USDC": 10100},   # ETH dips below 100 % in the second month
    {"BTC": 10350, "ETH": 10100, "USDC": 10100},
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("history")
    key = None
    for i, t in enumerate(TARGETS):
        month = f"2026-{i + 1:02d}"
        _b, key, _ = build_round(tmp, users=80, seed=40 + i, round_id=month,
                                 snapshot_time=f"{month}-28T23:59:59Z", targets=t, key=key)
    return tmp / "bundle", key


def test_history_flags_the_month_below_100(folder):
    root, key = folder
    h = load_history(root, str(key) + ".pub", None)
    t = history_table(h.reports)
    assert [r["round_id"] for r in t["rounds"]] == ["2026-01", "2026-02", "2026-03"]
    eth = t["assets"]["ETH"]
    assert [p["below_100"] for p in eth] == [False, True, False]
    assert t["months_below_100"]["ETH"] == ["2026-02"]
    assert eth[1]["ratio_percent"].startswith("99.5")
    # month-over-month change, exact on the shown values (percentage points)
    from fractions import Fraction

    d = Fraction(eth[1]["ratio_percent"]) - Fraction(eth[0]["ratio_percent"])
    assert Fraction(eth[1]["change_pp"]) == d and eth[0]["change_pp"] is None
    assert "BTC" in t["charted_assets"] and t["never_proven"] == []


def test_history_refuses_a_round_that_does_not_verify(folder, tmp_path):
    root, key = folder
    dst = tmp_path / "h"
    shutil.copytree(root, dst)
    rep = dst / "2026-02" / "report.json"
    rep.write_text(rep.read_text().replace('"below_100": true', '"below_100": false', 1))
    with pytest.raises(BundleError) as ei:
        load_history(dst, str(key) + ".pub", None)
    assert ei.value.message.startswith("round 2026-02:") and ei.value.reason == "hash-mismatch"


def test_cli_history_writes_html_png_json(folder, tmp_path):
    root, key = folder
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "por", "history", str(root), "--key",
                        str(key) + ".pub", "--out", str(out), "--json"],
                       capture_output=True, text=True)
    # the latest round (2026-03) covers every asset: exit 0
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["months_below_100"]["ETH"] == ["2026-02"]
    html = (out / "history.html").read_text()
    assert "ETH in 2026-02" in html and "<svg" in html and "https://" not in html
    png = (out / "history.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert json.loads((out / "history.json").read_text())["format"] == "por-history"


def test_cli_history_exit_3_when_the_latest_round_is_below_100(folder, tmp_path):
    root, key = folder
    dst = tmp_path / "h"
    shutil.copytree(root, dst)
    shutil.rmtree(dst / "2026-03")  # the latest round is now 2026-02, where ETH is at 99.5 %
    p = subprocess.run([sys.executable, "-m", "por", "history", str(dst), "--key",
                        str(key) + ".pub", "--out", str(tmp_path / "out"), "--json"],
                       capture_output=True, text=True)
    assert p.returncode == 3, p.stderr
    assert json.loads(p.stdout)["months_below_100"]["ETH"] == ["2026-02"]
