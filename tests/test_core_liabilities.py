"""por._core liabilities proof: vectors shared with the pure-Python twin, prove/verify, tamper."""
import json
import os
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
