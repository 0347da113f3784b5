"""The direct BIP-322 check of P2WPKH and P2TR key-path spends against the script interpreter:
both engines run on every published vector (valid and error cases) and on randomized
tampering, and must agree on accept/reject (and on the result when they accept)."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import coincurve
import pytest
from btclib import b32
from btclib.hashes import hash160
from btclib.script.sig_hash import segwit_v0, taproot as taproot_sig_hash
from btclib.tx import TxOut

from por.assets import bip322

VEC = Path(__file__).parent / "vectors" / "bip322"
BASIC = json.loads((VEC / "basic-test-vectors.json").read_text())
GENERATED = json.loads((VEC / "generated-test-vectors.json").read_text())
N = bip322.SECP256K1_N


def _outcome(address: str, message: bytes, signature: str, engine: str):
    try:
        return ("ok", bip322.verify(address, message, signature, engine=engine))
    except bip322.Bip322Error:
        return ("rejected", None)


class _Counter:
    """Counts the spends the direct check decided (it returned a result or raised)."""

    def __init__(self, monkeypatch):
        self.decided = 0
        real = bip322._fast_check

        def counting(*a, **kw):
            try:
                r = real(*a, **kw)
            except bip322.Bip322Error:
                self.decided += 1
                raise
            if r is not None:
                self.decided += 1
            return r

        monkeypatch.setattr(bip322, "_fast_check", counting)


def _same(address: str, message: bytes, signature: str) -> str:
    fast = _outcome(address, message, signature, "auto")
    slow = _outcome(address, message, signature, "interpreter")
    assert fast == slow, (address, message, signature, fast, slow)
    return fast[0]


def test_every_published_vector_same_on_both_engines(monkeypatch):
    c = _Counter(monkeypatch)
    verdicts = []
    for section in ("simple", "full", "proof_of_funds"):
        for v in BASIC.get(section, []) + GENERATED.get(section, []):
            for sig in v["bip322_signatures"]:
                verdicts.append(_same(v["address"], v["message"].encode(), sig))
    for v in BASIC["error"] + GENERATED["error"]:
        assert _same(v["address"], v["message"].encode(), v["signature"]) == "rejected"
    assert verdicts.count("ok") >= 20 and "rejected" in verdicts  # proof of funds
    assert c.decided >= 12  # the P2WPKH and P2TR vectors did take the direct path


# ------------------------------------------------------------------ randomized tampering


def _der(r: int, s: int) -> bytes:
    def enc(x: int) -> bytes:
        b = x.to_bytes((x.bit_length() + 8) // 8, "big")
        return b"\x02" + bytes([len(b)]) + b
    body = enc(r) + enc(s)
    return b"\x30" + bytes([len(body)]) + body


def _rs(der: bytes) -> tuple[int, int]:
    lr = der[3]
    return int.from_bytes(der[4:4 + lr], "big"), int.from_bytes(der[6 + lr:6 + lr + der[5 + lr]], "big")


def _p2wpkh_spend(rng, key: bytes, pub: bytes, msg: bytes, version=0, lock_time=0, sequence=0,
                  hash_type=1):
    spk = b"\x00\x14" + hash160(pub)
    tx = bip322.to_sign(bip322.to_spend(msg, spk), [], version=version, lock_time=lock_time,
                        sequence=sequence)
    digest = segwit_v0(b"\x76\xa9\x14" + spk[2:] + b"\x88\xac", tx, 0, hash_type, 0)
    sig = coincurve.PrivateKey(key).sign(digest, hasher=None) + bytes([hash_type])
    return tx, [sig, pub]


def _p2tr_spend(rng, key: bytes, msg: bytes, version=0, lock_time=0, sequence=0, hash_type=0):
    tweaked, xonly = bip322.p2tr_output_key(key)
    spk = b"\x51\x20" + xonly
    tx = bip322.to_sign(bip322.to_spend(msg, spk), [], version=version, lock_time=lock_time,
                        sequence=sequence)
    digest = taproot_sig_hash(tx, 0, [TxOut(0, spk)], hash_type, 0, b"", b"")
    sig = coincurve.PrivateKey(tweaked).sign_schnorr(digest)
    if hash_type:
        sig += bytes([hash_type])
    return tx, [sig]


def _flip(rng, b: bytes) -> bytes:
    if not b:
        return bytes([rng.randrange(256)])
    x = bytearray(b)
    x[rng.randrange(len(x))] ^= 1 << rng.randrange(8)
    return bytes(x)


def _witness_mutations(rng, wit: list[bytes], kind: str) -> list[list[bytes]]:
    sig = wit[0]
    out = [list(wit), [_flip(rng, sig)] + wit[1:], wit + [b""], wit[:1] if len(wit) > 1 else [],
           [b""] + wit[1:], [sig[:-1]] + wit[1:], [sig + b"\x01"] + wit[1:],
           list(reversed(wit)), [sig, b"\x50" + bytes(rng.randrange(256) for _ in range(3))] + wit[1:]]
    for ht in (0, 1, 2, 3, 0x81, 0x83, rng.randrange(256)):
        out.append([sig[:-1] + bytes([ht])] + wit[1:] if kind == "p2wpkh" else [sig[:64] + bytes([ht])])
    if kind == "p2wpkh":
        r, s = _rs(sig[:-1])
        out.append([_der(r, N - s) + sig[-1:]] + wit[1:])  # high-S twin
        out.append([_der(r, s + N) + sig[-1:]] + wit[1:])  # s out of range
        out.append([_der(r + N, s) + sig[-1:]] + wit[1:] if r + N < 2**256 else list(wit))
        padded = b"\x02" + bytes([sig[3] + 1]) + b"\x00" + sig[4:4 + sig[3]]
        rest = sig[4 + sig[3]:-1]
        body = padded + rest
        out.append([b"\x30" + bytes([len(body)]) + body + sig[-1:]] + wit[1:])  # non-minimal r
        out.append([sig[:1] + bytes([sig[1] + 1]) + sig[2:-1] + b"\x00" + sig[-1:]] + wit[1:])
        out.append([sig, _flip(rng, wit[1])])
        out.append([sig, bytes([wit[1][0] ^ 1]) + wit[1][1:]])  # other parity
        out.append([sig, coincurve.PublicKey(wit[1]).format(compressed=False)])
    else:
        out.append([sig[:64] + b"\x01\x01"])
        out.append([bytes(64)])
        out.append([sig[:32] + bytes(32)])
    for _ in range(4):
        w = [_flip(rng, x) for x in wit]
        out.append(w)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_random_tampering_same_on_both_engines(seed, monkeypatch):
    c = _Counter(monkeypatch)
    rng = random.Random(seed)
    verdicts = {"ok": 0, "rejected": 0}
    for _ in range(3):
        key = rng.randbytes(32)
        pub = coincurve.PrivateKey(key).public_key.format()
        msg = rng.randbytes(rng.randrange(40))
        addr = b32.address_from_witness(0, hash160(pub), "mainnet")
        # an address for the uncompressed key: WITNESS_PUBKEYTYPE must refuse it
        upub = coincurve.PublicKey(pub).format(compressed=False)
        uaddr = b32.address_from_witness(0, hash160(upub), "mainnet")
        taddr = bip322.p2tr_address(key)
        cases = []
        # simple
        _tx, wit = _p2wpkh_spend(rng, key, pub, msg)
        for w in _witness_mutations(rng, wit, "p2wpkh"):
            cases.append((addr, msg, "smp" + base64.b64encode(bip322.serialize_witness(w)).decode()))
        # another key signing the right sighash (the script code names the address's hash)
        other = rng.randbytes(32)
        tx, _w = _p2wpkh_spend(rng, key, pub, msg)
        digest = segwit_v0(b"\x76\xa9\x14" + hash160(pub) + b"\x88\xac", tx, 0, 1, 0)
        forged = [coincurve.PrivateKey(other).sign(digest, hasher=None) + b"\x01",
                  coincurve.PrivateKey(other).public_key.format()]
        cases.append((addr, msg, "smp" + base64.b64encode(bip322.serialize_witness(forged)).decode()))
        _tx, uwit = _p2wpkh_spend(rng, key, upub, msg)  # correctly signed, uncompressed key
        for w in _witness_mutations(rng, uwit, "p2wpkh")[:3]:
            cases.append((uaddr, msg, "smp" + base64.b64encode(bip322.serialize_witness(w)).decode()))
        for ht in (0, 1):
            _tx, wit = _p2tr_spend(rng, key, msg, hash_type=ht)
            for w in _witness_mutations(rng, wit, "p2tr"):
                cases.append((taddr, msg, "smp" + base64.b64encode(bip322.serialize_witness(w)).decode()))
        # full: signed over several versions, lock times and sequences, then tampered
        for version in (0, 2, 1):
            lt, sq = rng.choice([(0, 0), (2016, 2016), (rng.randrange(2**32), rng.randrange(2**32))])
            for tx, wit, a, kind in (
                    (*_p2wpkh_spend(rng, key, pub, msg, version, lt, sq), addr, "p2wpkh"),
                    (*_p2tr_spend(rng, key, msg, version, lt, sq, rng.choice([0, 1])), taddr, "p2tr")):
                def full(w, *, script_sig=b"", lock_time=lt):
                    t = bip322.to_sign(bip322.to_spend(msg, bip322.script_pub_key_of(a)[0]), w,
                                       version=version, lock_time=lock_time, sequence=sq,
                                       script_sig=script_sig)
                    return "ful" + base64.b64encode(t.serialize(include_witness=True)).decode()

                cases.append((a, msg, full(wit)))
                for w in _witness_mutations(rng, wit, kind)[:8]:
                    cases.append((a, msg, full(w)))
                raw = base64.b64decode(full(wit)[3:])
                cases.append((a, msg, "ful" + base64.b64encode(_flip(rng, raw)).decode()))
                cases.append((a, msg, full(wit, script_sig=b"\x00")))  # scriptSig on native segwit
                cases.append((a, msg, full(wit, lock_time=lt ^ 1)))  # signed over another lock time
        # the right signature for another message or another address
        cases.append((addr, msg + b"!", cases[0][2]))
        cases.append((taddr, msg, cases[0][2]))
        for a, m, s in cases:
            verdicts[_same(a, m, s)] += 1
    assert verdicts["ok"] >= 3 * 8 and verdicts["rejected"] >= 3 * 60, verdicts
    assert c.decided >= 3 * 60


def test_strict_der_matches_hand_cases():
    good = _der(1, 1) + b"\x01"
    assert bip322.is_strict_der(good)
    assert not bip322.is_strict_der(b"\x30" + good[1:-1])  # no hash type byte
    assert not bip322.is_strict_der(_der(1, 1)[:-1] + b"\x01")
    assert not bip322.is_strict_der(b"\x30\x07\x02\x02\x00\x01\x02\x01\x01\x01")  # padded r
    assert not bip322.is_strict_der(b"\x30\x06\x02\x01\x81\x02\x01\x01\x01")  # negative r
