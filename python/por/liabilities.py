"""The proof of liabilities: from a validated snapshot to a zero-knowledge proof and one
inclusion proof per customer, and back again for a verifier.

The zero-knowledge work is done by the Rust core (:mod:`por._core`, Plonky3). This module
owns the data around it:

* each customer's **nonce** is ``HMAC-SHA256(round secret, "por-nonce-v1" | round id | account
  id)``: random to everyone without the operator's round secret, reproducible for the operator;
* the **account commitment** hides the account id behind that nonce (docs/hashing.md);
* leaves are ordered by the commitment's sort key (strictly increasing: the proof checks it);
* a round is proven in **shards** (:mod:`por.shards`) run by an executor (:mod:`por.executors`:
  a local process pool or Ray), resumable from finished shards, bound into one global
  statement (bundle format ``por-liabilities`` v3, docs/liabilities-bundle.md);
* customers' inclusion proofs go to the proof store (:mod:`por.store`), never into the bundle.

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
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from por import _core
from por.amounts import get_asset
from por.inclusion import make_inclusion_proof, verify_inclusion
from por.merkle import digest_from_hex, digest_to_hex, sort_key
from por.snapshot import Snapshot, load_snapshot
from por.fileio import atomic_write, read_json

BUNDLE_FORMAT = "por-liabilities"
BUNDLE_VERSION = 3
#: A sharded round (docs/liabilities-bundle.md): what ``prove`` writes (per-shard chunk sums).
SHARDED_VERSION = 4
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
# prove (sharded, resumable; docs/liabilities-bundle.md version 4)
# --------------------------------------------------------------------------------------

SHARDS_DIR = "shards"
STORE_FILE = "proofs.db"
STAGES = ("snapshot check", "commit", "prove shards", "aggregate", "store load")


@dataclass
class ProveResult:
    bundle: Path
    public: dict[str, Any]
    customers: int
    proof_bytes: int          # all shard proofs together (the global proof)
    private: Path
    store_url: str | None
    shards: int
    shards_reused: int        # finished shards found on disk (a resumed round)
    timings: dict[str, float]


def default_private_dir(out: str | os.PathLike) -> Path:
    """Where private things go by default: a sibling of the public directory, never inside
    the published bundle: ``BUNDLE.private/`` for ``BUNDLE/liabilities``, else ``<out>.private``."""
    out = Path(out).absolute()
    if out.name == "liabilities":
        return out.parent.with_name(out.parent.name + ".private")
    return out.with_name(out.name + ".private")


def prove(snapshot_dir: str | os.PathLike, out: str | os.PathLike, *,
          private: str | os.PathLike | None = None, shard_height: int | None = None,
          executor: str = "local", workers: int = 1, ray_address: str | None = None,
          db: str | None = None, secret: bytes | None = None, write_inclusion: bool = True,
          progress: Callable[[str, int, int], None] | None = None) -> ProveResult:
    """Prove a snapshot's liabilities, shard by shard, into the public directory ``out``.

    ``out`` gets ``public.json`` and ``shards/NNNNNN.bin`` (publish these). The private
    directory (default ``<out>.private``, mode 0700) gets ``round-secret.key``, the finished
    shards (``shards/NNNNNN/``, for resuming) and the default SQLite proof store
    ``proofs.db``; with ``db`` (a store URL) the inclusion proofs go there instead.

    Re-running on the same snapshot resumes: a shard whose completion record matches its
    inputs and file hashes is reused, any other one is proven again.
    """
    import time

    from por import executors
    from por.shards import (DEFAULT_SHARD_HEIGHT, ShardTask, plan_shards, prove_shard,
                            shard_seed, shard_tag, top_height)

    step = progress or (lambda stage, done, total: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    snap: Snapshot = load_snapshot(
        snapshot_dir, progress=lambda done, total: step("snapshot check", done, total or done))
    assert snap.summary is not None
    n = snap.summary.customers
    if n == 0:
        raise LiabilitiesError(f"{snapshot_dir}: the snapshot has no customers")
    sh = DEFAULT_SHARD_HEIGHT if shard_height is None else int(shard_height)
    if not 1 <= sh <= MAX_TREE_HEIGHT:
        raise LiabilitiesError(f"shard size 2^{sh}: one proof covers 2^1 to 2^{MAX_TREE_HEIGHT} "
                               "customers")
    h = min(sh, tree_height_for(n))
    round_id = snap.meta.round_id
    assets = snap.symbols
    count = -(-n // (1 << h))
    if len(shard_tag(round_id, count - 1, count).encode()) > 63:
        raise LiabilitiesError(f"round id {round_id!r} is too long for a sharded round "
                               "(round id + '#i/S' must fit in 63 bytes)")

    out = Path(out).absolute()
    priv = Path(private).absolute() if private is not None else default_private_dir(out)
    if priv == out or out in priv.parents:
        raise LiabilitiesError(f"the private directory {priv} must not be inside the public "
                               f"bundle {out}")
    out.mkdir(parents=True, exist_ok=True)
    priv.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(priv, 0o700)
    secret_path = priv / SECRET_FILE
    if secret is None:
        secret = secret_path.read_bytes() if secret_path.exists() else secrets.token_bytes(32)
    if len(secret) != 32:
        raise LiabilitiesError(f"{secret_path}: a round secret is 32 bytes, found {len(secret)}")
    if not secret_path.exists() or secret_path.read_bytes() != secret:
        _atomic_write(secret_path, secret)
        os.chmod(secret_path, 0o600)
    timings["snapshot check"] = time.perf_counter() - t0

    # --- commit ---------------------------------------------------------------------------
    t0 = time.perf_counter()
    rows: list[tuple[str, list[int]]] = []
    for batch in snap.iter_batches():
        for acc, amounts in zip(batch.account_ids, batch.amounts.tolist()):
            rows.append((acc, amounts))
        step("commit", len(rows), n)
    customers = commit_customers(secret, round_id, rows)
    del rows
    keys = [sort_key(c.commitment) for c in customers]
    plans = plan_shards(keys, h)
    del keys
    timings["commit"] = time.perf_counter() - t0

    # --- prove shards (resuming from finished ones) -----------------------------------------
    t0 = time.perf_counter()
    work = priv / SHARDS_DIR
    work.mkdir(exist_ok=True)
    for stale in work.glob(".*.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    prices, haircuts = snap.price_vector, snap.haircut_vector

    def task(p) -> ShardTask:
        cs = customers[p.start:p.stop]
        return ShardTask(round_id, p.index, p.count, p.height, prices, haircuts,
                         [c.commitment for c in cs], [c.balances for c in cs], p.key_lo,
                         p.key_hi, shard_seed(secret, round_id, p.index))

    digests: dict[int, str] = {}
    todo: list[ShardTask] = []
    reused = 0
    for p in plans:
        t = task(p)
        digests[p.index] = t.input_digest()
        if _finished_shard(work, p.index, digests[p.index]) is not None:
            reused += 1
        else:
            todo.append(t)
    done = reused
    step("prove shards", done, count)
    for res in executors.run(prove_shard, todo, executor=executor, workers=workers,
                             ray_address=ray_address):
        _write_shard(work, res, digests[res.index])
        done += 1
        step("prove shards", done, count)
    todo.clear()
    timings["prove shards"] = time.perf_counter() - t0

    # --- aggregate: the global statement ---------------------------------------------------
    t0 = time.perf_counter()
    from por.shards import levels_from_bytes, top_levels

    g = top_height(count)
    entries, shard_levels = [], []
    (out / SHARDS_DIR).mkdir(exist_ok=True)
    proof_bytes = 0
    for p in plans:
        fin = _finished_shard(work, p.index, digests[p.index])
        if fin is None:
            raise LiabilitiesError(f"shard {p.index}: not finished after proving (disk error?)")
        name = f"{SHARDS_DIR}/{p.index:06d}.bin"
        _atomic_write(out / name, fin.proof)
        proof_bytes += len(fin.proof)
        entry = dict(fin.public)
        entry.update(proof=name, proof_sha256=hashlib.sha256(fin.proof).hexdigest(),
                     proof_bytes=len(fin.proof))
        entries.append(entry)
        shard_levels.append(levels_from_bytes(fin.levels, h))
        step("aggregate", p.index + 1, count)
    keep = {f"{i:06d}.bin" for i in range(count)}
    for f in (out / SHARDS_DIR).iterdir():
        if f.name not in keep:
            f.unlink()
    top = top_levels([digest_from_hex(e["root"]) for e in entries], g)
    k = len(assets)
    eq = [sum(int(e["equity_totals"][a]) for e in entries) for a in range(k)]
    dt = [sum(int(e["debt_totals"][a]) for e in entries) for a in range(k)]
    doc = {
        "format": BUNDLE_FORMAT,
        "version": SHARDED_VERSION,
        "round_id": round_id,
        "assets": list(assets),
        "prices": [str(x) for x in prices],
        "haircuts_bps": [int(x) for x in haircuts],
        "equity_totals": [str(v) for v in eq],
        "debt_totals": [str(v) for v in dt],
        "root": digest_to_hex(top[-1][0]),
        "tree_height": h + g,
        "max_customers": 1 << (h + g),
        "key_lo": "0",
        "key_hi": str(KEY_SPACE),
        "shard_height": h,
        "shard_count": count,
        "top_height": g,
        "shards": entries,
        "proof_system": {"core": "por._core liabilities AIR", "proof_version":
                         int(entries[0]["proof_version"]), "num_assets": k,
                         "key_ranges_proven": _core_has_ranges()},
    }
    _check_totals(doc, snap)
    _atomic_write(out / PUBLIC_FILE, (json.dumps(doc, indent=1) + "\n").encode())
    timings["aggregate"] = time.perf_counter() - t0

    # --- store load: every customer's inclusion proof ----------------------------------------
    t0 = time.perf_counter()
    store_url = None
    if write_inclusion:
        from por.store import open_store

        store_url = db or "sqlite:///" + str(priv / STORE_FILE)
        root = top[-1][0]

        def records():
            for p in plans:
                lv = shard_levels[p.index]
                top_sib = [top[j][(p.index >> j) ^ 1] for j in range(g)]
                for local, c in enumerate(customers[p.start:p.stop]):
                    sib = [lv[j][(local >> j) ^ 1].tolist() for j in range(h)] + top_sib
                    proof = make_inclusion_proof(
                        round_id=round_id, account_id=c.account_id, nonce=c.nonce,
                        assets=assets, equity=c.balances[:k], debt=c.balances[k:],
                        leaf_index=(p.index << h) + local, siblings=sib, root=root,
                        commitment=c.commitment, leaf=lv[0][local].tolist(), check=False)
                    yield c.account_id, proof.to_json().encode()
                    pos = p.start + local + 1
                    if pos % 1024 == 0 or pos == n:
                        step("store load", pos, n)

        with open_store(store_url) as st:
            st.put_many(round_id, records())
    timings["store load"] = time.perf_counter() - t0
    return ProveResult(out, doc, n, proof_bytes, priv, store_url, count, reused, timings)


def _core_has_ranges() -> bool:
    from por.shards import core_has_ranges

    return core_has_ranges()


DONE_FILE = "done.json"
SHARD_FILES = ("proof.bin", "shard.json", "levels.bin")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_shard(work: Path, res: Any, input_sha256: str) -> None:
    """Write a finished shard: files into a temporary directory, the completion record
    (with every file's SHA-256) last, then one rename into place."""
    final = work / f"{res.index:06d}"
    tmp = work / f".{res.index:06d}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    files = {"proof.bin": res.proof,
             "shard.json": (json.dumps(res.public, indent=1) + "\n").encode(),
             "levels.bin": res.levels}
    for name, data in files.items():
        _atomic_write(tmp / name, data)
    done = {"format": "por-shard-done", "version": 1, "index": res.index,
            "input_sha256": input_sha256, "files": {k: _sha256(v) for k, v in files.items()}}
    _atomic_write(tmp / DONE_FILE, (json.dumps(done, indent=1) + "\n").encode())
    _fsync_dir(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.rename(tmp, final)
    _fsync_dir(work)


def _finished_shard(work: Path, index: int, input_sha256: str) -> Any:
    """The shard's output if its directory holds a completion record that matches these
    inputs and every file's hash; else None (and a broken directory is removed)."""
    from por.shards import ShardOutput

    d = work / f"{index:06d}"
    if not d.is_dir():
        return None
    try:
        done = json.loads((d / DONE_FILE).read_bytes())
        if (done.get("format") != "por-shard-done" or done.get("version") != 1
                or done.get("index") != index or done.get("input_sha256") != input_sha256):
            raise ValueError("completion record for other inputs")
        data = {}
        for name in SHARD_FILES:
            data[name] = (d / name).read_bytes()
            if _sha256(data[name]) != done["files"][name]:
                raise ValueError(f"{name}: hash mismatch")
        public = json.loads(data["shard.json"])
        if public.get("index") != index:
            raise ValueError("shard.json is for another shard")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        shutil.rmtree(d, ignore_errors=True)
        return None
    return ShardOutput(index, data["proof.bin"], public, data["levels.bin"])


def _check_totals(doc: dict[str, Any], snap: Snapshot) -> None:
    """The proven totals must be the snapshot's own totals (a guard against a core bug)."""
    assert snap.summary is not None
    for a, e, d in zip(doc["assets"], doc["equity_totals"], doc["debt_totals"]):
        if int(e) != snap.summary.equity[a] or int(d) != snap.summary.debt[a]:
            raise LiabilitiesError(f"internal error: proven totals of {a} differ from the snapshot")


def _atomic_write(path: Path, data: bytes, *, fsync: bool = True) -> None:
    atomic_write(path, data, fsync=fsync)


# --------------------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------------------


def load_public(bundle: str | os.PathLike) -> dict[str, Any]:
    return read_json(Path(bundle) / PUBLIC_FILE, LiabilitiesError)


def verify(bundle: str | os.PathLike,
           progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Verify the liabilities proof of a bundle; return the proven public values.

    Version 2: one proof (``proof.bin``). Version 3: every shard proof, their key ranges
    tiling [0, 2^60) in order, the global root rebuilt from the verified shard roots and the
    global totals summed here. Raises :class:`LiabilitiesError` naming what failed.
    """
    doc = load_public(bundle)
    if isinstance(doc, dict) and doc.get("version") == SHARDED_VERSION:
        return _verify_sharded(Path(bundle), doc, progress)
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


def _verify_sharded(bundle: Path, doc: dict[str, Any],
                    progress: Callable[[str, int, int], None] | None) -> dict[str, Any]:
    from por.shards import KEY_SPACE, shard_public_for_core, top_height, top_levels

    step = progress or (lambda stage, done, total: None)
    if doc.get("format") != BUNDLE_FORMAT:
        raise LiabilitiesError(f"field 'format' is {doc.get('format')!r}, not {BUNDLE_FORMAT!r}")
    try:
        round_id = str(doc["round_id"])
        assets = list(doc["assets"])
        for a in assets:
            get_asset(a)
        k = len(assets)
        prices = [int(x) for x in doc["prices"]]
        haircuts = [int(x) for x in doc["haircuts_bps"]]
        eq_claim = [int(x) for x in doc["equity_totals"]]
        dt_claim = [int(x) for x in doc["debt_totals"]]
        h, count = int(doc["shard_height"]), int(doc["shard_count"])
        entries = list(doc["shards"])
        root_claim = digest_from_hex(doc["root"])
        height = int(doc["tree_height"])
    except (KeyError, TypeError, ValueError) as exc:
        raise LiabilitiesError(f"malformed public values ({type(exc).__name__}: {exc})") from None
    if not (len(prices) == len(haircuts) == len(eq_claim) == len(dt_claim) == k):
        raise LiabilitiesError("public values: assets, prices, haircuts and totals differ in length")
    if not 1 <= h <= MAX_TREE_HEIGHT:
        raise LiabilitiesError(f"public values: shard_height {h} is outside [1, {MAX_TREE_HEIGHT}]")
    if count < 1 or len(entries) != count:
        raise LiabilitiesError(f"public values: shard_count {count} but {len(entries)} shards listed")
    if doc.get("key_lo") != "0" or doc.get("key_hi") != str(KEY_SPACE):
        raise LiabilitiesError("public values: a round's key range is [0, 2^60): key_lo must be "
                               f"\"0\" and key_hi \"{KEY_SPACE}\"")
    g = top_height(count)
    if doc.get("top_height") != g or height != h + g or doc.get("max_customers") != 1 << (h + g):
        raise LiabilitiesError(f"public values: {count} shards of height {h} make a tree of "
                               f"height {h + g} (top {g}), not what public.json says")
    eq, dt = [0] * k, [0] * k
    roots = []
    checked: list[tuple[str, Path, dict[str, Any]]] = []
    prev_hi = 0
    for i, e in enumerate(entries):
        where = f"shard {i}"
        try:
            if int(e["index"]) != i:
                raise LiabilitiesError(f"{where}: listed as shard {e['index']} (swapped or "
                                       "duplicated shards)")
            lo, hi = int(e["key_lo"]), int(e["key_hi"])
            if lo != prev_hi:
                raise LiabilitiesError(
                    f"{where}: key range starts at {lo}, not at {prev_hi} where the previous one "
                    "ended (shards dropped, duplicated, swapped or from another round)")
            if not lo < hi <= KEY_SPACE:
                raise LiabilitiesError(f"{where}: empty or out-of-space key range [{lo}, {hi})")
            prev_hi = hi
            name = f"shards/{i:06d}.bin"
            if e.get("proof") != name:
                raise LiabilitiesError(f"{where}: proof file must be {name}, not {e.get('proof')!r}")
            path = bundle / name
            pub = shard_public_for_core(round_id, count, k, prices, haircuts, h, e)
            if not (len(pub["equity_totals"]) == len(pub["debt_totals"]) == k):
                raise LiabilitiesError(f"{where}: totals do not have {k} assets")
        except LiabilitiesError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise LiabilitiesError(f"{where}: malformed entry ({type(exc).__name__}: {exc})") from None
        checked.append((where, path, pub))
        for a in range(k):
            eq[a] += pub["equity_totals"][a]
            dt[a] += pub["debt_totals"][a]
        roots.append(pub["root"])

    # The shard proofs themselves, on every core (the Rust verifier releases the GIL). Each
    # worker reads its own proof file, so memory holds one proof per core, not the round's;
    # results are taken in shard order, so the first failing shard is the one reported.
    def check(item: tuple[str, Path, dict[str, Any]]) -> str | None:
        where, path, pub = item
        try:
            proof = path.read_bytes()
        except OSError as exc:
            return f"{path}: cannot read ({exc.strerror})"
        try:
            _core.verify_liabilities(proof, pub)
        except ValueError as exc:
            return f"{where} ({path.name}): the proof does not verify: {exc}"
        return None

    with ThreadPoolExecutor(max_workers=max(1, min(len(checked), os.cpu_count() or 1))) as pool:
        for i, err in enumerate(pool.map(check, checked)):
            if err is not None:
                raise LiabilitiesError(err)
            step("verify shards", i + 1, count)
    if prev_hi != KEY_SPACE:
        raise LiabilitiesError(f"the last shard's key range ends at {prev_hi}, not at 2^60 "
                               "(shards dropped)")
    for a in range(k):
        if eq[a] != eq_claim[a] or dt[a] != dt_claim[a]:
            raise LiabilitiesError(
                f"{assets[a]}: the global totals (equity {eq_claim[a]}, debt {dt_claim[a]}) are "
                f"not the sums of the proven shards (equity {eq[a]}, debt {dt[a]})")
    top = top_levels(roots, g)
    if list(top[-1][0]) != list(root_claim):
        raise LiabilitiesError(f"the global root {doc['root']} is not the root of the proven "
                               f"shard roots ({digest_to_hex(top[-1][0])})")
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
