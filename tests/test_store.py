"""The proof store: the same tests on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import threading

import pytest

from por.store import ProofStore, StoreError, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "proofs.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url):
    with open_store(store_url) as s:
        yield s


def _proof(acc: str, round_id: str = "2026-11", extra: str = "") -> bytes:
    return json.dumps({"format": "por-inclusion-proof", "round_id": round_id,
                       "account_id": acc, "x": extra}, separators=(",", ":")).encode()


def test_put_get_count_rounds(store: ProofStore):
    recs = [(f"user-{i:06d}", _proof(f"user-{i:06d}")) for i in range(1000)]
    assert store.put_many("2026-11", recs) == 1000
    assert store.count("2026-11") == 1000
    assert store.count("2026-12") == 0
    assert store.get("2026-11", "user-000123") == _proof("user-000123")
    assert store.get("2026-11", "nobody") is None
    assert store.get("2026-12", "user-000123") is None
    store.put_many("2026-12", [("user-000123", _proof("user-000123", "2026-12"))])
    assert store.rounds() == ["2026-11", "2026-12"]
    assert store.get("2026-12", "user-000123") == _proof("user-000123", "2026-12")
    assert store.get("2026-11", "user-000123") == _proof("user-000123")


def test_put_many_is_idempotent_and_last_write_wins(store: ProofStore):
    recs = [(f"a{i}", _proof(f"a{i}")) for i in range(300)]
    store.put_many("r1", recs)
    store.put_many("r1", recs)  # a resumed round loads the same proofs again
    assert store.count("r1") == 300
    store.put_many("r1", [("a7", _proof("a7", extra="new")), ("a8", b"one"), ("a8", b"two")])
    assert store.count("r1") == 300
    assert store.get("r1", "a7") == _proof("a7", extra="new")
    assert store.get("r1", "a8") == b"two"


def test_bulk_load_spans_many_batches(store: ProofStore, monkeypatch):
    import por.store as st

    monkeypatch.setattr(st, "BATCH_ROWS", 1000)
    n = 5500
    assert store.put_many("big", ((f"u{i}", _proof(f"u{i}")) for i in range(n))) == n
    assert store.count("big") == n
    assert store.get("big", "u5499") == _proof("u5499")


def test_unicode_and_odd_account_ids(store: ProofStore, tmp_path):
    ids = ["élodie@example.com", "a/b\\c", "tab\there", "x" * 256, "中文"]
    store.put_many("r", [(a, _proof(a)) for a in ids])
    for a in ids:
        assert store.get("r", a) == _proof(a)
    out = tmp_path / "export"
    assert store.export("r", out) == len(ids)
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == len(ids)
    assert all(f.endswith(".json") and "/" not in f for f in files)
    got = {json.loads(p.read_bytes())["account_id"] for p in out.iterdir()}
    assert got == set(ids)


def test_export_one_file_per_customer(store: ProofStore, tmp_path):
    store.put_many("2026-11", [(f"c{i}", _proof(f"c{i}")) for i in range(50)])
    store.put_many("other", [("c1", b"{}")])
    out = tmp_path / "out"
    assert store.export("2026-11", out) == 50
    assert sorted(p.name for p in out.iterdir()) == sorted(f"c{i}.json" for i in range(50))
    assert (out / "c3.json").read_bytes() == _proof("c3") + b"\n"
    assert not list(out.glob("*.tmp"))


def test_bad_records_are_refused_without_partial_batch(store: ProofStore):
    with pytest.raises(StoreError, match="must be bytes"):
        store.put_many("r", [("ok", b"x"), ("bad", "not bytes")])
    with pytest.raises(StoreError, match="not a non-empty str"):
        store.put_many("r", [("", b"x")])
    with pytest.raises(StoreError, match="not \\(account_id, bytes\\)"):
        store.put_many("r", [("only-one",)])
    with pytest.raises(StoreError, match="round id"):
        store.put_many("", [("a", b"x")])
    assert store.count("r") == 0  # the bad batch left nothing behind


def test_concurrent_reads_from_threads(store: ProofStore):
    store.put_many("r", [(f"u{i}", _proof(f"u{i}")) for i in range(200)])
    errors: list[BaseException] = []

    def reader(k: int) -> None:
        try:
            for i in range(k, 200, 4):
                assert store.get("r", f"u{i}") == _proof(f"u{i}")
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    ts = [threading.Thread(target=reader, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors


def test_reopen_sees_committed_rows(store_url):
    with open_store(store_url) as s:
        s.put_many("r", [("a", b"1"), ("b", b"2")])
    with open_store(store_url) as s:
        assert s.count("r") == 2
        assert s.get("r", "b") == b"2"
        assert (s.size_bytes() or 0) > 0


def test_closed_store_refuses(store_url):
    s = open_store(store_url)
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.get("r", "a")


def test_bad_urls(tmp_path):
    with pytest.raises(StoreError, match="unknown store URL"):
        open_store("mysql://x@127.0.0.1/db")
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "missing-dir" / "p.db")
    with pytest.raises(StoreError, match="three slashes"):
        open_store("sqlite://host/p.db")
    with pytest.raises(StoreError, match="cannot connect"):
        open_store("postgresql://por@127.0.0.1:1/por")
    s = open_store("sqlite:///" + str(tmp_path / "u.db"))
    assert s.count("r") == 0
    s.close()


def test_a_round_loads_every_inclusion_proof_into_the_store(store_url, tmp_path):
    """`prove` bulk-loads every customer's proof; each one looked up verifies."""
    from por.liabilities import prove, verify_user
    from por.synthetic import generate

    generate(tmp_path / "round", 40, 41)
    r = prove(tmp_path / "round", tmp_path / "b" / "liabilities", shard_height=4, db=store_url)
    assert r.store_url == store_url
    rid = r.public["round_id"]
    with open_store(store_url) as s:
        assert s.rounds() == [rid]
        assert s.count(rid) == 40
        accounts = [a for a, _ in s.iter_round(rid)]
        for acc in (accounts[0], accounts[17], accounts[-1]):
            data = s.get(rid, acc)
            assert data is not None and len(data) < 2048
            f = tmp_path / "p.json"
            f.write_bytes(data)
            res = verify_user(f, tmp_path / "b" / "liabilities")["inclusion"]
            assert res.account_id == acc
        # a resumed round loads again: still one row per customer
        prove(tmp_path / "round", tmp_path / "b" / "liabilities", shard_height=4, db=store_url)
        assert s.count(rid) == 40
    assert not (tmp_path / "b.private" / "proofs.db").exists()
