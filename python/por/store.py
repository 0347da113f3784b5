"""The proof store: every customer's inclusion proof, looked up by (round id, account id).

A round of millions of customers cannot live as millions of files: the operator bulk-loads
each customer's ``por-inclusion-proof`` JSON (docs/inclusion-proof.md) into a database and the
proof service answers ``GET /api/v1/proof`` from it with one indexed lookup.

Two back ends behind one interface (:class:`ProofStore`):

* **SQLite** (the default; ``sqlite:///abs/path.db`` or a plain file path): one file, WAL
  journal, 16 KiB pages, one table keyed by ``(round_id, account_id)``, bulk inserts in large
  transactions;
* **PostgreSQL** (``postgresql://user@host:port/db``, psycopg 3): bulk load with ``COPY`` into
  a temporary table, then one ``INSERT ... ON CONFLICT`` into the real table.

``put_many`` is idempotent per ``(round_id, account_id)``: loading the same proofs twice (a
resumed round) leaves one row each, holding the last bytes written. Reads are thread-safe:
each thread gets its own connection.

Table (both back ends)::

    por_inclusion_proofs(round_id TEXT, account_id TEXT, proof BLOB/BYTEA,
                         PRIMARY KEY (round_id, account_id))
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

TABLE = "por_inclusion_proofs"
#: Rows per transaction (SQLite) / per COPY batch (PostgreSQL).
BATCH_ROWS = 50_000


class StoreError(Exception):
    """The proof store cannot be opened or used (bad URL, unreachable server, bad row)."""


def _check_record(round_id: str, account_id: Any, proof: Any) -> tuple[str, bytes]:
    if not isinstance(account_id, str) or not account_id:
        raise StoreError(f"round {round_id!r}: account id {account_id!r} is not a non-empty str")
    if not isinstance(proof, (bytes, bytearray, memoryview)):
        raise StoreError(f"round {round_id!r}, account {account_id!r}: the proof must be bytes, "
                         f"got {type(proof).__name__}")
    return account_id, bytes(proof)


def _check_round(round_id: Any) -> str:
    if not isinstance(round_id, str) or not round_id:
        raise StoreError(f"round id {round_id!r} is not a non-empty str")
    return round_id


def _batches(round_id: str, records: Iterable[tuple[str, bytes]], size: int
             ) -> Iterator[list[tuple[str, bytes]]]:
    batch: list[tuple[str, bytes]] = []
    for rec in records:
        try:
            acc, proof = rec
        except (TypeError, ValueError):
            raise StoreError(f"round {round_id!r}: record {rec!r:.80} is not (account_id, bytes)"
                             ) from None
        batch.append(_check_record(round_id, acc, proof))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class ProofStore:
    """A store of inclusion proofs; use :func:`open_store`. A context manager."""

    url: str

    def put_many(self, round_id: str, records: Iterable[tuple[str, bytes]]) -> int:
        """Bulk-load ``(account_id, proof JSON bytes)``; return how many records were given."""
        raise NotImplementedError

    def get(self, round_id: str, account_id: str) -> bytes | None:
        raise NotImplementedError

    def get_many(self, round_id: str, account_ids: Iterable[str]) -> dict[str, bytes]:
        """The proofs of several accounts (absent ones are left out)."""
        out = {}
        for a in account_ids:
            p = self.get(round_id, a)
            if p is not None:
                out[a] = p
        return out

    def count(self, round_id: str) -> int:
        raise NotImplementedError

    def rounds(self) -> list[str]:
        raise NotImplementedError

    def iter_round(self, round_id: str) -> Iterator[tuple[str, bytes]]:
        """Every (account_id, proof) of a round, in account-id order."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def export(self, round_id: str, out_dir: Path,
               progress: Callable[[int, int], None] | None = None) -> int:
        """Write one JSON file per customer of the round into ``out_dir``; return the count.

        File names follow docs/liabilities-bundle.md (the account id when it is plain, else
        ``sha256-<hex>.json``); every file is written atomically (temporary file, rename;
        one ``sync`` at the end). ``progress(done, total)`` is called every 1,024 files.
        """
        from por.liabilities import _atomic_write, safe_filename

        round_id = _check_round(round_id)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        total = self.count(round_id) if progress else 0
        n = 0
        for account_id, proof in self.iter_round(round_id):
            data = proof if proof.endswith(b"\n") else proof + b"\n"
            _atomic_write(out / safe_filename(account_id), data, fsync=False)
            n += 1
            if progress and (n % 1024 == 0 or n == total):
                progress(n, total)
        if n:
            os.sync()  # one flush for all files (an fsync per file costs ~ms each at 10^6)
        return n

    def size_bytes(self) -> int | None:
        """The store's size on disk (None when unknown)."""
        return None

    def __enter__(self) -> ProofStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------
# SQLite
# --------------------------------------------------------------------------------------


class SQLiteStore(ProofStore):
    def __init__(self, path: Path):
        self.path = Path(path)
        self.url = "sqlite:///" + str(self.path)
        if not self.path.parent.is_dir():
            raise StoreError(f"{self.path}: directory {self.path.parent} does not exist")
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        con = self._con()
        # A rowid table (proofs are ~1.5 KB: too big for WITHOUT ROWID) on 16 KiB pages: the
        # file is ~1.05x the proofs' bytes (4 KiB pages: ~1.4x).
        con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (round_id TEXT NOT NULL, "
                    "account_id TEXT NOT NULL, proof BLOB NOT NULL, "
                    "PRIMARY KEY (round_id, account_id))")

    def _con(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"{self.url}: the store is closed")
        con = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                      check_same_thread=False)
                con.execute("PRAGMA page_size=16384")  # takes effect on a new file only
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot open the SQLite store ({exc})") from None
            self._local.con = con
            with self._lock:
                self._conns.append(con)
        return con

    def put_many(self, round_id: str, records: Iterable[tuple[str, bytes]]) -> int:
        round_id = _check_round(round_id)
        con = self._con()
        n = 0
        for batch in _batches(round_id, records, BATCH_ROWS):
            con.execute("BEGIN IMMEDIATE")
            try:
                con.executemany(f"INSERT OR REPLACE INTO {TABLE} (round_id, account_id, proof) "
                                "VALUES (?, ?, ?)", ((round_id, a, p) for a, p in batch))
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            n += len(batch)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # fold the bulk load into the main file
        return n

    def get(self, round_id: str, account_id: str) -> bytes | None:
        row = self._con().execute(
            f"SELECT proof FROM {TABLE} WHERE round_id = ? AND account_id = ?",
            (round_id, account_id)).fetchone()
        return None if row is None else bytes(row[0])

    def count(self, round_id: str) -> int:
        return int(self._con().execute(
            f"SELECT COUNT(*) FROM {TABLE} WHERE round_id = ?", (round_id,)).fetchone()[0])

    def rounds(self) -> list[str]:
        return [r[0] for r in self._con().execute(
            f"SELECT DISTINCT round_id FROM {TABLE} ORDER BY round_id")]

    def iter_round(self, round_id: str) -> Iterator[tuple[str, bytes]]:
        cur = self._con().execute(
            f"SELECT account_id, proof FROM {TABLE} WHERE round_id = ? ORDER BY account_id",
            (round_id,))
        for acc, proof in cur:
            yield acc, bytes(proof)

    def size_bytes(self) -> int | None:
        total = 0
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                total += p.stat().st_size
        return total

    def close(self) -> None:
        with self._lock:
            for con in self._conns:
                try:
                    con.close()
                except sqlite3.Error:
                    pass
            self._conns.clear()
            self._closed = True


# --------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------


class PostgresStore(ProofStore):
    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError:  # pragma: no cover - psycopg is a required dependency
            raise StoreError("PostgreSQL store needs psycopg 3 (pip install psycopg)") from None
        self._psycopg = psycopg
        self.url = url
        self._local = threading.local()
        self._conns: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        con = self._con()
        with con.transaction():
            con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (round_id TEXT NOT NULL, "
                        "account_id TEXT NOT NULL, proof BYTEA NOT NULL, "
                        "PRIMARY KEY (round_id, account_id))")

    def _con(self) -> Any:
        if self._closed:
            raise StoreError(f"{self._safe_url()}: the store is closed")
        con = getattr(self._local, "con", None)
        if con is None or con.closed:
            try:
                con = self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            except self._psycopg.Error as exc:
                raise StoreError(f"{self._safe_url()}: cannot connect to PostgreSQL "
                                 f"({str(exc).strip()})") from None
            self._local.con = con
            with self._lock:
                self._conns.append(con)
        return con

    def _safe_url(self) -> str:
        u = urlparse(self.url)
        if u.password:
            return self.url.replace(":" + u.password + "@", ":***@")
        return self.url

    def put_many(self, round_id: str, records: Iterable[tuple[str, bytes]]) -> int:
        round_id = _check_round(round_id)
        con = self._con()
        n = 0
        for batch in _batches(round_id, records, BATCH_ROWS):
            with con.transaction():
                con.execute("CREATE TEMP TABLE IF NOT EXISTS por_load "
                            "(account_id TEXT NOT NULL, proof BYTEA NOT NULL) "
                            "ON COMMIT DELETE ROWS")
                with con.cursor() as cur:
                    with cur.copy("COPY por_load (account_id, proof) FROM STDIN") as copy:
                        for row in batch:
                            copy.write_row(row)
                    # A batch may name one account twice: the last record wins, as in SQLite.
                    cur.execute(
                        f"INSERT INTO {TABLE} (round_id, account_id, proof) "
                        "SELECT DISTINCT ON (account_id) %s, account_id, proof FROM "
                        "(SELECT account_id, proof, row_number() OVER () AS rn FROM por_load) t "
                        "ORDER BY account_id, rn DESC "
                        "ON CONFLICT (round_id, account_id) DO UPDATE SET proof = EXCLUDED.proof",
                        (round_id,))
            n += len(batch)
        return n

    def get(self, round_id: str, account_id: str) -> bytes | None:
        row = self._con().execute(
            f"SELECT proof FROM {TABLE} WHERE round_id = %s AND account_id = %s",
            (round_id, account_id)).fetchone()
        return None if row is None else bytes(row[0])

    def get_many(self, round_id: str, account_ids: Iterable[str]) -> dict[str, bytes]:
        """One query for several accounts (the proof service batches lookups with it)."""
        ids = list(account_ids)
        if len(ids) == 1:
            p = self.get(round_id, ids[0])
            return {} if p is None else {ids[0]: p}
        rows = self._con().execute(
            f"SELECT account_id, proof FROM {TABLE} WHERE round_id = %s "
            "AND account_id = ANY(%s)", (round_id, ids)).fetchall()
        return {a: bytes(p) for a, p in rows}

    def count(self, round_id: str) -> int:
        return int(self._con().execute(
            f"SELECT COUNT(*) FROM {TABLE} WHERE round_id = %s", (round_id,)).fetchone()[0])

    def rounds(self) -> list[str]:
        return [r[0] for r in self._con().execute(
            f"SELECT DISTINCT round_id FROM {TABLE} ORDER BY round_id")]

    def iter_round(self, round_id: str) -> Iterator[tuple[str, bytes]]:
        # A server-side cursor on its own connection: a round of millions streams.
        con = self._psycopg.connect(self.url, connect_timeout=10)
        try:
            with con.cursor(name="por_export") as cur:
                cur.itersize = 10_000
                cur.execute(f"SELECT account_id, proof FROM {TABLE} WHERE round_id = %s "
                            "ORDER BY account_id COLLATE \"C\"", (round_id,))
                for acc, proof in cur:
                    yield acc, bytes(proof)
        finally:
            con.close()

    def size_bytes(self) -> int | None:
        row = self._con().execute(
            "SELECT pg_total_relation_size(%s::regclass)", (TABLE,)).fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            for con in self._conns:
                try:
                    con.close()
                except Exception:
                    pass
            self._conns.clear()
            self._closed = True


# --------------------------------------------------------------------------------------


def open_store(url: str | os.PathLike) -> ProofStore:
    """Open (creating the table if needed) the store named by ``url``.

    ``sqlite:///abs/path.db`` or a plain file path -> SQLite;
    ``postgresql://user@127.0.0.1:PORT/db`` (or ``postgres://``) -> PostgreSQL.
    """
    s = os.fspath(url)
    if s.startswith(("postgresql://", "postgres://")):
        return PostgresStore(s)
    if s.startswith("sqlite://"):
        u = urlparse(s)
        path = unquote(u.path)
        if u.netloc:
            raise StoreError(f"{s}: a SQLite URL is sqlite:///absolute/path.db (three slashes)")
        if not path:
            raise StoreError(f"{s}: no database file named")
        return SQLiteStore(Path(path))
    if "://" in s:
        raise StoreError(f"{s}: unknown store URL (use a file path, sqlite:///path or "
                         "postgresql://...)")
    return SQLiteStore(Path(s).absolute())


__all__ = ["ProofStore", "SQLiteStore", "PostgresStore", "StoreError", "open_store", "TABLE"]
