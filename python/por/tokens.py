"""Customer access tokens for the proof service (format ``por-proof-token`` version 1).

The exchange gives each logged-in customer a short text token; the proof service
(:mod:`por.service`) hands the token holder their own inclusion proof and nothing else.
docs/serve.md is the normative description. In short::

    token   = "por1." || b64url(claims) || "." || b64url(signature)
    claims  = compact JSON {"v":1,"kid":KEY_ID,"acct":ACCOUNT_ID,"round":ROUND_ID,"iat":T0,"exp":T1}
    message = b"por-proof-token\\x00v1\\x00" || claims          (domain-separated)
    signature = Ed25519(signing key, message)                   (64 bytes, RFC 8032)

``b64url`` is RFC 4648 §5 base64url without ``=`` padding. ``KEY_ID`` names the verify key
(16 hex digits of SHA-256 over a tag and the public key), so keys can be rotated: the service
accepts every key in its key ring.

Why ed25519 rather than HMAC-SHA256: the proof service is the internet-facing part; with a
signature it holds only the *public* key, so a compromised service host cannot mint tokens
for other customers' proofs. The signing key stays with the exchange's login backend (or
``por token issue``). The price, ~60 µs per verification, is paid once per token thanks to
the verification cache of :class:`TokenVerifier`.

Every refusal raises :class:`TokenError` with a ``code``; the codes a client may see are
``invalid_token`` (missing, malformed, unknown key, bad signature: all one answer) and
``token_expired`` (only after the signature verified, so it reveals nothing to a forger).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Annotated, Iterable, Literal

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from por.inclusion import ROUND_ID_PATTERN
from por.fileio import atomic_write, read_json

TOKEN_PREFIX = "por1."
TOKEN_VERSION = 1
SIGN_DOMAIN = b"por-proof-token\x00v1\x00"
KEY_FORMAT = "por-token-key"
KEY_VERSION = 1
#: A token longer than this is refused before any decoding (a real one is ~200-600 chars).
MAX_TOKEN_CHARS = 2048
#: Tokens may not live longer than this (a round is monthly; a year is generous).
MAX_TTL_SECONDS = 400 * 86400
#: Clock skew tolerated between the issuer and the service for ``iat``.
CLOCK_SKEW_SECONDS = 300

_B64URL_RE = re.compile(r"[A-Za-z0-9_-]+")
_TTL_RE = re.compile(r"([1-9][0-9]{0,9})([smhd]?)")
_TTL_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class TokenError(Exception):
    """A token was refused (``code`` is what the service answers) or could not be made."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class KeyFileError(Exception):
    """A token key file is missing, malformed, or of the wrong kind."""


class TokenClaims(BaseModel):
    """What a token says, once its signature has verified."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    v: Literal[1]
    kid: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
    acct: Annotated[str, Field(min_length=1, max_length=256)]
    round: Annotated[str, Field(pattern=ROUND_ID_PATTERN)]
    iat: Annotated[int, Field(ge=0)]
    exp: Annotated[int, Field(ge=0)]


# --- encoding ---------------------------------------------------------------------------------


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict, canonical base64url without padding (raises ``ValueError``)."""
    if not _B64URL_RE.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None
    if b64url_encode(raw) != text:  # non-zero padding bits: refuse a second spelling
        raise ValueError("not canonical base64url")
    return raw


def key_id(public_key: bytes) -> str:
    """The 16-hex-digit id of an ed25519 verify key."""
    return hashlib.sha256(b"por-token-key-id\x00" + public_key).hexdigest()[:16]


def parse_ttl(text: str) -> int:
    """``"30d"``, ``"12h"``, ``"15m"``, ``"90s"`` or ``"90"`` -> seconds."""
    m = _TTL_RE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"TTL {text!r}: expected a positive number with an optional unit "
                         "s, m, h or d (e.g. 30d)")
    seconds = int(m.group(1)) * _TTL_UNIT[m.group(2)]
    if seconds > MAX_TTL_SECONDS:
        raise ValueError(f"TTL {text!r} is longer than the maximum of "
                         f"{MAX_TTL_SECONDS // 86400} days")
    return seconds


# --- keys -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenKey:
    """An ed25519 key pair (``signing`` is None for a verify-only key)."""

    public: bytes
    signing: bytes | None = None

    @property
    def kid(self) -> str:
        return key_id(self.public)

    @classmethod
    def generate(cls) -> TokenKey:
        sk = SigningKey.generate()
        return cls(public=bytes(sk.verify_key), signing=bytes(sk))

    def public_only(self) -> TokenKey:
        return TokenKey(public=self.public)

    def to_json(self) -> dict:
        doc = {"format": KEY_FORMAT, "version": KEY_VERSION,
               "type": "ed25519-signing-key" if self.signing else "ed25519-public-key",
               "key_id": self.kid, "public_key": self.public.hex()}
        if self.signing:
            doc["seed"] = self.signing.hex()
        return doc


def load_key(path: str | os.PathLike) -> TokenKey:
    """Read a key file written by :func:`write_key` (signing or public)."""
    p = Path(path)
    doc = read_json(p, KeyFileError)
    if not isinstance(doc, dict) or doc.get("format") != KEY_FORMAT:
        raise KeyFileError(f"{p}: field 'format' must be {KEY_FORMAT!r}")
    if type(doc.get("version")) is not int or doc["version"] != KEY_VERSION:
        raise KeyFileError(f"{p}: unsupported version {doc.get('version')!r}")
    kind = doc.get("type")
    try:
        public = bytes.fromhex(doc["public_key"])
        if len(public) != 32:
            raise ValueError("public_key is not 32 bytes")
        VerifyKey(public)
        signing = None
        if kind == "ed25519-signing-key":
            signing = bytes.fromhex(doc["seed"])
            if len(signing) != 32:
                raise ValueError("seed is not 32 bytes")
            if bytes(SigningKey(signing).verify_key) != public:
                raise ValueError("public_key does not belong to seed")
        elif kind != "ed25519-public-key":
            raise ValueError(f"field 'type' is {kind!r}")
    except KeyError as exc:
        raise KeyFileError(f"{p}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise KeyFileError(f"{p}: {exc}") from None
    key = TokenKey(public=public, signing=signing)
    if doc.get("key_id") != key.kid:
        raise KeyFileError(f"{p}: field 'key_id' is not the id of public_key ({key.kid})")
    return key


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    atomic_write(path, data, mode=mode)


def write_key(key: TokenKey, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a key file atomically (a signing key readable by its owner only)."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise KeyFileError(f"{p}: exists; refusing to overwrite a key")
    _atomic_write(p, (json.dumps(key.to_json(), indent=1) + "\n").encode(),
                  0o600 if key.signing else 0o644)
    return p


def public_key_path(signing_key_path: str | os.PathLike) -> Path:
    """Where ``por token keygen`` puts the public half: ``KEYFILE.pub``."""
    p = Path(signing_key_path)
    return p.with_name(p.name + ".pub")


# --- issuing ----------------------------------------------------------------------------------


def issue_token(key: TokenKey, account_id: str, round_id: str, ttl_seconds: int,
                *, now: int | None = None) -> str:
    """Sign a token for ``account_id``'s proof of ``round_id``, valid ``ttl_seconds``."""
    if key.signing is None:
        raise TokenError("invalid_key", "a public key cannot issue tokens; use the signing key")
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise TokenError("invalid_ttl", f"TTL {ttl_seconds} s is not in (0, {MAX_TTL_SECONDS}]")
    iat = int(time.time()) if now is None else int(now)
    try:
        claims = TokenClaims(v=TOKEN_VERSION, kid=key.kid, acct=account_id, round=round_id,
                             iat=iat, exp=iat + ttl_seconds)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        raise TokenError("invalid_claims", f"cannot issue a token: invalid {fields} "
                         f"(account id 1-256 chars, round id {ROUND_ID_PATTERN})") from None
    payload = json.dumps(claims.model_dump(), separators=(",", ":"),
                         ensure_ascii=False).encode()
    sig = SigningKey(key.signing).sign(SIGN_DOMAIN + payload).signature
    return TOKEN_PREFIX + b64url_encode(payload) + "." + b64url_encode(sig)


# --- verifying --------------------------------------------------------------------------------

#: The one answer to every refused token (and to a valid one that names no stored proof).
INVALID_MESSAGE = "the token is missing, malformed, forged, or grants no proof here"
_INVALID = INVALID_MESSAGE


class TokenVerifier:
    """Check tokens against a key ring, with a bounded cache of verified signatures.

    The cache maps the exact token text to its verified claims; expiry is checked on every
    use, so a cached token still expires on time. Refused tokens are never cached.
    """

    def __init__(self, keys: Iterable[TokenKey], *, cache_size: int = 65536,
                 clock=time.time):
        self._keys = {k.kid: VerifyKey(k.public) for k in keys}
        if not self._keys:
            raise ValueError("a token verifier needs at least one key")
        self._cache: OrderedDict[str, TokenClaims] = OrderedDict()
        self._cache_size = cache_size
        self._lock = Lock()
        self._clock = clock
        self.hits = 0
        self.misses = 0

    def _verify_signature(self, token: str) -> TokenClaims:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS \
                or not token.startswith(TOKEN_PREFIX):
            raise TokenError("invalid_token", _INVALID)
        parts = token[len(TOKEN_PREFIX):].split(".")
        if len(parts) != 2:
            raise TokenError("invalid_token", _INVALID)
        try:
            payload = b64url_decode(parts[0])
            sig = b64url_decode(parts[1])
        except ValueError:
            raise TokenError("invalid_token", _INVALID) from None
        if len(sig) != 64:
            raise TokenError("invalid_token", _INVALID)
        # The key id is read from the (not yet trusted) payload only to pick the key; a
        # wrong pick fails the signature check below.
        m = re.search(rb'"kid":"([0-9a-f]{16})"', payload)
        vk = None
        used = ""
        if m:
            want = m.group(1).decode()
            for kid, k in self._keys.items():
                if hmac.compare_digest(kid, want):
                    vk, used = k, kid
        if vk is None:
            raise TokenError("invalid_token", _INVALID)
        try:
            vk.verify(SIGN_DOMAIN + payload, sig)
        except BadSignatureError:
            raise TokenError("invalid_token", _INVALID) from None
        try:
            claims = TokenClaims.model_validate_json(payload)
        except ValidationError:
            # Signed by our key but not a valid v1 claim set: an issuer bug; refuse it.
            raise TokenError("invalid_token", _INVALID) from None
        if not hmac.compare_digest(claims.kid, used):
            raise TokenError("invalid_token", _INVALID)
        return claims

    def verify(self, token: str) -> TokenClaims:
        """The claims of a valid, unexpired token; raises :class:`TokenError` otherwise."""
        with self._lock:
            claims = self._cache.get(token)
            if claims is not None:
                self._cache.move_to_end(token)
                self.hits += 1
        if claims is None:
            claims = self._verify_signature(token)
            with self._lock:
                self.misses += 1
                self._cache[token] = claims
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        now = self._clock()
        if now >= claims.exp:
            raise TokenError("token_expired", "the token has expired; get a new one from "
                             "the exchange")
        if claims.iat > now + CLOCK_SKEW_SECONDS:
            raise TokenError("invalid_token", _INVALID)
        return claims


__all__ = [
    "TOKEN_PREFIX", "TOKEN_VERSION", "MAX_TTL_SECONDS", "TokenError", "KeyFileError",
    "TokenClaims", "TokenKey", "TokenVerifier", "issue_token", "load_key", "write_key",
    "key_id", "parse_ttl", "public_key_path",
]
