"""Account commitments, leaves and the Merkle tree of docs/hashing.md (format version 1).

Pure Python, built on :mod:`por.poseidon2`; the Rust core implements the same definition
independently and both reproduce ``tests/vectors/*.json``. Digests are lists of 8 canonical
KoalaBear elements. Their canonical text form (:func:`digest_to_hex`) is the 8 elements as
4-byte little-endian words, concatenated (32 bytes), written as 64 lowercase hex digits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from por.poseidon2 import P, WIDTH, _permute_unchecked, permute

RATE = 16
DIGEST_LEN = 8
TAG_ACCOUNT = 1
TAG_LEAF = 2
TAG_NODE = 3
NONCE_BYTES = 32
MAX_ACCOUNT_ID_BYTES = 256
AMOUNT_LIMIT = 1 << 64
KEY_MASK = (1 << 30) - 1
#: The tallest tree the tools accept (2^32 leaves is far beyond any exchange).
MAX_TREE_HEIGHT = 32

Digest = list[int]
_HEX64 = re.compile(r"[0-9a-f]{64}")


class HashInputError(ValueError):
    """An input to the hashing functions is out of its documented domain."""


def _check_elements(xs: Sequence[int], what: str) -> list[int]:
    out = []
    for i, x in enumerate(xs):
        if type(x) is not int:
            raise HashInputError(f"{what}[{i}] is {type(x).__name__}, not int")
        if not 0 <= x < P:
            raise HashInputError(f"{what}[{i}] = {x} is not a canonical field element")
        out.append(x)
    return out


def check_digest(d: Sequence[int], what: str = "digest") -> Digest:
    """Validate a digest: exactly 8 canonical field elements."""
    if isinstance(d, (str, bytes)) or len(d) != DIGEST_LEN:
        raise HashInputError(f"{what} must have {DIGEST_LEN} elements")
    return _check_elements(d, what)


# --- sponge ------------------------------------------------------------------------------


def sponge(tag: int, xs: Sequence[int]) -> Digest:
    """The overwrite-mode sponge of docs/hashing.md: capacity = [tag, len(xs), 0...]."""
    if type(tag) is not int or not 0 <= tag < P:
        raise HashInputError(f"tag {tag!r} is not a field element")
    xs = _check_elements(xs, "xs")
    if len(xs) >= P:
        raise HashInputError("input too long")
    state = [0] * WIDTH
    state[16] = tag
    state[17] = len(xs)
    nblocks = max(1, -(-len(xs) // RATE))
    padded = xs + [0] * (nblocks * RATE - len(xs))
    for b in range(nblocks):
        state[0:RATE] = padded[b * RATE:(b + 1) * RATE]
        state = _permute_unchecked(state)
    return state[:DIGEST_LEN]


# --- account commitment --------------------------------------------------------------


def bytes_to_elements(b: bytes) -> list[int]:
    """3-byte little-endian chunks, one element each (the last one may be shorter)."""
    return [int.from_bytes(b[i:i + 3], "little") for i in range(0, len(b), 3)]


def account_id_bytes(account_id: str) -> bytes:
    if not isinstance(account_id, str):
        raise HashInputError(f"account id must be a str, got {type(account_id).__name__}")
    raw = account_id.encode("utf-8")
    if not 1 <= len(raw) <= MAX_ACCOUNT_ID_BYTES:
        raise HashInputError(
            f"account id must be 1 to {MAX_ACCOUNT_ID_BYTES} bytes of UTF-8, got {len(raw)}"
        )
    return raw


def account_commitment(account_id: str, nonce: bytes) -> Digest:
    """commitment = sponge(TAG_ACCOUNT, [len(id)] + b2e(id) + b2e(nonce)), c0, c1 mod 2^30."""
    raw = account_id_bytes(account_id)
    if not isinstance(nonce, (bytes, bytearray)) or len(nonce) != NONCE_BYTES:
        raise HashInputError(f"nonce must be exactly {NONCE_BYTES} bytes")
    xs = [len(raw)] + bytes_to_elements(raw) + bytes_to_elements(bytes(nonce))
    h = sponge(TAG_ACCOUNT, xs)
    return [h[0] & KEY_MASK, h[1] & KEY_MASK] + h[2:]


def sort_key(commitment: Sequence[int]) -> int:
    """The 60-bit sort key c0 * 2^30 + c1 (both must already be < 2^30)."""
    c = check_digest(commitment, "commitment")
    if c[0] > KEY_MASK or c[1] > KEY_MASK:
        raise HashInputError("commitment elements 0 and 1 must be below 2^30")
    return (c[0] << 30) | c[1]


# --- leaf ----------------------------------------------------------------------------------


def limbs(v: int) -> list[int]:
    """Four 16-bit little-endian limbs of an amount in [0, 2^64)."""
    if type(v) is not int or not 0 <= v < AMOUNT_LIMIT:
        raise HashInputError(f"amount {v!r} is not an integer in [0, 2^64)")
    return [v & 0xFFFF, (v >> 16) & 0xFFFF, (v >> 32) & 0xFFFF, v >> 48]


def leaf_hash(commitment: Sequence[int], equity: Sequence[int], debt: Sequence[int]) -> Digest:
    """leaf = sponge(TAG_LEAF, commitment + limbs(e_1..e_K) + limbs(d_1..d_K))."""
    c = check_digest(commitment, "commitment")
    if len(equity) != len(debt):
        raise HashInputError(f"{len(equity)} equity amounts but {len(debt)} debt amounts")
    if len(equity) == 0:
        raise HashInputError("a leaf needs at least one asset")
    xs = list(c)
    for i, v in enumerate(equity):
        try:
            xs += limbs(v)
        except HashInputError as exc:
            raise HashInputError(f"equity[{i}]: {exc}") from None
    for i, v in enumerate(debt):
        try:
            xs += limbs(v)
        except HashInputError as exc:
            raise HashInputError(f"debt[{i}]: {exc}") from None
    return sponge(TAG_LEAF, xs)


# --- tree ----------------------------------------------------------------------------------


def node_hash(left: Sequence[int], right: Sequence[int]) -> Digest:
    """node(l, r) = P([l, r, TAG_NODE, 0 x 7])[0..8]."""
    state = check_digest(left, "left") + check_digest(right, "right") + [TAG_NODE] + [0] * 7
    return _permute_unchecked(state)[:DIGEST_LEN]


def build_tree(leaves: Sequence[Sequence[int]]) -> list[list[Digest]]:
    """All levels, leaves first, root last (``levels[-1] == [root]``).

    The number of leaves must be a power of two, at least 2 (tree height h >= 1).
    """
    n = len(leaves)
    if n < 2 or n & (n - 1):
        raise HashInputError(f"the number of leaves must be a power of two >= 2, got {n}")
    level = [check_digest(x, f"leaf {i}") for i, x in enumerate(leaves)]
    levels = [level]
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def root_of(levels: list[list[Digest]]) -> Digest:
    return levels[-1][0]


def path(levels: list[list[Digest]], index: int) -> list[Digest]:
    """The h siblings of leaf ``index``, bottom-up."""
    n = len(levels[0])
    if type(index) is not int or not 0 <= index < n:
        raise HashInputError(f"leaf index {index!r} is outside [0, {n})")
    out = []
    i = index
    for level in levels[:-1]:
        out.append(list(level[i ^ 1]))
        i >>= 1
    return out


def walk_path(leaf: Sequence[int], index: int, siblings: Sequence[Sequence[int]]) -> Digest:
    """Fold the siblings into the root: bit j of ``index`` = 1 means the current digest is right."""
    h = len(siblings)
    if not 1 <= h <= MAX_TREE_HEIGHT:
        raise HashInputError(f"a path has 1 to {MAX_TREE_HEIGHT} siblings, got {h}")
    if type(index) is not int or not 0 <= index < (1 << h):
        raise HashInputError(f"leaf index {index!r} is outside [0, 2^{h})")
    cur = check_digest(leaf, "leaf")
    for j, sib in enumerate(siblings):
        s = check_digest(sib, f"sibling {j}")
        if (index >> j) & 1:
            cur = node_hash(s, cur)
        else:
            cur = node_hash(cur, s)
    return cur


def verify_path(leaf: Sequence[int], index: int, siblings: Sequence[Sequence[int]],
                root: Sequence[int]) -> bool:
    """True iff walking the path from ``leaf`` at ``index`` ends at ``root``.

    Malformed inputs (wrong lengths, non-canonical elements, index out of range) raise
    :class:`HashInputError` rather than returning False.
    """
    return walk_path(leaf, index, siblings) == check_digest(root, "root")


# --- canonical digest encodings ---------------------------------------------------------


def digest_to_bytes(d: Sequence[int]) -> bytes:
    """32 bytes: the 8 elements as 4-byte little-endian words."""
    return b"".join(x.to_bytes(4, "little") for x in check_digest(d))


def digest_from_bytes(b: bytes) -> Digest:
    if len(b) != 4 * DIGEST_LEN:
        raise HashInputError(f"a digest is {4 * DIGEST_LEN} bytes, got {len(b)}")
    words = [int.from_bytes(b[i:i + 4], "little") for i in range(0, 32, 4)]
    for i, w in enumerate(words):
        if w >= P:
            raise HashInputError(f"digest word {i} = {w} is not a canonical field element")
    return words


def digest_to_hex(d: Sequence[int]) -> str:
    """64 lowercase hex digits of :func:`digest_to_bytes`."""
    return digest_to_bytes(d).hex()


def digest_from_hex(s: str) -> Digest:
    """Parse 64 lowercase hex digits (the one canonical form) into a digest."""
    if not isinstance(s, str) or not _HEX64.fullmatch(s):
        raise HashInputError(f"{s!r} is not a digest: expected exactly 64 lowercase hex digits")
    return digest_from_bytes(bytes.fromhex(s))


__all__ = [
    "TAG_ACCOUNT", "TAG_LEAF", "TAG_NODE", "NONCE_BYTES", "MAX_ACCOUNT_ID_BYTES",
    "AMOUNT_LIMIT", "MAX_TREE_HEIGHT", "HashInputError", "permute", "sponge",
    "bytes_to_elements", "account_commitment", "sort_key", "limbs", "leaf_hash", "node_hash",
    "build_tree", "root_of", "path", "walk_path", "verify_path", "check_digest",
    "digest_to_bytes", "digest_from_bytes", "digest_to_hex", "digest_from_hex",
]
