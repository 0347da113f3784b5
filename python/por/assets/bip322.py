"""BIP-322 generic signed messages: the simple and full formats, verified and signed.

A BIP-322 signature proves control of an address by spending a *virtual* output that pays the
address's scriptPubKey (``to_spend``) with a transaction (``to_sign``) that nobody can broadcast.
Verification builds ``to_spend`` from the message and the address, takes ``to_sign`` from the
signature, checks its shape, and runs the spend through btclib's Bitcoin script engine
(``btclib.script.engine.verify_input``: P2PKH, P2SH, P2WPKH, P2WSH, P2SH-wrapped segwit, P2TR key
path and script path, time locks) under the BIP's required and upgradeable rules. Every way it
can go wrong raises :class:`Bip322Error`; "inconclusive" (BIP-322's third state) is a failure too.

Signature encodings (BIP-322 2.0.0, "Types of Signatures"):

* ``smp<base64>``: simple: the witness stack of ``to_sign``'s only input; native segwit
  addresses only (P2WPKH, P2WSH, P2TR); ``to_sign`` version, lock time and sequence are 0.
* ``ful<base64>``: full: the whole signed ``to_sign`` transaction; any address type; version
  0 or 2, lock time and sequence as the signer set them (reported as "valid at time T, age S").
* ``pof<base64>``: full proof of funds (a PSBT with extra inputs): refused, por does not check
  UTXO sets through signatures (balances come from the chain at the snapshot height).
* no prefix: a simple signature, as written before the BIP was finalised (the BIP allows a
  verifier to assume the simple variant).

Rules enforced beyond consensus (BIP-322 "required rules"): every signature uses SIGHASH_ALL
(or SIGHASH_DEFAULT where the output type has it: taproot); no OP_CODESEPARATOR in any executed
script; LOW_S, STRICTENC, NULLFAIL, MINIMALDATA, CLEANSTACK, MINIMALIF. Upgradeable rules: the
version of ``to_sign`` is 0 or 2, no upgradeable NOPs, no witness version above 1, no unknown
taproot leaf version or OP_SUCCESS. por adds one rule of its own: at least one signature must
be checked (a script that anyone can satisfy proves nothing about who controls it).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import coincurve
from btclib.hashes import hash160
from btclib.script import Witness
from btclib.script import parse as parse_script
from btclib.script import taproot as btc_taproot
from btclib.script.engine import verify_input
from btclib.script.engine.flags import ALL_FLAGS, ScriptFlag
from btclib.script.script_pub_key import ScriptPubKey, type_and_payload
from btclib.script.sig_hash import segwit_v0, taproot as taproot_sig_hash
from btclib.tx import OutPoint, Tx, TxIn, TxOut

TAG = b"BIP0322-signed-message"
OP_RETURN = b"\x6a"
SIGHASH_DEFAULT = 0x00
SIGHASH_ALL = 0x01

#: BIP-322's required rules and upgradeable rules, as btclib (= Bitcoin Core) script flags
FLAGS = (
    ALL_FLAGS
    | ScriptFlag.STRICTENC
    | ScriptFlag.LOW_S
    | ScriptFlag.NULLFAIL
    | ScriptFlag.MINIMALDATA
    | ScriptFlag.CLEANSTACK
    | ScriptFlag.MINIMALIF
    | ScriptFlag.CONST_SCRIPTCODE
    | ScriptFlag.WITNESS_PUBKEYTYPE
    | ScriptFlag.SIGPUSHONLY
    | ScriptFlag.DISCOURAGE_UPGRADABLE_NOPS
    | ScriptFlag.DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM
    | ScriptFlag.DISCOURAGE_UPGRADABLE_TAPROOT_VERSION
    | ScriptFlag.DISCOURAGE_OP_SUCCESS
    | ScriptFlag.DISCOURAGE_UPGRADABLE_PUBKEYTYPE
)

#: the address types a simple signature may sign for (BIP-322: native segwit)
SIMPLE_TYPES = ("p2wpkh", "p2wsh", "p2tr")
#: the networks whose addresses a chain's BIP-322 signatures may name
NETWORKS = {"bitcoin": ("mainnet", "testnet", "signet", "regtest")}


class Bip322Error(Exception):
    """The signature does not prove control of the address; the message says why."""


@dataclass(frozen=True)
class Bip322Result:
    """A verified BIP-322 signature."""

    variant: str  # "simple" | "full"
    address_type: str  # p2pkh, p2sh, p2wpkh, p2wsh, p2tr
    lock_time: int  # T of "valid at time T and age S"
    sequence: int  # S
    signers: tuple[str, ...]  # hex keys whose signatures the script checked (ECDSA), or the
    # P2TR output key for a key-path spend
    n_signatures: int


def message_hash(message: bytes) -> bytes:
    """sha256_tag(message) with tag ``BIP0322-signed-message`` (BIP-340 tagged hash)."""
    tag = hashlib.sha256(TAG).digest()
    return hashlib.sha256(tag + tag + message).digest()


def to_spend(message: bytes, script_pub_key: bytes) -> Tx:
    """The virtual transaction paying 0 to ``script_pub_key`` (the message challenge)."""
    return Tx(
        version=0,
        lock_time=0,
        vin=[TxIn(OutPoint(b"\x00" * 32, 0xFFFFFFFF), b"\x00\x20" + message_hash(message), 0)],
        vout=[TxOut(0, script_pub_key)],
    )


def to_sign(spend: Tx, witness: list[bytes], *, version: int = 0, lock_time: int = 0,
            sequence: int = 0, script_sig: bytes = b"") -> Tx:
    """The virtual transaction spending ``to_spend``'s output to one OP_RETURN output."""
    return Tx(
        version=version,
        lock_time=lock_time,
        vin=[TxIn(OutPoint(spend.id, 0), script_sig, sequence, Witness(witness))],
        vout=[TxOut(0, OP_RETURN)],
    )


def serialize_witness(items: list[bytes]) -> bytes:
    return Witness(items).serialize()


def parse_witness(raw: bytes) -> list[bytes]:
    """Parse a consensus-encoded witness stack; trailing bytes or truncation are errors."""
    if not raw:
        raise Bip322Error("signature too short (empty)")
    try:
        return list(Witness.parse(raw).stack)
    except Exception as exc:
        raise Bip322Error(f"signature is not a witness stack ({exc})") from None


def decode(signature: str) -> tuple[str, bytes]:
    """Split a signature into its variant and its bytes."""
    s = signature.strip()
    variant = {"smp": "simple", "ful": "full", "pof": "proof-of-funds"}.get(s[:3])
    body = s[3:] if variant else s
    try:
        raw = base64.b64decode(body, validate=True)
    except Exception:
        raise Bip322Error("error decoding signature as base64") from None
    return variant or "simple", raw


def script_pub_key_of(address: str, chain: str = "bitcoin") -> tuple[bytes, str]:
    """The scriptPubKey and type of ``address``; an unknown or foreign address is an error."""
    if address != address.strip():
        raise Bip322Error("address has surrounding whitespace")
    try:
        spk = ScriptPubKey.from_address(address)
    except Exception as exc:
        raise Bip322Error(f"address {address!r} cannot be decoded ({exc})") from None
    if spk.network not in NETWORKS.get(chain, ()):
        raise Bip322Error(f"address {address!r} is a {spk.network} address, not one of {chain}")
    typ = spk.type
    if typ not in ("p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr"):
        raise Bip322Error(f"address type {typ!r} is not supported by BIP-322 verification")
    return spk.script, typ


def _executed_scripts(tx: Tx, script_pub_key: bytes) -> list[tuple[str, bytes]]:
    """The scripts the engine runs beyond the scriptPubKey: redeem, witness and tap scripts."""
    out: list[tuple[str, bytes]] = [("legacy", tx.vin[0].script_sig)]
    typ, _ = type_and_payload(script_pub_key)
    stack = list(tx.vin[0].script_witness.stack)
    if typ == "p2sh":
        pushes = parse_script(tx.vin[0].script_sig)  # pushes come back as hex strings
        if not pushes or not isinstance(pushes[-1], str) or pushes[-1].startswith("OP_"):
            raise Bip322Error("P2SH scriptSig does not end with the redeem script")
        redeem = bytes.fromhex(pushes[-1])
        out.append(("legacy", redeem))
        typ, _ = type_and_payload(redeem)
    if typ == "p2wsh" and stack:
        out.append(("legacy", stack[-1]))
    if typ == "p2tr":
        if len(stack) >= 2 and stack[-1][:1] == b"\x50":  # annex
            stack = stack[:-1]
        if len(stack) >= 2:
            out.append(("tapscript", stack[-2]))
    return out


def _forbid_codeseparator(tx: Tx, script_pub_key: bytes) -> None:
    for kind, script in _executed_scripts(tx, script_pub_key):
        try:
            ops = btc_taproot.parse(script) if kind == "tapscript" else parse_script(script)
        except Exception as exc:
            raise Bip322Error(f"a script of the spend does not parse ({exc})") from None
        if "OP_CODESEPARATOR" in ops:
            raise Bip322Error("OP_CODESEPARATOR is forbidden in BIP-322 signatures")


def verify(address: str, message: bytes, signature: str, chain: str = "bitcoin",
           variant: str | None = None, *, engine: str = "auto") -> Bip322Result:
    """Verify a BIP-322 signature; raise :class:`Bip322Error` unless it is valid.

    ``variant`` ("simple" or "full") requires that variant; None accepts either.
    ``engine``: "auto" takes the direct check (:func:`_fast_check`) for a P2WPKH spend or a
    P2TR key-path spend and the script interpreter for everything else; "interpreter" runs
    every signature through the interpreter (the differential tests compare the two).
    """
    if engine not in ("auto", "interpreter"):
        raise ValueError(f"unknown BIP-322 engine {engine!r}")
    kind, raw = decode(signature)
    if kind == "proof-of-funds":
        raise Bip322Error("BIP-322 proof-of-funds signatures are not supported (refused)")
    if variant is not None and kind != variant:
        raise Bip322Error(f"a {variant} BIP-322 signature was required, got a {kind} one")
    spk, typ = script_pub_key_of(address, chain)
    spend = to_spend(message, spk)
    if kind == "simple":
        if typ not in SIMPLE_TYPES:
            raise Bip322Error(f"a simple signature cannot sign for a {typ} address (use full)")
        tx = to_sign(spend, parse_witness(raw))
    else:
        try:
            tx = Tx.parse(raw)
        except Exception as exc:
            raise Bip322Error(f"error parsing signature as full variant ({exc})") from None
        if len(tx.vin) != 1:
            raise Bip322Error(f"to_sign has {len(tx.vin)} inputs; a full signature has one")
        if tx.vin[0].prev_out != OutPoint(spend.id, 0):
            raise Bip322Error("to_sign does not spend to_spend:0 (wrong message or address)")
        if len(tx.vout) != 1 or tx.vout[0].value != 0 or tx.vout[0].script_pub_key.script != OP_RETURN:
            raise Bip322Error("to_sign must have exactly one output: 0 sats to OP_RETURN")
        if tx.version not in (0, 2):
            raise Bip322Error(f"to_sign version {tx.version} is not 0 or 2 (inconclusive)")
    if engine == "auto":
        fast = _fast_check(tx, spk, typ, kind)
        if fast is not None:
            return fast
    _forbid_codeseparator(tx, spk)
    hash_types: list[int] = []
    ecdsa: list[tuple[bytes, bytes]] = []
    try:
        verify_input([TxOut(0, spk)], tx, 0, FLAGS, hash_types=hash_types, signatures=ecdsa)
    except Exception as exc:
        raise Bip322Error(f"invalid signature ({type(exc).__name__}: {exc})") from None
    if not hash_types:
        raise Bip322Error("the script checked no signature (anyone could satisfy it)")
    allowed = (SIGHASH_ALL, SIGHASH_DEFAULT) if typ == "p2tr" else (SIGHASH_ALL,)
    bad = [h for h in hash_types if h not in allowed]
    if bad:
        raise Bip322Error(f"signature hash type(s) {bad} are not SIGHASH_ALL")
    stack = tx.vin[0].script_witness.stack
    if typ == "p2tr" and len(stack) == 1:
        signers: tuple[str, ...] = (type_and_payload(spk)[1].hex(),)
    else:
        signers = tuple(dict.fromkeys(pub.hex() for pub, _sig in ecdsa))
    return Bip322Result(kind, typ, tx.lock_time, tx.vin[0].sequence, signers, len(hash_types))


# --------------------------------------------------------------------------------------
# the direct check of the two common spends (same accept/reject as the interpreter)
# --------------------------------------------------------------------------------------

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def is_strict_der(sig: bytes) -> bool:
    """Bitcoin Core's IsValidSignatureEncoding (BIP-66 strict DER), hash type byte included."""
    n = len(sig)
    if n < 9 or n > 73 or sig[0] != 0x30 or sig[1] != n - 3:
        return False
    len_r = sig[3]
    if 5 + len_r >= n:
        return False
    len_s = sig[5 + len_r]
    if len_r + len_s + 7 != n:
        return False
    if sig[2] != 0x02 or len_r == 0 or sig[4] & 0x80:
        return False
    if len_r > 1 and sig[4] == 0x00 and not sig[5] & 0x80:
        return False
    if sig[len_r + 4] != 0x02 or len_s == 0 or sig[len_r + 6] & 0x80:
        return False
    if len_s > 1 and sig[len_r + 6] == 0x00 and not sig[len_r + 7] & 0x80:
        return False
    return True


def _fail(why: str) -> Bip322Error:
    return Bip322Error(f"invalid signature ({why})")


def _fast_check(tx: Tx, spk: bytes, typ: str, kind: str) -> Bip322Result | None:
    """Check a P2WPKH spend or a P2TR key-path spend directly; None: not one of them.

    Exactly what the interpreter plus BIP-322's rules accept for these two shapes (the
    differential tests in tests/test_bip322_fast.py run both on every vector and on random
    tampering):

    * shape (else None, and the interpreter decides): P2WPKH with an empty scriptSig and two
      witness items; P2TR with an empty scriptSig and one witness item (no annex, no script).
    * P2WPKH: the key is a 33-byte compressed key (WITNESS_PUBKEYTYPE) whose HASH160 is the
      program; the signature is strict DER (BIP-66) + hash type SIGHASH_ALL (BIP-322; the
      interpreter refuses other undefined types with STRICTENC and por refuses the defined
      ones), low S (LOW_S); then ECDSA (libsecp256k1 through coincurve) over the BIP-143
      sighash of to_sign (btclib's ``segwit_v0``). An empty or failing signature is refused
      (NULLFAIL / EVAL_FALSE).
    * P2TR key path: 64 bytes (SIGHASH_DEFAULT) or 65 bytes ending in 0x01 (SIGHASH_ALL; an
      explicit 0x00 is invalid under BIP-341, other types are not SIGHASH_ALL); BIP-340
      Schnorr (libsecp256k1 through coincurve's x-only key) by the output key over the
      BIP-341 sighash of to_sign (btclib's ``taproot``).
    """
    vin = tx.vin[0]
    if vin.script_sig:
        return None
    stack = vin.script_witness.stack
    if typ == "p2wpkh" and len(stack) == 2:
        sig, pub = stack
        program = spk[2:]
        if len(pub) != 33 or pub[0] not in (2, 3):
            raise _fail("witness public key is not a compressed key")
        if hash160(pub) != program:
            raise _fail("public key does not hash to the witness program")
        if not sig:
            raise _fail("empty signature")
        if not is_strict_der(sig):
            raise _fail("signature is not strict DER")
        if sig[-1] != SIGHASH_ALL:
            raise _fail(f"signature hash type {sig[-1]:#x} is not SIGHASH_ALL")
        len_r = sig[3]
        s = int.from_bytes(sig[6 + len_r:-1], "big")
        if s > SECP256K1_N // 2:
            raise _fail("signature S is not low (LOW_S)")
        script_code = b"\x76\xa9\x14" + program + b"\x88\xac"
        digest = segwit_v0(script_code, tx, 0, SIGHASH_ALL, 0)
        try:
            ok = coincurve.PublicKey(pub).verify(sig[:-1], digest, hasher=None)
        except Exception:
            ok = False
        if not ok:
            raise _fail("ECDSA signature does not verify")
        return Bip322Result(kind, typ, tx.lock_time, vin.sequence, (pub.hex(),), 1)
    if typ == "p2tr" and len(stack) == 1:
        (sig,) = stack
        if len(sig) == 64:
            hash_type = SIGHASH_DEFAULT
        elif len(sig) == 65 and sig[64] == SIGHASH_ALL:
            hash_type = SIGHASH_ALL
        else:
            raise _fail("taproot key-path signature is not 64 bytes or 65 ending in 0x01")
        output_key = spk[2:]
        digest = taproot_sig_hash(tx, 0, [TxOut(0, spk)], hash_type, 0, b"", b"")
        try:
            ok = coincurve.PublicKeyXOnly(output_key).verify(sig[:64], digest)
        except Exception:
            ok = False
        if not ok:
            raise _fail("invalid signature for the taproot key path")
        return Bip322Result(kind, typ, tx.lock_time, vin.sequence, (output_key.hex(),), 1)
    return None


# --------------------------------------------------------------------------------------
# signing (por's own wallets and the tests)
# --------------------------------------------------------------------------------------


def sign_p2wpkh(priv: bytes, message: bytes, *, prefix: str = "smp") -> str:
    """A simple BIP-322 signature by the P2WPKH key ``priv``."""
    key = coincurve.PrivateKey(priv)
    pub = key.public_key.format(compressed=True)
    spk = b"\x00\x14" + hash160(pub)
    tx = to_sign(to_spend(message, spk), [])
    script_code = b"\x76\xa9\x14" + spk[2:] + b"\x88\xac"
    digest = segwit_v0(script_code, tx, 0, SIGHASH_ALL, 0)
    sig = key.sign(digest, hasher=None) + bytes([SIGHASH_ALL])
    return prefix + base64.b64encode(serialize_witness([sig, pub])).decode()


def p2tr_output_key(internal_priv: bytes) -> tuple[bytes, bytes]:
    """BIP-86 key-path-only taproot: (tweaked private key, x-only output key).

    Q = P + int(hash_TapTweak(x(P)))·G with P the even-y internal key (BIP-341), via btclib.
    """
    tweaked = btc_taproot.output_prvkey(int.from_bytes(internal_priv, "big"))
    t = tweaked.to_bytes(32, "big")
    return t, coincurve.PrivateKey(t).public_key.format(compressed=True)[1:]


def p2tr_address(internal_priv: bytes, network: str = "mainnet") -> str:
    from btclib import b32

    return b32.p2tr(p2tr_output_key(internal_priv)[1], network=network)


def sign_p2tr(internal_priv: bytes, message: bytes, *, prefix: str = "smp",
              hash_type: int = SIGHASH_DEFAULT) -> str:
    """A simple BIP-322 key-path signature (BIP-340 Schnorr by the BIP-86 tweaked key)."""
    tweaked, xonly = p2tr_output_key(internal_priv)
    spk = b"\x51\x20" + xonly
    tx = to_sign(to_spend(message, spk), [])
    digest = taproot_sig_hash(tx, 0, [TxOut(0, spk)], hash_type, 0, b"", b"")
    sig = coincurve.PrivateKey(tweaked).sign_schnorr(digest)
    if hash_type != SIGHASH_DEFAULT:
        sig += bytes([hash_type])
    return prefix + base64.b64encode(serialize_witness([sig])).decode()
