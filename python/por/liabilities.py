"""The proof of liabilities: from a validated snapshot to a zero-knowledge proof and one
inclusion proof per customer, and back again for a verifier.

The zero-knowledge work is done by the Rust core (:mod:`por._core`, Plonky3). This module
owns the data around it:

* each customer's **nonce** is ``HMAC-SHA256(round secret, "por-nonce-v1" | round id | account
  id)``: random to everyone without the operator's round secret, reproducible for the operator;
* the **account commitment** hides the account id behind that nonce (docs/hashing.md);
* leaves are ordered by the commitment's sort key (strictly increasing: the proof checks it);
* the **bundle** (format ``por-liabilities`` v2, docs/liabilities-bundle.md) holds the proof
  and its public values; customers' inclusion proofs are written beside it, never inside it.

Nothing read from a proof file changes what is proven: the verifier rebuilds the AIR from
the public values it checks (assets, prices, haircuts, totals, root, height) in its own code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from por import _core
from por.amounts import get_asset
from por.inclusion import make_inclusion_proof, verify_inclusion
from por.merkle import digest_from_hex, digest_to_hex, sort_key
from por.snapshot import Snapshot, load_snapshot

BUNDLE_FORMAT = "por-liabilities"
BUNDLE_VERSION = 3
PUBLIC_FILE = "public.json"
PROOF_FILE = "proof.bin"
INCLUSION_DIR = "inclusion"
SECRET_FILE = "round-secret.key"

#: The largest tree one proof covers (por._core.MAX_TREE_HEIGHT); larger rounds are sharded.
MAX_TREE_HEIGHT = int(getattr(_core, "MAX_TREE_HEIGHT", 14))
#: Sort keys are 60-bit; a proof shows every leaf key lies in [key_lo, key_hi) within [0, 2**60).
KEY_SPACE = 1 << 60


class LiabilitiesError(Exception):
    """A liabilities proof could not be made or does not verify."""


# --------------------------------------------------------------------------------------
# pure helpers
# --------------------------------------------------------------------------------------


def derive_nonce(secret: bytes, round_id: str, account_id: str, attempt: int = 0) -> bytes:
    """The customer's 32-byte nonce for this round (``attempt`` > 0 only after a key clash)."""
    msg = b"por-nonce-v1\0" + round_id.encode() + b"\0" + account_id.encode()
    if attempt:
        msg += b"\0" + str(attempt).encode()
    return hmac.new(secret, msg, hashlib.sha256).digest()


def tree_height_for(customers: int) -> int:
    """The padded tree height: the smallest h >= 1 with 2**h >= customers."""
    return max(1, (max(customers, 1) - 1).bit_length())


def safe_filename(account_id: str) -> str:
    """A file name for a customer's proof: the id itself if it is plain, else its SHA-256."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", account_id):
        return account_id + ".json"
    return "sha256-" + hashlib.sha256(account_id.encode()).hexdigest() + ".json"


@dataclass(frozen=True)
class Customer:
    account_id: str
    nonce: bytes
    commitment: list[int]
    balances: list[int]  # [e_1..e_K, d_1..d_K]


def commit_customers(secret: bytes, round_id: str, rows: Sequence[tuple[str, Sequence[int]]]
                     ) -> list[Customer]:
    """Commit every customer and order them by strictly increasing sort key.

    A clash of two 60-bit sort keys (about 2**-21 for 10**5 customers) is resolved by giving
    one of the two customers its next nonce; the result stays deterministic.
    """
    out: list[Customer] = []
    keys: dict[int, int] = {}
    for account_id, bal in rows:
        attempt = 0
        while True:
            nonce = derive_nonce(secret, round_id, account_id, attempt)
            c = list(_core.account_commitment(account_id.encode(), nonce))
            k = sort_key(c)
            if k not in keys:
                break
            attempt += 1
        keys[k] = len(out)
        out.append(Customer(account_id, nonce, c, [int(x) for x in bal]))
    out.sort(key=lambda c: sort_key(c.commitment))
    return out


def public_to_json(public: dict[str, Any], assets: Sequence[str], round_id: str) -> dict[str, Any]:
    """The public values as the bundle's JSON document (exact integers as strings)."""
    k = len(assets)
    return {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "round_id": round_id,
        "assets": list(assets),
        "prices": [str(p) for p in public["prices"]],
        "haircuts_bps": [int(h) for h in public["haircuts"]],
        "equity_totals": [str(v) for v in public["equity_totals"]],
        "debt_totals": [str(v) for v in public["debt_totals"]],
        "limb_sums": [[int(x) for x in row] for row in public["limb_sums"]],
        "root": digest_to_hex(public["root"]),
        "tree_height": int(public["tree_height"]),
        "max_customers": 1 << int(public["tree_height"]),
        "key_lo": str(int(public["key_lo"])),
        "key_hi": str(int(public["key_hi"])),
        "proof_system": {
            "core": "por._core liabilities AIR",
            "proof_version": int(public.get("version", 1)),
            "num_assets": k,
        },
    }


def json_to_public(doc: dict[str, Any]) -> dict[str, Any]:
    """Back from the bundle's JSON to the dict :func:`por._core.verify_liabilities` takes."""
    try:
        if doc.get("format") != BUNDLE_FORMAT:
            raise LiabilitiesError(f"field 'format' is {doc.get('format')!r}, not {BUNDLE_FORMAT!r}")
        if doc.get("version") != BUNDLE_VERSION:
            raise LiabilitiesError(f"unsupported version {doc.get('version')!r}")
        assets = list(doc["assets"])
        for a in assets:
            get_asset(a)
        k = len(assets)
        pub = {
            "format": "por-liabilities-public",
            "version": int(doc["proof_system"]["proof_version"]),
            "round_id": str(doc["round_id"]).encode(),
            "num_assets": k,
            "tree_height": int(doc["tree_height"]),
            "prices": [int(p) for p in doc["prices"]],
            "haircuts": [int(h) for h in doc["haircuts_bps"]],
            "limb_sums": [[int(x) for x in row] for row in doc["limb_sums"]],
            "equity_totals": [int(v) for v in doc["equity_totals"]],
            "debt_totals": [int(v) for v in doc["debt_totals"]],
            "root": list(digest_from_hex(doc["root"])),
            "key_lo": int(doc["key_lo"]),
            "key_hi": int(doc["key_hi"]),
        }
    except LiabilitiesError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise LiabilitiesError(f"malformed public values ({type(exc).__name__}: {exc})") from None
    if not (len(pub["prices"]) == len(pub["haircuts"]) == len(pub["equity_totals"])
            == len(pub["debt_totals"]) == k):
        raise LiabilitiesError("public values: assets, prices, haircuts and totals differ in length")
    if 1 << pub["tree_height"] != doc.get("max_customers"):
        raise LiabilitiesError("public values: max_customers is not 2**tree_height")
    if not 0 <= pub["key_lo"] < pub["key_hi"] <= KEY_SPACE:
        raise LiabilitiesError("public values: key_lo/key_hi are not a non-empty range within [0, 2**60)")
    return pub


# --------------------------------------------------------------------------------------
# prove
# --------------------------------------------------------------------------------------


@dataclass
class ProveResult:
    bundle: Path
    public: dict[str, Any]
    customers: int
    proof_bytes: int
    inclusion_dir: Path


def prove(snapshot_dir: str | os.PathLike, out: str | os.PathLike, *,
          secret: bytes | None = None, write_inclusion: bool = True,
          progress: Callable[[str, int, int], None] | None = None,
          seed: bytes | None = None, key_range: tuple[int, int] | None = None) -> ProveResult:
    """Prove a snapshot's liabilities into ``out`` (created if missing).

    Writes ``out/public.json`` and ``out/proof.bin`` (the publishable part), and unless told
    otherwise ``out/inclusion/<account>.json`` for every customer and ``out/round-secret.key``
    (the operator's private part: never publish those two).

    ``seed`` (32 bytes) makes the proof reproducible: every random value of the prover (padding
    commitments, the hiding PCS's masks and salts) is drawn from ChaCha20 keyed by it; keep it
    as secret as the round secret. ``key_range=(lo, hi)`` makes the proof also show that every
    leaf's sort key lies in ``[lo, hi)`` (``public.json`` carries ``key_lo``/``key_hi``), so
    shards of one round can be given disjoint, contiguous ranges.
    """
    step = progress or (lambda stage, done, total: None)
    snap: Snapshot = load_snapshot(snapshot_dir)
    assert snap.summary is not None
    n = snap.summary.customers
    if n == 0:
        raise LiabilitiesError(f"{snapshot_dir}: the snapshot has no customers")
    h = tree_height_for(n)
    if h > MAX_TREE_HEIGHT:
        raise LiabilitiesError(
            f"{n} customers need a tree of height {h}; one proof covers at most "
            f"2**{MAX_TREE_HEIGHT} = {1 << MAX_TREE_HEIGHT} customers")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    secret_path = out / SECRET_FILE
    if secret is None:
        secret = secret_path.read_bytes() if secret_path.exists() else secrets.token_bytes(32)
    round_id = snap.meta.round_id
    assets = snap.symbols

    rows: list[tuple[str, list[int]]] = []
    for batch in snap.iter_batches():
        for acc, amounts in zip(batch.account_ids, batch.amounts.tolist()):
            rows.append((acc, amounts))
        step("commit", len(rows), n)
    customers = commit_customers(secret, round_id, rows)
    step("prove", 0, 1)
    proof, public, levels = _core.prove_liabilities(
        round_id.encode(), snap.price_vector, snap.haircut_vector,
        [c.commitment for c in customers], [c.balances for c in customers], h,
        seed=seed, key_range=key_range)
    step("prove", 1, 1)
    doc = public_to_json(public, assets, round_id)
    _check_totals(doc, snap)

    _atomic_write(secret_path, secret)
    _atomic_write(out / PROOF_FILE, bytes(proof))
    _atomic_write(out / PUBLIC_FILE, (json.dumps(doc, indent=1) + "\n").encode())

    inc_dir = out / INCLUSION_DIR
    if write_inclusion:
        inc_dir.mkdir(exist_ok=True)
        k = len(assets)
        root = doc["root"]
        for i, c in enumerate(customers):
            siblings = [levels[j][(i >> j) ^ 1] for j in range(h)]
            p = make_inclusion_proof(
                round_id=round_id, account_id=c.account_id, nonce=c.nonce, assets=assets,
                equity=c.balances[:k], debt=c.balances[k:], leaf_index=i, siblings=siblings,
                root=digest_from_hex(root), commitment=c.commitment, leaf=levels[0][i],
                check=False)
            _atomic_write(inc_dir / safe_filename(c.account_id), (p.to_json() + "\n").encode())
            if i % 256 == 0 or i == n - 1:
                step("inclusion", i + 1, n)
    return ProveResult(out, doc, n, len(proof), inc_dir)


def _check_totals(doc: dict[str, Any], snap: Snapshot) -> None:
    """The proven totals must be the snapshot's own totals (a guard against a core bug)."""
    assert snap.summary is not None
    for a, e, d in zip(doc["assets"], doc["equity_totals"], doc["debt_totals"]):
        if int(e) != snap.summary.equity[a] or int(d) != snap.summary.debt[a]:
            raise LiabilitiesError(f"internal error: proven totals of {a} differ from the snapshot")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------------------


def load_public(bundle: str | os.PathLike) -> dict[str, Any]:
    path = Path(bundle) / PUBLIC_FILE
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise LiabilitiesError(f"{path}: cannot read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LiabilitiesError(f"{path}: not JSON ({exc})") from None


def verify(bundle: str | os.PathLike) -> dict[str, Any]:
    """Verify the liabilities proof of a bundle; return the proven public values.

    Raises :class:`LiabilitiesError` naming what failed.
    """
    doc = load_public(bundle)
    pub = json_to_public(doc)
    proof_path = Path(bundle) / PROOF_FILE
    try:
        proof = proof_path.read_bytes()
    except OSError as exc:
        raise LiabilitiesError(f"{proof_path}: cannot read ({exc.strerror})") from None
    try:
        _core.verify_liabilities(proof, pub)
    except ValueError as exc:
        raise LiabilitiesError(f"the liabilities proof does not verify: {exc}") from None
    return doc


def verify_user(proof_file: str | os.PathLike, bundle: str | os.PathLike) -> dict[str, Any]:
    """Check one customer's inclusion against a bundle whose proof verifies.

    The root, round id, assets and tree height come from the VERIFIED public values, never
    from the customer's file.
    """
    doc = verify(bundle)
    result = verify_inclusion(
        Path(proof_file), digest_from_hex(doc["root"]), doc["assets"], doc["round_id"],
        expected_tree_height=doc["tree_height"])
    return {"public": doc, "inclusion": result}


def totals_table(doc: dict[str, Any]) -> list[dict[str, str]]:
    """Per-asset proven totals, exact, in base units and whole units."""
    rows = []
    for a, e, d in zip(doc["assets"], doc["equity_totals"], doc["debt_totals"]):
        asset = get_asset(a)
        e, d = int(e), int(d)
        rows.append({"asset": a, "equity": str(e), "debt": str(d), "net": str(e - d),
                     "equity_units": asset.format(e), "debt_units": asset.format(d),
                     "net_units": asset.format(e - d), "unit": asset.unit})
    return rows
