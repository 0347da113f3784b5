"""Ownership verification: does each wallet's signature prove control of its address?

Every check fails closed. An unknown scheme or address type, a decoding failure, a duplicate
key in a multisig, too few signatures, or a message that is not the round's message is a
*failure*, never a skip. The only non-verified states are ``failed`` and ``unsupported``
(a scheme por cannot check, e.g. StarkNet), and both make a proof of assets fail.

Schemes (names used in wallet files, see docs/wallets.md):

===========================  ==================================================================
``btc-bms``                  Bitcoin "signmessage" (BIP-137 headers 27..42) for a P2PKH, P2SH-P2WPKH
                             or P2WPKH address; btclib.ecc.bms does the check. On Litecoin,
                             Dogecoin and Bitcoin Cash: legacy P2PKH only, with the chain's own
                             message magic and address version byte (:data:`BMS_NETWORKS`), the
                             key recovered by the same BIP-137 code (coincurve).
``btc-bms-multisig``         m-of-n P2SH / P2WSH (BTC) or P2SH (DOGE): each BMS signature's
                             recovered key must be a DISTINCT member of the redeem script, at
                             least m of them, and the script must hash to the address.
``bip322-simple``            BIP-322 "simple" signature (``smp`` + base64 witness; unprefixed accepted)
                             for P2WPKH, P2WSH or P2TR (key path or script path).
``bip322-full``              BIP-322 "full" signature (``ful`` + base64 to_sign transaction) for any
                             address type (P2PKH, P2SH, P2SH-P2WPKH, P2WSH, P2TR, time locks).
``bip322``                   either of the two, as the signature's prefix says.
``evm-personal-sign``        EIP-191 personal_sign over the message text.
``evm-personal-sign-keccak`` personal_sign over keccak256(message) (OKX's EVM form).
``tron-tip191``              TIP-191 over the message text ("\\x19TRON Signed Message:\\n"+len).
``tron-v1``                  TronWeb signMessage v1: over keccak256(message) with length 32.
``tron-okx``                 either of the two TRON forms (what OKX's verifier accepts).
``okx-ecdsa``                keccak256(varstr("OKX Signed Message:\\n") ++ varstr(msg)), EVM address.
``ed25519-okx``              ed25519 over varstr("OKX Signed Message:\\n") ++ varstr(msg).
``eos-okx``                  EOS SIG_K1 over sha256(varstr("OKX Signed Message:\\n") ++ varstr(msg)).
``xrp-keypairs``             XRP Ledger (ripple-keypairs ``sign``): ECDSA secp256k1, DER, low S,
                             over SHA-512Half(message); the row's public key (33 bytes) must be
                             the account's: RIPEMD160(SHA256(key)) in XRP's base58check alphabet.
``filecoin-secp256k1``       Filecoin (lotus ``wallet sign``): 0x01 || r || s || v over
                             blake2b-256(message); the recovered key's f1 address (blake2b-160
                             of the uncompressed key, base32 + blake2b-32 checksum) is the row's.
===========================  ==================================================================
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field

import base58 as _b58
import coincurve
from btclib import b32
from btclib import base58 as btc_base58
from btclib import bech32 as btc_bech32
from btclib.ecc import bms
from btclib.hashes import hash160
from eth_hash.auto import keccak
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from por.assets import bip322 as _bip322
from por.assets.wallets import WalletEntry

VERIFIED = "verified"
FAILED = "failed"
UNSUPPORTED = "unsupported scheme"

SCHEMES = (
    "btc-bms",
    "btc-bms-multisig",
    "bip322-simple",
    "bip322-full",
    "bip322",
    "evm-personal-sign",
    "evm-personal-sign-keccak",
    "tron-tip191",
    "tron-v1",
    "tron-okx",
    "okx-ecdsa",
    "ed25519-okx",
    "eos-okx",
    "xrp-keypairs",
    "filecoin-secp256k1",
)
UNSUPPORTED_SCHEMES = ("starknet",)
#: BIP-322 scheme name -> the variant it requires (None: the signature's prefix says)
BIP322_SCHEMES = {"bip322-simple": "simple", "bip322-full": "full", "bip322": None}

EVM_CHAINS = frozenset(
    {"ethereum", "arbitrum", "optimism", "polygon", "avalanche", "bsc", "base", "okc",
     "ethereumclassic"}
)


class OwnershipError(Exception):
    """A signature or address check failed; the message says which and why."""


@dataclass
class OwnershipResult:
    """The outcome of checking one wallet entry."""

    status: str  # VERIFIED | FAILED | UNSUPPORTED
    scheme: str
    detail: str
    #: how the address is tied to the signing key(s): "checked: ..." or "not checked: ..."
    address_link: str = ""
    #: the keys / addresses the signatures were found to come from
    signers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == VERIFIED

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "scheme": self.scheme,
            "detail": self.detail,
            "address_link": self.address_link,
            "signers": list(self.signers),
        }


# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------


def varstr(b: bytes) -> bytes:
    """Bitcoin var_bytes: compact-size length then the bytes."""
    n = len(b)
    if n < 0xFD:
        return bytes([n]) + b
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little") + b
    return b"\xfe" + n.to_bytes(4, "little") + b


def _hex(text: str, what: str, size: int | None = None) -> bytes:
    t = text.strip()
    if t.startswith(("0x", "0X")):
        t = t[2:]
    if not re.fullmatch(r"[0-9a-fA-F]*", t) or len(t) % 2:
        raise OwnershipError(f"{what} is not hex")
    b = bytes.fromhex(t)
    if size is not None and len(b) != size:
        raise OwnershipError(f"{what} must be {size} bytes, got {len(b)}")
    return b


def _recover(digest: bytes, sig65_rsv: bytes) -> coincurve.PublicKey:
    """Recover a secp256k1 key from r||s||recid (recid 0..3) over a 32-byte digest."""
    try:
        return coincurve.PublicKey.from_signature_and_message(sig65_rsv, digest, hasher=None)
    except Exception as exc:  # coincurve raises ValueError/Exception on a bad signature
        raise OwnershipError(f"no key recovers from the signature ({exc})") from None


def _rsv(sig_hex: str, what: str = "signature") -> bytes:
    """Parse an Ethereum-style r||s||v hex signature into r||s||recid."""
    b = _hex(sig_hex, what, 65)
    v = b[64]
    if v in (27, 28):
        v -= 27
    elif v not in (0, 1):
        raise OwnershipError(f"{what} has v = {b[64]}, expected 27/28 (or 0/1)")
    s = int.from_bytes(b[32:64], "big")
    if s > SECP256K1_N // 2:
        raise OwnershipError(f"{what} has a high s value (malleable form), refused")
    return b[:64] + bytes([v])


SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _eth_address_of(pub: coincurve.PublicKey) -> bytes:
    return keccak(pub.format(compressed=False)[1:])[12:]


def _parse_evm_address(addr: str, what: str = "address") -> bytes:
    a = addr.strip()
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", a):
        raise OwnershipError(f"{what} {addr!r} is not a 20-byte 0x-hex EVM address")
    body = a[2:]
    if body != body.lower() and body != body.upper():
        # mixed case: it claims an EIP-55 checksum, which must be right
        h = keccak(body.lower().encode()).hex()
        want = "".join(c.upper() if c.isalpha() and int(h[i], 16) >= 8 else c.lower()
                       for i, c in enumerate(body))
        if want != body:
            raise OwnershipError(f"{what} {addr!r} has a wrong EIP-55 checksum")
    return bytes.fromhex(body)


def evm_digest(message: bytes, *, over_keccak: bool) -> bytes:
    payload = keccak(message) if over_keccak else message
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(payload)).encode() + payload)


def tron_digest(message: bytes, *, v1: bool) -> bytes:
    payload = keccak(message) if v1 else message
    return keccak(b"\x19TRON Signed Message:\n" + str(len(payload)).encode() + payload)


OKX_PREFIX = b"OKX Signed Message:\n"


def okx_signed_bytes(message: bytes) -> bytes:
    return varstr(OKX_PREFIX) + varstr(message)


def bms_digest(message: bytes, magic: bytes = b"Bitcoin Signed Message:\n") -> bytes:
    return hashlib.sha256(hashlib.sha256(varstr(magic) + varstr(message)).digest()).digest()


# --------------------------------------------------------------------------------------
# Bitcoin-family address decoding
# --------------------------------------------------------------------------------------

#: base58check version bytes of P2SH addresses, per chain
P2SH_VERSION = {"bitcoin": 0x05, "dogecoin": 0x16, "litecoin": 0x32, "bitcoincash": 0x05}
#: testnet / regtest P2SH version bytes
P2SH_TEST_VERSION = {"bitcoin": (0xC4,)}
P2PKH_VERSION = {"bitcoin": 0x00, "dogecoin": 0x1E, "litecoin": 0x30, "bitcoincash": 0x00}
BMS_MAGIC = {
    "bitcoin": b"Bitcoin Signed Message:\n",
    "dogecoin": b"Dogecoin Signed Message:\n",
    "litecoin": b"Litecoin Signed Message:\n",
    # Bitcoin Cash kept Bitcoin's signmessage magic (Bitcoin ABC / BCHN, Electron Cash)
    "bitcoincash": b"Bitcoin Signed Message:\n",
}
#: chains whose legacy P2PKH "signmessage" signatures por checks with its own BIP-137 code
#: (network = P2PKH version byte + message magic); bitcoin itself goes through btclib's bms.
#: A Bitcoin Cash legacy address has Bitcoin's version byte (0x00): the row's chain says
#: which chain's balance it is; CashAddr is not read.
BMS_NETWORKS = ("litecoin", "dogecoin", "bitcoincash")
#: bech32 human-readable parts per chain: mainnet, then testnet/signet and regtest (the
#: synthetic exchange and the test chains use regtest addresses)
SEGWIT_HRP = {"bitcoin": ("bc", "tb", "bcrt"), "litecoin": ("ltc",)}


def _b58check(addr: str, what: str = "address") -> bytes:
    if addr != addr.strip():
        raise OwnershipError(f"{what} has surrounding whitespace")
    try:
        return btc_base58.decode(addr)
    except Exception as exc:
        raise OwnershipError(f"{what} {addr!r} is not valid base58check ({exc})") from None


def _segwit(addr: str, chain: str) -> tuple[int, bytes]:
    if addr != addr.strip():
        raise OwnershipError("address has surrounding whitespace")
    hrps = SEGWIT_HRP.get(chain, ())
    if not any(addr.lower().startswith(h + "1") for h in hrps):
        raise OwnershipError(f"address {addr!r} is not a segwit address of {chain}")
    try:
        ver, prog, _net = b32.witness_from_address(addr)
    except Exception as exc:
        raise OwnershipError(f"address {addr!r} is not a valid segwit address ({exc})") from None
    return ver, prog


def parse_multisig_script(script: bytes) -> tuple[int, list[bytes]]:
    """Parse ``OP_m <key>... OP_n OP_CHECKMULTISIG``; strict, fails on anything else."""
    if len(script) < 3 or script[-1] != 0xAE:
        raise OwnershipError("redeem script does not end in OP_CHECKMULTISIG")
    m_op, n_op = script[0], script[-2]
    if not (0x51 <= m_op <= 0x60 and 0x51 <= n_op <= 0x60):
        raise OwnershipError("redeem script m or n is not OP_1..OP_16")
    m, n = m_op - 0x50, n_op - 0x50
    keys: list[bytes] = []
    i = 1
    while i < len(script) - 2:
        ln = script[i]
        if ln not in (33, 65):
            raise OwnershipError(f"redeem script push of {ln} bytes at offset {i} is not a key")
        key = script[i + 1 : i + 1 + ln]
        if len(key) != ln:
            raise OwnershipError("redeem script is truncated")
        try:
            coincurve.PublicKey(key)
        except Exception:
            raise OwnershipError(f"redeem script key #{len(keys) + 1} is not a curve point") from None
        keys.append(key)
        i += 1 + ln
    if i != len(script) - 2:
        raise OwnershipError("redeem script has trailing bytes")
    if len(keys) != n:
        raise OwnershipError(f"redeem script says n = {n} but holds {len(keys)} keys")
    if not 1 <= m <= n:
        raise OwnershipError(f"redeem script threshold m = {m} is not in 1..{n}")
    if len(set(keys)) != len(keys):
        raise OwnershipError("redeem script lists the same key twice")
    return m, keys


def _bms_recover(sig_b64: str, digest: bytes, what: str) -> tuple[bytes, int]:
    """Recover the key of a 65-byte base64 BMS signature; return (serialized key, header)."""
    try:
        raw = base64.b64decode(sig_b64.strip(), validate=True)
    except Exception:
        raise OwnershipError(f"{what} is not base64") from None
    if len(raw) != 65:
        raise OwnershipError(f"{what} is {len(raw)} bytes, expected 65")
    hdr = raw[0]
    if not 27 <= hdr <= 42:
        raise OwnershipError(f"{what} header {hdr} is not a BIP-137 header (27..42)")
    recid = (hdr - 27) % 4
    compressed = hdr >= 31
    s = int.from_bytes(raw[33:65], "big")
    if s > SECP256K1_N // 2:
        raise OwnershipError(f"{what} has a high s value (malleable form), refused")
    pub = _recover(digest, raw[1:65] + bytes([recid]))
    return pub.format(compressed=compressed), hdr


# --------------------------------------------------------------------------------------
# per-scheme verifiers; each returns (address_link, signers) or raises OwnershipError
# --------------------------------------------------------------------------------------


def _v_btc_bms(e: WalletEntry, msg: bytes) -> tuple[str, list[str]]:
    if len(e.signatures) != 1:
        raise OwnershipError(f"btc-bms takes exactly one signature, got {len(e.signatures)}")
    if e.chain in BMS_NETWORKS:
        return _v_bms_p2pkh(e, msg)
    if e.chain != "bitcoin":
        raise OwnershipError(f"btc-bms is for bitcoin, {', '.join(BMS_NETWORKS)}; not {e.chain}")
    try:
        bms.assert_as_valid(msg, e.address, e.signatures[0])
    except Exception as exc:
        raise OwnershipError(f"signmessage check failed ({exc})") from None
    pub, _ = _bms_recover(e.signatures[0], bms_digest(msg), "signature1")
    return "checked: recovered key hashes to the address", [pub.hex()]


def p2pkh_address(pub: bytes, chain: str) -> str:
    """The legacy P2PKH address of a serialized key on a bitcoin-family ``chain``."""
    return btc_base58.encode(bytes([P2PKH_VERSION[chain]]) + hash160(pub)).decode()


def _v_bms_p2pkh(e: WalletEntry, msg: bytes) -> tuple[str, list[str]]:
    """BIP-137 signmessage for a legacy P2PKH address of ``e.chain`` (its magic, its version)."""
    chain = e.chain
    payload = _b58check(e.address)
    if len(payload) != 21:
        raise OwnershipError(f"address {e.address!r} is not a P2PKH address ({len(payload)} bytes)")
    if payload[0] != P2PKH_VERSION[chain]:
        raise OwnershipError(f"address {e.address!r} has version byte {payload[0]:#04x}, not "
                             f"{chain}'s P2PKH version {P2PKH_VERSION[chain]:#04x}")
    pub, hdr = _bms_recover(e.signatures[0], bms_digest(msg, BMS_MAGIC[chain]), "signature1")
    if hdr >= 35:
        raise OwnershipError(f"signature1 header {hdr} is a segwit header; {chain} rows are "
                             "legacy P2PKH (headers 27..34)")
    if hash160(pub) != payload[1:]:
        raise OwnershipError(f"signature1 recovers to {pub.hex()}, whose {chain} P2PKH address "
                             f"{p2pkh_address(pub, chain)} is not the address (wrong key, "
                             "message or network magic)")
    return f"checked: recovered key hashes to the {chain} P2PKH address", [pub.hex()]


def _v_btc_multisig(e: WalletEntry, msg: bytes) -> tuple[str, list[str]]:
    if not e.redeem_script:
        raise OwnershipError("multisig row has no redeem script")
    script = _hex(e.redeem_script, "redeem script")
    m, keys = parse_multisig_script(script)
    if e.threshold is not None and e.threshold != m:
        raise OwnershipError(f"declared threshold {e.threshold} != script threshold {m}")
    # the script must hash to the address
    chain = e.chain
    if chain not in P2SH_VERSION:
        raise OwnershipError(f"multisig is not supported on chain {chain!r}")
    if any(e.address.lower().startswith(h + "1") for h in SEGWIT_HRP.get(chain, ())):
        ver, prog = _segwit(e.address, chain)
        if ver != 0 or len(prog) != 32:
            raise OwnershipError("segwit multisig address must be P2WSH (v0, 32-byte program)")
        if hashlib.sha256(script).digest() != prog:
            raise OwnershipError("sha256(redeem script) does not match the P2WSH address")
        link = "checked: sha256(redeem script) is the P2WSH program"
    else:
        payload = _b58check(e.address)
        if len(payload) != 21 or payload[0] not in (P2SH_VERSION[chain],
                                                     *P2SH_TEST_VERSION.get(chain, ())):
            raise OwnershipError(f"address {e.address!r} is not a P2SH address of {chain}")
        if hash160(script) != payload[1:]:
            raise OwnershipError("hash160(redeem script) does not match the P2SH address")
        link = "checked: hash160(redeem script) is the P2SH hash"
    digest = bms_digest(msg, BMS_MAGIC[chain])
    seen: list[bytes] = []
    for i, sig in enumerate(e.signatures, 1):
        pub, _hdr = _bms_recover(sig, digest, f"signature{i}")
        if pub not in keys:
            raise OwnershipError(f"signature{i} recovers to {pub.hex()}, not a key of the script")
        if pub in seen:
            raise OwnershipError(f"signature{i} recovers to the same key as an earlier one")
        seen.append(pub)
    if len(seen) < m:
        raise OwnershipError(f"{len(seen)} distinct signature(s), the script needs {m}")
    return f"{link}; {len(seen)} of {len(keys)} keys signed (m = {m})", [k.hex() for k in seen]


def bip322_message_hash(message: bytes) -> bytes:
    return _bip322.message_hash(message)


def parse_witness(raw: bytes) -> list[bytes]:
    """Parse a serialized witness stack (compact-size count, then var_bytes items)."""
    try:
        return _bip322.parse_witness(raw)
    except _bip322.Bip322Error as exc:
        raise OwnershipError(str(exc)) from None


def _v_bip322(e: WalletEntry, msg: bytes, variant: str | None) -> tuple[str, list[str]]:
    """BIP-322 simple / full (por.assets.bip322: to_spend, to_sign, btclib's script engine)."""
    if len(e.signatures) != 1:
        raise OwnershipError(f"{e.scheme} takes exactly one signature")
    if e.chain not in _bip322.NETWORKS:
        raise OwnershipError(f"BIP-322 is for bitcoin, not {e.chain}")
    try:
        r = _bip322.verify(e.address, msg, e.signatures[0], e.chain, variant)
    except _bip322.Bip322Error as exc:
        raise OwnershipError(f"BIP-322: {exc}") from None
    when = "" if (r.lock_time, r.sequence) == (0, 0) else \
        f"; valid at time {r.lock_time} and age {r.sequence}"
    return (f"checked: BIP-322 {r.variant} to_sign spends the {r.address_type} scriptPubKey of "
            f"the address ({r.n_signatures} signature(s) checked by the script engine){when}",
            list(r.signers))


def _v_evm(e: WalletEntry, msg: bytes, over_keccak: bool) -> tuple[str, list[str]]:
    digest = evm_digest(msg, over_keccak=over_keccak)
    return _v_evm_digest(e, digest)


def _v_evm_digest(e: WalletEntry, digest: bytes) -> tuple[str, list[str]]:
    if not e.signatures:
        raise OwnershipError("no signature")
    recovered = [
        _eth_address_of(_recover(digest, _rsv(s, f"signature{i}")))
        for i, s in enumerate(e.signatures, 1)
    ]
    signers = ["0x" + r.hex() for r in recovered]
    if not e.owners:
        if len(e.signatures) != 1:
            raise OwnershipError("an EOA row takes exactly one signature")
        addr = _parse_evm_address(e.address)
        if recovered[0] != addr:
            raise OwnershipError(f"signature1 recovers to {signers[0]}, not the address")
        return "checked: signature recovers to the address", signers
    # contract wallet / owner mode: owner i must be recovered from signature i
    n_check = len(e.owners) - len(e.unsigned_owners)
    if len(e.signatures) < n_check:
        raise OwnershipError(f"{len(e.owners)} owners listed but {len(e.signatures)} signatures")
    for i, owner in enumerate(e.owners):
        if i in e.unsigned_owners:
            continue
        o = _parse_evm_address(owner, f"owner{i + 1}")
        if i >= len(recovered) or recovered[i] != o:
            got = signers[i] if i < len(recovered) else "nothing"
            raise OwnershipError(f"signature{i + 1} recovers to {got}, not owner{i + 1} {owner}")
    if len(set(e.owners)) != len(e.owners):
        raise OwnershipError("the same owner is listed twice")
    skipped = "".join(f"; owner{i + 1} is a contract (not a signer)" for i in e.unsigned_owners)
    return (
        "not checked: address is a contract/validator; its listed owners each signed"
        f" (that they control the address is not checked on-chain by por){skipped}",
        signers,
    )


def _tron_address(addr: str) -> bytes:
    payload = _b58check(addr)
    if len(payload) != 21 or payload[0] != 0x41:
        raise OwnershipError(f"address {addr!r} is not a TRON address (0x41 + 20 bytes)")
    return payload[1:]


def _v_tron(e: WalletEntry, msg: bytes, forms: tuple[bool, ...]) -> tuple[str, list[str]]:
    if len(e.signatures) != 1:
        raise OwnershipError("a TRON row takes exactly one signature")
    want = _tron_address(e.address)
    rsv = _rsv(e.signatures[0], "signature1")
    got = []
    for v1 in forms:
        a = _eth_address_of(_recover(tron_digest(msg, v1=v1), rsv))
        got.append(a)
        if a == want:
            form = "v1 (keccak of message)" if v1 else "TIP-191"
            return f"checked: signature ({form}) recovers to the address", [e.address]
    raise OwnershipError("signature does not recover to the address (forms tried: "
                         + ", ".join("v1" if f else "TIP-191" for f in forms) + ")")


def _v_okx_ecdsa(e: WalletEntry, msg: bytes) -> tuple[str, list[str]]:
    return _v_evm_digest(e, keccak(okx_signed_bytes(msg)))


SS58_PREFIX = {"polkadot": 0, "kusama": 2}


def _ss58_check(addr: str, pub: bytes, chain: str) -> str:
    try:
        raw = _b58.b58decode(addr)
    except Exception:
        raise OwnershipError(f"address {addr!r} is not base58") from None
    if len(raw) != 35 or raw[0] >= 64:
        raise OwnershipError("only 1-byte-prefix SS58 addresses of 32-byte keys are supported")
    chk = hashlib.blake2b(b"SS58PRE" + raw[:33], digest_size=64).digest()[:2]
    if chk != raw[33:]:
        raise OwnershipError("SS58 checksum is wrong")
    if chain in SS58_PREFIX and raw[0] != SS58_PREFIX[chain]:
        raise OwnershipError(f"SS58 prefix {raw[0]} is not {chain}'s {SS58_PREFIX[chain]}")
    if raw[1:33] != pub:
        raise OwnershipError("SS58 address is not of the given public key")
    return f"checked: SS58 (prefix {raw[0]}) of the public key"


def _cardano_check(addr: str, pub: bytes) -> str:
    try:
        hrp, data = btc_bech32.decode(addr, m=1)
    except Exception as exc:
        raise OwnershipError(f"address {addr!r} is not bech32 ({exc})") from None
    if addr != addr.lower():
        raise OwnershipError("Cardano address must be lower case")
    if hrp != "addr":
        raise OwnershipError(f"Cardano mainnet address hrp must be 'addr', got {hrp!r}")
    raw = bytes(b32.power_of_2_base_conversion(data, 5, 8, False))
    if len(raw) != 29 or raw[0] != 0x61:
        raise OwnershipError("only Cardano enterprise key addresses (header 0x61) are linked")
    if hashlib.blake2b(pub, digest_size=28).digest() != raw[1:]:
        raise OwnershipError("Cardano address is not blake2b-224 of the public key")
    return "checked: enterprise address = blake2b-224 of the public key"


#: chains whose wallets sign with ed25519 (scheme ed25519-okx)
ED25519_CHAINS = ("solana", "aptos", "ton", "polkadot", "cardano")


def _crc16_xmodem(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def ton_user_friendly(workchain: int, account: bytes, *, bounceable: bool = False) -> str:
    """TON's user-friendly address: base64url(flags, workchain, account hash, CRC16-XMODEM)."""
    body = bytes([0x11 if bounceable else 0x51, workchain & 0xFF]) + account
    return base64.urlsafe_b64encode(body + _crc16_xmodem(body).to_bytes(2, "big")).decode()


def parse_ton_address(addr: str) -> tuple[int, bytes]:
    """(workchain, 32-byte account id) of a raw ``wc:hex`` or a user-friendly TON address.

    Checked: the form, the flags byte, the workchain (0 or -1) and the CRC16 checksum.
    """
    a = addr.strip()
    if a != addr:
        raise OwnershipError("TON address has surrounding whitespace")
    m = re.fullmatch(r"(-1|0):([0-9a-fA-F]{64})", a)
    if m:
        return int(m.group(1)), bytes.fromhex(m.group(2))
    if len(a) != 48:
        raise OwnershipError(f"TON address {addr!r} is neither raw (wc:hex) nor 48 characters")
    try:
        raw = base64.b64decode(a.replace("-", "+").replace("_", "/"), validate=True)
    except Exception:
        raise OwnershipError(f"TON address {addr!r} is not base64") from None
    if raw[0] & 0x7F not in (0x11, 0x51):
        raise OwnershipError(f"TON address flags {raw[0]:#x} are not 0x11/0x51")
    if _crc16_xmodem(raw[:34]) != int.from_bytes(raw[34:], "big"):
        raise OwnershipError("TON address checksum (CRC16) is wrong")
    wc = raw[1] - 256 if raw[1] >= 128 else raw[1]
    if wc not in (0, -1):
        raise OwnershipError(f"TON workchain {wc} is not 0 or -1")
    return wc, raw[2:34]


def ss58_address(pub: bytes, prefix: int = 0) -> str:
    body = bytes([prefix]) + pub
    return _b58.b58encode(body + hashlib.blake2b(b"SS58PRE" + body, digest_size=64).digest()[:2]).decode()


def cardano_enterprise_address(pub: bytes) -> str:
    """Mainnet enterprise (payment key, no stake) address: bech32 'addr', 0x61 ‖ blake2b-224."""
    raw = b"\x61" + hashlib.blake2b(pub, digest_size=28).digest()
    return btc_bech32.encode("addr", b32.power_of_2_base_conversion(raw, 8, 5), m=1).decode()


def ed25519_address(chain: str, pub: bytes) -> str:
    """The address por derives from an ed25519 public key on ``chain``.

    Solana base58(pk); Aptos sha3-256(pk ‖ 0x00) (the single-key auth key, which is the
    account address until the key is rotated); Polkadot SS58 with prefix 0; Cardano a mainnet
    enterprise address. TON is the exception: a TON address is the hash of the wallet
    contract's StateInit (the wallet version's code cell and a data cell holding the key), which
    por does not build; the synthetic exchange's TON account id is sha256("por-synthetic-ton|" ‖
    pk), written in TON's user-friendly form, and its link to the key is reported "not checked".
    """
    if chain == "solana":
        return _b58.b58encode(pub).decode()
    if chain == "aptos":
        return "0x" + hashlib.sha3_256(pub + b"\x00").hexdigest()
    if chain in SS58_PREFIX:
        return ss58_address(pub, SS58_PREFIX[chain])
    if chain == "cardano":
        return cardano_enterprise_address(pub)
    if chain == "ton":
        return ton_user_friendly(0, hashlib.sha256(b"por-synthetic-ton|" + pub).digest())
    raise ValueError(f"no ed25519 address derivation for chain {chain!r}")


def _v_ed25519(e: WalletEntry, msg: bytes) -> tuple[str, list[str]]:
    if len(e.signatures) != 1 or len(e.public_keys) != 1:
        raise OwnershipError("ed25519 rows take one signature and one public key")
    pub = _hex(e.public_keys[0], "public key", 32)
    sig = _hex(e.signatures[0], "signature1", 64)
    try:
        VerifyKey(pub).verify(okx_signed_bytes(msg), sig)
    except (BadSignatureError, ValueError, TypeError):
        raise OwnershipError("ed25519 signature does not verify") from None
    c = e.chain
    if c == "solana":
        try:
            raw = _b58.b58decode(e.address)
        except Exception:
            raise OwnershipError("Solana address is not base58") from None
        if raw != pub:
            raise OwnershipError("Solana address is not base58 of the public key")
        link = "checked: address = base58(public key)"
    elif c == "aptos":
        auth = hashlib.sha3_256(pub + b"\x00").digest()
        if e.owners:
            if len(e.owners) != 1 or _hex(e.owners[0], "owner1 (auth key)", 32) != auth:
                raise OwnershipError("owner1 is not the Aptos auth key sha3-256(pubkey || 0x00)")
            link = ("not checked: the claimed address (rotated key: that it holds this auth key "
                    "is on-chain state); checked: owner1 = auth key sha3-256(pubkey||0x00)")
        else:
            if _hex(e.address, "address", 32) != auth:
                raise OwnershipError("Aptos address is not sha3-256(pubkey || 0x00)")
            link = "checked: address = sha3-256(pubkey || 0x00)"
    elif c in SS58_PREFIX:
        link = _ss58_check(e.address, pub, c)
    elif c == "cardano":
        link = _cardano_check(e.address, pub)
    elif c == "ton":
        wc, _acct = parse_ton_address(e.address)
        link = (f"not checked: TON account (workchain {wc}; form and CRC16 checked) = hash of "
                "the wallet contract's StateInit, which por does not build from the key")
    else:
        raise OwnershipError(f"ed25519 on chain {c!r} is not supported")
    return link, [pub.hex()]


def _ripemd160(b: bytes) -> bytes:
    from btclib.hashes import ripemd160

    return ripemd160(b)


def _v_eos(e: WalletEntry, msg: bytes) -> tuple[str, list[str]]:
    if len(e.signatures) != 1 or len(e.public_keys) != 1:
        raise OwnershipError("EOS rows take one signature and one public key")
    sig_text, pk_text = e.signatures[0].strip(), e.public_keys[0].strip()
    if not sig_text.startswith("SIG_K1_"):
        raise OwnershipError("signature1 is not SIG_K1_...")
    raw = _b58.b58decode(sig_text[7:])
    if len(raw) != 69 or _ripemd160(raw[:65] + b"K1")[:4] != raw[65:]:
        raise OwnershipError("signature1 checksum or length is wrong")
    if not pk_text.startswith("EOS"):
        raise OwnershipError("public key is not EOS...")
    pk_raw = _b58.b58decode(pk_text[3:])
    if len(pk_raw) != 37 or _ripemd160(pk_raw[:33])[:4] != pk_raw[33:]:
        raise OwnershipError("public key checksum or length is wrong")
    hdr = raw[0]
    if not 31 <= hdr <= 34:
        raise OwnershipError(f"signature1 header {hdr} is not 31..34")
    digest = hashlib.sha256(okx_signed_bytes(msg)).digest()
    pub = _recover(digest, raw[1:65] + bytes([hdr - 31]))
    if pub.format(compressed=True) != pk_raw[:33]:
        raise OwnershipError("signature1 does not recover to the public key")
    return ("not checked: EOS account names are not derived from keys (the account's "
            "permission keys are on-chain state)"), [pk_text]


# --------------------------------------------------------------------------------------
# XRP Ledger and Filecoin (secp256k1 accounts)
# --------------------------------------------------------------------------------------

#: the XRP Ledger's base58 alphabet (not Bitcoin's)
XRP_ALPHABET = b"rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz"


def xrp_address(pub: bytes) -> str:
    """Classic XRP address: base58check(0x00 || RIPEMD160(SHA256(33-byte key))), XRP alphabet."""
    return _b58.b58encode_check(b"\x00" + hash160(pub), alphabet=XRP_ALPHABET).decode()


def parse_xrp_address(addr: str) -> bytes:
    """The 20-byte account id of a classic XRP address; anything else is an error."""
    if addr != addr.strip() or not addr.startswith("r"):
        raise OwnershipError(f"address {addr!r} is not a classic XRP address (r...)")
    try:
        raw = _b58.b58decode_check(addr, alphabet=XRP_ALPHABET)
    except Exception as exc:
        raise OwnershipError(f"address {addr!r} is not valid XRP base58check ({exc})") from None
    if len(raw) != 21 or raw[0] != 0x00:
        raise OwnershipError(f"address {addr!r} is not a classic account id (version 0x00, 20 bytes)")
    return raw[1:]


def xrp_digest(message: bytes) -> bytes:
    """SHA-512Half: the first 32 bytes of SHA-512 (what ripple-keypairs signs)."""
    return hashlib.sha512(message).digest()[:32]


def xrp_sign(priv: bytes, message: bytes) -> str:
    """ripple-keypairs ``sign``: DER ECDSA (RFC 6979, low S) over SHA-512Half, upper-case hex."""
    return coincurve.PrivateKey(priv).sign(xrp_digest(message), hasher=None).hex().upper()


def _v_xrp(e: WalletEntry, msg: bytes) -> tuple[str, list[str]]:
    if len(e.signatures) != 1 or len(e.public_keys) != 1:
        raise OwnershipError("xrp-keypairs rows take one signature and one public key")
    account = parse_xrp_address(e.address)
    pub = _hex(e.public_keys[0], "public key", 33)
    if pub[0] not in (2, 3):
        raise OwnershipError("public key is not a compressed secp256k1 key (02/03...; an "
                             "ed25519 XRP key starts with ED and is not supported)")
    try:
        key = coincurve.PublicKey(pub)
    except Exception:
        raise OwnershipError("public key is not a point on secp256k1") from None
    if hash160(pub) != account:
        raise OwnershipError(f"public key's account is {xrp_address(pub)}, not the address")
    der = _hex(e.signatures[0], "signature1")
    if not der or not _bip322.is_strict_der(der + b"\x01"):
        raise OwnershipError("signature1 is not a strict DER ECDSA signature")
    lr = der[3]
    if int.from_bytes(der[6 + lr:], "big") > SECP256K1_N // 2:
        raise OwnershipError("signature1 has a high s value (not fully canonical), refused")
    try:
        ok = key.verify(der, xrp_digest(msg), hasher=None)
    except Exception:
        ok = False
    if not ok:
        raise OwnershipError("signature1 does not verify for the public key")
    return ("checked: RIPEMD160(SHA256(key)) is the account id (the account's master key; a "
            "regular key or a disabled master key is ledger state, not read)"), [pub.hex()]


def _blake2b(data: bytes, size: int) -> bytes:
    return hashlib.blake2b(data, digest_size=size).digest()


def filecoin_address(pub: coincurve.PublicKey, network: str = "f") -> str:
    """Filecoin f1 (secp256k1) address: network, protocol 1, base32(payload || checksum)."""
    payload = _blake2b(pub.format(compressed=False), 20)
    checksum = _blake2b(b"\x01" + payload, 4)
    return network + "1" + base64.b32encode(payload + checksum).decode().lower().rstrip("=")


def parse_filecoin_f1(addr: str) -> bytes:
    """The 20-byte payload of an f1 (or t1 testnet) address; checksum and form checked."""
    if addr != addr.strip() or len(addr) != 41 or addr[:2] not in ("f1", "t1"):
        raise OwnershipError(f"address {addr!r} is not a Filecoin f1 (secp256k1) address")
    body = addr[2:]
    if not re.fullmatch(r"[a-z2-7]{39}", body):
        raise OwnershipError(f"address {addr!r} has characters outside lower-case base32")
    raw = base64.b32decode(body.upper() + "=")
    if base64.b32encode(raw).decode().lower().rstrip("=") != body:
        raise OwnershipError(f"address {addr!r} is not canonical base32")
    payload, checksum = raw[:20], raw[20:]
    if _blake2b(b"\x01" + payload, 4) != checksum:
        raise OwnershipError(f"address {addr!r} has a wrong blake2b checksum")
    return payload


def filecoin_sign(priv: bytes, message: bytes) -> str:
    """lotus ``wallet sign``: hex of 0x01 (secp256k1) || r || s || v over blake2b-256(msg)."""
    rs = coincurve.PrivateKey(priv).sign_recoverable(_blake2b(message, 32), hasher=None)
    return (b"\x01" + rs).hex()


def _v_filecoin(e: WalletEntry, msg: bytes) -> tuple[str, list[str]]:
    if len(e.signatures) != 1:
        raise OwnershipError("filecoin-secp256k1 rows take exactly one signature")
    payload = parse_filecoin_f1(e.address)
    raw = _hex(e.signatures[0], "signature1", 66)
    if raw[0] != 0x01:
        raise OwnershipError(f"signature1 type byte {raw[0]:#04x} is not 0x01 (secp256k1)")
    if raw[65] not in (0, 1):
        raise OwnershipError(f"signature1 recovery id {raw[65]} is not 0 or 1")
    if int.from_bytes(raw[33:65], "big") > SECP256K1_N // 2:
        raise OwnershipError("signature1 has a high s value (malleable form), refused")
    pub = _recover(_blake2b(msg, 32), raw[1:66])
    if _blake2b(pub.format(compressed=False), 20) != payload:
        raise OwnershipError(f"signature1 recovers to {filecoin_address(pub, e.address[0])}, "
                             "not the address")
    return "checked: blake2b-160 of the recovered key is the f1 address payload", [
        pub.format(compressed=False).hex()]


# --------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------


def verify_entry(entry: WalletEntry, message: str) -> OwnershipResult:
    """Check one wallet entry against the round's ``message``. Never raises for bad input."""
    scheme = entry.scheme
    if scheme in UNSUPPORTED_SCHEMES or scheme not in SCHEMES:
        return OwnershipResult(
            UNSUPPORTED, scheme,
            f"signature scheme {scheme!r} (chain {entry.chain}) cannot be checked by por",
            "not checked",
        )
    if entry.message != message:
        return OwnershipResult(
            FAILED, scheme,
            f"signed message {entry.message!r} is not the round's message {message!r}",
            "not checked",
        )
    msg = message.encode("utf-8")
    try:
        if scheme == "btc-bms":
            link, signers = _v_btc_bms(entry, msg)
        elif scheme == "btc-bms-multisig":
            link, signers = _v_btc_multisig(entry, msg)
        elif scheme in BIP322_SCHEMES:
            link, signers = _v_bip322(entry, msg, BIP322_SCHEMES[scheme])
        elif scheme in ("evm-personal-sign", "evm-personal-sign-keccak"):
            link, signers = _v_evm(entry, msg, scheme == "evm-personal-sign-keccak")
        elif scheme == "tron-tip191":
            link, signers = _v_tron(entry, msg, (False,))
        elif scheme == "tron-v1":
            link, signers = _v_tron(entry, msg, (True,))
        elif scheme == "tron-okx":
            link, signers = _v_tron(entry, msg, (True, False))
        elif scheme == "okx-ecdsa":
            link, signers = _v_okx_ecdsa(entry, msg)
        elif scheme == "ed25519-okx":
            link, signers = _v_ed25519(entry, msg)
        elif scheme == "eos-okx":
            link, signers = _v_eos(entry, msg)
        elif scheme == "xrp-keypairs":
            link, signers = _v_xrp(entry, msg)
        elif scheme == "filecoin-secp256k1":
            link, signers = _v_filecoin(entry, msg)
        else:  # pragma: no cover - SCHEMES and this chain agree
            raise OwnershipError(f"scheme {scheme!r} has no verifier")
    except OwnershipError as exc:
        return OwnershipResult(FAILED, scheme, str(exc), "not checked")
    except Exception as exc:  # any decoding crash is a failure, never a pass
        return OwnershipResult(FAILED, scheme, f"could not check: {type(exc).__name__}: {exc}",
                               "not checked")
    return OwnershipResult(VERIFIED, scheme, "signature verifies", link, signers)


def verify_entries(entries: list[WalletEntry], message: str) -> list[OwnershipResult]:
    return [verify_entry(e, message) for e in entries]


# --------------------------------------------------------------------------------------
# signing our own wallets (the synthetic exchange's keys)
# --------------------------------------------------------------------------------------

KEYS_FORMAT = "por-exchange-keys"


def serialize_witness(items: list[bytes]) -> bytes:
    return _bip322.serialize_witness(items)


def bip322_sign_p2wpkh(priv: bytes, message: bytes) -> str:
    """BIP-322 simple signature (``smp`` + base64 witness) of a P2WPKH key for ``message``."""
    return _bip322.sign_p2wpkh(priv, message)


def bip322_sign_p2tr(priv: bytes, message: bytes, network: str = "mainnet") -> tuple[str, str]:
    """BIP-322 simple key-path signature for the BIP-86 P2TR address of internal key ``priv``.

    Returns (address, signature). The output key is the taproot-tweaked internal key
    (Q = P + hash_TapTweak(P)·G, no script tree), as wallets derive it.
    """
    return _bip322.p2tr_address(priv, network), _bip322.sign_p2tr(priv, message)


def bms_sign(priv: bytes, message: bytes, chain: str = "bitcoin") -> str:
    """A BIP-137 compressed-key signmessage signature (header 31..34), base64."""
    rs = coincurve.PrivateKey(priv).sign_recoverable(bms_digest(message, BMS_MAGIC[chain]),
                                                     hasher=None)
    return base64.b64encode(bytes([31 + rs[64]]) + rs[:64]).decode()


def tron_address_of(pub: coincurve.PublicKey) -> str:
    return btc_base58.encode(b"\x41" + _eth_address_of(pub)).decode()


def sign_wallets(keys_doc: dict, message: str,
                 assets: dict[tuple[str, str], list[str]] | None = None) -> dict:
    """Sign ``message`` with every wallet of a ``por-exchange-keys`` document.

    Returns a ``por-wallets`` v1 document. ``assets`` maps (chain, address) to the asset
    symbols held there (e.g. from ``exchange/reserves.csv``); the default is the chain's
    native asset. Every signature is verified before it is returned.
    """
    from eth_account import Account
    from eth_account.messages import encode_defunct

    from por.assets.wallets import WalletEntry, wallets_doc

    if keys_doc.get("format") != KEYS_FORMAT or keys_doc.get("version") != 1:
        raise ValueError(f"keys document must be format {KEYS_FORMAT!r} version 1")
    native = {"bitcoin": ["BTC"], "ethereum": ["ETH"], "tron": ["TRX"], "solana": ["SOL"],
              "aptos": ["APT"], "ton": ["TON"], "polkadot": ["DOT"], "cardano": ["ADA"],
              "litecoin": ["LTC"], "dogecoin": ["DOGE"], "bitcoincash": ["BCH"],
              "avalanche": ["AVAX"], "ethereumclassic": ["ETC"], "xrp": ["XRP"],
              "filecoin": ["FIL"]}
    msg = message.encode("utf-8")
    out = []
    for i, w in enumerate(keys_doc["wallets"], 1):
        chain, typ, addr = w["chain"], w["type"], w["address"]
        privs = [bytes.fromhex(k.removeprefix("0x")) for k in w["private_keys"]]
        entry: dict = {"chain": chain, "address": addr,
                       "assets": list((assets or {}).get((chain, addr), native.get(chain, [])))}
        if chain == "bitcoin" and typ == "p2wpkh":
            entry.update(scheme="bip322-simple", signatures=[bip322_sign_p2wpkh(privs[0], msg)])
        elif chain == "bitcoin" and typ == "p2tr":
            _a, sig = bip322_sign_p2tr(privs[0], msg)
            entry.update(scheme="bip322-simple", signatures=[sig])
        elif chain == "bitcoin" and typ in ("p2wsh-multisig", "p2sh-multisig"):
            m = int(w["threshold"])
            script = bytes.fromhex(w["redeem_script"])
            _m, keys = parse_multisig_script(script)
            by_pub = {coincurve.PrivateKey(p).public_key.format(compressed=True): p for p in privs}
            signers = [k for k in keys if k in by_pub][:m]
            if len(signers) < m:
                raise ValueError(f"wallet {i} ({addr}): only {len(signers)} private keys of "
                                 f"script members, threshold is {m}")
            entry.update(scheme="btc-bms-multisig", redeem_script=script.hex(), threshold=m,
                         signatures=[bms_sign(by_pub[k], msg) for k in signers])
        elif chain in BMS_NETWORKS and typ == "p2pkh":
            pub = coincurve.PrivateKey(privs[0]).public_key.format(compressed=True)
            if p2pkh_address(pub, chain) != addr:
                raise ValueError(f"wallet {i} ({addr}): not the {chain} P2PKH address of its key")
            entry.update(scheme="btc-bms", signatures=[bms_sign(privs[0], msg, chain)])
        elif chain == "xrp" and typ == "secp256k1":
            pub = coincurve.PrivateKey(privs[0]).public_key.format(compressed=True)
            if xrp_address(pub) != addr:
                raise ValueError(f"wallet {i} ({addr}): not the XRP address of its key")
            entry.update(scheme="xrp-keypairs", public_keys=[pub.hex()],
                         signatures=[xrp_sign(privs[0], msg)])
        elif chain == "filecoin" and typ == "secp256k1":
            if filecoin_address(coincurve.PrivateKey(privs[0]).public_key, addr[:1]) != addr:
                raise ValueError(f"wallet {i} ({addr}): not the f1 address of its key")
            entry.update(scheme="filecoin-secp256k1", signatures=[filecoin_sign(privs[0], msg)])
        elif chain in EVM_CHAINS and typ == "eoa":
            sig = Account.sign_message(encode_defunct(text=message), private_key=privs[0])
            entry.update(scheme="evm-personal-sign", signatures=["0x" + sig.signature.hex().removeprefix("0x")])
        elif chain == "tron" and typ == "eoa":
            rs = coincurve.PrivateKey(privs[0]).sign_recoverable(tron_digest(msg, v1=False),
                                                                 hasher=None)
            entry.update(scheme="tron-tip191",
                         signatures=["0x" + (rs[:64] + bytes([27 + rs[64]])).hex()])
        elif chain in ED25519_CHAINS and typ == "ed25519":
            from nacl.signing import SigningKey

            sk = SigningKey(privs[0])
            pub = bytes(sk.verify_key)
            if chain != "ton" and ed25519_address(chain, pub) != addr:
                raise ValueError(f"wallet {i} ({addr}): not the {chain} address of its key")
            entry.update(scheme="ed25519-okx", public_keys=[pub.hex()],
                         signatures=[sk.sign(okx_signed_bytes(msg)).signature.hex()])
        else:
            raise ValueError(f"wallet {i} ({addr}): cannot sign chain {chain!r} type {typ!r}")
        out.append(entry)
    doc = wallets_doc(message, out)
    for i, w in enumerate(doc["wallets"], 1):
        e = WalletEntry(source="<signed>", row=i, layout="por-wallets-v1", chain=w["chain"],
                        address=w["address"], assets=tuple(w["assets"]), message=message,
                        scheme=w["scheme"], signatures=tuple(w["signatures"]),
                        redeem_script=w.get("redeem_script"), threshold=w.get("threshold"),
                        public_keys=tuple(w.get("public_keys", ())))
        r = verify_entry(e, message)
        if not r.ok:
            raise ValueError(f"wallet {i} ({w['address']}): own signature does not verify: {r.detail}")
    return doc
