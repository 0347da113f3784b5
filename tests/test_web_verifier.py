"""The web verifier (python/por/web/) in real headless Chromium, driven by Playwright.

The page is served with a real small bundle by a real HTTP server on loopback (the static
hosting mode: verify/ and bundle/ side by side). The browser's own JavaScript Poseidon2 is
checked against every vector in tests/vectors/ and against the Python twin; real proofs made
by `por prove liabilities` pass; tampered ones fail with the same reason the Python verifier
gives; and no request the page makes carries what the customer pasted.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
from pathlib import Path

import pytest

from por import merkle
from por import poseidon2 as p2
from por.amounts import DEFAULT_ASSETS, get_asset
from por.inclusion import InclusionError, verify_inclusion
from round_site import Site, make_round, make_site

from playwright.sync_api import sync_playwright  # noqa: E402

VECTORS = Path(__file__).parent / "vectors"
SHOT_DIR = os.environ.get("POR_SCREENSHOT_DIR")


def chromium_path() -> str:
    exe = os.environ.get("POR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.fail("Debian's chromium is not installed: run `make setup` (scripts/system-deps.sh)")
    return exe


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def rnd(tmp_path_factory):
    return make_round(tmp_path_factory.mktemp("round"), users=24, seed=11)


@pytest.fixture(scope="module")
def site(rnd, tmp_path_factory):
    files = rnd.proof_files()
    s = make_site(tmp_path_factory.mktemp("site"), rnd,
                  tokens={"tok-" + "a" * 40: files[0]})
    yield s
    s.close()


class Recorder:
    """Every request a page makes (method, URL, headers, body)."""

    def __init__(self, page):
        self.requests = []
        page.on("request", lambda r: self.requests.append(
            {"method": r.method, "url": r.url, "headers": r.headers, "body": r.post_data}))


def open_page(browser, site: Site, path: str = "/verify/"):
    ctx = browser.new_context(viewport={"width": 1000, "height": 900}, device_scale_factor=1)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # an HTTP 404 (no report.json) or 401 (bad token) is expected and shown on the page; any
    # other console error is a bug
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text else None)
    rec = Recorder(page)
    page.goto(site.base + path)
    page.wait_for_function("window.PorVerifier && window.PorVerifier.ready")
    page.evaluate("PorVerifier.ready")
    return page, rec, errors


def verify_text(page, text: str) -> dict:
    page.fill("#proof-text", text)
    page.click("#verify")
    page.wait_for_selector("#verdict[data-status=pass], #verdict[data-status=fail]")
    return {"status": page.get_attribute("#verdict", "data-status"),
            "reason": page.get_attribute("#verdict", "data-reason"),
            "text": page.inner_text("#verdict")}


def shot(page, tmp_path: Path, name: str, first: str, last: str) -> Path:
    """Screenshot from the top of element ``first`` to the bottom of element ``last``
    (to tmp_path, or to $POR_SCREENSHOT_DIR: how docs/web-verifier-*.png are made)."""
    out = Path(SHOT_DIR) if SHOT_DIR else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    p = out / name
    scroll = page.evaluate("window.scrollY")
    top = page.locator(first).bounding_box()["y"] + scroll - 12
    box = page.locator(last).bounding_box()
    page.screenshot(path=str(p), full_page=True,
                    clip={"x": 0, "y": max(0, top), "width": 1000,
                          "height": box["y"] + scroll + box["height"] + 12 - max(0, top)})
    assert 10_000 < p.stat().st_size < 300_000
    return p


# --- the JS Poseidon2 against the vectors and the Python twin ------------------------------


@pytest.fixture(scope="module")
def hash_page(browser, site):
    page, _, errors = open_page(browser, site)
    yield page
    assert not errors, errors


def test_js_constants_are_the_grain_constants_of_the_python_twin(hash_page):
    c = hash_page.evaluate("""() => ({ini: PorHash.RC_EXTERNAL_INITIAL, int: PorHash.RC_INTERNAL,
        ter: PorHash.RC_EXTERNAL_TERMINAL, diag: PorHash.INTERNAL_DIAG,
        w16: PorHash.grainFieldElements(1, 16, 8, 20)})""")
    assert c["ini"] == p2.RC_EXTERNAL_INITIAL
    assert c["int"] == p2.RC_INTERNAL
    assert c["ter"] == p2.RC_EXTERNAL_TERMINAL
    assert c["diag"] == list(p2.INTERNAL_DIAG)
    assert c["ini"][0][0] == 0x1D0939DC and c["int"][0] == 0x1395D4CA  # Plonky3's tables
    assert c["w16"] == [0x7EE56A48]


def test_js_poseidon2_equals_every_vector(hash_page):
    vec = {n: json.loads((VECTORS / f"{n}.json").read_text())
           for n in ("poseidon2", "sponge", "commitment", "leaf", "tree")}
    res = hash_page.evaluate("""(v) => {
        const H = PorHash, out = {perm: [], sponge: [], comm: [], key: [], leaf: [], node: [],
                                  trees: []};
        for (const c of v.poseidon2.cases) out.perm.push(H.permute(c.input));
        for (const c of v.sponge.cases) out.sponge.push(H.sponge(c.tag, c.xs));
        for (const c of v.commitment.cases) {
            const cm = H.accountCommitment(c.account_id, H.hexToBytes(c.nonce_hex));
            out.comm.push(cm);
            out.key.push((BigInt(cm[0]) << 30n | BigInt(cm[1])).toString());
        }
        for (const c of v.leaf.cases) out.leaf.push(H.leafHash(c.commitment, c.equity, c.debt));
        for (const c of v.tree.node_cases) out.node.push(H.nodeHash(c.left, c.right));
        for (const t of v.tree.trees) {
            const lv = H.buildTree(t.leaves);
            out.trees.push({levels: lv, root_hex: H.digestToHex(lv[lv.length - 1][0]),
                walked: t.paths.map((p) => H.walkPath(t.leaves[p.index], p.index, p.siblings))});
        }
        return out;
    }""", vec)
    assert res["perm"] == [c["output"] for c in vec["poseidon2"]["cases"]]
    assert res["sponge"] == [c["digest"] for c in vec["sponge"]["cases"]]
    assert res["comm"] == [c["commitment"] for c in vec["commitment"]["cases"]]
    assert res["key"] == [str(c["sort_key"]) for c in vec["commitment"]["cases"]]
    assert res["leaf"] == [c["leaf"] for c in vec["leaf"]["cases"]]
    assert res["node"] == [c["node"] for c in vec["tree"]["node_cases"]]
    for got, t in zip(res["trees"], vec["tree"]["trees"]):
        assert got["levels"] == t["levels"]
        assert got["root_hex"] == t["root_hex"]
        assert all(w == t["root"] for w in got["walked"])
    assert len(res["perm"]) == 12 and len(res["trees"]) == 2


def test_js_matches_python_on_random_inputs(hash_page):
    rng = random.Random(2024)
    P = p2.P
    states = [[rng.randrange(P) for _ in range(24)] for _ in range(40)]
    states += [[P - 1] * 24, [0] * 23 + [P - 1]]
    pairs = [(rng.randrange(P), rng.randrange(P)) for _ in range(2000)] + [(P - 1, P - 1)]
    accounts = []
    for i in range(10):
        acc = "".join(rng.choice("abcXYZ019-_.@é漢") for _ in range(rng.randrange(1, 60)))
        nonce = rng.randbytes(32)
        k = rng.randrange(1, 23)
        eq = [rng.choice([0, 1, 2**64 - 1, rng.randrange(2**64)]) for _ in range(k)]
        debt = [rng.choice([0, rng.randrange(2**40)]) for _ in range(k)]
        accounts.append((acc, nonce.hex(), [str(x) for x in eq], [str(x) for x in debt]))
    got = hash_page.evaluate("""([states, pairs, accounts]) => ({
        perm: states.map((s) => PorHash.permute(s)),
        mul: pairs.map(([a, b]) => PorHash.mul(a, b)),
        acc: accounts.map(([a, n, e, d]) => {
            const c = PorHash.accountCommitment(a, PorHash.hexToBytes(n));
            return [c, PorHash.leafHash(c, e, d)];
        }),
    })""", [states, pairs, accounts])
    assert got["perm"] == [p2.permute(s) for s in states]
    assert got["mul"] == [a * b % P for a, b in pairs]
    for (acc, nonce, eq, debt), (c, leaf) in zip(accounts, got["acc"]):
        want_c = merkle.account_commitment(acc, bytes.fromhex(nonce))
        assert c == want_c
        assert leaf == merkle.leaf_hash(want_c, [int(x) for x in eq], [int(x) for x in debt])


def test_js_rejects_out_of_domain_inputs(hash_page):
    errs = hash_page.evaluate("""() => {
        const tries = [() => PorHash.permute(new Array(24).fill(PorHash.P)),
                       () => PorHash.permute(new Array(23).fill(0)),
                       () => PorHash.limbs("18446744073709551616"),
                       () => PorHash.accountCommitment("", new Uint8Array(32)),
                       () => PorHash.accountCommitment("a", new Uint8Array(31)),
                       () => PorHash.digestFromHex("01000000".repeat(7) + "0100007f"),
                       () => PorHash.base64Decode("AB=="), () => PorHash.walkPath(
                            new Array(8).fill(0), 2, [new Array(8).fill(0)])];
        return tries.map((f) => { try { f(); return null; } catch (e) { return e.name; } });
    }""")
    assert errs == ["HashInputError"] * 8


def test_js_asset_registry_is_por_amounts(hash_page):
    reg = hash_page.evaluate("PorVerifier.ASSETS")
    assert reg == {a.symbol: [a.decimals, a.unit] for a in DEFAULT_ASSETS}
    fmt = hash_page.evaluate("""() => [PorVerifier.formatScaled(123456789n, 8),
        PorVerifier.formatScaled(18446744073709551615n, 9), PorVerifier.formatScaled(0n, 6),
        PorVerifier.formatScaled(-5000n, 4)]""")
    assert fmt == ["1.23456789", "18,446,744,073.709551615", "0", "-0.5"]


# --- real proofs through the page ---------------------------------------------------------------


def _python_reason(text: str, public: dict) -> str | None:
    try:
        verify_inclusion(text, public["root"], public["assets"], public["round_id"],
                         expected_tree_height=public["tree_height"])
    except InclusionError as exc:
        return exc.reason
    return None


def _tamper(kind: str, proof: dict, rng: random.Random) -> dict:
    p = dict(proof)
    if kind == "balance":
        sym, b = next(iter(p["balances"].items()))
        p["balances"] = {**p["balances"], sym: {**b, "equity": str(int(b["equity"]) + 1)}}
    elif kind == "nonce":
        n = bytearray(bytes.fromhex(p["nonce"]))
        n[5] ^= 0x01
        p["nonce"] = n.hex()
    elif kind == "account":
        p["account_id"] = p["account_id"] + "x"
    elif kind == "index":
        p["leaf_index"] = p["leaf_index"] ^ 1
    elif kind == "sibling":
        raw = bytearray(base64.b64decode(p["siblings"]))
        raw[32 * 2] ^= 0x01  # the low byte of level 2's first word: stays a canonical element
        p["siblings"] = base64.b64encode(bytes(raw)).decode()
    elif kind == "round":
        p["round_id"] = p["round_id"] + "-other"
    elif kind == "root":
        r = bytearray(bytes.fromhex(p["root"]))
        r[0] ^= 0x01
        p["root"] = r.hex()
    elif kind == "forged-leaf":  # altered balance AND a leaf field that matches it
        sym, b = next(iter(p["balances"].items()))
        p["balances"] = {**p["balances"], sym: {**b, "equity": str(int(b["equity"]) * 2 + 7)}}
        eq, debt = [], []
        for s in p["assets"]:
            bb = p["balances"].get(s, {"equity": "0", "debt": "0"})
            eq.append(int(bb["equity"]))
            debt.append(int(bb["debt"]))
        p["leaf"] = merkle.digest_to_hex(merkle.leaf_hash(merkle.digest_from_hex(p["commitment"]), eq, debt))
    elif kind == "format":
        p["extra"] = 1
    return p


TAMPER = [("balance", "balance"), ("nonce", "commitment"), ("account", "commitment"),
          ("index", "path"), ("sibling", "path"), ("round", "round"), ("root", "root"),
          ("forged-leaf", "path"), ("format", "format")]


@pytest.fixture(scope="module")
def public(rnd):
    return json.loads((rnd.bundle / "liabilities" / "public.json").read_text())


def test_every_real_proof_passes_in_the_browser(browser, site, rnd, public, tmp_path):
    page, rec, errors = open_page(browser, site)
    assert page.inner_text("#round-id") == rnd.round_id
    assert page.inner_text("#round-root") == public["root"]
    files = rnd.proof_files()
    assert len(files) == 24
    for f in files:
        r = verify_text(page, f.read_text())
        assert r["status"] == "pass", (f.name, r)
    # the last one's balances, in human units exactly as por.amounts formats them
    proof = json.loads(files[-1].read_text())
    rows = page.eval_on_selector_all(
        "#balances tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent.replaceAll(',', '')))")
    assert [r[:3] for r in rows] == [[s, get_asset(s).format(int(b["equity"])),
                                      get_asset(s).format(int(b["debt"]))]
                                     for s, b in proof["balances"].items()]
    assert not errors, errors


def test_pass_shows_balances_totals_and_ratios(browser, site, rnd, public, tmp_path):
    page, rec, errors = open_page(browser, site)
    # the customer with the most non-zero assets makes the best picture
    f = max(rnd.proof_files(), key=lambda f: len(json.loads(f.read_text())["balances"]))
    proof = json.loads(f.read_text())
    page.set_input_files("#proof-file", str(f))
    page.wait_for_selector("#verdict[data-status=pass]")
    text = page.inner_text("#verdict")
    assert "PASS" in text and proof["account_id"] in text and rnd.round_id in text
    # balances
    rows = page.eval_on_selector_all(
        "#balances tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent.replaceAll(',', '')))")
    report = json.loads((rnd.bundle / "report.json").read_text())
    pct = {a["asset"]: f"{a['ratio_percent']} %" if a["ratio_percent"] else "n/a"
           for a in report["assets"]}
    assert rows == [[s, get_asset(s).format(int(b["equity"])), get_asset(s).format(int(b["debt"])),
                     pct[s]] for s, b in proof["balances"].items()]
    # proven totals: every asset, exact
    totals = page.eval_on_selector_all(
        "#totals tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent.replaceAll(',', '')))")
    # ... with the reserves and ratios of report.json
    res = {a["asset"]: a["reserves"] for a in report["assets"]}
    assert totals == [[s, get_asset(s).format(int(e)), get_asset(s).format(int(d)),
                       get_asset(s).format(int(e) - int(d)), get_asset(s).format(int(res[s])),
                       pct[s]]
                      for s, e, d in zip(public["assets"], public["equity_totals"],
                                         public["debt_totals"])]
    mine = page.eval_on_selector_all("#totals tr.mine", "rs => rs.map(r => r.dataset.asset)")
    assert mine == list(proof["balances"])
    assert [a["ratio_percent"] for a in report["assets"]][:4] == ["104.00", "102.00", "106.00", "100.00"]
    steps = page.eval_on_selector_all("#steps li", "ls => ls.map(l => [l.dataset.step, l.className])")
    assert steps == [[s, "ok"] for s in ("format", "round", "assets", "root", "height",
                                         "commitment", "balance", "path")]
    shot(page, tmp_path, "web-verifier-pass.png", "#result", "#totals-box")
    assert not errors, errors


@pytest.mark.parametrize("kind,reason", TAMPER, ids=[k for k, _ in TAMPER])
def test_tampered_proof_fails_with_the_python_reason(browser, site, rnd, public, kind, reason,
                                                     tmp_path):
    page, rec, errors = open_page(browser, site)
    f = rnd.proof_files()[3]
    proof = json.loads(f.read_text())
    bad = json.dumps(_tamper(kind, proof, random.Random(kind)))
    assert _python_reason(bad, public) == reason  # the Python twin agrees on the reason
    r = verify_text(page, bad)
    assert r["status"] == "fail" and r["reason"] == reason, r
    assert "FAIL" in r["text"] and f"What failed: {reason}" in r["text"]
    assert page.is_hidden("#balances-box")
    failed = page.eval_on_selector_all("#steps li.bad", "ls => ls.map(l => l.dataset.step)")
    assert failed == [reason]
    if kind == "balance":
        shot(page, tmp_path, "web-verifier-fail.png", "header", "#result")
    # then the genuine proof passes again on the same page
    assert verify_text(page, f.read_text())["status"] == "pass"
    assert not errors, errors


@pytest.mark.parametrize("edit", [
    lambda t: t.replace('"version":1', '"version":1.0'),
    lambda t: re.sub(r'"leaf_index":([0-9]+)', lambda m: f'"leaf_index":{m.group(1)}e0', t),
    lambda t: t.replace('"tree_height":', '"tree_height":"').replace(',"siblings"', '","siblings"'),
    lambda t: t.replace('"nonce":"', '"nonce":"A'),
    lambda t: t[:-3],
    lambda t: "[" + t + "]",
], ids=["float-version", "exponent", "string-height", "nonce", "truncated", "array"])
def test_malformed_files_are_format_errors_in_both_verifiers(browser, site, rnd, public, edit):
    page, rec, errors = open_page(browser, site)
    text = edit(rnd.proof_files()[2].read_text().strip())
    assert _python_reason(text, public) == "format"
    r = verify_text(page, text)
    assert (r["status"], r["reason"]) == ("fail", "format"), r
    assert not errors, errors


def test_nothing_the_customer_pastes_leaves_the_browser(browser, site, rnd):
    page, rec, errors = open_page(browser, site)
    secrets_seen = []
    for f in rnd.proof_files()[:5]:
        proof = json.loads(f.read_text())
        secrets_seen += [proof["nonce"], proof["account_id"], proof["commitment"], proof["leaf"],
                         proof["siblings"][:40]]
        verify_text(page, f.read_text())
        verify_text(page, json.dumps(_tamper("balance", proof, random.Random(0))))
        page.set_input_files("#proof-file", str(f))
        page.wait_for_selector("#verdict[data-status=pass]")
    page.wait_for_timeout(300)
    assert rec.requests, "the recorder saw nothing"
    allowed = {"/verify/", "/verify/style.css", "/verify/poseidon2.js", "/verify/verifier.js",
               "/bundle/liabilities/public.json", "/bundle/report.json"}
    for r in rec.requests:
        assert r["method"] == "GET", r
        assert r["body"] is None, r
        assert r["url"].startswith(site.base + "/"), r
        assert r["url"][len(site.base):] in allowed, r
        blob = json.dumps(r)
        for s in secrets_seen:
            assert s not in blob, (s, r)
    assert not errors, errors


def test_token_fetches_the_proof_from_the_service(browser, site, rnd):
    page, rec, errors = open_page(browser, site)
    page.fill("#token", "wrong-token")
    page.click("#fetch-proof")
    page.wait_for_selector("#verdict[data-status=fail]")
    assert "token was not accepted" in page.inner_text("#verdict")
    page.fill("#token", "tok-" + "a" * 40)
    page.click("#fetch-proof")
    page.wait_for_selector("#verdict[data-status=pass]")
    proof = json.loads(rnd.proof_files()[0].read_text())
    assert proof["account_id"] in page.inner_text("#verdict")
    api = [r for r in rec.requests if "/api/v1/proof" in r["url"]]
    assert len(api) == 2 and all(r["url"] == site.base + "/api/v1/proof" for r in api)
    assert api[1]["headers"].get("authorization") == "Bearer tok-" + "a" * 40
    assert not errors, errors


def test_round_without_report_says_so(browser, rnd, tmp_path):
    root = tmp_path / "site"
    s = make_site(root, rnd)
    (root / "bundle" / "report.json").unlink()
    try:
        page, rec, errors = open_page(browser, s)
        assert "No reserves report" in page.inner_text("#ratios-note")
        ratios = page.eval_on_selector_all("#totals tbody tr", "rs => rs.map(r => r.cells[5].textContent)")
        assert ratios == ["-"] * 22
        assert verify_text(page, rnd.proof_files()[1].read_text())["status"] == "pass"
        assert not errors, errors
    finally:
        s.close()


def test_missing_public_statement_is_a_loud_failure(browser, rnd, tmp_path):
    root = tmp_path / "site"
    s = make_site(root, rnd)
    (root / "bundle" / "liabilities" / "public.json").unlink()
    try:
        page, rec, errors = open_page(browser, s)
        assert "Cannot load the round's public statement" in page.inner_text("#round-status")
        r = verify_text(page, rnd.proof_files()[0].read_text())
        assert r["status"] == "fail" and r["reason"] == "bundle"
        # the customer can open public.json from a file instead
        page.set_input_files("#public-file", str(rnd.bundle / "liabilities" / "public.json"))
        page.wait_for_selector("#round-info:not([hidden])")
        assert verify_text(page, rnd.proof_files()[0].read_text())["status"] == "pass"
    finally:
        s.close()


def test_token_flow_through_the_real_proof_service(browser, rnd, tmp_path):
    """End to end: `por serve` (real uvicorn) serves the page at /verify/, the bundle at
    /bundle/ and the customer's proof from the round's real proof store; the customer enters the
    token the exchange issued and the browser verifies the proof it fetched."""
    from live_service import por_serve
    from por.tokens import TokenKey, issue_token, write_key

    key = TokenKey.generate()
    write_key(key, tmp_path / "tk")
    pub = write_key(key.public_only(), tmp_path / "tk.pub")
    store = rnd.proofs.parent / "liabilities" / "proofs.db"  # what `por prove liabilities` filled
    with por_serve(rnd.bundle, str(store), pub) as base:
        proof = json.loads(rnd.proof_files()[3].read_text())
        token = issue_token(key, proof["account_id"], rnd.round_id, 600)
        other = issue_token(key, json.loads(rnd.proof_files()[4].read_text())["account_id"], "other-round", 600)
        from types import SimpleNamespace

        page, rec, errors = open_page(browser, SimpleNamespace(base=base))
        page.fill("#token", other)  # a real token, for another round: refused by the service
        page.click("#fetch-proof")
        page.wait_for_selector("#verdict[data-status=fail]")
        page.fill("#token", token)
        page.click("#fetch-proof")
        page.wait_for_selector("#verdict[data-status=pass]")
        assert proof["account_id"] in page.inner_text("#verdict")
        api = [r for r in rec.requests if "/api/v1/proof" in r["url"]]
        assert len(api) == 2 and api[1]["headers"].get("authorization") == "Bearer " + token
        assert all(r["method"] == "GET" and not r["body"] for r in rec.requests)
        assert not errors, errors
