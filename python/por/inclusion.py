"""The customer's inclusion proof: format ``por-inclusion-proof`` version 1, and its check.

One small JSON file per customer and round (docs/inclusion-proof.md is the normative
description). It carries the customer's account id and secret nonce, their per-asset
balances, their leaf index and the Merkle path to the root that the liabilities proof binds.

:func:`verify_inclusion` recomputes everything from the customer-visible inputs —
commitment from (account id, nonce), leaf from (commitment, balances), root from
(leaf, index, siblings) — and compares the result with the root *proven by the liabilities
proof*, which the caller passes in (never the root written in this file). The ``commitment``
and ``leaf`` digests written in the file are not trusted; they are only used to say *which*
input is wrong when the check fails. Any failure raises :class:`InclusionError` with a
``reason``:

* ``format``     the file is not a valid version-1 proof (JSON, field, hex, range errors);
* ``round``      the proof is for another round than the one being checked;
* ``assets``     its asset list differs from the round's (order matters: it is the leaf order);
* ``root``       it claims another root than the one the liabilities proof proves;
* ``height``     its tree height differs from the proven one;
* ``account``    it is for another account id than the caller expects;
* ``balances_expected``  its balances differ from those the caller expects;
* ``commitment`` (account id, nonce) does not give the commitment the leaf was built on
  (wrong nonce or id);
* ``balance``    the balances do not give the leaf that was put in the tree;
* ``path``       the leaf index or a sibling is wrong: the path does not end at the root.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from por import merkle
from por.merkle import AMOUNT_LIMIT, DIGEST_LEN, MAX_TREE_HEIGHT, Digest, HashInputError

FORMAT = "por-inclusion-proof"
VERSION = 1

_AMOUNT_RE = re.compile(r"0|[1-9][0-9]{0,19}")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_B64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")
ROUND_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9._-]{0,15}$"
MAX_ASSETS = 256
#: Reject files larger than this before parsing (a valid proof is a few KB).
MAX_PROOF_BYTES = 64 * 1024

REASONS = (
    "format", "round", "assets", "root", "height", "account", "balances_expected",
    "commitment", "balance", "path",
)


class InclusionError(Exception):
    """An inclusion proof failed to verify; ``reason`` says which check failed."""

    def __init__(self, reason: str, message: str):
        assert reason in REASONS, reason
        super().__init__(f"[{reason}] {message}")
        self.reason = reason
        self.message = message


def _parse_amount(v: str, where: str) -> int:
    if not isinstance(v, str) or not _AMOUNT_RE.fullmatch(v):
        raise ValueError(f"{where} must be a decimal integer string without sign or leading "
                         f"zeros, got {v!r}")
    n = int(v)
    if n >= AMOUNT_LIMIT:
        raise ValueError(f"{where} = {v} is not below 2^64")
    return n


def _check_hex_digest(v: str, where: str) -> str:
    try:
        merkle.digest_from_hex(v)
    except HashInputError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return v


class Balance(BaseModel):
    """One asset's balances, in the asset's base unit, as decimal strings."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    equity: str
    debt: str

    @field_validator("equity", "debt")
    @classmethod
    def _amount(cls, v: str, info) -> str:
        _parse_amount(v, info.field_name)
        return v


class InclusionProof(BaseModel):
    """The version-1 customer inclusion proof (see docs/inclusion-proof.md)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    format: Literal["por-inclusion-proof"]
    version: Literal[1]
    round_id: Annotated[str, Field(pattern=ROUND_ID_PATTERN)]
    account_id: str
    nonce: str
    assets: Annotated[list[Annotated[str, Field(pattern=SYMBOL_PATTERN)]],
                      Field(min_length=1, max_length=MAX_ASSETS)]
    balances: dict[str, Balance]
    commitment: str
    leaf: str
    leaf_index: Annotated[int, Field(ge=0)]
    tree_height: Annotated[int, Field(ge=1, le=MAX_TREE_HEIGHT)]
    siblings: str
    root: str

    @field_validator("account_id")
    @classmethod
    def _account_id(cls, v: str) -> str:
        try:
            merkle.account_id_bytes(v)
        except HashInputError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("nonce")
    @classmethod
    def _nonce(cls, v: str) -> str:
        if not _HEX64_RE.fullmatch(v):
            raise ValueError("the nonce is exactly 64 lowercase hex digits (32 bytes)")
        return v

    @field_validator("commitment", "leaf", "root")
    @classmethod
    def _digest(cls, v: str, info) -> str:
        return _check_hex_digest(v, info.field_name)

    @field_validator("siblings")
    @classmethod
    def _siblings_b64(cls, v: str) -> str:
        if len(v) % 4 or not _B64_RE.fullmatch(v):
            raise ValueError("siblings must be standard base64 (RFC 4648, padded, no newlines)")
        return v

    @model_validator(mode="after")
    def _consistency(self) -> InclusionProof:
        if len(set(self.assets)) != len(self.assets):
            raise ValueError("assets: a symbol appears twice")
        unknown = [s for s in self.balances if s not in self.assets]
        if unknown:
            raise ValueError(f"balances: {unknown} not in the proof's asset list")
        if self.leaf_index >= (1 << self.tree_height):
            raise ValueError(f"leaf_index {self.leaf_index} is outside [0, 2^{self.tree_height})")
        raw = base64.b64decode(self.siblings, validate=True)
        if base64.b64encode(raw).decode("ascii") != self.siblings:
            raise ValueError("siblings: not the canonical base64 encoding")
        if len(raw) != 4 * DIGEST_LEN * self.tree_height:
            raise ValueError(f"siblings: {len(raw)} bytes, expected 32 per level x "
                             f"{self.tree_height} levels = {32 * self.tree_height}")
        for j in range(self.tree_height):
            try:
                merkle.digest_from_bytes(raw[32 * j:32 * j + 32])
            except HashInputError as exc:
                raise ValueError(f"siblings: level {j}: {exc}") from None
        return self

    # --- typed views -----------------------------------------------------------------

    def nonce_bytes(self) -> bytes:
        return bytes.fromhex(self.nonce)

    def sibling_digests(self) -> list[Digest]:
        raw = base64.b64decode(self.siblings, validate=True)
        return [merkle.digest_from_bytes(raw[i:i + 32]) for i in range(0, len(raw), 32)]

    def amounts(self) -> tuple[list[int], list[int]]:
        """Equity and debt per asset, in the proof's asset order (absent = 0)."""
        eq, debt = [], []
        for sym in self.assets:
            b = self.balances.get(sym)
            eq.append(int(b.equity) if b else 0)
            debt.append(int(b.debt) if b else 0)
        return eq, debt

    def to_json(self) -> str:
        """Compact JSON (no spaces), the form published to customers."""
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"),
                          ensure_ascii=False)


@dataclass(frozen=True)
class InclusionResult:
    """What a successful check established."""

    round_id: str
    account_id: str
    assets: tuple[str, ...]
    #: symbol -> (equity, debt) in base units, every asset of the round (zeros included)
    balances: dict[str, tuple[int, int]]
    leaf_index: int
    tree_height: int
    commitment_hex: str
    leaf_hex: str
    root_hex: str

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "round_id": self.round_id,
            "account_id": self.account_id,
            "assets": list(self.assets),
            "balances": {s: {"equity": str(e), "debt": str(d)}
                         for s, (e, d) in self.balances.items()},
            "leaf_index": self.leaf_index,
            "tree_height": self.tree_height,
            "commitment": self.commitment_hex,
            "leaf": self.leaf_hex,
            "root": self.root_hex,
        }


# --- loading -------------------------------------------------------------------------------


def _describe(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        parts.append(f"field {loc!r}: {msg}")
    return "; ".join(parts)


def load_inclusion_proof(source: str | bytes | Path | Mapping[str, Any],
                         *, name: str | None = None) -> InclusionProof:
    """Parse and strictly validate a proof from JSON text/bytes, a file path, or a dict.

    Raises :class:`InclusionError` with reason ``format`` naming the file and field.
    """
    label = name
    if isinstance(source, Path):
        label = label or str(source)
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise InclusionError("format", f"{label}: cannot read: {exc}") from None
        source = data
    label = label or "inclusion proof"
    if isinstance(source, Mapping):
        if source.get("format") != FORMAT:
            raise InclusionError("format", f"{label}: field 'format' must be {FORMAT!r}, "
                                 f"got {source.get('format')!r}")
        version = source.get("version")
        if type(version) is not int or version != VERSION:
            raise InclusionError("format", f"{label}: unsupported version "
                                 f"{source.get('version')!r} (this tool reads version {VERSION})")
        try:
            return InclusionProof.model_validate(dict(source))
        except ValidationError as exc:
            raise InclusionError("format", f"{label}: {_describe(exc)}") from None
    if isinstance(source, str):
        source = source.encode("utf-8")
    if not isinstance(source, (bytes, bytearray)):
        raise InclusionError("format", f"{label}: expected JSON text, bytes, a path or a dict")
    if len(source) > MAX_PROOF_BYTES:
        raise InclusionError("format", f"{label}: {len(source)} bytes, larger than any valid "
                             f"proof ({MAX_PROOF_BYTES} bytes max)")
    try:
        obj = json.loads(source)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InclusionError("format", f"{label}: not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InclusionError("format", f"{label}: the top level must be a JSON object")
    # Re-validate from the text in strict JSON mode (so that e.g. 1.0 is not an int).
    if obj.get("format") != FORMAT or type(obj.get("version")) is not int \
            or obj.get("version") != VERSION:
        return load_inclusion_proof(obj, name=label)
    try:
        return InclusionProof.model_validate_json(source)
    except ValidationError as exc:
        raise InclusionError("format", f"{label}: {_describe(exc)}") from None


# --- making (operator side) ------------------------------------------------------------------


def make_inclusion_proof(*, round_id: str, account_id: str, nonce: bytes,
                         assets: Sequence[str], equity: Sequence[int], debt: Sequence[int],
                         leaf_index: int, siblings: Sequence[Sequence[int]],
                         root: Sequence[int], commitment: Sequence[int] | None = None,
                         leaf: Sequence[int] | None = None,
                         check: bool = True) -> InclusionProof:
    """Build a customer's proof from the operator's data (and check it before returning).

    ``siblings`` are the h digests bottom-up (:func:`por.merkle.path`), ``root`` the tree's
    root. Assets whose equity and debt are both zero are left out of ``balances``.

    For bulk export, an operator that already has each customer's ``commitment`` and
    ``leaf`` (e.g. from the Rust core) may pass them and ``check=False``: no Poseidon2 is then
    computed here (about 0.1 ms instead of about 8 ms per proof). With ``check=True`` (the
    default) the finished proof is verified with :func:`verify_inclusion` and a proof that
    would not verify raises :class:`InclusionError`.
    """
    if not (len(assets) == len(equity) == len(debt)):
        raise ValueError(f"{len(assets)} assets, {len(equity)} equity, {len(debt)} debt values")
    if commitment is None:
        commitment = merkle.account_commitment(account_id, nonce)
    if leaf is None:
        leaf = merkle.leaf_hash(commitment, list(equity), list(debt))
    sib = [merkle.check_digest(s, f"sibling {j}") for j, s in enumerate(siblings)]
    packed = b"".join(merkle.digest_to_bytes(s) for s in sib)
    balances = {s: {"equity": str(e), "debt": str(d)}
                for s, e, d in zip(assets, equity, debt) if e or d}
    data = {
        "format": FORMAT,
        "version": VERSION,
        "round_id": round_id,
        "account_id": account_id,
        "nonce": bytes(nonce).hex(),
        "assets": list(assets),
        "balances": balances,
        "commitment": merkle.digest_to_hex(commitment),
        "leaf": merkle.digest_to_hex(leaf),
        "leaf_index": leaf_index,
        "tree_height": len(sib),
        "siblings": base64.b64encode(packed).decode("ascii"),
        "root": merkle.digest_to_hex(root),
    }
    proof = load_inclusion_proof(data, name=f"proof for {account_id!r}")
    if check:
        # Refuse to hand out a proof that does not verify.
        verify_inclusion(proof, root, list(assets), round_id)
    return proof


# --- verifying (customer side) ----------------------------------------------------------------


def _root_hex(expected_root: Sequence[int] | str) -> str:
    try:
        if isinstance(expected_root, str):
            merkle.digest_from_hex(expected_root)
            return expected_root
        return merkle.digest_to_hex(expected_root)
    except HashInputError as exc:
        raise ValueError(f"expected_root: {exc}") from None


def verify_inclusion(proof: InclusionProof | str | bytes | Path | Mapping[str, Any],
                     expected_root: Sequence[int] | str,
                     expected_assets: Sequence[str],
                     expected_round_id: str,
                     *,
                     expected_tree_height: int | None = None,
                     expected_account_id: str | None = None,
                     expected_balances: Mapping[str, tuple[int, int]] | None = None,
                     ) -> InclusionResult:
    """Check a customer's inclusion proof against the root proven by the liabilities proof.

    ``expected_root``, ``expected_assets``, ``expected_round_id`` and (if given)
    ``expected_tree_height`` come from the verified liabilities proof (its public statement),
    never from the inclusion proof itself.
    Optionally also check the account id and the balances the customer sees on their
    account (``{symbol: (equity, debt)}``, absent symbols meaning zero).
    Returns an :class:`InclusionResult`; raises :class:`InclusionError` otherwise.
    """
    if not isinstance(proof, InclusionProof):
        proof = load_inclusion_proof(proof)
    root_hex = _root_hex(expected_root)

    if proof.round_id != expected_round_id:
        raise InclusionError("round", f"the proof is for round {proof.round_id!r}, "
                             f"not {expected_round_id!r}")
    if list(proof.assets) != list(expected_assets):
        raise InclusionError("assets", f"the proof's assets {proof.assets} differ from the "
                             f"round's {list(expected_assets)} (the order is the leaf order)")
    if proof.root != root_hex:
        raise InclusionError("root", f"the proof is for root {proof.root}, but the liabilities "
                             f"proof proves root {root_hex}")
    if expected_tree_height is not None and proof.tree_height != expected_tree_height:
        raise InclusionError("height", f"the proof's path has {proof.tree_height} levels, but "
                             f"the proven tree has height {expected_tree_height}")
    if expected_account_id is not None and proof.account_id != expected_account_id:
        raise InclusionError("account", f"the proof is for account {proof.account_id!r}, "
                             f"not {expected_account_id!r}")
    eq, debt = proof.amounts()
    if expected_balances is not None:
        for sym in expected_balances:
            if sym not in proof.assets:
                raise InclusionError("balances_expected", f"asset {sym!r} is not in the round")
        for sym, e, d in zip(proof.assets, eq, debt):
            want = tuple(expected_balances.get(sym, (0, 0)))
            if (e, d) != want:
                raise InclusionError(
                    "balances_expected",
                    f"{sym}: the proof has equity {e}, debt {d}; expected equity {want[0]}, "
                    f"debt {want[1]}")

    commitment = merkle.account_commitment(proof.account_id, proof.nonce_bytes())
    commitment_hex = merkle.digest_to_hex(commitment)
    leaf = merkle.leaf_hash(commitment, eq, debt)
    leaf_hex = merkle.digest_to_hex(leaf)
    walked = merkle.digest_to_hex(
        merkle.walk_path(leaf, proof.leaf_index, proof.sibling_digests()))
    if walked == root_hex:
        if (commitment_hex, leaf_hex) != (proof.commitment, proof.leaf):
            # The path is right but the file's own digests are not: a broken producer.
            raise InclusionError("format", "the path verifies, but the file's 'commitment' or "
                                 "'leaf' field does not match the recomputed value")
        return InclusionResult(
            round_id=proof.round_id, account_id=proof.account_id,
            assets=tuple(proof.assets),
            balances={s: (e, d) for s, e, d in zip(proof.assets, eq, debt)},
            leaf_index=proof.leaf_index, tree_height=proof.tree_height,
            commitment_hex=commitment_hex, leaf_hex=leaf_hex, root_hex=root_hex,
        )
    # Failed. Use the (untrusted) digests written in the file to say which input is wrong.
    if commitment_hex != proof.commitment:
        raise InclusionError("commitment", "the account id and nonce do not give the "
                             "account commitment of this leaf (wrong nonce or account id)")
    if leaf_hex != proof.leaf:
        raise InclusionError("balance", "the balances do not give the leaf that is in the "
                             "tree (a balance was changed)")
    raise InclusionError("path", f"the Merkle path from leaf index {proof.leaf_index} ends at "
                         f"{walked}, not at the proven root {root_hex} (wrong index or sibling)")


__all__ = [
    "FORMAT", "VERSION", "REASONS", "InclusionError", "Balance", "InclusionProof",
    "InclusionResult", "load_inclusion_proof", "make_inclusion_proof", "verify_inclusion",
]
