#!/usr/bin/env python3
"""Customer inclusion proofs: JSON size and pure-Python verify time (prints JSON).

Each case builds a valid proof for a leaf at a random index of a tree of the given height
(random siblings; the root is the walked path), then times verify_inclusion on its JSON text.
"""

import json
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))

from por import inclusion, merkle  # noqa: E402
from por.amounts import DEFAULT_ASSETS  # noqa: E402
from por.poseidon2 import P, permute  # noqa: E402

ASSETS = [a.symbol for a in DEFAULT_ASSETS]
K = len(ASSETS)
MAX = 2**64 - 1


def case(rng, name, h, eq, debt, account_id="user-0001234567", reps=20):
    nonce = rng.randbytes(32)
    c = merkle.account_commitment(account_id, nonce)
    leaf = merkle.leaf_hash(c, eq, debt)
    sib = [[rng.randrange(P) for _ in range(8)] for _ in range(h)]
    idx = rng.randrange(1 << h)
    root = merkle.walk_path(leaf, idx, sib)
    proof = inclusion.make_inclusion_proof(
        round_id="2025-06", account_id=account_id, nonce=nonce, assets=ASSETS, equity=eq,
        debt=debt, leaf_index=idx, siblings=sib, root=root)
    text = proof.to_json()
    t = time.perf_counter()
    for _ in range(reps):
        inclusion.verify_inclusion(text, root, ASSETS, "2025-06", expected_tree_height=h)
    ms = (time.perf_counter() - t) / reps * 1000
    return {"case": name, "tree_height": h, "json_bytes": len(text.encode()),
            "verify_ms": round(ms, 2)}


def main():
    rng = random.Random(1)
    typical_eq = [0] * K
    for i, v in ((0, 123_456_789), (1, 45_000_000_000), (2, 50_000_000_000), (5, 10**12),
                 (8, 999_999_999_999)):
        typical_eq[i] = v
    typical_debt = [0] * K
    typical_debt[2] = 12_345_678_901
    cases = [
        case(rng, "5 non-zero assets", 24, typical_eq, typical_debt),
        case(rng, "5 non-zero assets", 20, typical_eq, typical_debt),
        case(rng, "1 non-zero asset", 24, [5] + [0] * (K - 1), [0] * K),
        case(rng, "8 assets, 19-digit balances", 24, [10**18] * 8 + [0] * (K - 8), [0] * K),
        case(rng, "22 assets, equity and debt 2^64-1", 24, [MAX] * K, [MAX] * K),
        case(rng, "22 assets at 2^64-1, 256-byte id", 24, [MAX] * K, [MAX] * K,
             account_id="x" * 256),
    ]
    x = list(range(24))
    n = 2000
    t = time.perf_counter()
    for _ in range(n):
        permute(x)
    perm_us = (time.perf_counter() - t) / n * 1e6
    print(json.dumps({
        "bench": "inclusion_proof",
        "python": platform.python_version(),
        "poseidon2_permute_us": round(perm_us, 1),
        "cases": cases,
    }, indent=1))


if __name__ == "__main__":
    main()
