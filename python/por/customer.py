"""The customer's check: "are MY balances in the proven totals?", for one round or many.

`por verify user` is a thin command over this module. Given the customer's inclusion proof
(docs/inclusion-proof.md) and the round's public bundle (a local directory or an http(s)
URL), it

1. finds the bundle's liabilities statement (``BUNDLE/liabilities/public.json``, or a bare
   liabilities directory with ``public.json`` as `por prove liabilities --out` writes it);
   from a URL it downloads the public files into a temporary directory first, checking each
   against the SHA-256 listed in ``BUNDLE/manifest.json`` when the bundle has one;
2. verifies the zero-knowledge liabilities proof (:func:`por.liabilities.verify`): the root,
   round id, asset order, tree height and totals it returns are the only ones used below;
3. checks the customer's proof against them (:func:`por.inclusion.verify_inclusion`);
4. reads ``BUNDLE/report.json`` when present (the report helper's `por report`), checks that
   its per-asset equity, debt and net liabilities are the PROVEN ones and that each ratio is
   the exact, rounded-down quotient reserves / net liabilities, and shows the ratios. The
   reserves themselves are checked by `por verify assets`, not here.

Every failure raises :class:`CustomerCheckError` whose ``reason`` names the failed step: the
reasons of :mod:`por.inclusion` (``format``, ``round``, ``assets``, ``root``, ``height``,
``account``, ``commitment``, ``balance``, ``path``) plus ``bundle`` (the public files cannot
be read or downloaded, or do not match the manifest), ``liabilities`` (the zero-knowledge
proof does not verify) and ``report`` (the report contradicts the proof).

History (``--history DIR``) checks one proof per round at once; the layout is::

    DIR/proofs/*.json           one inclusion proof per round (or DIR/*.json); the round is
                                read from each file
    DIR/bundles/<round_id>/     that round's public bundle (or --bundle BASE: BASE/<round_id>/,
                                a directory or an http(s) URL)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from por.amounts import ASSETS_BY_SYMBOL
from por.inclusion import InclusionError, InclusionResult, load_inclusion_proof, verify_inclusion

#: the reasons a customer check can fail with (por.inclusion's, then the bundle's)
REASONS = ("format", "round", "assets", "root", "height", "account", "balances_expected",
           "commitment", "balance", "path", "bundle", "liabilities", "report")
#: what each reason means, in plain words
REASON_TEXT = {
    "format": "the inclusion proof file is not valid",
    "round": "the proof is for another round",
    "assets": "the proof's asset list differs from the round's",
    "root": "the proof leads to another root than the proven one",
    "height": "the proof's path length differs from the proven tree height",
    "account": "the proof is for another account",
    "balances_expected": "the balances differ from the ones expected",
    "commitment": "the account id and nonce do not give this leaf's commitment",
    "balance": "a balance was changed: the balances do not give the leaf in the tree",
    "path": "the Merkle path does not lead to the proven root",
    "bundle": "the round's public bundle cannot be read",
    "liabilities": "the liabilities proof does not verify",
    "report": "the round's report contradicts the liabilities proof",
}
#: the largest public file the tool downloads (a liabilities proof is a few MB at most)
MAX_DOWNLOAD_BYTES = 1 << 30
HTTP_TIMEOUT_S = 60.0


class CustomerCheckError(Exception):
    """The customer's check failed; ``reason`` names the step (see :data:`REASONS`)."""

    def __init__(self, reason: str, message: str, round_id: str | None = None):
        assert reason in REASONS, reason
        super().__init__(f"[{reason}] {message}")
        self.reason = reason
        self.message = message
        self.round_id = round_id


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


# --------------------------------------------------------------------------------------
# the bundle: local or downloaded
# --------------------------------------------------------------------------------------


@dataclass
class LocalBundle:
    """A round's public files on this machine."""

    source: str                      # what the customer named (directory or URL)
    liabilities_dir: Path            # holds public.json and the proof file(s)
    report_path: Path | None         # report.json if the bundle has one
    layout: str                      # "round-bundle" or "liabilities-dir"
    downloaded: list[str] = field(default_factory=list)   # relative paths, for a URL


def find_local_bundle(source: str | os.PathLike) -> LocalBundle:
    """Recognise a round bundle (``liabilities/public.json``) or a bare liabilities dir."""
    p = Path(source)
    if (p / "liabilities" / "public.json").is_file():
        rep = p / "report.json"
        return LocalBundle(str(source), p / "liabilities", rep if rep.is_file() else None,
                           "round-bundle")
    if (p / "public.json").is_file():
        rep = p / "report.json"
        if not rep.is_file() and p.name == "liabilities":
            rep = p.parent / "report.json"
        return LocalBundle(str(source), p, rep if rep.is_file() else None, "liabilities-dir")
    if not p.exists():
        raise CustomerCheckError("bundle", f"{source}: no such directory")
    raise CustomerCheckError("bundle", f"{source}: neither {p / 'liabilities' / 'public.json'} "
                             f"nor {p / 'public.json'} exists: not a round bundle")


def _safe_rel(path: str) -> str | None:
    """A manifest/public path as a safe relative POSIX path, or None."""
    if not isinstance(path, str) or not path or "\\" in path:
        return None
    pp = PurePosixPath(path)
    if pp.is_absolute() or any(part in ("..", "") for part in pp.parts):
        return None
    return str(pp)


def _manifest_files(doc: Any) -> dict[str, str | None]:
    """{relative path: sha256 hex or None} from a manifest, whichever of the usual shapes it
    has: {"files": {path: sha}}, {"files": {path: {"sha256": ..}}} or
    {"files": [{"path": .., "sha256": ..}]}."""
    out: dict[str, str | None] = {}
    files = doc.get("files") if isinstance(doc, dict) else None
    items: list[tuple[Any, Any]] = []
    if isinstance(files, dict):
        items = list(files.items())
    elif isinstance(files, list):
        items = [(f.get("path") or f.get("name"), f) for f in files if isinstance(f, dict)]
    for path, v in items:
        rel = _safe_rel(path)
        if rel is None:
            continue
        sha = v.get("sha256") if isinstance(v, dict) else v
        out[rel] = sha.lower() if isinstance(sha, str) and re.fullmatch(r"[0-9a-fA-F]{64}", sha) else None
    return out


def _files_named_in(doc: Any) -> Iterator[str]:
    """Relative file names that public.json mentions (e.g. shard proof files)."""
    if isinstance(doc, dict):
        for v in doc.values():
            yield from _files_named_in(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _files_named_in(v)
    elif isinstance(doc, str) and re.fullmatch(r"[A-Za-z0-9._/-]{1,200}\.(bin|json)", doc):
        rel = _safe_rel(doc)
        if rel:
            yield rel


class _Downloader:
    def __init__(self, base_url: str, dest: Path):
        import httpx

        self.httpx = httpx
        self.base = base_url.rstrip("/") + "/"
        self.dest = dest
        self.client = httpx.Client(timeout=HTTP_TIMEOUT_S, follow_redirects=True,
                                   headers={"User-Agent": "por-verify-user"})

    def close(self) -> None:
        self.client.close()

    def get(self, rel: str, *, required: bool, sha256: str | None = None) -> Path | None:
        """Download BASE/rel to dest/rel (atomically); None if absent and not required."""
        url = self.base + rel
        try:
            with self.client.stream("GET", url) as r:
                if r.status_code == 404 and not required:
                    return None
                if r.status_code != 200:
                    raise CustomerCheckError("bundle", f"{url}: HTTP {r.status_code}")
                out = self.dest / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                tmp = out.with_name(out.name + ".part")
                h = hashlib.sha256()
                n = 0
                with open(tmp, "wb") as f:
                    for chunk in r.iter_bytes():
                        n += len(chunk)
                        if n > MAX_DOWNLOAD_BYTES:
                            raise CustomerCheckError("bundle", f"{url}: larger than "
                                                     f"{MAX_DOWNLOAD_BYTES} bytes")
                        h.update(chunk)
                        f.write(chunk)
                    f.flush()
                    os.fsync(f.fileno())
                if sha256 is not None and h.hexdigest() != sha256:
                    tmp.unlink()
                    raise CustomerCheckError("bundle", f"{url}: SHA-256 {h.hexdigest()} differs "
                                             f"from the manifest's {sha256}")
                os.replace(tmp, out)
                return out
        except self.httpx.HTTPError as exc:
            raise CustomerCheckError("bundle", f"{url}: {type(exc).__name__}: {exc}") from None


def download_bundle(url: str, dest: Path) -> LocalBundle:
    """Download a bundle's public files from ``url`` into ``dest``.

    Tries the round layout (``URL/liabilities/public.json``) and then a bare liabilities
    directory (``URL/public.json``). The proof file(s) are those listed under
    ``liabilities/`` in ``URL/manifest.json`` when there is one (each checked against its
    SHA-256), else the files that public.json names plus ``proof.bin``.
    """
    dl = _Downloader(url, dest)
    try:
        manifest_path = dl.get("manifest.json", required=False)
        manifest: dict[str, str | None] = {}
        if manifest_path is not None:
            try:
                manifest = _manifest_files(json.loads(manifest_path.read_text()))
            except (ValueError, UnicodeDecodeError) as exc:
                raise CustomerCheckError("bundle", f"{url}/manifest.json: not JSON ({exc})") from None
        got: list[str] = []
        pub = dl.get("liabilities/public.json", required=False,
                     sha256=manifest.get("liabilities/public.json"))
        if pub is not None:
            layout, prefix = "round-bundle", "liabilities/"
        else:
            pub = dl.get("public.json", required=False)
            if pub is None:
                raise CustomerCheckError("bundle", f"{url}: neither liabilities/public.json nor "
                                         "public.json can be downloaded (HTTP 404)")
            layout, prefix = "liabilities-dir", ""
        got.append(prefix + "public.json")
        try:
            public_doc = json.loads(pub.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise CustomerCheckError("bundle", f"{url}/{prefix}public.json: not JSON ({exc})") from None
        listed = [p for p in manifest if p.startswith("liabilities/") and p != "liabilities/public.json"]
        if listed and layout == "round-bundle":
            for rel in listed:
                dl.get(rel, required=True, sha256=manifest[rel])
                got.append(rel)
        else:
            # a sharded statement names its proof files; a single proof is proof.bin
            named = list(dict.fromkeys(n for n in _files_named_in(public_doc) if n != "public.json"))
            for n in named or ["proof.bin"]:
                dl.get(prefix + n, required=True)
                got.append(prefix + n)
        report = None
        if layout == "round-bundle":
            report = dl.get("report.json", required=False, sha256=manifest.get("report.json"))
            if report is not None:
                got.append("report.json")
        liab = dest / "liabilities" if layout == "round-bundle" else dest
        return LocalBundle(url, liab, report, layout, got)
    finally:
        dl.close()


class open_bundle:  # noqa: N801  (a context manager used like a function)
    """``with open_bundle(src) as b:`` a :class:`LocalBundle`; a URL's files are downloaded
    into a temporary directory that is removed afterwards."""

    def __init__(self, source: str):
        self.source = source
        self.tmp: str | None = None

    def __enter__(self) -> LocalBundle:
        if is_url(self.source):
            self.tmp = tempfile.mkdtemp(prefix="por-bundle-")
            return download_bundle(self.source, Path(self.tmp))
        return find_local_bundle(self.source)

    def __exit__(self, *exc) -> None:
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------
# the report's ratios, re-derived from the proven totals
# --------------------------------------------------------------------------------------


def _ratio_percent_down(num: int, den: int) -> str:
    """num/den as a percentage rounded DOWN to 2 decimals ("104.00")."""
    q = num * 10000 // den
    return f"{q // 100}.{q % 100:02d}"


def check_report(report: dict, public: dict) -> dict[str, dict[str, Any]]:
    """The report's per-asset lines, checked against the PROVEN totals.

    Returns {asset: line}. Raises CustomerCheckError("report") if the report is for another
    round, or an asset's equity, debt or net liabilities differ from the proven ones, or a
    ratio is not reserves / net liabilities rounded down, or ``below_100`` is wrong.
    """
    where = "report.json"
    if not isinstance(report, dict) or report.get("format") != "por-report":
        raise CustomerCheckError("report", f"{where}: not a por-report document")
    if report.get("round_id") != public["round_id"]:
        raise CustomerCheckError("report", f"{where} is for round {report.get('round_id')!r}, "
                                 f"but the liabilities proof is for {public['round_id']!r}")
    lines = report.get("assets")
    if not isinstance(lines, list):
        raise CustomerCheckError("report", f"{where}: field 'assets' is not a list")
    proven = {a: (int(e), int(d)) for a, e, d in
              zip(public["assets"], public["equity_totals"], public["debt_totals"])}
    out: dict[str, dict[str, Any]] = {}
    for i, line in enumerate(lines):
        if not isinstance(line, dict) or not isinstance(line.get("asset"), str):
            raise CustomerCheckError("report", f"{where}: assets[{i}] has no asset symbol")
        sym = line["asset"]

        def num(key: str, *, sym=sym, line=line, i=i) -> int | None:
            v = line.get(key)
            if v is None:
                return None
            if not isinstance(v, str) or not re.fullmatch(r"-?[0-9]+", v):
                raise CustomerCheckError("report", f"{where}: assets[{i}] ({sym}) field {key!r}"
                                         f" is not a decimal integer string: {v!r}")
            return int(v)

        if sym in proven:
            e, d = proven[sym]
            for key, want in (("equity", e), ("debt", d), ("net_liabilities", e - d)):
                got = num(key)
                if got is not None and got != want:
                    raise CustomerCheckError(
                        "report", f"{where}: {sym} {key} is {got}, but the liabilities proof "
                        f"proves {want}")
            reserves, net = num("reserves"), e - d
            pct = line.get("ratio_percent")
            if reserves is not None and net > 0 and pct is not None:
                want_pct = _ratio_percent_down(reserves, net)
                try:
                    same = Decimal(str(pct)) == Decimal(want_pct)
                except InvalidOperation:
                    same = False
                if not same:
                    raise CustomerCheckError(
                        "report", f"{where}: {sym} ratio_percent is {pct!r}, but reserves "
                        f"{reserves} / net liabilities {net} is {want_pct} % (rounded down)")
                if "below_100" in line and bool(line["below_100"]) != (reserves < net):
                    raise CustomerCheckError("report", f"{where}: {sym} below_100 is "
                                             f"{line['below_100']!r}, but reserves {reserves} vs "
                                             f"net liabilities {net} says {reserves < net}")
        out[sym] = line
    return out


# --------------------------------------------------------------------------------------
# one round
# --------------------------------------------------------------------------------------


def _units(sym: str, v: int) -> str:
    a = ASSETS_BY_SYMBOL.get(sym)
    return a.format(v) if a else str(v)


@dataclass
class UserCheck:
    """What a successful customer check established (for one round)."""

    bundle: str
    layout: str
    public: dict[str, Any]
    inclusion: InclusionResult
    report: dict[str, dict[str, Any]] | None       # asset -> checked report line
    report_present: bool
    downloaded: list[str]

    def balance_rows(self) -> list[dict[str, Any]]:
        rows = []
        for sym, (e, d) in self.inclusion.balances.items():
            if e or d:
                line = (self.report or {}).get(sym) or {}
                rows.append({"asset": sym, "equity": str(e), "debt": str(d),
                             "equity_units": _units(sym, e), "debt_units": _units(sym, d),
                             "ratio_percent": line.get("ratio_percent"),
                             "below_100": line.get("below_100")})
        return rows

    def totals_rows(self) -> list[dict[str, Any]]:
        rows = []
        for a, e, d in zip(self.public["assets"], self.public["equity_totals"],
                           self.public["debt_totals"]):
            e, d = int(e), int(d)
            line = (self.report or {}).get(a) or {}
            res = line.get("reserves")
            rows.append({"asset": a, "equity": str(e), "debt": str(d), "net": str(e - d),
                         "equity_units": _units(a, e), "debt_units": _units(a, d),
                         "net_units": _units(a, e - d),
                         "unit": ASSETS_BY_SYMBOL[a].unit if a in ASSETS_BY_SYMBOL else "",
                         "reserves": res,
                         "reserves_units": _units(a, int(res)) if isinstance(res, str)
                         and res.lstrip("-").isdigit() else None,
                         "ratio_percent": line.get("ratio_percent"),
                         "below_100": line.get("below_100")})
        return rows

    def to_json_dict(self) -> dict[str, Any]:
        doc = self.inclusion.to_json_dict()  # ok, round_id, account_id, balances, ... (v1 keys)
        doc["totals"] = self.totals_rows()
        doc["your_balances"] = self.balance_rows()
        doc["liabilities"] = {"verified": True, "bundle": self.bundle, "layout": self.layout,
                              "root": self.public["root"],
                              "tree_height": self.public["tree_height"]}
        doc["report"] = ({"present": True, "checked_against_proof": True}
                         if self.report is not None else
                         {"present": False, "note": "no report.json in the bundle: no reserve "
                                                    "ratios to show"})
        if self.downloaded:
            doc["liabilities"]["downloaded"] = self.downloaded
        return doc


def check_user(proof: str | os.PathLike, bundle: str | os.PathLike, *,
               expected_account_id: str | None = None) -> UserCheck:
    """Verify the round's liabilities proof, then the customer's inclusion in it, then the
    report's arithmetic against the proven totals. Raises :class:`CustomerCheckError`."""
    from por.liabilities import LiabilitiesError, verify

    with open_bundle(str(bundle)) as b:
        try:
            public = verify(b.liabilities_dir)
        except LiabilitiesError as exc:
            raise CustomerCheckError("liabilities", f"{bundle}: {exc}") from None
        try:
            inc = verify_inclusion(Path(proof), public["root"], public["assets"],
                                   public["round_id"], expected_tree_height=public["tree_height"],
                                   expected_account_id=expected_account_id)
        except InclusionError as exc:
            raise CustomerCheckError(exc.reason, exc.message,
                                     public["round_id"]) from None
        report = None
        if b.report_path is not None:
            try:
                doc = json.loads(Path(b.report_path).read_text())
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                raise CustomerCheckError("report", f"{b.report_path}: cannot read ({exc})",
                                         public["round_id"]) from None
            try:
                report = check_report(doc, public)
            except CustomerCheckError as exc:
                exc.round_id = public["round_id"]
                raise
        return UserCheck(str(bundle), b.layout, public, inc, report, report is not None,
                         list(b.downloaded))


# --------------------------------------------------------------------------------------
# many rounds
# --------------------------------------------------------------------------------------


@dataclass
class RoundOutcome:
    proof_file: str
    round_id: str | None
    ok: bool
    check: UserCheck | None = None
    reason: str | None = None
    message: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"round_id": self.round_id, "proof": self.proof_file, "ok": self.ok}
        if self.ok and self.check:
            c = self.check
            d.update({"account_id": c.inclusion.account_id, "leaf_index": c.inclusion.leaf_index,
                      "root": c.public["root"], "your_balances": c.balance_rows(),
                      "report_present": c.report is not None})
        else:
            d.update({"reason": self.reason, "error": self.message})
        return d


def history_proof_files(history: str | os.PathLike) -> list[Path]:
    h = Path(history)
    d = h / "proofs" if (h / "proofs").is_dir() else h
    files = sorted(p for p in d.glob("*.json") if p.is_file())
    if not files:
        raise CustomerCheckError("bundle", f"{d}: no inclusion proofs (*.json) found")
    return files


def check_history(history: str | os.PathLike, bundles: str | None = None) -> list[RoundOutcome]:
    """Check every proof of ``history`` against its round's bundle; one outcome per proof,
    sorted by round id (failures included: this never stops at the first one)."""
    files = history_proof_files(history)
    base = bundles if bundles is not None else str(Path(history) / "bundles")
    found: list[tuple[str | None, Path, Any]] = []
    for f in files:
        try:
            p = load_inclusion_proof(f)
            found.append((p.round_id, f, p))
        except InclusionError as exc:
            found.append((None, f, exc))
    found.sort(key=lambda t: (t[0] is None, t[0] or "", str(t[1])))
    accounts = [p.account_id for r, _, p in found if r is not None]
    account = max(set(accounts), key=accounts.count) if accounts else None
    out: list[RoundOutcome] = []
    seen: set[str] = set()
    for rid, f, p in found:
        if rid is None:
            out.append(RoundOutcome(str(f), None, False, reason="format", message=p.message))
            continue
        if rid in seen:
            out.append(RoundOutcome(str(f), rid, False, reason="round",
                                    message=f"a second proof for round {rid}"))
            continue
        seen.add(rid)
        src = base.rstrip("/") + "/" + rid if is_url(base) else str(Path(base) / rid)
        try:
            c = check_user(f, src, expected_account_id=account)
            out.append(RoundOutcome(str(f), rid, True, check=c))
        except CustomerCheckError as exc:
            out.append(RoundOutcome(str(f), rid, False, reason=exc.reason, message=exc.message))
    return out


# --------------------------------------------------------------------------------------
# showing it to a person (rich)
# --------------------------------------------------------------------------------------


def _ratio_text(pct: Any, below: Any) -> str:
    if pct is None:
        return "-"
    return f"[bold red]{pct} %[/]" if below else f"{pct} %"


def render_user(console, c: UserCheck) -> None:
    from rich.table import Table

    inc = c.inclusion
    console.print(f"[bold green]INCLUDED[/]: account [bold]{inc.account_id}[/] is leaf "
                  f"{inc.leaf_index} of the proven tree of round [bold]{inc.round_id}[/]")
    console.print(f"  the liabilities proof verifies (root {c.public['root']}, "
                  f"tree height {c.public['tree_height']}; bundle {c.bundle})")
    t = Table(title="your balances, as proven (whole units)", title_justify="left")
    for col in ("asset", "equity", "debt", "reserve ratio"):
        t.add_column(col, justify="left" if col == "asset" else "right")
    rows = c.balance_rows()
    for r in rows:
        t.add_row(r["asset"], r["equity_units"], r["debt_units"],
                  _ratio_text(r["ratio_percent"], r["below_100"]))
    if rows:
        console.print(t)
    else:
        console.print("  your balances are zero in every asset of the round")
    t = Table(title="proven per-asset totals of all customers, and reserve ratios",
              title_justify="left")
    for col in ("asset", "equity", "debt", "net liabilities", "reserves", "ratio"):
        t.add_column(col, justify="left" if col == "asset" else "right")
    mine = {r["asset"] for r in rows}
    for r in c.totals_rows():
        name = f"[bold]{r['asset']}[/] (you)" if r["asset"] in mine else r["asset"]
        t.add_row(name, r["equity_units"], r["debt_units"], r["net_units"],
                  r["reserves_units"] or "-", _ratio_text(r["ratio_percent"], r["below_100"]))
    console.print(t)
    if c.report is None:
        console.print("[yellow]no report[/]: the bundle has no report.json, so no reserve "
                      "ratios can be shown")
    else:
        console.print("[dim]ratios from report.json, checked against the proven totals; the "
                      "reserves themselves are checked by `por verify assets`[/]")


def render_history(console, outcomes: list[RoundOutcome]) -> None:
    from rich.table import Table

    t = Table(title="your inclusion, round by round", title_justify="left")
    for col in ("round", "result", "leaf", "your balances", "lowest ratio of your assets",
                "what failed"):
        t.add_column(col, justify="right" if col == "leaf" else "left")
    for o in outcomes:
        if o.ok and o.check:
            rows = o.check.balance_rows()
            bal = ", ".join(f"{r['asset']} {r['equity_units']}"
                            + (f" (debt {r['debt_units']})" if r["debt"] != "0" else "")
                            for r in rows) or "zero"
            pcts = [(Decimal(str(r["ratio_percent"])), r) for r in rows
                    if r["ratio_percent"] is not None]
            low = min(pcts, key=lambda x: x[0])[1] if pcts else None
            low_s = (_ratio_text(low["ratio_percent"], low["below_100"]) + f" {low['asset']}"
                     if low else ("no report" if o.check.report is None else "-"))
            t.add_row(o.round_id, "[bold green]INCLUDED[/]", str(o.check.inclusion.leaf_index),
                      bal, low_s, "")
        else:
            t.add_row(o.round_id or "?", "[bold red]FAILED[/]", "", Path(o.proof_file).name, "",
                      f"[red]{o.reason}[/]: {o.message}")
    console.print(t)


__all__ = [
    "REASONS", "REASON_TEXT", "CustomerCheckError", "LocalBundle", "find_local_bundle",
    "download_bundle", "open_bundle", "check_report", "UserCheck", "check_user", "RoundOutcome",
    "check_history", "history_proof_files", "render_user", "render_history",
]
