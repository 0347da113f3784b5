"""The round bundle: one public directory per round, listed and signed by ``manifest.json``.

Layout (docs/bundle.md)::

    BUNDLE/round.json                 the round's metadata (round id, snapshot time, heights)
    BUNDLE/liabilities/public.json    the liabilities proof's public values
    BUNDLE/liabilities/proof.bin      the liabilities proof (or shard proofs)
    BUNDLE/assets/assets.json         the assets proof (wallet signatures, balances)
    BUNDLE/prices.json                the round's prices and haircuts (equal to the proven ones)
    BUNDLE/report.json|html|pdf       the report
    BUNDLE/manifest.json              SHA-256 of every other file, signed (ed25519)

``manifest.json`` (format ``por-bundle-manifest`` v1) is signed with the exchange's report
key (PyNaCl ed25519) over its canonical JSON (sorted keys, no spaces, ASCII) without the
``signature`` field. :func:`verify_bundle` checks, and names the first of every kind of
failure: the signature against a key the verifier trusts (a public key or its pinned
fingerprint), every hash, no extra or missing file, nothing private in the bundle, both
proofs, and every number of ``report.json`` recomputed from the proven values.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Literal

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from por import __version__
from por.amounts import format_price, get_asset
from por.fileio import atomic_write, read_json

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "por-bundle-manifest"
MANIFEST_VERSION = 1
KEY_FORMAT = "por-report-key"
PUBKEY_FORMAT = "por-report-public-key"
PRICES_FILE = "prices.json"
PRICES_FORMAT = "por-prices"
ROUND_FILE = "round.json"
LIAB_DIR = "liabilities"
ASSETS_DIR = "assets"
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
REPORT_PDF = "report.pdf"
#: files that must be in every bundle (the liabilities proof files vary with sharding;
#: report.pdf, a print of report.html, is optional: `por report --no-pdf`)
REQUIRED = (ROUND_FILE, PRICES_FILE, f"{LIAB_DIR}/public.json", f"{ASSETS_DIR}/assets.json",
            REPORT_JSON, REPORT_HTML)
#: names that are private to the operator and must never be published
PRIVATE_NAMES = ("round-secret.key", "inclusion", "wallet_keys.json", "report.key")

HEX64 = r"^[0-9a-f]{64}$"


class BundleError(Exception):
    """The bundle cannot be made, or does not verify. ``reason`` is a short machine name."""

    def __init__(self, reason: str, message: str, details: list[str] | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.details = details or []


# --------------------------------------------------------------------------------------
# keys
# --------------------------------------------------------------------------------------


def fingerprint(public_key: bytes) -> str:
    """A public key's fingerprint: ``sha256:`` and the hex SHA-256 of the 32 key bytes."""
    return "sha256:" + hashlib.sha256(public_key).hexdigest()


def new_key_doc() -> dict[str, Any]:
    """A fresh ed25519 report key, as the private key file's JSON document."""
    sk = SigningKey.generate()
    pk = bytes(sk.verify_key)
    return {"format": KEY_FORMAT, "version": 1, "algorithm": "ed25519",
            "secret_key": bytes(sk).hex(), "public_key": pk.hex(), "fingerprint": fingerprint(pk)}


def public_key_doc(key_doc: dict[str, Any]) -> dict[str, Any]:
    return {"format": PUBKEY_FORMAT, "version": 1, "algorithm": "ed25519",
            "public_key": key_doc["public_key"], "fingerprint": key_doc["fingerprint"]}


def write_key(path: str | os.PathLike) -> dict[str, Any]:
    """Write a new private key file (mode 0600) and ``PATH.pub``; refuses to overwrite."""
    path = Path(path)
    if path.exists():
        raise BundleError("key-exists", f"{path}: already exists; not overwriting a key")
    doc = new_key_doc()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(doc, indent=1) + "\n")
        f.flush()
        os.fsync(f.fileno())
    atomic_write(Path(str(path) + ".pub"), (json.dumps(public_key_doc(doc), indent=1) + "\n").encode())
    return doc


def load_signing_key(path: str | os.PathLike) -> SigningKey:
    """Read a private key file written by :func:`write_key` (``por keygen``)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except OSError as exc:
        raise BundleError("key-unreadable", f"{p}: cannot read the key ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError("key-unreadable", f"{p}: not a por key file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != KEY_FORMAT:
        raise BundleError("key-unreadable", f"{p}: field 'format' is not {KEY_FORMAT!r}")
    try:
        sk = SigningKey(bytes.fromhex(doc["secret_key"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise BundleError("key-unreadable", f"{p}: field 'secret_key' is not 32 bytes of hex "
                          f"({type(exc).__name__})") from None
    if doc.get("public_key") != bytes(sk.verify_key).hex():
        raise BundleError("key-unreadable", f"{p}: field 'public_key' does not belong to 'secret_key'")
    return sk


def trusted_key(key: str | None, pinned: str | None) -> tuple[bytes | None, str]:
    """What the verifier trusts: ``key`` is 64 hex digits or a path to a ``.pub`` / key file;
    ``pinned`` a fingerprint (``sha256:HEX`` or HEX). Returns (public key or None, fingerprint)."""
    if key is None and pinned is None:
        raise BundleError("no-trusted-key", "no trusted report key: give --key (the exchange's "
                          "public key or its .pub file) or --fingerprint (sha256:...)")
    pk: bytes | None = None
    if key is not None:
        if re.fullmatch(r"[0-9a-fA-F]{64}", key):
            pk = bytes.fromhex(key)
        else:
            try:
                doc = json.loads(Path(key).read_text())
                pk = bytes.fromhex(doc["public_key"])
            except OSError as exc:
                raise BundleError("key-unreadable", f"{key}: cannot read ({exc.strerror})") from None
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
                raise BundleError("key-unreadable", f"{key}: not a por public key file "
                                  f"(field 'public_key': {type(exc).__name__})") from None
            if len(pk) != 32:
                raise BundleError("key-unreadable", f"{key}: field 'public_key' is not 32 bytes")
    fp = fingerprint(pk) if pk is not None else ""
    if pinned is not None:
        want = pinned.lower()
        want = want if want.startswith("sha256:") else "sha256:" + want
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", want):
            raise BundleError("key-unreadable", f"--fingerprint {pinned!r}: expected sha256:<64 hex>")
        if pk is not None and fp != want:
            raise BundleError("wrong-key", f"the key given ({fp}) does not have the pinned "
                              f"fingerprint {want}")
        fp = want
    return pk, fp


# --------------------------------------------------------------------------------------
# the manifest
# --------------------------------------------------------------------------------------


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str
    sha256: str = Field(pattern=HEX64)
    bytes: int = Field(ge=0)


class Signer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    algorithm: Literal["ed25519"]
    public_key: str = Field(pattern=HEX64)
    fingerprint: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class Manifest(BaseModel):
    """``manifest.json``: format ``por-bundle-manifest`` version 1 (docs/bundle.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["por-bundle-manifest"]
    version: Literal[1]
    round_id: str
    snapshot_time: str
    block_heights: dict[str, int]
    assets_read_heights: dict[str, int]
    tool: dict[str, str]
    created_at: str
    files: list[FileEntry]
    signer: Signer
    signature: str | None = Field(default=None, pattern=r"^[0-9a-f]{128}$")


def canonical(doc: dict[str, Any]) -> bytes:
    """The bytes a manifest signature covers: the manifest without ``signature``, as JSON
    with sorted keys, no insignificant spaces, ASCII only."""
    body = {k: v for k, v in doc.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def list_files(bundle: Path) -> list[str]:
    """Every file under the bundle except the manifest, as sorted POSIX relative paths.
    A link or anything that is not a plain file or directory is refused."""
    out: list[str] = []
    for root, dirs, files in os.walk(bundle, followlinks=False):
        for name in sorted(dirs) + sorted(files):
            p = Path(root) / name
            st = os.lstat(p)
            rel = p.relative_to(bundle).as_posix()
            if stat.S_ISLNK(st.st_mode):
                raise BundleError("not-a-file", f"{rel}: is a symbolic link (not allowed in a bundle)")
            if stat.S_ISREG(st.st_mode):
                if rel != MANIFEST_FILE:
                    out.append(rel)
            elif not stat.S_ISDIR(st.st_mode):
                raise BundleError("not-a-file", f"{rel}: is not a plain file")
    return sorted(out)


def private_files(bundle: Path) -> list[str]:
    """Private things (round secret, per-customer proofs, keys) found inside the bundle."""
    found = []
    for p in sorted(bundle.rglob("*")):
        if p.name in PRIVATE_NAMES or p.name.endswith(".tmp"):
            found.append(p.relative_to(bundle).as_posix())
    return found




def prices_doc(liabilities: dict[str, Any]) -> dict[str, Any]:
    """``prices.json`` (format ``por-prices`` v1): the proven prices and haircuts, with the
    USD price per whole unit spelled out."""
    rows = []
    for s, p, h in zip(liabilities["assets"], liabilities["prices"], liabilities["haircuts_bps"]):
        a = get_asset(s)
        rows.append({"asset": s, "price_usd": format_price(a, int(p)), "price": str(p),
                     "price_unit": f"1e-18 USD per {a.unit}", "haircut_bps": int(h)})
    return {"format": PRICES_FORMAT, "version": 1, "round_id": liabilities["round_id"],
            "prices": rows}


def make_manifest(bundle: Path, round_meta: dict[str, Any], assets_heights: dict[str, int],
                  sk: SigningKey, created_at: str | None = None) -> dict[str, Any]:
    """List and hash every file of ``bundle``, sign, and return the manifest document."""
    pk = bytes(sk.verify_key)
    files = [{"path": rel, "sha256": sha256_file(bundle / rel), "bytes": (bundle / rel).stat().st_size}
             for rel in list_files(bundle)]
    doc: dict[str, Any] = {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION,
        "round_id": round_meta["round_id"], "snapshot_time": round_meta["snapshot_time"],
        "block_heights": dict(sorted(round_meta["block_heights"].items())),
        "assets_read_heights": dict(sorted(assets_heights.items())),
        "tool": {"name": "por", "version": __version__},
        "created_at": created_at or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": files,
        "signer": {"algorithm": "ed25519", "public_key": pk.hex(), "fingerprint": fingerprint(pk)},
    }
    Manifest.model_validate(doc)
    doc["signature"] = sk.sign(canonical(doc)).signature.hex()
    return doc


# --------------------------------------------------------------------------------------
# writing a bundle's report and manifest
# --------------------------------------------------------------------------------------


def _read_json(path: Path, reason: str) -> dict[str, Any]:
    doc = read_json(path, lambda m: BundleError(reason, m),
                    missing=lambda m: BundleError("missing-file", m))
    if not isinstance(doc, dict):
        raise BundleError(reason, f"{path}: not a JSON object")
    return doc


def _load_round(path: Path) -> dict[str, Any]:
    from por.snapshot import RoundMeta

    doc = _read_json(path, "bad-round")
    try:
        RoundMeta.model_validate(doc)
    except ValidationError as exc:
        e = exc.errors()[0]
        raise BundleError("bad-round", f"{path}: field {'.'.join(map(str, e['loc']))}: {e['msg']}") from None
    return doc


@dataclass
class Verified:
    """The proven inputs of a bundle and what was checked."""

    liabilities: dict[str, Any]
    assets: dict[str, Any]
    assets_check: dict[str, Any]
    round_meta: dict[str, Any]


def verify_proofs(bundle: Path, evm_rpc: str | None = None, btc_rpc: str | None = None, *,
                  round_meta: dict[str, Any] | None = None, check_prices: bool = True) -> Verified:
    """Verify both proofs of a bundle and the consistency of round.json and prices.json.

    ``round_meta``: use this round.json document instead of the bundle's (``por report``
    checks the snapshot's before copying it); ``check_prices``: compare prices.json."""
    from por import liabilities as liab
    from por.assets.report import AssetsError, verify_assets

    try:
        public = liab.verify(bundle / LIAB_DIR)
    except liab.LiabilitiesError as exc:
        raise BundleError("liabilities-proof", f"liabilities: {exc}") from None
    try:
        check = verify_assets(bundle / ASSETS_DIR, evm_rpc, btc_rpc)
    except AssetsError as exc:
        raise BundleError("assets-proof", f"assets: {exc}", exc.details) from None
    assets = _read_json(bundle / ASSETS_DIR / "assets.json", "assets-proof")
    meta = round_meta if round_meta is not None else _load_round(bundle / ROUND_FILE)
    if meta["round_id"] != public["round_id"]:
        raise BundleError("round-mismatch", f"round.json is round {meta['round_id']!r}, the "
                          f"liabilities proof is round {public['round_id']!r}")
    if list(meta["assets"]) != list(public["assets"]):
        raise BundleError("round-mismatch", "round.json lists other assets than the liabilities proof")
    if check_prices:
        prices = _read_json(bundle / PRICES_FILE, "prices-mismatch")
        if prices != prices_doc(public):
            raise BundleError("prices-mismatch", f"{PRICES_FILE} differs from the prices and "
                              "haircuts the liabilities proof proves")
    return Verified(public, assets, check, meta)


def write_report(bundle: str | os.PathLike, sign_key: str | os.PathLike,
                 snapshot: str | os.PathLike | None = None, *, pdf: bool = True,
                 evm_rpc: str | None = None, btc_rpc: str | None = None,
                 created_at: str | None = None,
                 progress: Callable[[str], None] | None = None) -> tuple[Any, dict[str, Any]]:
    """Verify the bundle's proofs, write prices.json, report.json/html/pdf, sign manifest.json.

    ``snapshot``: the round's snapshot directory (its ``round.json`` is copied into the
    bundle); without it the bundle must already hold ``round.json``. Returns (report, manifest).
    Refuses (BundleError) a bundle holding anything private. Everything is verified and
    rendered before the first file is written; the old manifest.json is removed first, so a
    run cut short leaves an unsigned bundle, never a signed one with mixed files.
    """
    import tempfile

    from por.render import render_html, render_pdf
    from por.report import build_report

    say = progress or (lambda s: None)
    b = Path(bundle)
    if not b.is_dir():
        raise BundleError("missing-file", f"{b}: not a directory")
    sk = load_signing_key(sign_key)
    priv = private_files(b)
    if priv:
        raise BundleError("private-file", f"{b}: private files inside the public bundle: "
                          f"{', '.join(priv)}; move them out before publishing", priv)
    src = Path(snapshot) / ROUND_FILE if snapshot is not None else b / ROUND_FILE
    if not src.exists():
        raise BundleError("missing-file", f"{src}: missing (give --snapshot, the round's "
                          "snapshot directory)")
    meta = _load_round(src)
    round_bytes = src.read_bytes()
    say("verifying the liabilities and assets proofs")
    v = verify_proofs(b, evm_rpc, btc_rpc, round_meta=meta, check_prices=False)
    report = build_report(v.liabilities, v.assets, meta, __version__)
    say("rendering report.html")
    html = render_html(report, fingerprint(bytes(sk.verify_key)))
    with tempfile.TemporaryDirectory(prefix="por-report-") as tmpd:
        tmp_pdf = Path(tmpd) / REPORT_PDF
        if pdf:
            say("printing report.pdf (headless Chromium)")
            (Path(tmpd) / REPORT_HTML).write_text(html)
            try:
                render_pdf(Path(tmpd) / REPORT_HTML, tmp_pdf)
            except Exception as exc:  # noqa: BLE001 - Playwright/Chromium errors of any kind
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
                raise BundleError("pdf", f"report.pdf: headless Chromium failed ({first}); "
                                  "nothing was written (or use --no-pdf)") from None
        say("writing the report and signing manifest.json")
        (b / MANIFEST_FILE).unlink(missing_ok=True)
        atomic_write(b / ROUND_FILE, round_bytes)
        atomic_write(b / PRICES_FILE, (json.dumps(prices_doc(v.liabilities), indent=1) + "\n").encode())
        atomic_write(b / REPORT_JSON, report.to_json().encode())
        atomic_write(b / REPORT_HTML, html.encode())
        if pdf:
            atomic_write(b / REPORT_PDF, tmp_pdf.read_bytes())
        else:
            (b / REPORT_PDF).unlink(missing_ok=True)  # never leave an old round's print
    man = make_manifest(b, meta, v.assets.get("heights", {}), sk, created_at)
    atomic_write(b / MANIFEST_FILE, (json.dumps(man, indent=1) + "\n").encode())
    return report, man


# --------------------------------------------------------------------------------------
# verifying a bundle
# --------------------------------------------------------------------------------------


@dataclass
class BundleResult:
    bundle: Path
    manifest: dict[str, Any]
    report: Any  # por.report.Report
    assets_check: dict[str, Any]
    checks: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        r = self.report
        return {"ok": True, "bundle": str(self.bundle), "round_id": r.round_id,
                "snapshot_time": r.snapshot_time, "signer": self.manifest["signer"]["fingerprint"],
                "files": len(self.manifest["files"]), "checks": self.checks,
                "below_100": r.totals_usd.assets_below_100,
                "assets_notes": self.assets_check.get("notes", []),
                "report": r.model_dump(mode="json")}


def verify_manifest(bundle: Path, key: bytes | None, fp: str) -> dict[str, Any]:
    """Signature, then every hash, no extra or missing file, nothing private."""
    doc = _read_json(bundle / MANIFEST_FILE, "bad-manifest")
    if doc.get("format") == MANIFEST_FORMAT and doc.get("version") != MANIFEST_VERSION:
        raise BundleError("bad-manifest", f"manifest.json: unsupported version {doc.get('version')!r}")
    try:
        man = Manifest.model_validate(doc)
    except ValidationError as exc:
        e = exc.errors()[0]
        raise BundleError("bad-manifest", f"manifest.json: field {'.'.join(map(str, e['loc']))}: "
                          f"{e['msg']}") from None
    if man.signature is None:
        raise BundleError("unsigned", "manifest.json is not signed (no 'signature' field)")
    signer = bytes.fromhex(man.signer.public_key)
    if fingerprint(signer) != man.signer.fingerprint:
        raise BundleError("bad-manifest", "manifest.json: signer.fingerprint is not the public key's")
    if (key is not None and signer != key) or fingerprint(signer) != fp:
        raise BundleError("wrong-key", f"manifest.json is signed by {fingerprint(signer)}, not by "
                          f"the trusted report key {fp}")
    try:
        VerifyKey(signer).verify(canonical(doc), bytes.fromhex(man.signature))
    except BadSignatureError:
        raise BundleError("bad-signature", "manifest.json: the signature does not verify (the "
                          "manifest was changed after signing)") from None
    listed = [f.path for f in man.files]
    if len(set(listed)) != len(listed):
        raise BundleError("bad-manifest", "manifest.json lists a file twice")
    on_disk = list_files(bundle)
    extra = sorted(set(on_disk) - set(listed))
    missing = sorted(set(listed) - set(on_disk))
    if missing:
        raise BundleError("missing-file", f"file(s) listed in manifest.json are missing: "
                          f"{', '.join(missing)}", missing)
    if extra:
        raise BundleError("extra-file", f"file(s) not listed in manifest.json: {', '.join(extra)}",
                          extra)
    bad = [f"{f.path}: sha256 is {sha256_file(bundle / f.path)}, manifest says {f.sha256}"
           for f in man.files if sha256_file(bundle / f.path) != f.sha256
           or (bundle / f.path).stat().st_size != f.bytes]
    if bad:
        raise BundleError("hash-mismatch", f"{len(bad)} file(s) differ from manifest.json: "
                          + "; ".join(bad), bad)
    priv = private_files(bundle)
    if priv:
        raise BundleError("private-file", f"private files inside the public bundle: {', '.join(priv)}", priv)
    for req in REQUIRED:
        if req not in listed:
            raise BundleError("missing-file", f"the bundle has no {req}")
    return doc


def verify_bundle(bundle: str | os.PathLike, key: str | None = None, pinned: str | None = None,
                  evm_rpc: str | None = None, btc_rpc: str | None = None,
                  progress: Callable[[str], None] | None = None) -> BundleResult:
    """Check a whole round bundle; raises :class:`BundleError` with a named reason."""
    from por.render import render_html
    from por.report import ReportError, build_report, compare_reports

    say = progress or (lambda s: None)
    b = Path(bundle)
    if not b.is_dir():
        raise BundleError("missing-file", f"{b}: not a directory")
    pk, fp = trusted_key(key, pinned)
    checks = []
    say("checking manifest.json: signature, hashes, files")
    man = verify_manifest(b, pk, fp)
    checks.append(f"manifest signed by the trusted key {fp}")
    checks.append(f"{len(man['files'])} files: every SHA-256 matches, none missing, none extra, "
                  "nothing private")
    say("verifying the liabilities and assets proofs")
    v = verify_proofs(b, evm_rpc, btc_rpc)
    checks.append("liabilities proof verifies (por.liabilities.verify)")
    checks.append(f"assets proof verifies: {v.assets_check['signatures_verified']}/"
                  f"{v.assets_check['signatures_checked']} wallet signatures, "
                  f"{v.assets_check['balances_rechecked']} balances re-read on chain")
    for k in ("round_id", "snapshot_time", "block_heights"):
        if man[k] != v.round_meta[k]:
            raise BundleError("round-mismatch", f"manifest.json {k} {man[k]!r} differs from round.json")
    if man["assets_read_heights"] != dict(sorted(v.assets.get("heights", {}).items())):
        raise BundleError("round-mismatch", "manifest.json assets_read_heights differ from the assets proof")
    say("recomputing report.json from the proven values")
    stated = _read_json(b / REPORT_JSON, "report-mismatch")
    tool_version = (stated.get("tool") or {}).get("version", __version__) \
        if isinstance(stated.get("tool"), dict) else __version__
    try:
        recomputed = build_report(v.liabilities, v.assets, v.round_meta, str(tool_version))
    except ReportError as exc:
        raise BundleError("report-mismatch", str(exc)) from None
    diffs = compare_reports(stated, recomputed)
    if diffs:
        raise BundleError("report-mismatch", f"report.json does not match the proofs: {diffs[0]}"
                          + (f" (and {len(diffs) - 1} more)" if len(diffs) > 1 else ""), diffs)
    checks.append(f"report.json: every number recomputed from the proofs ({len(recomputed.assets)} assets)")
    if tool_version == __version__:
        html = render_html(recomputed, man["signer"]["fingerprint"])
        if (b / REPORT_HTML).read_text() != html:
            raise BundleError("report-mismatch", "report.html is not the rendering of the "
                              "recomputed report (edited?)")
        checks.append("report.html: identical to a fresh rendering of the recomputed report")
    else:
        checks.append(f"report.html: made by por {tool_version}, not re-rendered by por {__version__}")
    return BundleResult(b, man, recomputed, v.assets_check, checks)
