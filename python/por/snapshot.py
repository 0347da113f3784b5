"""A round's inputs: the snapshot directory (format ``por-snapshot`` version 1).

A snapshot is a directory (see docs/snapshot.md for the normative description)::

    round.json        metadata: round id, snapshot time, block heights, assets in order
    prices.csv        asset,price_usd,haircut_bps
    balances.csv      account_id,<SYM>_equity,<SYM>_debt,...   (or balances.parquet)

Reading streams: balances are read in column-oriented batches with pyarrow, so that 10**7
customers load in bounded memory. Validation is exact (integers only, never a float) and
loud: every problem becomes an :class:`Issue` naming the file, the 1-based data row and the
column, and :func:`validate` raises one :class:`SnapshotError` carrying them all (up to
:data:`MAX_ERRORS`). A snapshot that failed validation yields nothing to prove.

The core functions work on data (arrow arrays, numpy arrays, ints); file IO is at the edge
(:func:`load_snapshot`, :func:`validate`, :meth:`Snapshot.iter_batches`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Callable, Iterator, Literal, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from por.amounts import (
    AMOUNT_LIMIT,
    ASSETS_BY_SYMBOL,
    HAIRCUT_DENOMINATOR,
    PRICE_SCALE,
    Asset,
    get_asset,
    parse_price,
)

SNAPSHOT_FORMAT = "por-snapshot"
SNAPSHOT_VERSION = 1
ROUND_FILE = "round.json"
PRICES_FILE = "prices.csv"
BALANCES_CSV = "balances.csv"
BALANCES_PARQUET = "balances.parquet"
PRICES_HEADER = ("asset", "price_usd", "haircut_bps")
ACCOUNT_COLUMN = "account_id"
#: account ids are 1 to 256 bytes of UTF-8 (docs/hashing.md)
MAX_ACCOUNT_ID_BYTES = 256
#: validation stops after this many problems
MAX_ERRORS = 100

_DIGITS = r"^[0-9]{1,20}$"
_CSV_BLOCK = 4 << 20
_PARQUET_BATCH = 65_536

Progress = Callable[[int, "int | None"], None]


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a snapshot: where it is and what is wrong."""

    file: str
    #: 1-based data row (the first row after the header is row 1); None for file-level issues
    row: int | None
    #: column name (or JSON field path); None when the issue is about a whole row or file
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"

    def to_dict(self) -> dict:
        return {"file": self.file, "row": self.row, "column": self.column, "message": self.message}


class SnapshotError(Exception):
    """A snapshot failed validation; ``issues`` lists every problem found (up to MAX_ERRORS)."""

    def __init__(self, issues: Sequence[Issue]):
        self.issues = list(issues)
        head = "; ".join(str(i) for i in self.issues[:5])
        more = f" (and {len(self.issues) - 5} more)" if len(self.issues) > 5 else ""
        super().__init__(f"invalid snapshot: {len(self.issues)} problem(s): {head}{more}")


class _Collector:
    """Collects issues, up to a limit."""

    def __init__(self, limit: int = MAX_ERRORS):
        self.limit = limit
        self.issues: list[Issue] = []

    def add(self, file: str, row: int | None, column: str | None, message: str) -> None:
        if len(self.issues) < self.limit:
            self.issues.append(Issue(file, row, column, message))

    @property
    def full(self) -> bool:
        return len(self.issues) >= self.limit

    @property
    def room(self) -> int:
        return self.limit - len(self.issues)


# --------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------


class RoundMeta(BaseModel):
    """``round.json``: the round's metadata (strict: no coercion, no extra fields)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    format: Literal["por-snapshot"]
    version: Literal[1]
    round_id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
    #: RFC 3339, UTC ("2026-10-31T23:59:59Z")
    snapshot_time: str
    block_heights: dict[
        Annotated[str, Field(min_length=1, max_length=64)], Annotated[int, Field(ge=0)]
    ]
    assets: Annotated[list[str], Field(min_length=1)]

    @field_validator("snapshot_time")
    @classmethod
    def _utc_time(cls, v: str) -> str:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|\+00:00)", v):
            raise ValueError("must be RFC 3339 in UTC, e.g. 2026-10-31T23:59:59Z")
        try:
            datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"not a valid date/time: {exc}") from None
        return v

    @field_validator("assets")
    @classmethod
    def _known_assets(cls, v: list[str]) -> list[str]:
        seen: set[str] = set()
        for s in v:
            if s not in ASSETS_BY_SYMBOL:
                raise ValueError(f"unknown asset {s!r} (known: {', '.join(ASSETS_BY_SYMBOL)})")
            if s in seen:
                raise ValueError(f"asset {s!r} listed twice")
            seen.add(s)
        return v

    @property
    def time(self) -> datetime:
        return datetime.fromisoformat(self.snapshot_time.replace("Z", "+00:00")).astimezone(
            timezone.utc
        )


@dataclass(frozen=True, slots=True)
class AssetPrice:
    """One row of ``prices.csv``, parsed exactly."""

    asset: Asset
    #: the decimal USD price per whole unit, as written in the file
    price_usd: str
    #: exact price in 10**-18 USD per base unit (por.amounts.parse_price)
    price: int
    #: haircut in basis points, 0..10000 (10000 = counts at 100 %)
    haircut_bps: int


@dataclass(frozen=True, slots=True)
class SnapshotSummary:
    """What a valid snapshot adds up to."""

    round_id: str
    customers: int
    assets: tuple[str, ...]
    #: per-asset totals in base units (exact ints)
    equity: dict[str, int]
    debt: dict[str, int]
    balances_file: str

    def to_dict(self) -> dict:
        out = {
            "round_id": self.round_id,
            "customers": self.customers,
            "balances_file": self.balances_file,
            "assets": [],
        }
        for s in self.assets:
            a = get_asset(s)
            e, d = self.equity[s], self.debt[s]
            out["assets"].append(
                {
                    "asset": s,
                    "equity": str(e),
                    "debt": str(d),
                    "net": str(e - d),
                    "equity_units": a.format(e),
                    "debt_units": a.format(d),
                    "net_units": a.format(e - d),
                }
            )
        return out


@dataclass(slots=True)
class BalanceBatch:
    """A block of customers, column-oriented.

    ``amounts`` has shape (rows, 2K), dtype uint64: columns 0..K-1 are the equity of each
    asset in round order, columns K..2K-1 the debt.
    """

    #: 1-based data row of the first customer in this batch
    first_row: int
    account_ids: list[str]
    amounts: np.ndarray

    def __len__(self) -> int:
        return len(self.account_ids)

    @property
    def equity(self) -> np.ndarray:
        return self.amounts[:, : self.amounts.shape[1] // 2]

    @property
    def debt(self) -> np.ndarray:
        return self.amounts[:, self.amounts.shape[1] // 2 :]


def balance_columns(assets: Sequence[str]) -> list[str]:
    """The balance file's columns, in the documented order."""
    cols = [ACCOUNT_COLUMN]
    for s in assets:
        cols += [f"{s}_equity", f"{s}_debt"]
    return cols


def amount_columns(assets: Sequence[str]) -> list[str]:
    """Amount columns in the order of :attr:`BalanceBatch.amounts` (equities, then debts)."""
    return [f"{s}_equity" for s in assets] + [f"{s}_debt" for s in assets]


# --------------------------------------------------------------------------------------
# round.json and prices.csv
# --------------------------------------------------------------------------------------


def _decode(raw: bytes, file: str, col: _Collector) -> str | None:
    if not raw.strip():
        col.add(file, None, None, "file is empty")
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col.add(file, None, None, f"not valid UTF-8 (byte {exc.start}, line {line})")
        return None


def parse_round(raw: bytes, col: _Collector, file: str = ROUND_FILE) -> RoundMeta | None:
    """Parse and validate ``round.json`` bytes; problems go to ``col``."""
    text = _decode(raw, file, col)
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        col.add(file, None, None, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
        return None
    if isinstance(doc, dict) and doc.get("format") == SNAPSHOT_FORMAT and doc.get("version") != SNAPSHOT_VERSION:
        col.add(file, None, "version", f"unsupported version {doc.get('version')!r}; this por reads version {SNAPSHOT_VERSION}")
        return None
    try:
        return RoundMeta.model_validate(doc)
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"]) or None
            col.add(file, None, loc, err["msg"])
        return None


def parse_prices(
    raw: bytes, assets: Sequence[str], col: _Collector, file: str = PRICES_FILE
) -> list[AssetPrice] | None:
    """Parse ``prices.csv`` bytes for the round's assets; returns prices in round order."""
    text = _decode(raw, file, col)
    if text is None:
        return None
    n0 = len(col.issues)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        col.add(file, None, None, "file is empty")
        return None
    header = [h.strip() for h in rows[0]]
    if tuple(header) != PRICES_HEADER:
        col.add(file, None, None, f"header is {','.join(header)!r}; expected {','.join(PRICES_HEADER)!r}")
        return None
    found: dict[str, AssetPrice] = {}
    first_row: dict[str, int] = {}
    for i, row in enumerate(rows[1:], start=1):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != 3:
            col.add(file, i, None, f"expected 3 fields, got {len(row)}")
            continue
        sym, price_text, hc_text = (x.strip() for x in row)
        if sym not in ASSETS_BY_SYMBOL:
            col.add(file, i, "asset", f"unknown asset {sym!r}")
            continue
        if sym not in assets:
            col.add(file, i, "asset", f"asset {sym!r} is not in round.json assets")
            continue
        if sym in found or sym in first_row:
            col.add(file, i, "asset", f"second price for {sym} (first at row {first_row[sym]})")
            continue
        first_row[sym] = i
        asset = get_asset(sym)
        try:
            price = parse_price(asset, price_text)
        except ValueError as exc:
            col.add(file, i, "price_usd", str(exc))
            continue
        if not re.fullmatch(r"[0-9]{1,5}", hc_text) or int(hc_text) > HAIRCUT_DENOMINATOR:
            col.add(file, i, "haircut_bps", f"haircut {hc_text!r} must be an integer in [0, 10000]")
            continue
        found[sym] = AssetPrice(asset, price_text, price, int(hc_text))
    for s in assets:
        if s not in found and s not in first_row:
            col.add(file, None, "asset", f"no price for asset {s}")
    if len(col.issues) > n0:
        return None
    return [found[s] for s in assets]


# --------------------------------------------------------------------------------------
# cell parsing (pure: arrow arrays in, numpy + issues out)
# --------------------------------------------------------------------------------------


def _describe_bad_amount(v: bytes | None) -> str:
    if v is None:
        return "missing value"
    try:
        s = v.decode("utf-8")
    except UnicodeDecodeError:
        return f"not valid UTF-8: {v[:40]!r}"
    if s == "":
        return "empty amount"
    if s != s.strip():
        return f"amount {s!r} has spaces around it"
    if re.fullmatch(r"[0-9]+", s):
        return f"amount {s} is not below 2^64"
    if re.fullmatch(r"-\s*[0-9.]+(e[+-]?[0-9]+)?", s, re.I):
        return f"negative amount {s!r}"
    if re.fullmatch(r"[0-9]*\.[0-9]*|[0-9.]+e[+-]?[0-9]+", s, re.I) and re.search("[0-9]", s):
        return f"fractional or decimal-written amount {s!r}; write an integer in base units"
    return f"not a number: {s[:40]!r}"


def parse_amount_column(
    arr: pa.Array, file: str, column: str, row_of: Callable[[int], int], col: _Collector
) -> np.ndarray:
    """Exact uint64 values of one amount column; bad cells are reported and read as 0."""
    n = len(arr)
    t = arr.type
    if pa.types.is_unsigned_integer(t) or pa.types.is_signed_integer(t):
        if arr.null_count:
            for i in np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))[: col.room]:
                col.add(file, row_of(int(i)), column, "missing value")
            arr = arr.fill_null(0)
        if pa.types.is_signed_integer(t):
            v = arr.to_numpy(zero_copy_only=False).astype(np.int64)
            neg = np.flatnonzero(v < 0)
            for i in neg[: col.room]:
                col.add(file, row_of(int(i)), column, f"negative amount {int(v[i])}")
            v = np.where(v < 0, 0, v)
            return v.astype(np.uint64)
        return arr.to_numpy(zero_copy_only=False).astype(np.uint64, copy=False)
    if not (pa.types.is_binary(t) or pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_large_binary(t)):
        col.add(file, None, column, f"has type {t}; amounts must be unsigned integers (uint64)")
        return np.zeros(n, dtype=np.uint64)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        arr = arr.cast(pa.binary() if pa.types.is_string(t) else pa.large_binary())
    ok = pc.fill_null(pc.match_substring_regex(arr, _DIGITS), False)
    if pc.all(ok).as_py():
        try:
            return pc.cast(arr.cast(pa.string()), pa.uint64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            pass  # some value >= 2**64: find it below
    out = np.zeros(n, dtype=np.uint64)
    okn = ok.to_numpy(zero_copy_only=False)
    vals = arr.to_pylist()
    for i in range(n):
        v = vals[i]
        if okn[i]:
            x = int(v)
            if x < AMOUNT_LIMIT:
                out[i] = x
                continue
        col.add(file, row_of(i), column, _describe_bad_amount(v))
        if col.full:
            break
    return out


def parse_account_column(
    arr: pa.Array, file: str, row_of: Callable[[int], int], col: _Collector
) -> list[str]:
    """Account ids as str; empty, over-long, non-UTF-8 or missing ids are reported."""
    t = arr.type
    if not (pa.types.is_binary(t) or pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_large_binary(t)):
        col.add(file, None, ACCOUNT_COLUMN, f"has type {t}; account ids must be strings")
        return [""] * len(arr)
    ids: list[str] | None = None
    if arr.null_count == 0:
        try:
            s = arr.cast(pa.string())
            lens = pc.binary_length(s).to_numpy(zero_copy_only=False)
            if lens.min(initial=1) >= 1 and lens.max(initial=1) <= MAX_ACCOUNT_ID_BYTES:
                ids = s.to_pylist()
        except pa.ArrowInvalid:
            pass
    if ids is not None:
        return ids
    raw = arr.to_pylist()
    out: list[str] = []
    for i, v in enumerate(raw):
        if isinstance(v, str):
            v = v.encode("utf-8")
        if v is None:
            col.add(file, row_of(i), ACCOUNT_COLUMN, "missing account id")
            out.append("")
            continue
        try:
            sv = v.decode("utf-8")
        except UnicodeDecodeError:
            col.add(file, row_of(i), ACCOUNT_COLUMN, f"account id is not valid UTF-8: {v[:40]!r}")
            out.append("")
            continue
        if not 1 <= len(v) <= MAX_ACCOUNT_ID_BYTES:
            col.add(file, row_of(i), ACCOUNT_COLUMN, f"account id must be 1 to {MAX_ACCOUNT_ID_BYTES} bytes, got {len(v)}")
        out.append(sv)
    return out


def solvency_check(
    amounts: np.ndarray, prices: Sequence[int], haircuts: Sequence[int]
) -> tuple[np.ndarray, list[int], list[int]]:
    """Exact per-customer solvency: 10_000 * sum d*p <= sum e*p*h.

    Returns (indices of insolvent rows, their debt values, their collateral values), values in
    10**-18 USD * 10**4. Only rows with some debt are evaluated (no debt is always solvent).
    """
    k = len(prices)
    debt = amounts[:, k:]
    rows = np.flatnonzero(debt.any(axis=1))
    if len(rows) == 0:
        return rows, [], []
    p = np.array([int(x) for x in prices], dtype=object)
    ph = np.array([int(x) * int(h) for x, h in zip(prices, haircuts)], dtype=object)
    d = debt[rows].astype(object)
    e = amounts[rows, :k].astype(object)
    lhs = d.dot(p) * HAIRCUT_DENOMINATOR
    rhs = e.dot(ph)
    bad = np.flatnonzero(lhs > rhs)
    return rows[bad], [int(lhs[i]) for i in bad], [int(rhs[i]) for i in bad]


def _usd(v: int) -> str:
    """v in 10**-18 USD * 10**4, as an exact decimal string of USD."""
    scale = 10 ** (PRICE_SCALE + 4)
    q, r = divmod(v, scale)
    frac = f"{r:0{PRICE_SCALE + 4}d}".rstrip("0")
    return f"{q}.{frac}" if frac else str(q)


def column_totals(amounts: np.ndarray) -> list[int]:
    """Exact per-column sums of a uint64 matrix, as Python ints (no wrap-around)."""
    if amounts.shape[0] >= 1 << 32:
        raise ValueError("too many rows for one batch")
    lo = (amounts & np.uint64(0xFFFFFFFF)).sum(axis=0, dtype=np.uint64)
    hi = (amounts >> np.uint64(32)).sum(axis=0, dtype=np.uint64)
    return [(int(h) << 32) + int(l) for h, l in zip(hi, lo)]


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


def hash_ids(ids: pa.Array, key: int) -> np.ndarray:
    """A keyed 64-bit hash of each id (vectorised; collisions are confirmed exactly later).

    The hash of an id depends only on its bytes and the key (not on the batch it is in).
    """
    if not pa.types.is_binary(ids.type):
        ids = ids.cast(pa.binary())
    n = len(ids)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    bufs = ids.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[ids.offset : ids.offset + n + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    if len(data) == 0:
        data = np.zeros(1, np.uint8)
    starts = offsets[:-1]
    lens = offsets[1:] - offsets[:-1]
    width = int(-(-max(int(lens.max()), 1) // 8) * 8)
    with np.errstate(over="ignore"):
        h = _mix(lens.astype(np.uint64) ^ np.uint64(key & 0xFFFFFFFFFFFFFFFF))
        for w0 in range(0, width, 8):
            live = lens > w0
            pos = np.arange(w0, w0 + 8, dtype=np.int64)[None, :]
            idx = starts[:, None] + pos
            mask = pos < lens[:, None]
            b = np.where(mask, data[np.minimum(idx, len(data) - 1)], 0).astype(np.uint8)
            word = np.ascontiguousarray(b).view(np.uint64).reshape(n)
            h = np.where(live, _mix(h ^ word) + np.uint64(w0 + 1), h)
    return h


# --------------------------------------------------------------------------------------
# balances: streaming readers (IO edge)
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _RawBatch:
    first_row: int  # 1-based data row of the first row (for CSV: before skipped rows)
    batch: pa.RecordBatch
    row_of: Callable[[int], int]


def _csv_header(path: Path, file: str, col: _Collector) -> list[str] | None:
    with open(path, "rb") as f:
        first = f.readline()
    if not first.strip():
        col.add(file, None, None, "file is empty")
        return None
    try:
        line = first.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        col.add(file, None, None, "header line is not valid UTF-8")
        return None
    if line.startswith("\ufeff"):
        col.add(file, None, None, "starts with a UTF-8 byte-order mark; save the file without one")
        return None
    return [h for h in next(csv.reader([line]))]


def _check_columns(names: list[str], assets: Sequence[str], file: str, col: _Collector) -> bool:
    expected = balance_columns(assets)
    n0 = len(col.issues)
    seen: set[str] = set()
    for name in names:
        if name in seen:
            col.add(file, None, name, "column appears twice")
        seen.add(name)
    for name in expected:
        if name not in seen:
            col.add(file, None, name, "missing column")
    exp = set(expected)
    for name in names:
        if name not in exp:
            m = re.fullmatch(r"(.+)_(equity|debt)", name)
            if m and m.group(1) not in ASSETS_BY_SYMBOL:
                col.add(file, None, name, f"unknown asset {m.group(1)!r}")
            elif m:
                col.add(file, None, name, f"asset {m.group(1)} is not in round.json assets")
            else:
                col.add(file, None, name, "unexpected column")
    return len(col.issues) == n0


def _iter_csv(path: Path, names: list[str], file: str, col: _Collector) -> Iterator[_RawBatch]:
    skipped: list[int] = []  # 1-based data rows that pyarrow skipped (wrong field count)

    def on_invalid(row) -> str:
        data_row = row.number - 1 if row.number is not None else None
        if data_row is not None:
            skipped.append(data_row)
        col.add(file, data_row, None, f"expected {row.expected_columns} fields, got {row.actual_columns}")
        return "skip"

    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=_CSV_BLOCK, use_threads=False),
            parse_options=pa_csv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pa_csv.ConvertOptions(
                column_types={n: pa.binary() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=False,
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        col.add(file, None, None, f"cannot be read as CSV: {exc}")
        return
    done = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except (pa.ArrowInvalid, OSError) as exc:
            col.add(file, done + 1 if done else None, None, f"cannot be read as CSV after row {done}: {exc}")
            return
        base = done

        def row_of(i: int, base: int = base) -> int:
            r = base + i + 1
            for s in sorted(skipped):
                if s <= r:
                    r += 1
                else:
                    break
            return r

        yield _RawBatch(row_of(0), batch, row_of)
        done += batch.num_rows


def _iter_parquet(pf: pq.ParquetFile) -> Iterator[_RawBatch]:
    done = 0
    it = pf.iter_batches(batch_size=_PARQUET_BATCH)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as exc:
            raise _ReadError(f"cannot read rows after row {done}: {exc}") from None
        base = done
        yield _RawBatch(base + 1, batch, lambda i, base=base: base + i + 1)
        done += batch.num_rows


class _ReadError(Exception):
    pass


def _count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(16 << 20):
            n += chunk.count(b"\n")
    return n


# --------------------------------------------------------------------------------------
# the snapshot
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """A loaded snapshot: metadata and prices parsed, balances streamed on demand."""

    directory: Path
    meta: RoundMeta
    prices: tuple[AssetPrice, ...]
    balances_path: Path
    balances_format: Literal["csv", "parquet"]
    summary: SnapshotSummary | None = field(default=None, compare=False)

    @property
    def assets(self) -> tuple[Asset, ...]:
        return tuple(p.asset for p in self.prices)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.meta.assets)

    @property
    def price_vector(self) -> list[int]:
        """Prices in 10**-18 USD per base unit, round order."""
        return [p.price for p in self.prices]

    @property
    def haircut_vector(self) -> list[int]:
        """Haircuts in basis points, round order."""
        return [p.haircut_bps for p in self.prices]

    def _raw_batches(self, col: _Collector) -> Iterator[_RawBatch]:
        file = self.balances_path.name
        if self.balances_format == "csv":
            names = _csv_header(self.balances_path, file, col)
            if names is None or not _check_columns(names, self.symbols, file, col):
                return
            yield from _iter_csv(self.balances_path, names, file, col)
        else:
            try:
                pf = pq.ParquetFile(self.balances_path, pre_buffer=False)
            except Exception as exc:  # pyarrow raises several types for a broken file
                col.add(file, None, None, f"not a readable Parquet file: {exc}")
                return
            if not _check_columns(pf.schema_arrow.names, self.symbols, file, col):
                return
            try:
                yield from _iter_parquet(pf)
            except _ReadError as exc:
                col.add(file, None, None, str(exc))

    def _parse(self, raw: _RawBatch, col: _Collector) -> BalanceBatch:
        file = self.balances_path.name
        b = raw.batch
        ids = parse_account_column(b.column(ACCOUNT_COLUMN), file, raw.row_of, col)
        cols = amount_columns(self.symbols)
        amounts = np.empty((b.num_rows, len(cols)), dtype=np.uint64)
        for j, name in enumerate(cols):
            amounts[:, j] = parse_amount_column(b.column(name), file, name, raw.row_of, col)
        return BalanceBatch(raw.row_of(0) if b.num_rows else raw.first_row, ids, amounts)

    def _solvency(
        self, batch: BalanceBatch, raw: _RawBatch, col: _Collector, skip: frozenset[int] = frozenset()
    ) -> None:
        bad, lhs, rhs = solvency_check(batch.amounts, self.price_vector, self.haircut_vector)
        k = len(self.prices)
        for i, l, r in zip(bad, lhs, rhs):
            if raw.row_of(int(i)) in skip:
                continue  # that row already has a bad cell (read as 0): no second, spurious error
            debts = [f"{s}_debt" for s, d in zip(self.symbols, batch.amounts[i, k:]) if d]
            col.add(
                self.balances_path.name,
                raw.row_of(int(i)),
                ",".join(debts),
                f"customer {batch.account_ids[i]!r} is insolvent: debt worth {_usd(l)} USD "
                f"exceeds haircut-weighted equity {_usd(r)} USD",
            )

    def iter_batches(self) -> Iterator[BalanceBatch]:
        """Stream the customers in file order, in column-oriented batches.

        Every cell is checked exactly as it is read and every customer's solvency is
        re-checked; any problem raises :class:`SnapshotError` before the batch is yielded.
        (Duplicate account ids need the whole file: :func:`load_snapshot` checks them by
        default.)
        """
        col = _Collector()
        for raw in self._raw_batches(col):
            batch = self._parse(raw, col)
            if not col.issues:
                self._solvency(batch, raw, col)
            if col.issues:
                raise SnapshotError(col.issues)
            yield batch
        if col.issues:
            raise SnapshotError(col.issues)


def _find_balances(directory: Path, col: _Collector) -> tuple[Path, Literal["csv", "parquet"]] | None:
    c, p = directory / BALANCES_CSV, directory / BALANCES_PARQUET
    if c.exists() and p.exists():
        col.add(BALANCES_CSV, None, None, f"both {BALANCES_CSV} and {BALANCES_PARQUET} exist; keep one")
        return None
    if c.exists():
        return c, "csv"
    if p.exists():
        if p.stat().st_size == 0:
            col.add(BALANCES_PARQUET, None, None, "file is empty")
            return None
        return p, "parquet"
    col.add(BALANCES_CSV, None, None, f"missing: the snapshot needs {BALANCES_CSV} or {BALANCES_PARQUET}")
    return None


def _read(directory: Path, name: str, col: _Collector) -> bytes | None:
    path = directory / name
    if not path.is_file():
        col.add(name, None, None, "missing file")
        return None
    return path.read_bytes()


def _open(directory: str | os.PathLike, col: _Collector) -> Snapshot | None:
    d = Path(directory)
    if not d.is_dir():
        col.add(str(d), None, None, "not a directory")
        return None
    raw_round = _read(d, ROUND_FILE, col)
    meta = parse_round(raw_round, col) if raw_round is not None else None
    raw_prices = _read(d, PRICES_FILE, col)
    prices = None
    if meta is not None and raw_prices is not None:
        prices = parse_prices(raw_prices, meta.assets, col)
    found = _find_balances(d, col)
    if meta is None or prices is None or found is None:
        return None
    return Snapshot(d, meta, tuple(prices), found[0], found[1])


def _validate(snap: Snapshot, col: _Collector, progress: Progress | None) -> SnapshotSummary | None:
    k = len(snap.prices)
    total: int | None = None
    if progress is not None:
        if snap.balances_format == "parquet":
            try:
                total = pq.ParquetFile(snap.balances_path).metadata.num_rows
            except Exception:
                total = None
        else:
            total = max(_count_lines(snap.balances_path) - 1, 0)
    key = int.from_bytes(os.urandom(8), "little")
    hashes: list[np.ndarray] = []
    totals = [0] * (2 * k)
    rows = 0
    for raw in snap._raw_batches(col):
        n0 = len(col.issues)
        batch = snap._parse(raw, col)
        if col.full:
            break
        snap._solvency(batch, raw, col, frozenset(i.row for i in col.issues[n0:] if i.row is not None))
        hashes.append(hash_ids(raw.batch.column(ACCOUNT_COLUMN), key))
        for j, t in enumerate(column_totals(batch.amounts)):
            totals[j] += t
        rows += len(batch)
        if progress is not None:
            progress(rows, total)
        if col.full:
            break
    if not col.full and rows == 0 and not col.issues:
        col.add(snap.balances_path.name, None, None, "has a header but no customers")
    if not col.full and rows:
        _duplicates(snap, hashes, key, col)
    if col.issues:
        return None
    return SnapshotSummary(
        round_id=snap.meta.round_id,
        customers=rows,
        assets=snap.symbols,
        equity={s: totals[j] for j, s in enumerate(snap.symbols)},
        debt={s: totals[k + j] for j, s in enumerate(snap.symbols)},
        balances_file=snap.balances_path.name,
    )


def _duplicates(snap: Snapshot, hashes: list[np.ndarray], key: int, col: _Collector) -> None:
    """Exact duplicate detection: sort 64-bit hashes, confirm collisions by comparing ids."""
    h = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
    hashes.clear()  # keep one copy of the hashes (8 bytes per customer)
    h.sort()
    same = np.flatnonzero(h[1:] == h[:-1])
    if len(same) == 0:
        return
    suspects = np.unique(h[same])
    del h
    first: dict[str, int] = {}
    sub = _Collector(limit=10**9)  # the file already parsed cleanly once
    for raw in snap._raw_batches(sub):
        ids_arr = raw.batch.column(ACCOUNT_COLUMN)
        hb = hash_ids(ids_arr, key)
        for i in np.flatnonzero(np.isin(hb, suspects)):
            acct = ids_arr[int(i)].as_py()
            acct = acct.decode("utf-8") if isinstance(acct, bytes) else acct
            r = raw.row_of(int(i))
            if acct in first:
                col.add(snap.balances_path.name, r, ACCOUNT_COLUMN, f"duplicate account id {acct!r} (first at row {first[acct]})")
                if col.full:
                    return
            else:
                first[acct] = r


def load_snapshot(directory: str | os.PathLike, check: bool = True, progress: Progress | None = None) -> Snapshot:
    """Open a snapshot directory.

    Parses ``round.json`` and ``prices.csv``; with ``check`` (the default) also streams the
    whole balance file once to validate every cell, every customer's solvency and the
    uniqueness of account ids, and attaches the :class:`SnapshotSummary`. Raises
    :class:`SnapshotError` on any problem.
    """
    col = _Collector()
    snap = _open(directory, col)
    if snap is None:
        raise SnapshotError(col.issues)
    if not check:
        return snap
    summary = _validate(snap, col, progress)
    if summary is None:
        raise SnapshotError(col.issues)
    return Snapshot(snap.directory, snap.meta, snap.prices, snap.balances_path, snap.balances_format, summary)


def validate(directory: str | os.PathLike, progress: Progress | None = None) -> SnapshotSummary:
    """Validate a snapshot directory completely; return its summary or raise SnapshotError.

    ``progress(rows_done, rows_total_or_None)`` is called after each batch.
    """
    snap = load_snapshot(directory, check=True, progress=progress)
    assert snap.summary is not None
    return snap.summary
