"""por._core liabilities proof: vectors shared with the pure-Python twin, prove/verify, tamper."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from por import _core

VEC = Path(__file__).parent / "vectors"


def _load(name):
    return json.loads((VEC / f"{name}.json").read_text())


def test_rust_reproduces_commitment_vectors():
    for c in _load("commitment")["cases"]:
        got = _core.account_commitment(bytes.fromhex(c["account_id_utf8_hex"]), bytes.fromhex(c["nonce_hex"]))
        assert got == c["commitment"]
        assert (got[0] << 30) + got[1] == c["sort_key"]


def test_rust_reproduces_leaf_and_tree_vectors():
    for c in _load("leaf")["cases"]:
        assert _core.leaf_hash(c["commitment"], [int(x) for x in list(c["equity"]) + list(c["debt"])]) == c["leaf"]
    t = _load("tree")
    for c in t["node_cases"]:
        assert _core.node_hash(c["left"], c["right"]) == c["node"]
    for tr in t["trees"]:
        levels = tr["levels"]
        assert levels[-1][0] == tr["root"]
        for i, leaf in enumerate(tr["leaves"]):
            sib = _core.merkle_path(levels, i)
            assert _core.verify_path(leaf, i, sib, tr["root"])
            assert not _core.verify_path(leaf, i ^ 1, sib, tr["root"])
        for p in tr["paths"]:
            assert _core.merkle_path(levels, p["index"]) == p["siblings"]


def _customers(n, k):
    rows = []
    for i in range(n):
        c = _core.account_commitment(f"user-{i}".encode(), os.urandom(32))
        eq = [(i + 1) * 10**6 + a for a in range(k)]
        debt = [e // 3 if a % 2 else 0 for a, e in enumerate(eq)]
        rows.append((c, eq + debt))
    rows.sort(key=lambda r: (r[0][0] << 30) + r[0][1])
    return [r[0] for r in rows], [r[1] for r in rows]


K = 4
PRICES = [10**15, 3000, 10**12, 10**12]
HAIRCUTS = [9500, 9000, 10000, 9800]


@pytest.fixture(scope="module")
def proven():
    cs, bal = _customers(5, K)
    proof, public, levels = _core.prove_liabilities(b"round-2026-11", PRICES, HAIRCUTS, cs, bal, 3)
    return cs, bal, proof, public, levels


def test_prove_verify_totals_and_paths(proven):
    cs, bal, proof, public, levels = proven
    out = _core.verify_liabilities(proof, public)
    assert out["verified"] is True
    assert out["equity_totals"] == [sum(b[a] for b in bal) for a in range(K)]
    assert out["debt_totals"] == [sum(b[K + a] for b in bal) for a in range(K)]
    assert len(levels) == 4 and len(levels[0]) == 8
    for i, (c, b) in enumerate(zip(cs, bal)):
        leaf = _core.leaf_hash(c, b)
        assert levels[0][i] == leaf
        assert _core.verify_path(leaf, i, _core.merkle_path(levels, i), public["root"])


@pytest.mark.parametrize("field", ["round_id", "prices", "haircuts", "limb_sums", "root", "equity_totals"])
def test_changed_public_value_fails(proven, field):
    _, _, proof, public, _ = proven
    p = dict(public)
    if field == "round_id":
        p[field] = b"round-2026-12"
    elif field == "limb_sums":
        p[field] = [list(r) for r in public[field]]
        p[field][1][0] += 1
        p.pop("equity_totals"), p.pop("debt_totals")
    else:
        p[field] = list(public[field])
        p[field][0] += 1
    with pytest.raises(ValueError):
        _core.verify_liabilities(proof, p)


def test_tampered_and_malformed_bytes_fail(proven):
    _, _, proof, public, _ = proven
    for pos in (0, 8, 12, 40, len(proof) // 2, len(proof) - 2):
        b = bytearray(proof)
        b[pos] ^= 0x40
        with pytest.raises(ValueError):
            _core.verify_liabilities(bytes(b), public)
    for bad in (b"", b"PORLIAB\0", proof[: len(proof) // 2], os.urandom(500)):
        with pytest.raises(ValueError):
            _core.verify_liabilities(bad, public)


def test_honest_prover_refuses_bad_witness():
    cs, bal = _customers(3, K)
    with pytest.raises(ValueError, match="strictly increasing"):
        _core.prove_liabilities(b"r", PRICES, HAIRCUTS, [cs[1], cs[0], cs[2]], bal, 2)
    insolvent = [list(b) for b in bal]
    insolvent[0][K] = insolvent[0][0] + 1  # debt above equity in the same asset
    with pytest.raises(ValueError, match="insolvent"):
        _core.prove_liabilities(b"r", PRICES, HAIRCUTS, cs, insolvent, 2)
    with pytest.raises((ValueError, OverflowError)):
        _core.prove_liabilities(b"r", PRICES, HAIRCUTS, cs, [[-1] + b[1:] for b in bal], 2)
    with pytest.raises(ValueError, match="tree height"):
        _core.prove_liabilities(b"r", PRICES, HAIRCUTS, cs, bal, _core.MAX_TREE_HEIGHT + 1)


def _prove_seeded(cs, bal, seed, key_range=None):
    return _core.prove_liabilities(b"round-2026-11", PRICES, HAIRCUTS, cs, bal, 3,
                                   seed=seed, key_range=key_range)


def test_seeded_proof_is_byte_identical_across_runs_and_thread_counts(proven):
    cs, bal = proven[0], proven[1]
    seed = bytes(range(32))
    p1, pub1, lv1 = _prove_seeded(cs, bal, seed)
    p2, pub2, lv2 = _prove_seeded(cs, bal, seed)
    assert p1 == p2 and pub1 == pub2 and lv1 == lv2
    # a fresh process with a one-thread rayon pool makes the same bytes
    script = (
        "import json, sys; from por import _core\n"
        "a = json.loads(sys.stdin.read())\n"
        "p, _, _ = _core.prove_liabilities(b'round-2026-11', a['prices'], a['haircuts'], a['cs'],"
        " a['bal'], 3, seed=bytes(range(32)))\n"
        "sys.stdout.write(p.hex())\n")
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True,
                         input=json.dumps({"prices": PRICES, "haircuts": HAIRCUTS, "cs": cs, "bal": bal}),
                         text=True).stdout
    assert bytes.fromhex(out) == p1
    # another seed: other bytes (other padding, other masks), and both verify
    p3, pub3, lv3 = _prove_seeded(cs, bal, bytes(32))
    assert p3 != p1 and lv3[0][5:] != lv1[0][5:]
    _core.verify_liabilities(p1, pub1)
    _core.verify_liabilities(p3, pub3)
    # no seed: the OS CSPRNG, a different proof each time
    assert _prove_seeded(cs, bal, None)[0] != _prove_seeded(cs, bal, None)[0]
    for bad in (b"", bytes(31), bytes(33)):
        with pytest.raises(ValueError, match="32 bytes"):
            _prove_seeded(cs, bal, bad)


def _key(c):
    return (c[0] << 30) + c[1]


def test_key_range_is_proven_and_public(proven):
    cs, bal = proven[0], proven[1]
    lo, hi = _key(cs[0]), _key(cs[-1]) + 4  # room for exactly the 3 padding leaves
    proof, public, levels = _prove_seeded(cs, bal, None, (lo, hi))
    assert (public["key_lo"], public["key_hi"]) == (lo, hi)
    assert _core.verify_liabilities(proof, public)["key_lo"] == lo
    for field, delta in (("key_lo", 1), ("key_lo", -1), ("key_hi", 1), ("key_hi", -1)):
        p = dict(public)
        p[field] += delta
        with pytest.raises(ValueError):
            _core.verify_liabilities(proof, p)
    # a proof without key_range proves the full range [0, 2^60), and says so
    _, _, _, full, _ = proven
    assert (full["key_lo"], full["key_hi"]) == (0, _core.KEY_SPACE)
    # the honest prover refuses customers outside the range, no room for padding, bad ranges
    for rng in ((lo + 1, _core.KEY_SPACE), (0, _key(cs[-1])), (0, _key(cs[-1]) + 3), (5, 5),
                (0, _core.KEY_SPACE + 1), (-1, 10)):
        with pytest.raises(ValueError):
            _prove_seeded(cs, bal, None, rng)
