"""por.merkle (docs/hashing.md) against the vectors, and against an independent re-reading of
the spec built directly on the Rust permutation por._core.poseidon2_permute."""

import importlib.util
import json
import random
from pathlib import Path

import pytest

from por import _core, merkle
from por.merkle import HashInputError
from por.poseidon2 import P

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"


def load(name):
    doc = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    assert doc["format"] == "por-hash-vectors" and doc["version"] == 1
    return doc


# --- a second, deliberately naive reading of docs/hashing.md on the Rust permutation -------

def rust_sponge(tag, xs):
    st = [0] * 24
    st[16], st[17] = tag, len(xs)
    padded = list(xs) + [0] * ((-len(xs)) % 16)
    if not padded:
        padded = [0] * 16
    for i in range(0, len(padded), 16):
        st[:16] = padded[i:i + 16]
        st = _core.poseidon2_permute(st)
    return st[:8]


def rust_commitment(account_id, nonce):
    b = account_id.encode()
    chunks = lambda s: [int.from_bytes(s[i:i + 3], "little") for i in range(0, len(s), 3)]  # noqa: E731
    h = rust_sponge(1, [len(b)] + chunks(b) + chunks(nonce))
    return [h[0] % 2**30, h[1] % 2**30] + h[2:]


def rust_leaf(c, eq, debt):
    xs = list(c)
    for v in list(eq) + list(debt):
        xs += [(v >> s) & 0xFFFF for s in (0, 16, 32, 48)]
    return rust_sponge(2, xs)


def rust_node(l, r):
    return _core.poseidon2_permute(list(l) + list(r) + [3] + [0] * 7)[:8]


# --- vectors -------------------------------------------------------------------------------

def test_sponge_vectors():
    doc = load("sponge.json")
    lengths = set()
    for c in doc["cases"]:
        assert merkle.sponge(c["tag"], c["xs"]) == c["digest"]
        assert rust_sponge(c["tag"], c["xs"]) == c["digest"]
        lengths.add(len(c["xs"]))
    assert {0, 1, 15, 16, 17, 33} <= lengths
    # Explicit zero input and empty input differ (the length is in the capacity).
    assert merkle.sponge(2, []) != merkle.sponge(2, [0])
    assert merkle.sponge(2, [0] * 16) != merkle.sponge(2, [0] * 15)


def test_commitment_vectors():
    doc = load("commitment.json")
    byte_lengths = set()
    for c in doc["cases"]:
        nonce = bytes.fromhex(c["nonce_hex"])
        raw = c["account_id"].encode("utf-8")
        assert raw.hex() == c["account_id_utf8_hex"]
        byte_lengths.add(len(raw))
        got = merkle.account_commitment(c["account_id"], nonce)
        assert got == c["commitment"]
        assert rust_commitment(c["account_id"], nonce) == c["commitment"]
        assert merkle.sort_key(got) == c["sort_key"] < 2**60
        assert got[0] < 2**30 and got[1] < 2**30
    assert {1, 2, 4, 255, 256} <= byte_lengths
    assert any(any(ord(ch) > 0xFFFF for ch in c["account_id"]) for c in doc["cases"])


def test_leaf_vectors():
    doc = load("leaf.json")
    ks = set()
    for c in doc["cases"]:
        eq = [int(v) for v in c["equity"]]
        debt = [int(v) for v in c["debt"]]
        assert len(eq) == len(debt) == c["assets"]
        ks.add(c["assets"])
        assert merkle.leaf_hash(c["commitment"], eq, debt) == c["leaf"]
        assert rust_leaf(c["commitment"], eq, debt) == c["leaf"]
    assert ks == {1, 22}
    names = " ".join(c["name"] for c in doc["cases"])
    assert "max" in names and "zero" in names and "random" in names


def test_tree_vectors():
    doc = load("tree.json")
    for nc in doc["node_cases"]:
        assert merkle.node_hash(nc["left"], nc["right"]) == nc["node"]
        assert rust_node(nc["left"], nc["right"]) == nc["node"]
    sizes = set()
    for t in doc["trees"]:
        sizes.add(len(t["leaves"]))
        levels = merkle.build_tree(t["leaves"])
        assert levels == t["levels"]
        assert len(levels) - 1 == t["height"]
        assert merkle.root_of(levels) == t["root"]
        assert merkle.digest_to_hex(t["root"]) == t["root_hex"]
        # Independent rebuild on the Rust permutation.
        lvl = t["leaves"]
        while len(lvl) > 1:
            lvl = [rust_node(lvl[i], lvl[i + 1]) for i in range(0, len(lvl), 2)]
        assert lvl[0] == t["root"]
        for pth in t["paths"]:
            assert merkle.path(levels, pth["index"]) == pth["siblings"]
            leaf = t["leaves"][pth["index"]]
            assert merkle.walk_path(leaf, pth["index"], pth["siblings"]) == t["root"]
            assert merkle.verify_path(leaf, pth["index"], pth["siblings"], t["root"])
    assert sizes == {8, 16}


def test_generator_is_deterministic_and_files_are_current():
    spec = importlib.util.spec_from_file_location("make_vectors", ROOT / "scripts" / "make_vectors.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    files = mod.build_all()
    assert files == mod.build_all()
    total = 0
    for name, text in files.items():
        on_disk = (VECTORS / name).read_text(encoding="utf-8")
        assert on_disk == text, f"tests/vectors/{name} is stale: run scripts/make_vectors.py"
        total += len(text.encode())
    assert total < 200_000


# --- properties and rejections --------------------------------------------------------------

def test_random_commitments_and_leaves_match_rust_reading():
    rng = random.Random(99)
    for i in range(10):
        aid = "".join(rng.choice("abcé日🚀0") for _ in range(rng.randrange(1, 40)))
        nonce = rng.randbytes(32)
        c = merkle.account_commitment(aid, nonce)
        assert c == rust_commitment(aid, nonce)
        k = rng.randrange(1, 23)
        eq = [rng.randrange(2**64) for _ in range(k)]
        debt = [rng.randrange(2**64) for _ in range(k)]
        assert merkle.leaf_hash(c, eq, debt) == rust_leaf(c, eq, debt)


def test_leaf_binds_each_amount_and_its_position():
    c = merkle.account_commitment("alice", bytes(32))
    base = merkle.leaf_hash(c, [5, 0], [0, 0])
    assert merkle.leaf_hash(c, [6, 0], [0, 0]) != base
    assert merkle.leaf_hash(c, [0, 5], [0, 0]) != base  # moved to another asset
    assert merkle.leaf_hash(c, [0, 0], [5, 0]) != base  # equity turned into debt
    assert merkle.leaf_hash(c, [5 + 2**16, 0], [0, 0]) != base
    c2 = merkle.account_commitment("alice", bytes(31) + b"\x01")
    assert merkle.leaf_hash(c2, [5, 0], [0, 0]) != base


def test_commitment_depends_on_id_and_nonce():
    n = bytes(range(32))
    assert merkle.account_commitment("alice", n) != merkle.account_commitment("alicf", n)
    assert merkle.account_commitment("alice", n) != merkle.account_commitment("alice", n[::-1])
    # ids that would share 3-byte chunks are told apart by the length prefix
    assert merkle.account_commitment("ab", n) != merkle.account_commitment("ab\x00", n)


@pytest.mark.parametrize("amount", [2**64, -1, 1.0, "5", True])
def test_leaf_rejects_out_of_range_amounts(amount):
    c = merkle.account_commitment("bob", bytes(32))
    with pytest.raises(HashInputError, match=r"equity\[1\]"):
        merkle.leaf_hash(c, [0, amount], [0, 0])
    with pytest.raises(HashInputError, match=r"debt\[0\]"):
        merkle.leaf_hash(c, [0, 0], [amount, 0])


def test_hash_input_rejections():
    c = merkle.account_commitment("bob", bytes(32))
    with pytest.raises(HashInputError, match="1 to 256 bytes"):
        merkle.account_commitment("", bytes(32))
    with pytest.raises(HashInputError, match="1 to 256 bytes"):
        merkle.account_commitment("é" * 129, bytes(32))
    with pytest.raises(HashInputError, match="exactly 32 bytes"):
        merkle.account_commitment("bob", bytes(31))
    with pytest.raises(HashInputError, match="exactly 32 bytes"):
        merkle.account_commitment("bob", "00" * 32)
    with pytest.raises(HashInputError, match="2 equity amounts but 1 debt"):
        merkle.leaf_hash(c, [0, 0], [0])
    with pytest.raises(HashInputError, match="8 elements"):
        merkle.leaf_hash(c[:7], [0], [0])
    with pytest.raises(HashInputError, match="canonical"):
        merkle.node_hash([P] + [0] * 7, [0] * 8)
    with pytest.raises(HashInputError, match="below 2\\^30"):
        merkle.sort_key([2**30] + [0] * 7)
    with pytest.raises(HashInputError, match="power of two"):
        merkle.build_tree([[0] * 8] * 6)
    with pytest.raises(HashInputError, match="power of two"):
        merkle.build_tree([[0] * 8])


def test_path_tampering_is_detected():
    rng = random.Random(5)
    leaves = [[rng.randrange(P) for _ in range(8)] for _ in range(16)]
    levels = merkle.build_tree(leaves)
    root = merkle.root_of(levels)
    sib = merkle.path(levels, 6)
    assert merkle.verify_path(leaves[6], 6, sib, root)
    assert not merkle.verify_path(leaves[6], 7, sib, root)  # wrong index
    assert not merkle.verify_path(leaves[7], 6, sib, root)  # wrong leaf
    for j in range(len(sib)):
        bad = [list(s) for s in sib]
        bad[j][3] = (bad[j][3] + 1) % P
        assert not merkle.verify_path(leaves[6], 6, bad, root)
    with pytest.raises(HashInputError, match="outside"):
        merkle.walk_path(leaves[6], 16, sib)
    with pytest.raises(HashInputError, match="outside"):
        merkle.path(levels, -1)
    with pytest.raises(HashInputError, match="sibling 2"):
        merkle.walk_path(leaves[6], 6, sib[:2] + [sib[2][:7]] + sib[3:])


def test_digest_hex_encoding():
    d = [1, 2, 0x7F000000, 0, 0xABCDEF, 5, 6, P - 1]
    h = merkle.digest_to_hex(d)
    assert len(h) == 64
    assert h[:16] == "0100000002000000"  # little-endian 4-byte words
    assert h[16:24] == "0000007f"
    assert merkle.digest_from_hex(h) == d
    with pytest.raises(HashInputError, match="canonical"):
        merkle.digest_from_hex("01000000" * 7 + "0100007f")  # word = p
    with pytest.raises(HashInputError, match="64 lowercase hex"):
        merkle.digest_from_hex(h.upper())
    with pytest.raises(HashInputError, match="64 lowercase hex"):
        merkle.digest_from_hex(h[:-1])
    with pytest.raises(HashInputError, match="64 lowercase hex"):
        merkle.digest_from_hex(h[:-1] + "g")
