#!/usr/bin/env python3
"""Write the hashing test vectors of docs/hashing.md into tests/vectors/*.json.

The vectors are computed by the pure-Python twin (por.poseidon2, por.merkle); the Rust core
must reproduce them. The generator is deterministic (fixed seeds, no clock, no OS randomness):
running it twice gives byte-identical files. Usage:

    .venv/bin/python scripts/make_vectors.py            # (re)write tests/vectors/
    .venv/bin/python scripts/make_vectors.py --check    # exit 1 if the files differ

Every field element is a plain JSON integer; byte strings (nonces, UTF-8 of ids) are hex.
Digests are lists of 8 integers; tree.json also gives the root's canonical 64-hex form.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

from por import merkle  # noqa: E402
from por.poseidon2 import P, WIDTH, permute  # noqa: E402

VECTOR_DIR = ROOT / "tests" / "vectors"
FORMAT = "por-hash-vectors"
VERSION = 1

# Plonky3's own vector (p3-koala-bear 0.8.0, test_default_koalabear_poseidon2_width_24).
P3_INPUT = [
    886409618, 1327899896, 1902407911, 591953491, 648428576, 1844789031, 1198336108,
    355597330, 1799586834, 59617783, 790334801, 1968791836, 559272107, 31054313,
    1042221543, 474748436, 135686258, 263665994, 1962340735, 1741539604, 2026927696,
    449439011, 1131357108, 50869465,
]


def header(kind: str, description: str) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "spec": "docs/hashing.md (format version 1)",
        "generator": "scripts/make_vectors.py",
        "description": description,
    }


def poseidon2_vectors(rng: random.Random) -> dict:
    inputs = [
        ("zeros", [0] * WIDTH),
        ("all p-1", [P - 1] * WIDTH),
        ("0..23", list(range(WIDTH))),
        ("one-hot 0", [1] + [0] * (WIDTH - 1)),
        ("one-hot 23", [0] * (WIDTH - 1) + [1]),
        ("alternating 0/p-1", [0 if i % 2 == 0 else P - 1 for i in range(WIDTH)]),
        ("plonky3 test vector", P3_INPUT),
    ]
    inputs += [(f"random {i}", [rng.randrange(P) for _ in range(WIDTH)]) for i in range(5)]
    return {
        **header("poseidon2", "Poseidon2-KoalaBear-24 permutation (x^3, 4+4 full, 23 partial)"),
        "modulus": P,
        "cases": [{"name": n, "input": x, "output": permute(x)} for n, x in inputs],
    }


def sponge_vectors(rng: random.Random) -> dict:
    cases = []
    for tag in (merkle.TAG_ACCOUNT, merkle.TAG_LEAF, merkle.TAG_NODE):
        for n in (0, 1, 15, 16, 17, 33):
            xs = [rng.randrange(P) for _ in range(n)]
            cases.append({"tag": tag, "xs": xs, "digest": merkle.sponge(tag, xs)})
    # Zero padding must not collide with explicit zeros thanks to the length in state[17].
    for xs in ([0], [0] * 16, [P - 1] * 16, [P - 1] * 20):
        cases.append({"tag": merkle.TAG_LEAF, "xs": xs, "digest": merkle.sponge(2, xs)})
    return {**header("sponge", "sponge(tag, xs): overwrite mode, rate 16, digest 8"),
            "cases": cases}


def commitment_vectors(rng: random.Random) -> dict:
    ids = [
        "a",
        "0",
        "alice@example.com",
        "user-000000001",
        "José Müller / 日本 / 🚀",
        "ab",  # 2 bytes: a short last chunk
        "abcd",  # 4 bytes: 3 + 1
        "é" * 128,  # 256 bytes of 2-byte characters
        "x" * 256,  # the longest id
        "🚀" * 63 + "abc",  # 255 bytes
    ]
    nonces = [bytes(32), b"\xff" * 32, bytes(range(32))]
    cases = []
    for i, account_id in enumerate(ids):
        nonce = nonces[i] if i < len(nonces) else rng.randbytes(32)
        raw = account_id.encode("utf-8")
        c = merkle.account_commitment(account_id, nonce)
        cases.append({
            "account_id": account_id,
            "account_id_utf8_hex": raw.hex(),
            "nonce_hex": nonce.hex(),
            "sponge_input": [len(raw)] + merkle.bytes_to_elements(raw)
            + merkle.bytes_to_elements(nonce),
            "commitment": c,
            "sort_key": merkle.sort_key(c),
        })
    return {**header("commitment", "account_commitment(account_id, nonce) and its sort key"),
            "cases": cases}


def _rand_amount(rng: random.Random) -> int:
    return rng.choice([0, rng.randrange(1 << 16), rng.randrange(1 << 40), rng.randrange(1 << 64)])


def leaf_vectors(rng: random.Random) -> dict:
    cases = []
    max_v = (1 << 64) - 1
    commits = [merkle.account_commitment(f"leaf-user-{i}", rng.randbytes(32)) for i in range(6)]
    for k in (22, 1):
        plans = [
            ("zero balances", [0] * k, [0] * k),
            ("max balances", [max_v] * k, [max_v] * k),
            ("random balances", [_rand_amount(rng) for _ in range(k)],
             [_rand_amount(rng) for _ in range(k)]),
        ]
        for name, eq, debt in plans:
            c = commits.pop()
            cases.append({
                "name": f"K={k} {name}",
                "assets": k,
                "commitment": c,
                "equity": [str(v) for v in eq],
                "debt": [str(v) for v in debt],
                "leaf": merkle.leaf_hash(c, eq, debt),
            })
    return {
        **header("leaf", "leaf_hash(commitment, equity[K], debt[K]); amounts are decimal "
                 "strings because 2^64-1 is beyond the exact range of many JSON readers"),
        "cases": cases,
    }


def tree_vectors(rng: random.Random) -> dict:
    trees = []
    # 8 leaves made from real accounts (K = 2), sorted by key as a real tree is.
    accounts = []
    for i in range(8):
        nonce = rng.randbytes(32)
        c = merkle.account_commitment(f"tree-user-{i}", nonce)
        eq = [rng.randrange(1 << 64), rng.randrange(1 << 20)]
        debt = [0, rng.randrange(1 << 10)]
        accounts.append((merkle.sort_key(c), c, eq, debt))
    accounts.sort()
    leaves8 = [merkle.leaf_hash(c, e, d) for _, c, e, d in accounts]
    leaves16 = [[rng.randrange(P) for _ in range(8)] for _ in range(16)]
    for leaves, idxs in ((leaves8, [0, 3, 5, 7]), (leaves16, [0, 1, 6, 10, 15])):
        levels = merkle.build_tree(leaves)
        root = merkle.root_of(levels)
        trees.append({
            "height": len(levels) - 1,
            "leaves": leaves,
            "levels": levels,
            "root": root,
            "root_hex": merkle.digest_to_hex(root),
            "paths": [{"index": i, "siblings": merkle.path(levels, i)} for i in idxs],
        })
    return {**header("tree", "node(l, r), build_tree levels (leaves first) and inclusion paths"),
            "node_cases": [{"left": leaves16[0], "right": leaves16[1],
                            "node": merkle.node_hash(leaves16[0], leaves16[1])}],
            "trees": trees}


_SCALAR_ARRAY = re.compile(r"\[\s*((?:-?\d+|\"\d*\")(?:,\s*(?:-?\d+|\"\d*\"))*)\s*\]")


def _dump(doc: dict) -> str:
    """Indented JSON with every array of plain numbers (or digit strings) on one line."""
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    text = _SCALAR_ARRAY.sub(lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    return text + "\n"


def build_all() -> dict[str, str]:
    out = {}
    makers = [("poseidon2", poseidon2_vectors), ("sponge", sponge_vectors),
              ("commitment", commitment_vectors), ("leaf", leaf_vectors), ("tree", tree_vectors)]
    for seed, (name, fn) in enumerate(makers, start=1):
        doc = fn(random.Random(0x504F52_00 + seed))  # "POR" + index
        out[f"{name}.json"] = _dump(doc)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    ap.add_argument("--out", type=Path, default=VECTOR_DIR)
    args = ap.parse_args()
    files = build_all()
    if args.check:
        bad = [n for n, text in files.items()
               if not (args.out / n).exists()
               or (args.out / n).read_text(encoding="utf-8") != text]
        for n in bad:
            print(f"differs: {args.out / n}", file=sys.stderr)
        return 1 if bad else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for n, text in files.items():
        (args.out / n).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / n} ({len(text.encode())} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
