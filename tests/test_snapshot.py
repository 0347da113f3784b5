"""The snapshot format: exact, streaming, loud validation (por.snapshot)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import por.snapshot as snapmod
from por.amounts import get_asset, parse_price
from por.snapshot import SnapshotError, load_snapshot, solvency_check, validate

ASSETS = ["BTC", "ETH", "USDT"]
PRICES = {"BTC": ("95000.5", 9500), "ETH": ("3500", 9500), "USDT": ("1", 9900)}
# (account, BTC e, BTC d, ETH e, ETH d, USDT e, USDT d)
ROWS = [
    ["alice", "100000000", "0", "0", "0", "5000000", "0"],
    ["bob", "0", "0", "2000000000", "0", "0", "1000000000"],  # 2 ETH, owes 1000 USDT
    ["carol", "18446744073709551615", "0", "0", "0", "0", "0"],  # 2**64 - 1 is allowed
    ["dave", "0", "0", "0", "0", "0", "0"],
]


def header() -> list[str]:
    return snapmod.balance_columns(ASSETS)


def write_round(d: Path, rows=ROWS, *, meta=None, prices=None, hdr=None, fmt="csv") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    m = {
        "format": "por-snapshot",
        "version": 1,
        "round_id": "test-1",
        "snapshot_time": "2026-10-31T23:59:59Z",
        "block_heights": {"bitcoin": 100, "ethereum": 200},
        "assets": ASSETS,
    }
    m.update(meta or {})
    (d / "round.json").write_text(json.dumps(m))
    if prices is None:
        prices = "asset,price_usd,haircut_bps\n" + "".join(
            f"{s},{p},{h}\n" for s, (p, h) in PRICES.items()
        )
    (d / "prices.csv").write_text(prices)
    if fmt == "csv":
        lines = [",".join(hdr or header())] + [",".join(r) for r in rows]
        (d / "balances.csv").write_text("\n".join(lines) + "\n")
    return d


def issues_of(d: Path) -> list:
    with pytest.raises(SnapshotError) as ei:
        validate(d)
    return ei.value.issues


def one_issue(d: Path, file: str, row, column, words: str):
    issues = issues_of(d)
    hits = [i for i in issues if i.file == file and i.row == row and i.column == column]
    assert hits, f"no issue at {file} row {row} column {column}: {[str(i) for i in issues]}"
    assert any(words in i.message for i in hits), [str(i) for i in hits]
    return hits[0]


def test_valid_round_totals_are_exact(tmp_path):
    d = write_round(tmp_path / "r")
    s = validate(d)
    assert s.customers == 4
    assert s.equity == {"BTC": 100000000 + 2**64 - 1, "ETH": 2000000000, "USDT": 5000000}
    assert s.debt == {"BTC": 0, "ETH": 0, "USDT": 1000000000}
    snap = load_snapshot(d)
    assert snap.price_vector == [parse_price(get_asset(s), PRICES[s][0]) for s in ASSETS]
    assert snap.haircut_vector == [9500, 9500, 9900]
    batches = list(snap.iter_batches())
    ids = [i for b in batches for i in b.account_ids]
    assert ids == ["alice", "bob", "carol", "dave"]
    amounts = np.concatenate([b.amounts for b in batches])
    # equities first (round order), then debts
    assert amounts[2].tolist() == [2**64 - 1, 0, 0, 0, 0, 0]
    assert amounts[1].tolist() == [0, 2000000000, 0, 0, 0, 1000000000]
    assert batches[0].first_row == 1


def bad_cell(row: int, col: int, value: str):
    rows = [list(r) for r in ROWS]
    rows[row - 1][col] = value
    return rows


@pytest.mark.parametrize(
    "value, words",
    [
        ("-5", "negative"),
        ("1.5", "fractional"),
        ("abc", "not a number"),
        ("", "empty"),
        ("18446744073709551616", "2^64"),
        ("99999999999999999999999", "2^64"),  # more than 20 digits
        (" 7", "spaces"),
    ],
)
def test_bad_amount_names_file_row_column(tmp_path, value, words):
    d = write_round(tmp_path / "r", bad_cell(3, 4, value))  # carol, ETH_debt
    one_issue(d, "balances.csv", 3, "ETH_debt", words)


def test_bad_equity_cell_gives_one_error_not_a_second_insolvency(tmp_path):
    d = write_round(tmp_path / "r", bad_cell(2, 3, "two"))  # bob's ETH_equity; bob has debt
    issues = issues_of(d)
    assert [(i.row, i.column) for i in issues] == [(2, "ETH_equity")], [str(i) for i in issues]


def test_duplicate_account_id(tmp_path):
    rows = ROWS + [["bob", "1", "0", "0", "0", "0", "0"]]
    d = write_round(tmp_path / "r", rows)
    one_issue(d, "balances.csv", 5, "account_id", "duplicate account id 'bob' (first at row 2)")


def test_duplicates_confirmed_exactly_on_hash_collisions(tmp_path, monkeypatch):
    # force every id to collide: distinct ids must still pass, a real duplicate must not
    monkeypatch.setattr(snapmod, "hash_ids", lambda ids, key: np.zeros(len(ids), np.uint64))
    d = write_round(tmp_path / "ok")
    assert validate(d).customers == 4
    d2 = write_round(tmp_path / "dup", ROWS + [["dave", "0", "0", "0", "0", "0", "0"]])
    one_issue(d2, "balances.csv", 5, "account_id", "duplicate account id 'dave' (first at row 4)")


def test_hash_ids_distinguishes_ids():
    ids = pa.array([f"user-{i}" for i in range(5000)] + ["x" * 256, "x" * 255, "é"], pa.string())
    h = snapmod.hash_ids(ids, key=12345)
    assert len(np.unique(h)) == len(ids)
    # an id hashes the same whatever batch (and batch width) it is in, sliced or not
    assert (snapmod.hash_ids(ids.slice(10, 5), 12345) == h[10:15]).all()
    assert (snapmod.hash_ids(pa.array(["user-7"]), 12345) == h[7]).all()
    assert (snapmod.hash_ids(pa.array(["user-7"]), 54321) != h[7]).all()


def test_insolvent_customer_is_named(tmp_path):
    # bob: 2 ETH at 3500 with 95 % haircut = 6650 USD of collateral; owes 6650.000001 USDT
    rows = [list(r) for r in ROWS]
    rows[1][6] = "6650000001"  # 6650.000001 USDT at 1 USD
    d = write_round(tmp_path / "bad", rows)
    iss = one_issue(d, "balances.csv", 2, "USDT_debt", "customer 'bob' is insolvent")
    assert "6650.000001 USD" in iss.message and "6650 USD" in iss.message
    rows[1][6] = "6650000000"  # exactly at the limit: solvent
    assert validate(write_round(tmp_path / "edge", rows)).customers == 4


def test_solvency_rule_is_exact_integer():
    p = [10**30 + 7, 3]
    h = [10000, 1]
    a = np.array([[2**64 - 1, 0, 0, 2**64 - 1]], dtype=np.uint64)
    bad, lhs, rhs = solvency_check(a, p, h)
    assert list(bad) == [] and lhs == []
    a = np.array([[1, 0, 0, 2**63]], dtype=np.uint64)
    bad, lhs, rhs = solvency_check(a, [3, 2**63], [10000, 10000])
    assert list(bad) == [0] and lhs == [10000 * 2**63 * 2**63] and rhs == [3 * 10000]


@pytest.mark.parametrize(
    "meta, column, words",
    [
        ({"assets": ["BTC", "ETH", "USDT", "NOPE"]}, "assets", "unknown asset 'NOPE'"),
        ({"assets": ["BTC", "BTC"]}, "assets", "listed twice"),
        ({"snapshot_time": "2026-10-31 23:59"}, "snapshot_time", "RFC 3339"),
        ({"snapshot_time": "2026-10-31T23:59:59+02:00"}, "snapshot_time", "RFC 3339"),
        ({"block_heights": {"bitcoin": "100"}}, "block_heights.bitcoin", "integer"),
        ({"block_heights": {"bitcoin": -1}}, "block_heights.bitcoin", "greater than or equal"),
        ({"version": 2}, "version", "unsupported version"),
        ({"round_id": ""}, "round_id", "at least 1"),
        ({"extra": 1}, "extra", "Extra inputs"),
    ],
)
def test_bad_round_json(tmp_path, meta, column, words):
    d = write_round(tmp_path / "r", meta=meta)
    one_issue(d, "round.json", None, column, words)


@pytest.mark.parametrize(
    "prices, row, column, words",
    [
        ("asset,price_usd,haircut_bps\nBTC,95000,9500\nETH,3500,9500\nUSDT,1,9900\nDOGX,1,1\n", 4, "asset", "unknown asset 'DOGX'"),
        ("asset,price_usd,haircut_bps\nBTC,95000,9500\nETH,3500,9500\nUSDT,1,9900\nSOL,1,1\n", 4, "asset", "not in round.json"),
        ("asset,price_usd,haircut_bps\nBTC,95000,9500\nETH,3500,9500\n", None, "asset", "no price for asset USDT"),
        ("asset,price_usd,haircut_bps\nBTC,95000,10001\nETH,3500,9500\nUSDT,1,9900\n", 1, "haircut_bps", "[0, 10000]"),
        ("asset,price_usd,haircut_bps\nBTC,95000,95.5\nETH,3500,9500\nUSDT,1,9900\n", 1, "haircut_bps", "[0, 10000]"),
        ("asset,price_usd,haircut_bps\nBTC,-1,9500\nETH,3500,9500\nUSDT,1,9900\n", 1, "price_usd", "positive"),
        ("asset,price_usd,haircut_bps\nBTC,1e-30,9500\nETH,3500,9500\nUSDT,1,9900\n", 1, "price_usd", "precision"),
        ("asset,price_usd,haircut_bps\nBTC,95000,9500\nBTC,95000,9500\nETH,3500,9500\nUSDT,1,9900\n", 2, "asset", "second price"),
    ],
)
def test_bad_prices(tmp_path, prices, row, column, words):
    d = write_round(tmp_path / "r", prices=prices)
    one_issue(d, "prices.csv", row, column, words)


def test_missing_extra_and_unknown_columns(tmp_path):
    hdr = header()
    rows = [r[:-1] + ["1"] for r in ROWS]
    d = write_round(tmp_path / "r", rows, hdr=hdr[:-1] + ["notes"])
    issues = issues_of(d)
    assert {(i.column, i.message) for i in issues} >= {("USDT_debt", "missing column"), ("notes", "unexpected column")}
    d2 = write_round(tmp_path / "r2", rows, hdr=hdr[:-1] + ["DOGX_debt"])
    one_issue(d2, "balances.csv", None, "DOGX_debt", "unknown asset 'DOGX'")


def test_wrong_field_count_and_row_numbers_after_it(tmp_path):
    rows = [list(r) for r in ROWS]
    rows.insert(1, ["zed", "1"])  # data row 2 has 2 fields
    rows[3][1] = "x"  # data row 4 (carol) BTC_equity
    d = write_round(tmp_path / "r", rows)
    issues = issues_of(d)
    assert any(i.row == 2 and "expected 7 fields, got 2" in i.message for i in issues)
    assert any(i.row == 4 and i.column == "BTC_equity" for i in issues), [str(i) for i in issues]


def test_row_numbers_across_many_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(snapmod, "_CSV_BLOCK", 4096)
    rows = [[f"u{i}", "1", "0", "0", "0", "0", "0"] for i in range(3000)]
    rows[2500][5] = "1.25"
    rows[2900][0] = "u5"  # a duplicate in a later batch
    d = write_round(tmp_path / "r", rows)
    snap = load_snapshot(d, check=False)
    assert len(list(snap._raw_batches(snapmod._Collector()))) > 3
    one_issue(d, "balances.csv", 2501, "USDT_equity", "fractional")
    rows[2500][5] = "1"
    d = write_round(tmp_path / "r2", rows)
    one_issue(d, "balances.csv", 2901, "account_id", "duplicate account id 'u5' (first at row 6)")


def test_bad_encoding_names_row(tmp_path):
    d = write_round(tmp_path / "r")
    raw = (d / "balances.csv").read_bytes().replace(b"carol", b"car\xe9l")
    (d / "balances.csv").write_bytes(raw)
    one_issue(d, "balances.csv", 3, "account_id", "not valid UTF-8")
    (d / "round.json").write_bytes(b'{"round_id": "\xff"}')
    one_issue(d, "round.json", None, None, "not valid UTF-8")


@pytest.mark.parametrize("name", ["round.json", "prices.csv", "balances.csv"])
def test_empty_files(tmp_path, name):
    d = write_round(tmp_path / "r")
    (d / name).write_bytes(b"")
    one_issue(d, name, None, None, "empty")


def test_header_only_and_missing_files(tmp_path):
    d = write_round(tmp_path / "r", rows=[])
    one_issue(d, "balances.csv", None, None, "no customers")
    (d / "balances.csv").unlink()
    one_issue(d, "balances.csv", None, None, "missing")
    (d / "prices.csv").unlink()
    one_issue(d, "prices.csv", None, None, "missing file")


def test_account_id_limits(tmp_path):
    rows = [list(r) for r in ROWS]
    rows[0][0] = "a" * 257
    rows[1][0] = ""
    d = write_round(tmp_path / "r", rows)
    one_issue(d, "balances.csv", 1, "account_id", "1 to 256 bytes, got 257")
    one_issue(d, "balances.csv", 2, "account_id", "got 0")


def test_iter_batches_refuses_bad_data(tmp_path):
    d = write_round(tmp_path / "r", bad_cell(1, 1, "-1"))
    snap = load_snapshot(d, check=False)
    with pytest.raises(SnapshotError, match="row 1, column BTC_equity: negative"):
        list(snap.iter_batches())
    with pytest.raises(SnapshotError):
        load_snapshot(d)


def _parquet(d: Path, table: pa.Table) -> None:
    write_round(d, fmt="parquet")
    pq.write_table(table, d / "balances.parquet")


def test_parquet_types_checked(tmp_path):
    cols = header()
    data = {c: pa.array([1, 2], pa.uint64()) for c in cols[1:]}
    data["account_id"] = pa.array(["a", "b"])
    data["ETH_equity"] = pa.array([5, -3], pa.int64())
    data["BTC_debt"] = pa.array([0.0, 1.0], pa.float64())
    _parquet(tmp_path / "p", pa.table({c: data[c] for c in cols}))
    one_issue(tmp_path / "p", "balances.parquet", 2, "ETH_equity", "negative amount -3")
    one_issue(tmp_path / "p", "balances.parquet", None, "BTC_debt", "type double")
    data["ETH_equity"] = pa.array([5, None], pa.uint64())
    data["BTC_debt"] = pa.array([0, 0], pa.uint64())
    data["account_id"] = pa.array(["a", "a"])
    _parquet(tmp_path / "q", pa.table({c: data[c] for c in cols}))
    one_issue(tmp_path / "q", "balances.parquet", 2, "ETH_equity", "missing value")
    one_issue(tmp_path / "q", "balances.parquet", 2, "account_id", "duplicate account id 'a'")
    (tmp_path / "q" / "balances.parquet").write_bytes(b"not parquet at all")
    one_issue(tmp_path / "q", "balances.parquet", None, None, "not a readable Parquet file")


def test_csv_and_parquet_same_round_same_snapshot(tmp_path):
    from por.synthetic import generate

    generate(tmp_path / "c", 1500, seed=11, fmt="csv")
    generate(tmp_path / "p", 1500, seed=11, fmt="parquet")
    sc, sp = load_snapshot(tmp_path / "c"), load_snapshot(tmp_path / "p")
    assert sc.meta == sp.meta and sc.prices == sp.prices
    assert sc.summary.customers == sp.summary.customers == 1500
    assert (sc.summary.equity, sc.summary.debt) == (sp.summary.equity, sp.summary.debt)
    bc, bp = list(sc.iter_batches()), list(sp.iter_batches())
    assert [i for b in bc for i in b.account_ids] == [i for b in bp for i in b.account_ids]
    assert np.array_equal(np.concatenate([b.amounts for b in bc]), np.concatenate([b.amounts for b in bp]))


def test_broken_csv_structure_is_an_error_not_a_crash(tmp_path):
    d = write_round(tmp_path / "r")
    raw = (d / "balances.csv").read_bytes()
    (d / "balances.csv").write_bytes(raw + b'"eve,1,0,0,0,0,0\n')  # unterminated quote
    issues = issues_of(d)
    assert issues and all(i.file == "balances.csv" for i in issues)
    (d / "balances.csv").write_bytes(b"\xef\xbb\xbf" + raw)
    one_issue(d, "balances.csv", None, None, "byte-order mark")


# -- property: the vectorised reader agrees with plain Python, in CSV and in Parquet -----

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_amount = st.one_of(st.just(0), st.integers(0, 2**64 - 1), st.integers(0, 10**9))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.text("abcxyz0189-_é", min_size=1, max_size=12), st.lists(_amount, min_size=6, max_size=6)),
        min_size=1,
        max_size=40,
        unique_by=lambda r: r[0],
    )
)
def test_reader_matches_plain_python(tmp_path_factory, rows):
    d = tmp_path_factory.mktemp("prop")
    text_rows = [[acct] + [str(v) for v in vals] for acct, vals in rows]
    write_round(d / "c", text_rows)
    cols = header()
    table = pa.table(
        {cols[0]: pa.array([r[0] for r in rows])}
        | {c: pa.array([r[1][j] for r in rows], pa.uint64()) for j, c in enumerate(cols[1:])}
    )
    _parquet(d / "p", table)
    p = [parse_price(get_asset(s), PRICES[s][0]) for s in ASSETS]
    h = [PRICES[s][1] for s in ASSETS]
    insolvent = [
        i + 1
        for i, (_, v) in enumerate(rows)
        if 10_000 * sum(v[2 * a + 1] * p[a] for a in range(3)) > sum(v[2 * a] * p[a] * h[a] for a in range(3))
    ]
    for sub in ("c", "p"):
        if insolvent:
            issues = issues_of(d / sub)
            assert sorted(i.row for i in issues) == insolvent
            assert all("insolvent" in i.message for i in issues)
        else:
            s = validate(d / sub)
            assert s.customers == len(rows)
            for a, sym in enumerate(ASSETS):
                assert s.equity[sym] == sum(v[2 * a] for _, v in rows)
                assert s.debt[sym] == sum(v[2 * a + 1] for _, v in rows)
