"""Customer inclusion proofs (docs/inclusion-proof.md): valid proofs pass, every tampering is
rejected with the right reason, malformed files give clear errors."""

import base64
import json
import random
import re

import pytest

from por import inclusion, merkle
from por.amounts import DEFAULT_ASSETS
from por.inclusion import InclusionError, load_inclusion_proof, verify_inclusion
from por.poseidon2 import P

ASSETS = [a.symbol for a in DEFAULT_ASSETS]
K = len(ASSETS)
ROUND = "2025-06"


@pytest.fixture(scope="module")
def tree():
    """A real 16-leaf tree: 11 customers sorted by commitment key, 5 zero padding leaves."""
    rng = random.Random(42)
    customers = []
    for i in range(11):
        aid = f"user-{i:05d}" if i != 3 else "Zoë 🚀 #3"
        nonce = rng.randbytes(32)
        eq = [rng.choice([0, 0, rng.randrange(1 << 40)]) for _ in range(K)]
        debt = [rng.choice([0, 0, 0, rng.randrange(1 << 20)]) for _ in range(K)]
        c = merkle.account_commitment(aid, nonce)
        customers.append((merkle.sort_key(c), aid, nonce, eq, debt, c))
    for _ in range(5):
        c = [rng.randrange(1 << 30), rng.randrange(1 << 30)] + [rng.randrange(P) for _ in range(6)]
        customers.append((merkle.sort_key(c), None, None, [0] * K, [0] * K, c))
    customers.sort(key=lambda t: t[0])
    leaves = [merkle.leaf_hash(c, eq, debt) for _, _, _, eq, debt, c in customers]
    levels = merkle.build_tree(leaves)
    return customers, levels


def proof_for(tree, n=0):
    customers, levels = tree
    real = [i for i, c in enumerate(customers) if c[1] is not None]
    idx = real[n]
    _, aid, nonce, eq, debt, _ = customers[idx]
    return inclusion.make_inclusion_proof(
        round_id=ROUND, account_id=aid, nonce=nonce, assets=ASSETS, equity=eq, debt=debt,
        leaf_index=idx, siblings=merkle.path(levels, idx), root=merkle.root_of(levels))


def root(tree):
    return merkle.root_of(tree[1])


def as_dict(proof):
    return json.loads(proof.to_json())


def expect(reason, data, tree, **kw):
    with pytest.raises(InclusionError) as ei:
        verify_inclusion(data, kw.pop("root", root(tree)), kw.pop("assets", ASSETS),
                         kw.pop("round_id", ROUND), **kw)
    assert ei.value.reason == reason, str(ei.value)
    return str(ei.value)


# --- the good case -------------------------------------------------------------------------

def test_valid_proofs_verify(tree):
    customers, levels = tree
    n_real = sum(1 for c in customers if c[1] is not None)
    for n in range(n_real):
        proof = proof_for(tree, n)
        text = proof.to_json()
        res = verify_inclusion(text, root(tree), ASSETS, ROUND, expected_tree_height=4)
        assert res.round_id == ROUND and res.tree_height == 4
        assert res.root_hex == merkle.digest_to_hex(root(tree))
        _, aid, nonce, eq, debt, c = customers[res.leaf_index]
        assert res.account_id == aid == proof.account_id
        assert res.balances == {s: (e, d) for s, e, d in zip(ASSETS, eq, debt)}
        assert res.commitment_hex == merkle.digest_to_hex(c)
        # root given as a digest list or as hex, proof as text, bytes, dict or model
        verify_inclusion(proof, merkle.digest_to_hex(root(tree)), ASSETS, ROUND)
        verify_inclusion(text.encode(), root(tree), ASSETS, ROUND)
        verify_inclusion(json.loads(text), root(tree), ASSETS, ROUND)
        assert res.to_json_dict()["ok"] is True


def test_unicode_account_and_file_roundtrip(tree, tmp_path):
    customers, _ = tree
    n = [c[1] for c in customers if c[1] is not None].index("Zoë 🚀 #3")
    proof = proof_for(tree, n)
    f = tmp_path / "proof.json"
    f.write_text(proof.to_json(), encoding="utf-8")
    loaded = load_inclusion_proof(f)
    assert loaded == proof
    res = verify_inclusion(f, root(tree), ASSETS, ROUND, expected_account_id="Zoë 🚀 #3")
    assert res.account_id == "Zoë 🚀 #3"


def test_zero_balances_are_omitted_and_mean_zero(tree):
    proof = proof_for(tree, 1)
    eq, debt = proof.amounts()
    nonzero = {s for s, e, d in zip(ASSETS, eq, debt) if e or d}
    assert set(proof.balances) == nonzero
    assert len(nonzero) < K
    # Writing a zero asset explicitly gives the same leaf: still valid.
    d = as_dict(proof)
    zero_sym = next(s for s in ASSETS if s not in nonzero)
    d["balances"][zero_sym] = {"equity": "0", "debt": "0"}
    verify_inclusion(d, root(tree), ASSETS, ROUND)


def test_expected_balances(tree):
    proof = proof_for(tree, 2)
    eq, debt = proof.amounts()
    want = {s: (e, d) for s, e, d in zip(ASSETS, eq, debt) if e or d}
    verify_inclusion(proof, root(tree), ASSETS, ROUND, expected_balances=want)
    sym = next(iter(want))
    bad = dict(want)
    bad[sym] = (want[sym][0] + 1, want[sym][1])
    msg = expect("balances_expected", proof, tree, expected_balances=bad)
    assert sym in msg


# --- tampering: each is rejected with the right reason ---------------------------------------

def test_changed_balance_is_rejected(tree):
    proof = proof_for(tree, 0)
    sym, bal = next(iter(proof.balances.items()))
    for field in ("equity", "debt"):
        d = as_dict(proof)
        d["balances"][sym][field] = str(int(bal.model_dump()[field]) + 1)
        expect("balance", d, tree)
    # moving an amount to another asset
    d = as_dict(proof)
    other = next(s for s in ASSETS if s not in d["balances"])
    d["balances"][other] = d["balances"].pop(sym)
    expect("balance", d, tree)
    # dropping a debt entirely (the "hide my debt" attack)
    d = as_dict(proof)
    d["balances"] = {}
    expect("balance", d, tree)


def test_changed_balance_with_forged_leaf_field_still_fails(tree):
    proof = proof_for(tree, 0)
    d = as_dict(proof)
    sym = next(iter(d["balances"]))
    d["balances"][sym]["equity"] = str(int(d["balances"][sym]["equity"]) + 10**6)
    forged = load_inclusion_proof(d)
    eq, debt = forged.amounts()
    c = merkle.account_commitment(forged.account_id, forged.nonce_bytes())
    d["leaf"] = merkle.digest_to_hex(merkle.leaf_hash(c, eq, debt))
    expect("path", d, tree)


def test_changed_nonce_or_account_is_rejected(tree):
    proof = proof_for(tree, 0)
    d = as_dict(proof)
    d["nonce"] = ("1" if d["nonce"][0] != "1" else "2") + d["nonce"][1:]
    expect("commitment", d, tree)
    d = as_dict(proof)
    d["account_id"] = d["account_id"] + "x"
    expect("commitment", d, tree)
    expect("account", proof, tree, expected_account_id="someone-else")


def test_changed_index_is_rejected(tree):
    proof = proof_for(tree, 0)
    for new in {proof.leaf_index ^ 1, proof.leaf_index ^ 8, (proof.leaf_index + 5) % 16}:
        d = as_dict(proof)
        d["leaf_index"] = new
        expect("path", d, tree)


def test_changed_sibling_is_rejected(tree):
    proof = proof_for(tree, 0)
    raw = bytearray(base64.b64decode(proof.siblings))
    for level in range(proof.tree_height):
        for byte in (0, 17, 28):  # flip a low bit of word 0, 4 and 7 (stays canonical)
            bad = bytearray(raw)
            bad[32 * level + byte] ^= 1
            d = as_dict(proof)
            d["siblings"] = base64.b64encode(bytes(bad)).decode()
            expect("path", d, tree)
    # swapping two siblings
    d = as_dict(proof)
    d["siblings"] = base64.b64encode(raw[32:64] + raw[:32] + raw[64:]).decode()
    expect("path", d, tree)


def test_wrong_round_assets_root_height(tree):
    proof = proof_for(tree, 0)
    d = as_dict(proof)
    d["round_id"] = "2025-05"
    expect("round", d, tree)
    expect("round", proof, tree, round_id="2025-07")
    d = as_dict(proof)
    d["assets"] = ASSETS[1:2] + ASSETS[:1] + ASSETS[2:]
    expect("assets", d, tree)
    expect("assets", proof, tree, assets=ASSETS[:-1])
    other_root = [(x + 1) % P for x in root(tree)]
    expect("root", proof, tree, root=other_root)
    expect("height", proof, tree, expected_tree_height=5)


def test_proof_cut_short_is_rejected(tree):
    """A path one level shorter claiming an inner node as root."""
    proof = proof_for(tree, 0)
    raw = base64.b64decode(proof.siblings)
    d = as_dict(proof)
    d["siblings"] = base64.b64encode(raw[:-32]).decode()
    d["tree_height"] = 3
    d["leaf_index"] = proof.leaf_index % 8
    expect("path", d, tree)


def test_make_refuses_inconsistent_data(tree):
    customers, levels = tree
    idx = next(i for i, c in enumerate(customers) if c[1] is not None)
    _, aid, nonce, eq, debt, _ = customers[idx]
    # the operator's balances do not give the leaf that is in the tree: refused
    with pytest.raises(InclusionError, match=r"\[path\]"):
        inclusion.make_inclusion_proof(
            round_id=ROUND, account_id=aid, nonce=nonce, assets=ASSETS,
            equity=[e + 1 for e in eq], debt=debt, leaf_index=idx,
            siblings=merkle.path(levels, idx), root=merkle.root_of(levels))


def test_bulk_export_with_precomputed_digests(tree):
    customers, levels = tree
    idx = next(i for i, c in enumerate(customers) if c[1] is not None)
    _, aid, nonce, eq, debt, c = customers[idx]
    leaf = levels[0][idx]
    common = dict(round_id=ROUND, account_id=aid, nonce=nonce, assets=ASSETS, equity=eq,
                  debt=debt, leaf_index=idx, siblings=merkle.path(levels, idx),
                  root=merkle.root_of(levels))
    fast = inclusion.make_inclusion_proof(**common, commitment=c, leaf=leaf, check=False)
    assert fast == inclusion.make_inclusion_proof(**common)
    verify_inclusion(fast.to_json(), root(tree), ASSETS, ROUND)
    # a wrong precomputed leaf gives a file that the customer's check rejects as inconsistent
    other = levels[0][idx ^ 1]
    bad = inclusion.make_inclusion_proof(**common, commitment=c, leaf=other, check=False)
    expect("format", bad.to_json(), tree)
    with pytest.raises(InclusionError, match="does not match the recomputed"):
        inclusion.make_inclusion_proof(**common, commitment=c, leaf=other)
    bad = inclusion.make_inclusion_proof(**common, commitment=leaf, leaf=leaf, check=False)
    expect("format", bad.to_json(), tree)


# --- malformed files -----------------------------------------------------------------------------

def test_malformed_json(tree, tmp_path):
    for text in ("", "{", "[1, 2]", "null", "\xff"):
        with pytest.raises(InclusionError) as ei:
            load_inclusion_proof(text)
        assert ei.value.reason == "format"
    f = tmp_path / "bad.json"
    f.write_bytes(b'{"format": "por-inclusion-proof", ')
    with pytest.raises(InclusionError, match=r"bad\.json: not valid JSON"):
        load_inclusion_proof(f)
    with pytest.raises(InclusionError, match=r"missing\.json: cannot read"):
        load_inclusion_proof(tmp_path / "missing.json")
    with pytest.raises(InclusionError, match="larger than any valid proof"):
        load_inclusion_proof(b" " * (inclusion.MAX_PROOF_BYTES + 1))


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("format", "por-other", "field 'format' must be"),
        ("version", 2, "unsupported version 2"),
        ("version", "1", "unsupported version '1'"),
        ("version", True, "unsupported version True"),
        ("version", 1.0, "unsupported version 1.0"),
        ("nonce", "zz" * 32, "field 'nonce': the nonce is exactly 64 lowercase hex"),
        ("nonce", "ab" * 31, "field 'nonce'"),
        ("root", "00" * 31, "field 'root'"),
        ("root", "0100007f" * 8, "field 'root': .*canonical"),
        ("commitment", "AB" * 32, "field 'commitment'"),
        ("siblings", "not base64!", "field 'siblings'"),
        ("siblings", "AAAA", "siblings: 3 bytes, expected 32 per level"),
        ("leaf_index", 16, r"leaf_index 16 is outside \[0, 2\^4\)"),
        ("leaf_index", -1, "field 'leaf_index'"),
        ("leaf_index", 1.0, "field 'leaf_index'"),
        ("leaf_index", "3", "field 'leaf_index'"),
        ("tree_height", 0, "field 'tree_height'"),
        ("tree_height", 33, "field 'tree_height'"),
        ("round_id", "", "field 'round_id'"),
        ("round_id", "a b", "field 'round_id'"),
        ("account_id", "", "field 'account_id'.*1 to 256 bytes"),
        ("account_id", "x" * 257, "field 'account_id'"),
        ("assets", [], "field 'assets'"),
        ("assets", ["btc"], "field 'assets.0'"),
        ("extra_field", 1, "field 'extra_field'"),
    ],
)
def test_bad_fields(tree, field, value, match):
    d = as_dict(proof_for(tree, 0))
    d[field] = value
    for src in (d, json.dumps(d)):
        with pytest.raises(InclusionError) as ei:
            load_inclusion_proof(src)
        assert ei.value.reason == "format"
        assert re.search(match, str(ei.value)), str(ei.value)
        # and verify_inclusion gives the same loud failure
        with pytest.raises(InclusionError):
            verify_inclusion(src, root(tree), ASSETS, ROUND)


@pytest.mark.parametrize("amount, match", [
    ("01", "leading zeros"), ("-1", "without sign"), ("1.5", "decimal integer"),
    ("18446744073709551616", "not below 2\\^64"), (5, "field 'balances.BTC.equity'"),
    ("", "decimal integer"),
])
def test_bad_amounts(tree, amount, match):
    d = as_dict(proof_for(tree, 0))
    d["balances"]["BTC"] = {"equity": amount, "debt": "0"}
    with pytest.raises(InclusionError, match=match) as ei:
        load_inclusion_proof(json.dumps(d))
    assert "balances.BTC.equity" in str(ei.value)


def test_bad_structure(tree):
    d = as_dict(proof_for(tree, 0))
    d["balances"]["NOPE"] = {"equity": "1", "debt": "0"}
    with pytest.raises(InclusionError, match="NOPE.*not in the proof's asset list"):
        load_inclusion_proof(d)
    d = as_dict(proof_for(tree, 0))
    d["assets"] = d["assets"] + ["BTC"]
    with pytest.raises(InclusionError, match="appears twice"):
        load_inclusion_proof(d)
    d = as_dict(proof_for(tree, 0))
    del d["siblings"]
    with pytest.raises(InclusionError, match="field 'siblings': Field required"):
        load_inclusion_proof(d)
    d = as_dict(proof_for(tree, 0))
    d["balances"]["BTC"] = {"equity": "1"}
    with pytest.raises(InclusionError, match="balances.BTC.debt"):
        load_inclusion_proof(d)
    # non-canonical base64 (padding bits set) for a height whose byte count needs padding
    d = as_dict(proof_for(tree, 0))
    assert d["siblings"].endswith("=")  # 128 bytes: base64 pads
    s = d["siblings"].rstrip("=")
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(s[-1])
    d["siblings"] = s[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[last ^ 1] + "=" * (len(d["siblings"]) - len(s))
    with pytest.raises(InclusionError, match="canonical base64"):
        load_inclusion_proof(d)


# --- size ----------------------------------------------------------------------------------------

def _proof_of_height(h, eq, debt, rng):
    nonce = rng.randbytes(32)
    aid = "user-0001234567"
    c = merkle.account_commitment(aid, nonce)
    leaf = merkle.leaf_hash(c, eq, debt)
    sib = [[rng.randrange(P) for _ in range(8)] for _ in range(h)]
    idx = rng.randrange(1 << h)
    r = merkle.walk_path(leaf, idx, sib)
    proof = inclusion.make_inclusion_proof(
        round_id="2025-06", account_id=aid, nonce=nonce, assets=ASSETS, equity=eq, debt=debt,
        leaf_index=idx, siblings=sib, root=r)
    verify_inclusion(proof.to_json(), r, ASSETS, "2025-06", expected_tree_height=h)
    return len(proof.to_json().encode())


def test_size_under_2kb_at_height_24():
    rng = random.Random(3)
    # a typical customer: a few assets with realistic balances, tree of 2^24 leaves
    eq = [0] * K
    debt = [0] * K
    for i, v in ((0, 123_456_789), (1, 45_000_000_000), (2, 50_000_000_000), (5, 10**12),
                 (8, 999_999_999_999)):
        eq[i] = v
    debt[2] = 12_345_678_901
    size = _proof_of_height(24, eq, debt, rng)
    assert size < 2048, size
    # 8 assets with 19-digit balances still fit
    eq8 = [10**18 + i if i < 8 else 0 for i in range(K)]
    assert _proof_of_height(24, eq8, [0] * K, rng) < 2048
