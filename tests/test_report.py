"""The report's numbers: exact ratios rounded down, recomputed independently from the
snapshot and the exchange's reserves, and the pure edge cases (L <= 0, 99.999 %)."""

from __future__ import annotations

import csv
import json
from fractions import Fraction
from pathlib import Path

import pytest

from por.report import build_report, compare_reports, percent_floor, ratio
from tests.round_bundle import build_round


@pytest.fixture(scope="module")
def round_(tmp_path_factory):
    return build_round(tmp_path_factory.mktemp("report"), users=150, seed=11)


def test_percent_is_rounded_down_never_up_to_100():
    assert percent_floor(Fraction(99999, 100000)) == "99.99"
    assert percent_floor(Fraction(999999999, 10**9)) == "99.99"
    assert percent_floor(Fraction(1)) == "100.00"
    assert percent_floor(Fraction(104, 100)) == "104.00"
    assert percent_floor(Fraction(2, 3)) == "66.66"
    assert percent_floor(Fraction(0)) == "0.00"
    assert ratio(5, 0) is None and ratio(5, -3) is None
    assert ratio(3, 6) == Fraction(1, 2)


def _liab(equity, debt, prices=("950000000000000",)):
    k = len(equity)
    return {"round_id": "r1", "assets": ["BTC", "ETH", "USDT"][:k], "prices": list(prices) * k,
            "haircuts_bps": [9500] * k, "equity_totals": [str(x) for x in equity],
            "debt_totals": [str(x) for x in debt], "root": "00" * 32, "tree_height": 3,
            "max_customers": 8}


def _assets(amounts):
    syms = ["BTC", "ETH", "USDT"]
    units = {"BTC": "satoshi", "ETH": "gwei", "USDT": "micro-USDT"}
    return {"message": "m", "heights": {}, "entries": [], "totals": {
        syms[i]: {"amount": str(a), "unverified_amount": "0", "unit": units[syms[i]],
                  "sources": {"evm-rpc": 1}} for i, a in enumerate(amounts) if a is not None}}


def test_edge_cases_no_net_liabilities_and_just_below_100():
    meta = {"round_id": "r1", "snapshot_time": "2026-11-30T23:59:59Z", "block_heights": {}}
    # BTC: 99999 reserves for 100000 owed -> 99.99 % and flagged; ETH: debt > equity -> n/a;
    # USDT: nothing owed, nothing held -> n/a, not flagged
    r = build_report(_liab([100000, 50, 0], [0, 80, 0]), _assets([99999, 7, None]), meta, "t")
    btc, eth, usdt = r.assets
    assert (btc.ratio_percent, btc.below_100, btc.coverage) == ("99.99", True, "below-100")
    assert (btc.ratio_num, btc.ratio_den) == ("99999", "100000")
    assert eth.ratio_percent is None and eth.ratio_num is None and not eth.below_100
    assert eth.coverage == "no-net-liabilities" and eth.net_liabilities == "-30"
    assert usdt.ratio_percent is None and not usdt.below_100
    assert usdt.reserves_verified_by == "no reserves in the assets proof"
    assert r.totals_usd.assets_below_100 == ["BTC"]
    # exact USD: 99999 sat * 950000000000000 / 1e18
    assert btc.reserves_usd == "94.99905"
    assert Fraction(btc.reserves_usd) == Fraction(99999 * 950000000000000, 10**18)


def test_report_numbers_equal_an_independent_recomputation(round_):
    """Ratios recomputed here from balances.csv and reserves.csv with plain Python equal the
    report's (the test shares no code with por.report)."""
    bundle, _key, round_dir = round_
    rep = json.loads((bundle / "report.json").read_text())
    with open(round_dir / "prices.csv", newline="") as f:
        prices = {r["asset"]: Fraction(r["price_usd"]) for r in csv.DictReader(f)}
    decimals = {"BTC": 8, "ETH": 9, "USDT": 6, "USDC": 6, "XRP": 6, "SOL": 9, "DOGE": 8,
                "ADA": 6, "TRX": 6, "TON": 9, "LTC": 8, "LINK": 9, "DOT": 8, "AVAX": 9,
                "BCH": 8, "ETC": 9, "FIL": 9, "APT": 8, "SHIB": 4, "UNI": 9, "OKB": 9, "PEPE": 4}
    eq = dict.fromkeys(decimals, 0)
    de = dict.fromkeys(decimals, 0)
    with open(round_dir / "balances.csv", newline="") as f:
        for row in csv.DictReader(f):
            for s in decimals:
                eq[s] += int(row[f"{s}_equity"])
                de[s] += int(row[f"{s}_debt"])
    keys = json.loads((round_dir / "exchange" / "wallet_keys.json").read_text())
    owned = {(w["chain"], w["address"]) for w in keys["wallets"]}  # the wallets with keys
    res = dict.fromkeys(decimals, 0)
    with open(round_dir / "exchange" / "reserves.csv", newline="") as f:
        for row in csv.DictReader(f):
            if (row["chain"], row["address"]) in owned:
                res[row["asset"]] += int(row["amount"])
    assert [a["asset"] for a in rep["assets"]] == list(decimals)
    for a in rep["assets"]:
        s = a["asset"]
        net = eq[s] - de[s]
        assert (a["reserves"], a["equity"], a["debt"], a["net_liabilities"]) == \
            (str(res[s]), str(eq[s]), str(de[s]), str(net))
        usd_per_base = prices[s] / 10 ** decimals[s]
        assert Fraction(a["reserves_usd"]) == res[s] * usd_per_base
        assert Fraction(a["net_liabilities_usd"]) == net * usd_per_base
        if net <= 0:
            assert a["ratio_percent"] is None and a["below_100"] is False
            continue
        q = Fraction(res[s], net)
        assert Fraction(int(a["ratio_num"]), int(a["ratio_den"])) == q
        whole_bp = (res[s] * 10000) // net  # hundredths of a percent, rounded down
        assert a["ratio_percent"] == f"{whole_bp // 100}.{whole_bp % 100:02d}"
        assert a["below_100"] is (res[s] < net)
    eth = next(a for a in rep["assets"] if a["asset"] == "ETH")
    assert eth["below_100"] and eth["ratio_percent"].startswith("99.9"), eth  # target 99.90 %
    # every chain of the synthetic exchange has a signed wallet: only ETH (target 99.90 %) is short
    assert [a["asset"] for a in rep["assets"] if a["below_100"]] == ["ETH"]
    total_res = sum(res[s] * prices[s] / 10 ** decimals[s] for s in decimals)
    assert Fraction(rep["totals_usd"]["reserves_usd"]) == total_res


def test_compare_reports_names_every_edited_number(round_):
    from por.report import Report

    bundle = round_[0]
    good = json.loads((bundle / "report.json").read_text())
    rep = Report.model_validate(good)
    assert compare_reports(good, rep) == []
    bad = json.loads(json.dumps(good))
    bad["assets"][0]["ratio_percent"] = "999.99"
    bad["totals_usd"]["reserves_usd"] = "1"
    diffs = compare_reports(bad, rep)
    assert any(d.startswith("assets[BTC].ratio_percent") for d in diffs), diffs
    assert any(d.startswith("totals_usd.reserves_usd") for d in diffs), diffs


def test_percent_floor_agrees_with_decimal_round_down():
    from decimal import ROUND_DOWN, Decimal, localcontext

    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=400, deadline=None)
    @given(st.integers(0, 2**80), st.integers(1, 2**80))
    def check(a, n):
        with localcontext() as ctx:
            ctx.prec = 80
            want = (Decimal(a) * 100 / Decimal(n)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        got = percent_floor(Fraction(a, n))
        assert got == f"{want:.2f}"
        assert (Fraction(got) < 100) == (a < n)  # 100.00 is shown only when A >= L

    check()
