"""History: a folder of past round bundles, each verified, as reserve-ratio series.

:func:`load_history` verifies every bundle in a folder with the same checks as
``por verify bundle`` (a bundle that fails stops the history, loudly: a chart must never
show a number that did not verify) and :func:`history_table` turns the verified reports into
per-asset series with month-over-month changes, every month below 100 % flagged.
:func:`generate_history` makes a demo history: N small synthetic rounds (a few hundred
customers, a 2^8 tree each, so proving stays cheap) whose reserves drift so that some assets
dip below 100 % in some months.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

from por.bundle import ASSETS_DIR, LIAB_DIR, BundleError, BundleResult, verify_bundle
from por.report import Report

HISTORY_FORMAT = "por-history"
HISTORY_VERSION = 1


@dataclass
class History:
    rounds: list[BundleResult]

    @property
    def reports(self) -> list[Report]:
        return [r.report for r in self.rounds]


def find_bundles(folder: str | os.PathLike) -> list[Path]:
    """Sub-directories of ``folder`` holding a ``manifest.json``, in name order."""
    root = Path(folder)
    if not root.is_dir():
        raise BundleError("missing-file", f"{root}: not a directory")
    found = sorted(p.parent for p in root.glob("*/manifest.json"))
    if not found:
        raise BundleError("missing-file", f"{root}: no round bundles (sub-directories with a "
                          "manifest.json)")
    return found


def load_history(folder: str | os.PathLike, key: str | None, pinned: str | None,
                 progress: Callable[[int, int, str], None] | None = None) -> History:
    """Verify every bundle of ``folder``; raises :class:`BundleError` naming the round."""
    bundles = find_bundles(folder)
    out = []
    for i, b in enumerate(bundles):
        if progress:
            progress(i, len(bundles), b.name)
        try:
            out.append(verify_bundle(b, key, pinned))
        except BundleError as exc:
            raise BundleError(exc.reason, f"round {b.name}: {exc.message}", exc.details) from None
    if progress:
        progress(len(bundles), len(bundles), "")
    out.sort(key=lambda r: (r.report.snapshot_time, r.report.round_id))
    return History(out)


def _pp_change(prev: str | None, cur: str | None) -> str | None:
    """Month-over-month change in percentage points, exact on the rounded-down values."""
    if prev is None or cur is None:
        return None
    cents = int((Fraction(cur) - Fraction(prev)) * 100)  # both have 2 decimals: exact
    sign = "+" if cents >= 0 else "-"
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def history_table(reports: list[Report]) -> dict[str, Any]:
    """The history document (format ``por-history`` v1): per asset the ratio series, its
    month-over-month changes and the months below 100 %."""
    assets: list[str] = []
    for r in reports:
        for a in r.assets:
            if a.asset not in assets:
                assets.append(a.asset)
    series = {}
    for s in assets:
        pts = []
        prev = None
        for r in reports:
            line = next((a for a in r.assets if a.asset == s), None)
            cur = None if line is None else line.ratio_percent
            pts.append({"round_id": r.round_id, "snapshot_time": r.snapshot_time,
                        "ratio_percent": cur, "below_100": bool(line and line.below_100),
                        "proven_reserves": bool(line and line.reserves_sources),
                        "change_pp": _pp_change(prev, cur)})
            prev = cur
        series[s] = pts
    rounds = [{"round_id": r.round_id, "snapshot_time": r.snapshot_time,
               "ratio_percent": r.totals_usd.ratio_percent, "below_100": r.totals_usd.below_100,
               "assets_below_100": r.totals_usd.assets_below_100,
               "reserves_usd": r.totals_usd.reserves_usd,
               "net_liabilities_usd": r.totals_usd.net_liabilities_usd} for r in reports]
    prev = None
    for x in rounds:
        x["change_pp"] = _pp_change(prev, x["ratio_percent"])
        prev = x["ratio_percent"]
    charted = [s for s in assets if any(p["proven_reserves"] for p in series[s])]
    return {"format": HISTORY_FORMAT, "version": HISTORY_VERSION, "rounds": rounds,
            "assets": series, "charted_assets": charted,
            "never_proven": [s for s in assets if s not in charted],
            "months_below_100": {s: [p["round_id"] for p in pts if p["below_100"]]
                                 for s, pts in series.items() if any(p["below_100"] for p in pts)}}


def month_label(snapshot_time: str) -> str:
    return snapshot_time[:7]


# --------------------------------------------------------------------------------------
# a demo history
# --------------------------------------------------------------------------------------


def _month_end(start_year: int, start_month: int, i: int) -> tuple[str, str]:
    import calendar

    y, m = divmod(start_month - 1 + i, 12)
    y += start_year
    m += 1
    last = calendar.monthrange(y, m)[1]
    return f"{y:04d}-{m:02d}", f"{y:04d}-{m:02d}-{last:02d}T23:59:59Z"


def drift_targets(i: int, seed: int) -> dict[str, int]:
    """Reserve ratio targets (bps) of round ``i``: a slow drift per asset, with dips below
    100 % for ETH around month 7-8 and USDC at month 15 and TRX at month 20 (deterministic)."""
    import math

    base = {"BTC": 10400, "ETH": 10300, "USDT": 10550, "USDC": 10300, "TRX": 10800,
            "LINK": 11000, "SHIB": 10600, "UNI": 10700, "OKB": 11200, "PEPE": 10500}
    out = {}
    for k, (s, b) in enumerate(sorted(base.items())):
        wobble = int(110 * math.sin((i + 3 * k + seed) / 2.3)) + int(50 * math.cos((i * (k + 1)) / 5.0))
        out[s] = b + wobble
    if i in (7, 8):
        out["ETH"] = 9870 + 40 * (i - 7)
    if i == 16:
        out["USDC"] = 9960
    if i == 20:
        out["TRX"] = 9720
    return out


def make_round(round_dir: Path, bundle: Path, private: Path, *, users: int, seed: int,
               round_id: str, snapshot_time: str, targets_bps: dict[str, int],
               sign_key: str | os.PathLike, pdf: bool = True) -> BundleResult | Report:
    """One whole round without chains: generate, prove liabilities (into BUNDLE/liabilities,
    private files moved to PRIVATE), sign the wallets, prove assets from declared balances
    (into BUNDLE/assets), then report and sign."""
    from por import liabilities as liab
    from por.amounts import get_asset
    from por.assets.ownership import sign_wallets
    from por.assets.report import prove_assets
    from por.bundle import write_report
    from por.synthetic import generate

    generate(round_dir, users, seed, targets_bps=targets_bps, round_id=round_id,
             snapshot_time=snapshot_time)
    liab.prove(round_dir, bundle / LIAB_DIR)
    private.mkdir(parents=True, exist_ok=True)
    for name in (liab.SECRET_FILE, liab.INCLUSION_DIR):
        src = bundle / LIAB_DIR / name
        if src.exists():
            dst = private / name
            if dst.exists():
                shutil.rmtree(dst) if dst.is_dir() else dst.unlink()
            shutil.move(str(src), str(dst))
    keys = json.loads((round_dir / "exchange" / "wallet_keys.json").read_text())
    with open(round_dir / "exchange" / "reserves.csv", newline="") as f:
        reserves = [(r["chain"], r["address"], r["asset"], int(r["amount"])) for r in csv.DictReader(f)]
    held: dict[tuple[str, str], list[str]] = {}
    for c, a, s, _ in reserves:
        held.setdefault((c, a), [])
        if s not in held[(c, a)]:
            held[(c, a)].append(s)
    message = f"por history round {round_id}: I control this address"
    wallets = sign_wallets(keys, message, held)
    wpath = round_dir / "exchange" / "wallets.json"
    wpath.write_text(json.dumps(wallets, indent=1) + "\n")
    signed = {(w["chain"], w["address"]) for w in keys["wallets"]}
    decl = round_dir / "exchange" / "declared-balances.csv"
    with open(decl, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["address", "chain", "asset", "amount", "height"])
        for c, a, s, v in reserves:
            if (c, a) in signed:
                w.writerow([a, c, s, get_asset(s).format(v), 1])
    prove_assets(wpath, bundle / ASSETS_DIR, message, balances=decl)
    report, _ = write_report(bundle, sign_key, round_dir, pdf=pdf)
    return report


def generate_history(out: str | os.PathLike, work: str | os.PathLike, sign_key: str | os.PathLike,
                     *, rounds: int = 24, users: int = 200, seed: int = 1,
                     start: tuple[int, int] = (2024, 11), pdf: bool = False,
                     progress: Callable[[int, int, str], None] | None = None) -> list[Path]:
    """Write ``rounds`` signed round bundles ``OUT/<YYYY-MM>/`` (private files and inputs go
    to ``WORK``). Cheap: ``users`` customers each (a 2^8 tree for 200)."""
    out, work = Path(out), Path(work)
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(rounds):
        rid, t = _month_end(start[0], start[1], i)
        if progress:
            progress(i, rounds, rid)
        b = out / rid
        if b.exists():
            shutil.rmtree(b)
        make_round(work / rid / "round", b, work / rid / "private", users=users,
                   seed=seed * 1000 + i, round_id=rid, snapshot_time=t,
                   targets_bps=drift_targets(i, seed), sign_key=sign_key, pdf=pdf)
        made.append(b)
    if progress:
        progress(rounds, rounds, "")
    return made
