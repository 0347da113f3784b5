"""The proof service (`por serve`): tokens, the API, the OpenAPI contract, on SQLite and PostgreSQL.

Every store here is a real one (a SQLite file; a real PostgreSQL server on loopback from the
`pg_url` fixture), every token is really signed with ed25519, and every proof served is a real
inclusion proof of a real Merkle tree (por.loadtest, hashed by por._core) that verifies.
"""

from __future__ import annotations

import json
import os
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from por import loadtest
from por.cli import main as cli
from por.inclusion import verify_inclusion
from por.service import (ProofFastPath, ServiceConfig, _bundle_file, create_app,
                         openapi_json)
from por.store import open_store
from live_service import por_serve
from por.tokens import (TOKEN_PREFIX, KeyFileError, TokenError, TokenKey, TokenVerifier,
                        b64url_decode, b64url_encode, issue_token, load_key, parse_ttl,
                        write_key)

REPO = Path(__file__).resolve().parent.parent
ROUND = "2026-11"
N = 40


@pytest.fixture(scope="module")
def tree():
    return loadtest.build_tree(N, round_id=ROUND, seed=7)


@pytest.fixture(scope="module")
def proofs(tree):
    return dict(loadtest.iter_proofs(tree))


@pytest.fixture(scope="module")
def key():
    return TokenKey.generate()


@pytest.fixture
def bundle(tree, tmp_path):
    b = loadtest.write_bundle(tree, tmp_path / "bundle")
    (b / "report.json").write_text('{"format":"por-report","version":1}\n')
    # private things an operator might leave beside the bundle: never served
    (b / "liabilities" / "round-secret.key").write_bytes(b"s" * 32)
    (b / "liabilities" / "inclusion").mkdir()
    (b / "liabilities" / "inclusion" / "user-00000001.json").write_text("{}")
    return b


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path, proofs):
    if request.param == "sqlite":
        url = "sqlite:///" + str(tmp_path / "proofs.db")
    else:
        url = request.getfixturevalue("pg_url")
    with open_store(url) as s:
        assert s.put_many(ROUND, proofs.items()) == N
        s.put_many("2026-10", [("user-00000001", b'{"other":"round"}')])
    return url


@pytest.fixture
def client(bundle, store_url, key, tmp_path):
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>por verifier</title>\n")
    cfg = ServiceConfig(bundle=bundle, db_url=store_url, key_files=[], web_dir=web)
    app = create_app(cfg, verifier=TokenVerifier([key.public_only()]))
    # as `por serve` runs it: the query-less proof request takes the ASGI fast path
    with TestClient(ProofFastPath(app)) as c:
        yield c


@pytest.fixture
def plain_client(client):
    """The same app without the fast path: every request through FastAPI's route."""
    with TestClient(client.app.app) as c:
        yield c


def tok(key, account="user-00000003", round_id=ROUND, ttl=3600, now=None):
    return issue_token(key, account, round_id, ttl, now=now)


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def assert_refused(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == code
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")
    return body


# --- the happy path ---------------------------------------------------------------------------


def test_valid_token_returns_exactly_the_stored_bytes(client, store_url, tree, key):
    for acc in ("user-00000000", "user-00000003", f"user-{N - 1:08d}"):
        r = client.get("/api/v1/proof", headers=auth(tok(key, acc)))
        assert r.status_code == 200, r.text
        with open_store(store_url) as s:
            assert r.content == s.get(ROUND, acc)
        assert r.headers["content-type"] == "application/json"
        assert r.headers["cache-control"] == "no-store"
        res = verify_inclusion(r.content, tree.root, tree.assets, ROUND,
                               expected_tree_height=tree.height, expected_account_id=acc)
        assert res.account_id == acc
    # asserting what the token already says is fine
    r = client.get("/api/v1/proof", params={"round_id": ROUND, "account_id": "user-00000005"},
                   headers=auth(tok(key, "user-00000005")))
    assert r.status_code == 200 and json.loads(r.content)["account_id"] == "user-00000005"


# --- refusals ---------------------------------------------------------------------------------


def test_missing_token_is_401(client):
    assert_refused(client.get("/api/v1/proof"), 401, "invalid_token")
    assert_refused(client.get("/api/v1/proof", headers={"Authorization": "Basic dXNlcjpwdw=="}),
                   401, "invalid_token")


@pytest.mark.parametrize("bad", [
    "garbage", "por1.", "por1..", "por1.a.b.c", "por2.eyJ2IjoxfQ.AAAA", "por1.!!!.???",
    "por1.eyJ2IjoxfQ.AAAA", "x" * 5000,
])
def test_malformed_token_is_401(client, bad):
    assert_refused(client.get("/api/v1/proof", headers=auth(bad)), 401, "invalid_token")


def test_forged_tokens_are_401(client, key):
    good = tok(key, "user-00000003")
    body, sig = good[len(TOKEN_PREFIX):].split(".")
    claims = json.loads(b64url_decode(body))
    # 1. the claims changed to another account, the signature kept
    claims["acct"] = "user-00000004"
    forged = TOKEN_PREFIX + b64url_encode(json.dumps(claims, separators=(",", ":")).encode()) \
        + "." + sig
    a = assert_refused(client.get("/api/v1/proof", headers=auth(forged)), 401, "invalid_token")
    # 2. a token signed by an attacker's own key, claiming our key id
    evil = TokenKey.generate()
    t = issue_token(evil, "user-00000003", ROUND, 3600)
    eb, _ = t[len(TOKEN_PREFIX):].split(".")
    ec = json.loads(b64url_decode(eb))
    ec["kid"] = key.kid
    payload = json.dumps(ec, separators=(",", ":")).encode()
    from nacl.signing import SigningKey

    from por.tokens import SIGN_DOMAIN
    esig = SigningKey(evil.signing).sign(SIGN_DOMAIN + payload).signature
    t2 = TOKEN_PREFIX + b64url_encode(payload) + "." + b64url_encode(esig)
    b = assert_refused(client.get("/api/v1/proof", headers=auth(t2)), 401, "invalid_token")
    # 3. the attacker's key under its own id
    c = assert_refused(client.get("/api/v1/proof", headers=auth(t)), 401, "invalid_token")
    # 4. one flipped signature bit
    raw = bytearray(b64url_decode(sig))
    raw[10] ^= 1
    t4 = TOKEN_PREFIX + body + "." + b64url_encode(bytes(raw))
    d = assert_refused(client.get("/api/v1/proof", headers=auth(t4)), 401, "invalid_token")
    assert a == b == c == d


def test_expired_token_is_401(client, key):
    old = tok(key, ttl=60, now=int(time.time()) - 3600)
    body = assert_refused(client.get("/api/v1/proof", headers=auth(old)), 401, "token_expired")
    assert "expired" in body["message"]


def test_another_customers_proof_is_403(client, key):
    t = tok(key, "user-00000003")
    assert_refused(client.get("/api/v1/proof", params={"account_id": "user-00000004"},
                              headers=auth(t)), 403, "wrong_account")
    # and the own token never yields someone else's proof
    r = client.get("/api/v1/proof", headers=auth(t))
    assert json.loads(r.content)["account_id"] == "user-00000003"


def test_wrong_round_is_403(client, key):
    # a valid token for another round (the store even holds a proof for it)
    t = tok(key, "user-00000001", round_id="2026-10")
    body = assert_refused(client.get("/api/v1/proof", headers=auth(t)), 403, "wrong_round")
    assert ROUND in body["message"]
    t = tok(key, "user-00000001")
    assert_refused(client.get("/api/v1/proof", params={"round_id": "2026-10"}, headers=auth(t)),
                   403, "wrong_round")


def test_unknown_account_looks_like_a_bad_token(client, key):
    unknown = client.get("/api/v1/proof", headers=auth(tok(key, "no-such-account")))
    forged = client.get("/api/v1/proof", headers=auth(tok(TokenKey.generate(), "user-00000003")))
    missing = client.get("/api/v1/proof")
    assert unknown.status_code == forged.status_code == missing.status_code == 401
    assert unknown.content == forged.content == missing.content
    assert dict(unknown.headers) == dict(forged.headers) == dict(missing.headers)


def test_fast_path_answers_exactly_like_the_fastapi_route(client, plain_client, key):
    other = TokenKey.generate()
    cases = [
        None, "Basic dXNlcjpwdw==", "Bearer", "Bearer ", "bearer " + tok(key), "BEARER " + tok(key),
        "Bearer " + tok(key, "user-00000009"), "Bearer " + tok(key, "nobody"),
        "Bearer " + tok(key, ttl=1, now=int(time.time()) - 10),
        "Bearer " + tok(key, round_id="2026-10"), "Bearer " + tok(other), "Bearer por1.a.b",
        "Bearer " + tok(key) + " trailing",
    ]
    for h in cases:
        headers = {"Authorization": h} if h is not None else {}
        a = client.get("/api/v1/proof", headers=headers)
        b = plain_client.get("/api/v1/proof", headers=headers)
        assert (a.status_code, a.content) == (b.status_code, b.content), h
        assert dict(a.headers) == dict(b.headers), h
    assert client.get("/api/v1/proof", headers=auth(tok(key))).status_code == 200


def test_no_way_to_enumerate(client):
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {"/api/v1/proof", "/api/v1/round", "/bundle/{path}", "/healthz"}
    for p in ("/api/v1/proofs", "/api/v1/accounts", "/api/v1/proof/user-00000001"):
        assert_refused(client.get(p), 404, "not_found")
    assert_refused(client.post("/api/v1/proof"), 405, "method_not_allowed")


def test_bad_query_is_422_json(client, key):
    r = client.get("/api/v1/proof", params={"round_id": "no spaces allowed"},
                   headers=auth(tok(key)))
    assert_refused(r, 422, "invalid_request")


# --- public files -----------------------------------------------------------------------------


def test_bundle_files_and_nothing_private(client, bundle):
    r = client.get("/bundle/liabilities/public.json")
    assert r.status_code == 200
    assert r.content == (bundle / "liabilities" / "public.json").read_bytes()
    assert r.headers["content-type"] == "application/json"
    assert client.get("/bundle/report.json").json()["format"] == "por-report"
    for p in ("liabilities/round-secret.key", "liabilities/inclusion/user-00000001.json",
              "liabilities/inclusion/", "liabilities/../../x", "%2e%2e/%2e%2e/etc/passwd",
              ".hidden", "liabilities", "nope.json"):
        assert_refused(client.get("/bundle/" + p), 404, "not_found")
    # what an HTTP client would normalise away, checked on the server side itself
    root = bundle.resolve()
    assert _bundle_file(root, "report.json") == root / "report.json"
    for p in ("../bundle/report.json", "liabilities/../report.json", "/etc/passwd",
              "liabilities/./public.json", "a\\b", "x\x00y", ""):
        assert _bundle_file(root, p) is None, p


def test_bundle_symlink_escape_is_404(client, bundle, tmp_path):
    (tmp_path / "outside.json").write_text("{}")
    os.symlink(tmp_path / "outside.json", bundle / "link.json")
    assert_refused(client.get("/bundle/link.json"), 404, "not_found")
    # a link inside the bundle to a private file is refused too; to a public one, served
    os.symlink(bundle / "liabilities" / "round-secret.key", bundle / "innocent.json")
    assert_refused(client.get("/bundle/innocent.json"), 404, "not_found")
    os.symlink(bundle / "report.json", bundle / "latest.json")
    assert client.get("/bundle/latest.json").json()["format"] == "por-report"


def test_web_page_mounted(client):
    r = client.get("/verify/")
    assert r.status_code == 200 and "por verifier" in r.text


def test_empty_web_dir_serves_nothing(bundle, tmp_path, key):
    (tmp_path / "empty").mkdir()
    cfg = ServiceConfig(bundle=bundle, db_url=str(tmp_path / "e.db"), key_files=[],
                        web_dir=tmp_path / "empty")
    with TestClient(create_app(cfg, verifier=TokenVerifier([key]))) as c:
        assert_refused(c.get("/verify/"), 404, "not_found")


def test_round_info(client, tree):
    info = client.get("/api/v1/round").json()
    assert info["round_id"] == ROUND and info["root"] == tree.root_hex
    assert info["tree_height"] == tree.height and info["assets"] == tree.assets
    assert client.get("/healthz").json()["status"] == "ok"


# --- the OpenAPI contract ---------------------------------------------------------------------


def test_openapi_matches_committed_docs(client):
    committed = json.loads((REPO / "docs" / "openapi.json").read_text())
    assert client.get("/openapi.json").json() == committed, (
        "docs/openapi.json is stale: regenerate with "
        "`.venv/bin/python -m por.service --openapi docs/openapi.json`")
    assert json.loads(openapi_json()) == committed


def test_schemathesis_finds_no_server_error(client, key):
    """Property-based requests against every documented operation, with and without a token."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    valid = tok(key, "user-00000002")
    ran = 0
    for result in schema.get_all_operations():
        op = result.ok()
        for headers in ({}, auth(valid), auth("por1.x.y")):

            @given(case=op.as_strategy())
            @settings(max_examples=25, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def check(case):
                h = {**(case.headers or {}), **headers}
                case.call_and_validate(headers=h)

            check()
            ran += 1
    assert ran == 12


# --- tokens (unit) ----------------------------------------------------------------------------


def test_ttl_parsing():
    assert parse_ttl("30d") == 30 * 86400 and parse_ttl("12h") == 43200
    assert parse_ttl("15m") == 900 and parse_ttl("90") == 90 and parse_ttl("90s") == 90
    for bad in ("", "0", "-1d", "1w", "1.5d", "401d", "d"):
        with pytest.raises(ValueError):
            parse_ttl(bad)


def test_base64url_is_strict():
    assert b64url_decode(b64url_encode(b"\x00\xff\x10")) == b"\x00\xff\x10"
    for bad in ("AB=", "A", "AB+/", "AB/", "ABC=", "AB\n", "AD"):  # AD: non-zero pad bits
        with pytest.raises(ValueError):
            b64url_decode(bad)


def test_verifier_cache_does_not_outlive_expiry(key):
    now = [1_000_000.0]
    v = TokenVerifier([key.public_only()], clock=lambda: now[0])
    t = issue_token(key, "a", ROUND, 60, now=int(now[0]))
    assert v.verify(t).acct == "a" and v.misses == 1
    assert v.verify(t).acct == "a" and v.hits == 1
    now[0] += 61
    with pytest.raises(TokenError) as e:
        v.verify(t)
    assert e.value.code == "token_expired"
    # a token issued in the future (beyond the skew) is refused
    fut = issue_token(key, "a", ROUND, 60, now=int(now[0]) + 3600)
    with pytest.raises(TokenError) as e:
        v.verify(fut)
    assert e.value.code == "invalid_token"


def test_verifier_cache_is_bounded(key):
    v = TokenVerifier([key], cache_size=3)
    for i in range(10):
        v.verify(issue_token(key, f"acct-{i}", ROUND, 60))
    assert len(v._cache) == 3


def test_key_rotation(key):
    new = TokenKey.generate()
    v = TokenVerifier([key.public_only(), new.public_only()])
    assert v.verify(issue_token(key, "a", ROUND, 60)).acct == "a"
    assert v.verify(issue_token(new, "b", ROUND, 60)).acct == "b"
    with pytest.raises(TokenError):
        issue_token(new.public_only(), "c", ROUND, 60)


def test_issue_refuses_bad_claims(key):
    for acc, rnd in (("", ROUND), ("a" * 257, ROUND), ("a", "bad round"), ("a", "")):
        with pytest.raises(TokenError):
            issue_token(key, acc, rnd, 60)


def test_key_files(tmp_path, key):
    p = write_key(key, tmp_path / "k")
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert load_key(p) == key
    with pytest.raises(KeyFileError, match="exists"):
        write_key(key, p)
    doc = json.loads(p.read_text())
    doc["public_key"] = TokenKey.generate().public.hex()
    (tmp_path / "bad").write_text(json.dumps(doc))
    with pytest.raises(KeyFileError, match="does not belong"):
        load_key(tmp_path / "bad")
    (tmp_path / "notjson").write_text("{")
    with pytest.raises(KeyFileError, match="notjson: not JSON"):
        load_key(tmp_path / "notjson")
    with pytest.raises(KeyFileError, match="cannot read"):
        load_key(tmp_path / "missing")


# --- the command line, and a live server --------------------------------------------------------


def test_cli_keygen_and_issue(tmp_path):
    r = CliRunner().invoke(cli, ["token", "keygen", "--out", str(tmp_path / "t.key"), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert Path(doc["public_key"]).exists() and load_key(doc["public_key"]).signing is None
    r = CliRunner().invoke(cli, ["token", "keygen", "--out", str(tmp_path / "t.key")])
    assert r.exit_code != 0 and "exists" in r.output
    r = CliRunner().invoke(cli, ["token", "issue", "--account", "alice", "--round", ROUND,
                                 "--ttl", "30d", "--key", str(tmp_path / "t.key"), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["expires_at"] - out["issued_at"] == 30 * 86400
    claims = TokenVerifier([load_key(doc["public_key"])]).verify(out["token"])
    assert (claims.acct, claims.round) == ("alice", ROUND)
    r = CliRunner().invoke(cli, ["token", "issue", "--account", "alice", "--round", ROUND,
                                 "--key", doc["public_key"]])
    assert r.exit_code != 0 and "public key cannot issue" in r.output
    r = CliRunner().invoke(cli, ["token", "issue", "--account", "alice", "--round", ROUND,
                                 "--ttl", "2y", "--key", str(tmp_path / "t.key")])
    assert r.exit_code != 0 and "TTL" in r.output


def test_live_server_two_workers(bundle, store_url, tmp_path, key):
    """`por serve` as a real uvicorn server with 2 worker processes, over loopback HTTP."""
    kp = write_key(key, tmp_path / "tk")
    pub = write_key(key.public_only(), tmp_path / "tk.pub")
    with por_serve(bundle, store_url, pub, workers=2) as base:
        with open_store(store_url) as s:
            for i in range(0, N, 7):
                acc = loadtest.account_id_for(i)
                req = urllib.request.Request(base + "/api/v1/proof",
                                             headers=auth(issue_token(load_key(kp), acc, ROUND, 60)))
                assert urllib.request.urlopen(req, timeout=5).read() == s.get(ROUND, acc)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + "/api/v1/proof", timeout=5)
        assert e.value.code == 401
        assert json.loads(e.value.read())["error"] == "invalid_token"

def test_serve_refuses_a_bad_start(tmp_path, key):
    pub = write_key(key.public_only(), tmp_path / "k.pub")
    (tmp_path / "nb").mkdir()
    r = CliRunner().invoke(cli, ["serve", str(tmp_path / "nb"), "--db", str(tmp_path / "x.db"),
                                 "--token-key", str(pub), "--json"])
    assert r.exit_code != 0 and "liabilities/public.json" in r.output


# --- batched lookups (PostgreSQL) ---------------------------------------------------------------


def test_get_many(store_url, proofs):
    with open_store(store_url) as s:
        want = ["user-00000001", "user-00000002", "nobody", "user-00000039"]
        got = s.get_many(ROUND, want)
        assert set(got) == {"user-00000001", "user-00000002", "user-00000039"}
        for a, p in got.items():
            assert p == proofs[a]
        assert s.get_many(ROUND, ["nobody"]) == {}
        assert s.get_many(ROUND, ["user-00000003"]) == {"user-00000003": proofs["user-00000003"]}


def test_concurrent_requests_are_batched_and_each_gets_its_own_proof(pg_url, proofs, key):
    """100 requests at once: fewer store queries than requests, every answer the right one."""
    import asyncio

    from por.service import ProofAnswerer

    with open_store(pg_url) as s:
        s.put_many(ROUND, proofs.items())
        answer = ProofAnswerer(ROUND, TokenVerifier([key]), s)
        assert answer.batched is not None
        calls = []
        real = s.get_many

        def counting(round_id, ids):
            calls.append(len(ids))
            return real(round_id, ids)

        s.get_many = counting
        accounts = [loadtest.account_id_for(i % N) for i in range(100)] + ["nobody"] * 5

        async def go():
            return await asyncio.gather(*(answer(tok(key, a)) for a in accounts))

        try:
            results = asyncio.run(go())
        finally:
            answer.close()
        for a, (status, body, _) in zip(accounts, results):
            if a == "nobody":
                assert status == 401 and json.loads(body)["error"] == "invalid_token"
            else:
                assert status == 200 and body == proofs[a]
        assert len(calls) < len(accounts) and max(calls) > 1, calls


def test_store_failure_is_a_json_500_on_both_paths(bundle, tmp_path, key):
    """A store that fails (here: closed under the running app) gives a JSON 500, no details."""
    cfg = ServiceConfig(bundle=bundle, db_url=str(tmp_path / "s.db"), key_files=[])
    app = create_app(cfg, verifier=TokenVerifier([key]))
    with TestClient(ProofFastPath(app), raise_server_exceptions=False) as c:
        app.state.store.close()
        for params in ({}, {"round_id": ROUND}):
            r = c.get("/api/v1/proof", params=params, headers=auth(tok(key)))
            assert r.status_code == 500
            assert r.json() == {"error": "internal_error", "message": "internal error"}
