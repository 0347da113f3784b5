"""Ownership signatures, per chain, failing closed: OKX's real rows, BIP-322's published
vectors, and keys made here."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
from pathlib import Path

import base58
import coincurve
import pytest

from fixtures_path import OKX_ASSETS
from btclib import b32
from btclib import base58 as b58check
from btclib.hashes import hash160
from eth_account import Account
from eth_account.messages import encode_defunct
from nacl.signing import SigningKey

from por.assets import ownership as own
from por.assets.wallets import WalletEntry, load_wallets

OKX = OKX_ASSETS
FILES = sorted(OKX.glob("*.csv"))


def _rows():
    out = []
    for f in FILES:
        wf = load_wallets(f)
        (msg,) = wf.messages()
        out += [(e, msg) for e in wf.entries]
    return out


ROWS = _rows()


def E(**kw) -> WalletEntry:
    base = dict(source="t", row=1, layout="por-wallets-v1", chain="bitcoin", address="",
                assets=("BTC",), message="msg", scheme="btc-bms", signatures=())
    base.update(kw)
    return WalletEntry(**base)


def test_every_okx_row_verifies_except_starknet():
    assert len(ROWS) == 33 + 5 + 3 + 9
    for e, msg in ROWS:
        r = own.verify_entry(e, msg)
        if e.chain == "starknet":
            assert r.status == own.UNSUPPORTED and not r.ok
        else:
            assert r.ok, (e.source, e.row, r.detail)


def _flip(text: str, pos: int) -> str:
    c = text[pos]
    if c in "0123456789abcdef":
        alt = "0123456789abcdef"
    elif c in "ABCDEF":
        alt = "ABCDEF"
    else:
        alt = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n = alt[(alt.index(c) + 1) % len(alt)] if c in alt else alt[0]
    return text[:pos] + n + text[pos + 1:]


def _positions(text: str) -> list[int]:
    n = len(text)
    start = 2 if text.startswith("0x") else 0
    return sorted({start + 1, n // 3, n // 2, (2 * n) // 3})


def test_one_changed_character_anywhere_fails():
    """Every field of every OKX row: change one character and the row no longer verifies.

    The only exceptions are addresses that por says it does NOT link to the key (TON,
    EOS account names, contract/staking addresses, a rotated Aptos account): for those the
    result must say "not checked" — and the test checks that it does.
    """
    tried = 0
    for e, msg in ROWS:
        if e.chain == "starknet":
            continue
        base = own.verify_entry(e, msg)
        fields = {"signatures": list(e.signatures), "public_keys": list(e.public_keys),
                  "owners": list(e.owners)}
        variants = []
        for pos in _positions(e.address):
            variants.append(("address", dataclasses.replace(e, address=_flip(e.address, pos))))
        for name, values in fields.items():
            for i, v in enumerate(values):
                for pos in _positions(v):
                    vs = list(values)
                    vs[i] = _flip(v, pos)
                    variants.append((name, dataclasses.replace(e, **{name: tuple(vs)})))
        if e.redeem_script:
            for pos in _positions(e.redeem_script):
                variants.append(("redeem_script", dataclasses.replace(
                    e, redeem_script=_flip(e.redeem_script, pos))))
        # the message: a row claiming another message, checked as that round's message
        other = msg[:-1] + chr(ord(msg[-1]) ^ 1)
        r = own.verify_entry(dataclasses.replace(e, message=other), other)
        assert not r.ok, (e.source, e.row, "message")
        # and the row's own message is not the round's message
        assert not own.verify_entry(e, other).ok
        for name, v in variants:
            r = own.verify_entry(v, msg)
            tried += 1
            if name == "address" and e.chain == "ton":
                # not linked to the key, but the address's CRC16 catches the changed character
                assert not r.ok and "TON address" in r.detail, (v.address, r.detail)
                continue
            if name == "address" and base.address_link.startswith("not checked"):
                assert r.ok and r.address_link.startswith("not checked")
                continue
            assert not r.ok, (e.source, e.row, name, v)
    assert tried > 400


def test_not_checked_links_are_named():
    links = {(e.chain, e.row): own.verify_entry(e, m).address_link for e, m in ROWS
             if e.chain != "starknet"}
    nc = sorted(k for k, v in links.items() if v.startswith("not checked"))
    assert nc == [("aptos", 20), ("eos", 10), ("ethereum", 6), ("ethereum", 7), ("ethereum", 18),
                  ("ton", 19)]
    assert "owner1 = auth key" in links[("aptos", 20)]
    assert links[("polkadot", 5)].startswith("checked: SS58")
    assert links[("cardano", 6)].startswith("checked")


# ------------------------------------------------------------------ Bitcoin multisig


def _msig_row():
    (e,) = [e for e, _ in ROWS if e.address == "bc1qxmaqqg9az39uj8pxf6qckqhu2awquhlg24zg4897mv6wnj8aw97svxgu3r"]
    return e


def test_multisig_distinct_members_threshold_and_script_hash():
    e = _msig_row()
    msg = e.message
    assert own.verify_entry(e, msg).ok
    # the same signature twice: one key, not two
    r = own.verify_entry(dataclasses.replace(e, signatures=(e.signatures[0],) * 2), msg)
    assert not r.ok and "same key" in r.detail
    # one signature is too few for 2-of-3
    r = own.verify_entry(dataclasses.replace(e, signatures=e.signatures[:1]), msg)
    assert not r.ok and "needs 2" in r.detail
    # a valid signature from a key that is not in the script
    stranger = own.bms_sign(os.urandom(32), msg.encode())
    r = own.verify_entry(dataclasses.replace(e, signatures=(e.signatures[0], stranger)), msg)
    assert not r.ok and "not a key of the script" in r.detail
    # declared threshold disagreeing with the script
    assert not own.verify_entry(dataclasses.replace(e, threshold=1), msg).ok
    # a P2SH address for the same script is not the P2WSH address
    p2sh = b58check.encode(b"\x05" + hash160(bytes.fromhex(e.redeem_script))).decode()
    assert own.verify_entry(dataclasses.replace(e, address=p2sh), msg).ok
    r = own.verify_entry(dataclasses.replace(e, address=p2sh, chain="dogecoin"), msg)
    assert not r.ok


def _script(m, pubs):
    return bytes([0x50 + m]) + b"".join(b"\x21" + p for p in pubs) + bytes([0x50 + len(pubs), 0xAE])


def test_multisig_script_with_duplicate_key_is_rejected():
    k1, k2 = os.urandom(32), os.urandom(32)
    p1 = coincurve.PrivateKey(k1).public_key.format()
    p2 = coincurve.PrivateKey(k2).public_key.format()
    dup = _script(2, [p1, p1, p2])
    addr = b32.address_from_witness(0, hashlib.sha256(dup).digest(), "mainnet")
    sigs = (own.bms_sign(k1, b"msg"), own.bms_sign(k2, b"msg"))
    r = own.verify_entry(E(address=addr, scheme="btc-bms-multisig", signatures=sigs,
                           redeem_script=dup.hex()), "msg")
    assert not r.ok and "same key twice" in r.detail
    good = _script(2, [p1, p2, coincurve.PrivateKey(os.urandom(32)).public_key.format()])
    addr = b32.address_from_witness(0, hashlib.sha256(good).digest(), "mainnet")
    ok = E(address=addr, scheme="btc-bms-multisig", signatures=sigs, redeem_script=good.hex())
    assert own.verify_entry(ok, "msg").ok
    bad = own.verify_entry(dataclasses.replace(ok, redeem_script=(good[:-1] + b"\xac").hex()), "msg")
    assert not bad.ok and "OP_CHECKMULTISIG" in bad.detail


def test_btc_bms_p2pkh_and_segwit_headers():
    from btclib.ecc import bms
    from btclib.key import PrvKeyData
    k = os.urandom(32)
    wif = PrvKeyData(int.from_bytes(k, "big") % (own.SECP256K1_N - 1) + 1)
    k = wif.q.to_bytes(32, "big")
    addr = b58check.encode(b"\x00" + hash160(coincurve.PrivateKey(k).public_key.format())).decode()
    sig = bms.sign(b"msg", wif).b64encode()
    assert own.verify_entry(E(address=addr, signatures=(sig,)), "msg").ok
    assert not own.verify_entry(E(address=addr, signatures=(sig,), message="msg2"), "msg2").ok
    seg = b32.address_from_witness(0, hash160(coincurve.PrivateKey(k).public_key.format()), "mainnet")
    sig2 = bms.sign(b"msg", wif, seg).b64encode()
    assert own.verify_entry(E(address=seg, signatures=(sig2,)), "msg").ok
    other = b32.address_from_witness(0, os.urandom(20), "mainnet")
    assert not own.verify_entry(E(address=other, signatures=(sig2,)), "msg").ok


# ------------------------------------------------------------------ BIP-322

VECTORS = Path(__file__).parent / "vectors" / "bip322"
BASIC = json.loads((VECTORS / "basic-test-vectors.json").read_text(encoding="utf-8"))
GENERATED = json.loads((VECTORS / "generated-test-vectors.json").read_text(encoding="utf-8"))
BIP322_ADDR = "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l"


def _b322(addr, msg, sig, scheme="bip322"):
    return E(address=addr, scheme=scheme, signatures=(sig,), message=msg)


def _wif(wif: str) -> bytes:
    from btclib.b58 import prv_key_data_from_wif
    return prv_key_data_from_wif(wif).q.to_bytes(32, "big")


def test_bip322_message_hashes_and_txids_from_the_bip():
    from por.assets import bip322
    assert len(BASIC["tx_hashes"]) == 3
    for v in BASIC["tx_hashes"]:
        m = v["message"].encode("utf-8")
        assert own.bip322_message_hash(m).hex() == v["message_hash"]
        spk, typ = bip322.script_pub_key_of(v["address"])
        assert typ == "p2wpkh"
        spend = bip322.to_spend(m, spk)
        assert spend.id.hex() == v["to_spend_tx_hash"]
        assert bip322.to_sign(spend, []).id.hex() == v["to_sign_tx_hash"]


@pytest.mark.parametrize("section", ["simple", "full"])
def test_bip322_published_signatures_verify(section):
    vectors = BASIC.get(section, []) + GENERATED[section]
    types = set()
    for v in vectors:
        for sig in v["bip322_signatures"]:
            e = _b322(v["address"], v["message"], sig)
            r = own.verify_entry(e, v["message"])
            assert r.ok, (v["type"], r.detail)
            assert r.address_link.startswith("checked: BIP-322 " + section)
            # the scheme that names the variant accepts it, the other one refuses it
            assert own.verify_entry(dataclasses.replace(e, scheme=f"bip322-{section}"), v["message"]).ok
            other = "bip322-full" if section == "simple" else "bip322-simple"
            assert not own.verify_entry(dataclasses.replace(e, scheme=other), v["message"]).ok
            # another message fails
            m2 = v["message"] + "!"
            assert not own.verify_entry(dataclasses.replace(e, message=m2), m2).ok
            types.add(v["type"])
    if section == "simple":
        assert {"p2wpkh", "p2tr", "p2wsh-multisig-2of2", "p2wsh-multisig-3of3"} <= types
    else:
        assert {"p2pkh", "p2wpkh", "p2tr", "p2tr-time-lock", "p2sh-p2wpkh", "p2wsh-time-lock",
                "p2sh-multisig-2of2", "p2sh-p2wsh-multisig-2of2"} <= types


def test_bip322_time_locks_are_reported():
    (v,) = [v for v in GENERATED["full"] if v["type"] == "p2wsh-time-lock"]
    r = own.verify_entry(_b322(v["address"], v["message"], v["bip322_signatures"][0]), v["message"])
    assert r.ok and "valid at time 2016 and age 2016" in r.address_link


def test_bip322_published_error_cases_fail():
    errors = BASIC["error"] + GENERATED["error"]
    assert len(errors) >= 30
    for v in errors:
        r = own.verify_entry(_b322(v["address"], v["message"], v["signature"]), v["message"])
        assert not r.ok and r.status == own.FAILED, v["description"]


def test_bip322_unprefixed_simple_signatures_of_the_first_bip_text():
    """BIP-322 before 2.0.0 printed simple signatures without the ``smp`` prefix."""
    for v in BASIC["simple"][:2]:
        for sig in v["bip322_signatures"]:
            assert sig.startswith("smp")
            assert own.verify_entry(_b322(BIP322_ADDR, v["message"], sig[3:], "bip322-simple"),
                                    v["message"]).ok


def test_bip322_proof_of_funds_is_refused():
    (v,) = GENERATED["proof_of_funds"]
    r = own.verify_entry(_b322(v["address"], v["message"], v["bip322_signatures"][0]), v["message"])
    assert not r.ok and "proof-of-funds" in r.detail


def test_bip322_our_signer_reproduces_the_bip():
    """RFC 6979 ECDSA is deterministic: por's P2WPKH signer gives the BIP's own bytes, and
    the BIP-86 taproot tweak gives the BIP's P2TR address for its key."""
    k = _wif(BASIC["simple"][0]["private_keys"][0])
    for v in BASIC["simple"][:2]:
        assert own.bip322_sign_p2wpkh(k, v["message"].encode()) in v["bip322_signatures"]
    (tr,) = [v for v in BASIC["simple"] if v["type"] == "p2tr"]
    addr, sig = own.bip322_sign_p2tr(_wif(tr["private_keys"][0]), tr["message"].encode())
    assert addr == tr["address"]
    assert own.verify_entry(_b322(addr, tr["message"], sig), tr["message"]).ok
    for v in GENERATED["simple"]:
        if v["type"] == "p2tr":
            assert own.bip322_sign_p2tr(_wif(v["private_keys"][0]), b"")[0] == v["address"]


def test_bip322_own_keys_and_tampering():
    from por.assets import bip322
    k = os.urandom(32)
    pub = coincurve.PrivateKey(k).public_key.format()
    addr = b32.address_from_witness(0, hash160(pub), "mainnet")
    sig = own.bip322_sign_p2wpkh(k, b"round 7")
    e = E(address=addr, scheme="bip322-simple", signatures=(sig,), message="round 7")
    assert own.verify_entry(e, "round 7").ok
    wit = own.parse_witness(base64.b64decode(sig[3:]))
    bad_der = bytearray(wit[0])
    bad_der[10] ^= 1
    # a high-s twin of the valid signature is refused (LOW_S)
    r_, s_ = _der_rs(wit[0][:-1])
    twin = _der(r_, own.SECP256K1_N - s_) + b"\x01"
    for w in ([bytes(bad_der), wit[1]], [wit[0]], [wit[0], wit[1], b""], [twin, wit[1]],
              [wit[0][:-1] + b"\x02", wit[1]], [wit[0][:-1] + b"\x81", wit[1]], []):
        s = "smp" + base64.b64encode(own.serialize_witness(w)).decode()
        assert not own.verify_entry(dataclasses.replace(e, signatures=(s,)), "round 7").ok, w
    # a signature for another address, a regtest address on a non-bitcoin chain, garbage
    assert not own.verify_entry(dataclasses.replace(e, address=b32.address_from_witness(
        0, hash160(coincurve.PrivateKey().public_key.format()), "mainnet")), "round 7").ok
    assert not own.verify_entry(dataclasses.replace(e, chain="litecoin"), "round 7").ok
    assert not own.verify_entry(dataclasses.replace(e, signatures=("smp" + sig,)), "round 7").ok
    taddr, tsig = own.bip322_sign_p2tr(k, b"round 7")
    t = E(address=taddr, scheme="bip322-simple", signatures=(tsig,), message="round 7")
    r = own.verify_entry(t, "round 7")
    assert r.ok and r.signers == [bip322.p2tr_output_key(k)[1].hex()]
    assert not own.verify_entry(dataclasses.replace(t, address=addr), "round 7").ok
    # the untweaked key's own P2TR address is not the wallet's address
    untweaked = b32.p2tr(coincurve.PrivateKey(k).public_key.format()[1:])
    assert untweaked != taddr
    assert not own.verify_entry(dataclasses.replace(t, address=untweaked), "round 7").ok
    # Schnorr with an explicit SIGHASH_ALL byte is fine, SIGHASH_NONE (0x02) is not
    assert own.verify_entry(dataclasses.replace(t, signatures=(bip322.sign_p2tr(
        k, b"round 7", hash_type=1),)), "round 7").ok
    assert not own.verify_entry(dataclasses.replace(t, signatures=(bip322.sign_p2tr(
        k, b"round 7", hash_type=2),)), "round 7").ok
    tw = own.parse_witness(base64.b64decode(tsig[3:]))
    flipped = bytearray(tw[0])
    flipped[40] ^= 1
    s = "smp" + base64.b64encode(own.serialize_witness([bytes(flipped)])).decode()
    assert not own.verify_entry(dataclasses.replace(t, signatures=(s,)), "round 7").ok


def test_bip322_script_that_needs_no_signature_is_refused():
    """An OP_TRUE P2WSH is spendable by anyone: BIP-322 calls its proof valid, por does not."""
    from por.assets import bip322
    script = b"\x51"
    addr = b32.address_from_witness(0, hashlib.sha256(script).digest(), "mainnet")
    sig = "smp" + base64.b64encode(own.serialize_witness([script])).decode()
    r = own.verify_entry(_b322(addr, "m", sig), "m")
    assert not r.ok and "no signature" in r.detail
    # an OP_CODESEPARATOR in the witness script is forbidden by the BIP
    k = coincurve.PrivateKey()
    ws = b"\xab\x21" + k.public_key.format() + b"\xac"
    addr = b32.address_from_witness(0, hashlib.sha256(ws).digest(), "mainnet")
    spk = b"\x00\x20" + hashlib.sha256(ws).digest()
    tx = bip322.to_sign(bip322.to_spend(b"m", spk), [])
    from btclib.script.sig_hash import segwit_v0
    digest = segwit_v0(ws[1:], tx, 0, 1, 0)
    w = [k.sign(digest, hasher=None) + b"\x01", ws]
    r = own.verify_entry(_b322(addr, "m", "smp" + base64.b64encode(own.serialize_witness(w)).decode()), "m")
    assert not r.ok and "CODESEPARATOR" in r.detail


def _der_rs(der: bytes) -> tuple[int, int]:
    rl = der[3]
    r = int.from_bytes(der[4:4 + rl], "big")
    sl = der[5 + rl]
    return r, int.from_bytes(der[6 + rl:6 + rl + sl], "big")


def _der(r: int, s: int) -> bytes:
    def enc(x):
        b = x.to_bytes((x.bit_length() + 8) // 8, "big")
        return b"\x02" + bytes([len(b)]) + b
    body = enc(r) + enc(s)
    return b"\x30" + bytes([len(body)]) + body


# ------------------------------------------------------------------ EVM, TRON, ed25519


def test_evm_both_forms_and_contract_owners():
    acct = Account.create()
    plain = Account.sign_message(encode_defunct(text="msg"), acct.key).signature.hex()
    from eth_hash.auto import keccak
    hashed = Account.sign_message(encode_defunct(primitive=keccak(b"msg")), acct.key).signature.hex()
    a = acct.address
    assert own.verify_entry(E(chain="ethereum", address=a, scheme="evm-personal-sign",
                              signatures=("0x" + plain.removeprefix("0x"),)), "msg").ok
    assert own.verify_entry(E(chain="ethereum", address=a.lower(), scheme="evm-personal-sign-keccak",
                              signatures=(hashed,)), "msg").ok
    # the two forms are not interchangeable
    assert not own.verify_entry(E(chain="ethereum", address=a, scheme="evm-personal-sign",
                                  signatures=(hashed,)), "msg").ok
    # a wrong EIP-55 checksum is refused
    bad = a[:2] + "".join(c.swapcase() if c.isalpha() else c for c in a[2:6]) + a[6:]
    if bad != a and bad[2:] != bad[2:].lower() and bad[2:] != bad[2:].upper():
        assert not own.verify_entry(E(chain="ethereum", address=bad, scheme="evm-personal-sign",
                                      signatures=(plain,)), "msg").ok
    # contract wallet: every listed owner must recover, in order
    b = Account.create()
    pb = Account.sign_message(encode_defunct(text="msg"), b.key).signature.hex()
    c = E(chain="ethereum", address="0x" + "ab" * 20, scheme="evm-personal-sign",
          signatures=(plain, pb), owners=(a, b.address))
    assert own.verify_entry(c, "msg").ok
    assert not own.verify_entry(dataclasses.replace(c, signatures=(pb, plain)), "msg").ok
    assert not own.verify_entry(dataclasses.replace(c, signatures=(plain,)), "msg").ok
    assert not own.verify_entry(dataclasses.replace(c, owners=(a, a), signatures=(plain, plain)), "msg").ok


def test_tron_tip191_and_v1():
    k = coincurve.PrivateKey()
    addr = own.tron_address_of(k.public_key)
    for scheme, v1 in (("tron-tip191", False), ("tron-v1", True)):
        rs = k.sign_recoverable(own.tron_digest(b"msg", v1=v1), hasher=None)
        sig = "0x" + (rs[:64] + bytes([27 + rs[64]])).hex()
        e = E(chain="tron", address=addr, scheme=scheme, signatures=(sig,))
        assert own.verify_entry(e, "msg").ok
        assert own.verify_entry(dataclasses.replace(e, scheme="tron-okx"), "msg").ok
        other = "tron-v1" if scheme == "tron-tip191" else "tron-tip191"
        assert not own.verify_entry(dataclasses.replace(e, scheme=other), "msg").ok
    # a base58 address with a broken checksum, and a non-TRON (0x00-prefixed) address
    raw = b58check.decode(addr)
    assert not own.verify_entry(dataclasses.replace(e, address=base58.b58encode(raw + b"\0\0\0\0").decode()), "msg").ok
    assert not own.verify_entry(dataclasses.replace(e, address=b58check.encode(b"\x00" + raw[1:]).decode()), "msg").ok


def test_ed25519_solana_aptos_polkadot():
    sk = SigningKey.generate()
    pk = bytes(sk.verify_key)
    sig = sk.sign(own.okx_signed_bytes(b"msg")).signature.hex()
    sol = E(chain="solana", address=base58.b58encode(pk).decode(), scheme="ed25519-okx",
            signatures=(sig,), public_keys=(pk.hex(),))
    assert own.verify_entry(sol, "msg").ok
    other = base58.b58encode(bytes(SigningKey.generate().verify_key)).decode()
    assert not own.verify_entry(dataclasses.replace(sol, address=other), "msg").ok
    apt = dataclasses.replace(sol, chain="aptos",
                              address="0x" + hashlib.sha3_256(pk + b"\0").hexdigest())
    assert own.verify_entry(apt, "msg").ok
    assert not own.verify_entry(dataclasses.replace(apt, address="0x" + hashlib.sha3_256(pk + b"\1").hexdigest()), "msg").ok
    body = b"\x00" + pk
    ss58 = base58.b58encode(body + hashlib.blake2b(b"SS58PRE" + body, digest_size=64).digest()[:2]).decode()
    dot = dataclasses.replace(sol, chain="polkadot", address=ss58)
    assert own.verify_entry(dot, "msg").ok
    body2 = b"\x02" + pk  # Kusama prefix: not a Polkadot address
    ks = base58.b58encode(body2 + hashlib.blake2b(b"SS58PRE" + body2, digest_size=64).digest()[:2]).decode()
    assert not own.verify_entry(dataclasses.replace(dot, address=ks), "msg").ok
    # the signature must be over the OKX-prefixed bytes, not the bare message
    bare = sk.sign(b"msg").signature.hex()
    assert not own.verify_entry(dataclasses.replace(sol, signatures=(bare,)), "msg").ok


def test_unknown_scheme_and_garbage_fail_closed():
    r = own.verify_entry(E(scheme="schnorr-magic", signatures=("x",)), "msg")
    assert r.status == own.UNSUPPORTED and not r.ok
    for scheme in own.SCHEMES:
        for chain in ("bitcoin", "ethereum", "tron", "solana", "eos"):
            r = own.verify_entry(E(scheme=scheme, chain=chain, address="zz", signatures=("%%",),
                                   public_keys=("zz",), redeem_script="zz"), "msg")
            assert not r.ok


# ------------------------------------------------------------------ signing our own wallets


def make_keys_doc() -> dict:
    """A por-exchange-keys document with fresh real keys (as `por generate` writes)."""
    wallets = []
    k = os.urandom(32)
    pub = coincurve.PrivateKey(k).public_key.format()
    wallets.append({"chain": "bitcoin", "type": "p2wpkh",
                    "address": b32.address_from_witness(0, hash160(pub), "mainnet"),
                    "private_keys": [k.hex()], "public_keys": [pub.hex()],
                    "redeem_script": None, "threshold": 1})
    ks = [os.urandom(32) for _ in range(3)]
    pubs = [coincurve.PrivateKey(x).public_key.format() for x in ks]
    script = _script(2, pubs)
    wallets.append({"chain": "bitcoin", "type": "p2wsh-multisig",
                    "address": b32.address_from_witness(0, hashlib.sha256(script).digest(), "mainnet"),
                    "private_keys": [x.hex() for x in ks], "public_keys": [p.hex() for p in pubs],
                    "redeem_script": script.hex(), "threshold": 2})
    acct = Account.create()
    wallets.append({"chain": "ethereum", "type": "eoa", "address": acct.address,
                    "private_keys": [acct.key.hex()], "public_keys": [], "redeem_script": None,
                    "threshold": 1})
    tk = coincurve.PrivateKey()
    wallets.append({"chain": "tron", "type": "eoa", "address": own.tron_address_of(tk.public_key),
                    "private_keys": [tk.secret.hex()], "public_keys": [], "redeem_script": None,
                    "threshold": 1})
    return {"format": "por-exchange-keys", "version": 1, "wallets": wallets}


def test_sign_wallets_roundtrip(tmp_path):
    keys = make_keys_doc()
    doc = own.sign_wallets(keys, "por round 2026-11", {("ethereum", keys["wallets"][2]["address"]): ["ETH", "USDT"]})
    p = tmp_path / "wallets.json"
    p.write_text(json.dumps(doc))
    wf = load_wallets(p)
    assert [e.scheme for e in wf.entries] == ["bip322-simple", "btc-bms-multisig",
                                              "evm-personal-sign", "tron-tip191"]
    assert wf.entries[2].assets == ("ETH", "USDT")
    assert len(wf.entries[1].signatures) == 2
    for e in wf.entries:
        assert own.verify_entry(e, "por round 2026-11").ok
        assert not own.verify_entry(e, "por round 2026-12").ok
    # fewer private keys than the threshold: refused
    keys["wallets"][1]["private_keys"] = keys["wallets"][1]["private_keys"][:1]
    with pytest.raises(ValueError, match="threshold is 2"):
        own.sign_wallets(keys, "m")


def test_sign_wallets_ed25519_chains_and_their_addresses():
    """The synthetic exchange's ed25519 wallets: real keys, addresses derived from them,
    signatures over OKX's prefixed message; a wallet whose address is not its key's fails."""
    wallets = []
    for chain in own.ED25519_CHAINS:
        sk = SigningKey.generate()
        pk = bytes(sk.verify_key)
        wallets.append({"chain": chain, "type": "ed25519", "address": own.ed25519_address(chain, pk),
                        "private_keys": [bytes(sk).hex()], "public_keys": [pk.hex()],
                        "redeem_script": None, "threshold": 1})
    keys = {"format": "por-exchange-keys", "version": 1, "wallets": wallets}
    doc = own.sign_wallets(keys, "round 9")
    links = {}
    for i, w in enumerate(doc["wallets"], 1):
        assert w["scheme"] == "ed25519-okx" and w["public_keys"] == wallets[i - 1]["public_keys"]
        e = WalletEntry(source="t", row=i, layout="por-wallets-v1", chain=w["chain"],
                        address=w["address"], assets=tuple(w["assets"]), message="round 9",
                        scheme=w["scheme"], signatures=tuple(w["signatures"]),
                        public_keys=tuple(w["public_keys"]))
        r = own.verify_entry(e, "round 9")
        assert r.ok, r.detail
        links[w["chain"]] = r.address_link
        assert not own.verify_entry(e, "round 10").ok
        # another key's signature and public key, for the same address
        sk2 = SigningKey.generate()
        e2 = dataclasses.replace(e, public_keys=(bytes(sk2.verify_key).hex(),),
                                 signatures=(sk2.sign(own.okx_signed_bytes(b"round 9")).signature.hex(),))
        r2 = own.verify_entry(e2, "round 9")
        assert r2.ok == (w["chain"] == "ton"), (w["chain"], r2.detail)
    assert [w["assets"] for w in doc["wallets"]] == [["SOL"], ["APT"], ["TON"], ["DOT"], ["ADA"]]
    assert all(links[c].startswith("checked") for c in ("solana", "aptos", "polkadot", "cardano"))
    assert links["ton"].startswith("not checked")
    # a key file whose address is not the key's: refused at signing
    wallets[0]["address"] = own.ed25519_address("solana", bytes(SigningKey.generate().verify_key))
    with pytest.raises(ValueError, match="not the solana address"):
        own.sign_wallets(keys, "round 9")


def test_ton_address_forms():
    acct = hashlib.sha256(b"x").digest()
    for bounce in (False, True):
        a = own.ton_user_friendly(0, acct, bounceable=bounce)
        assert own.parse_ton_address(a) == (0, acct)
    assert own.parse_ton_address("-1:" + acct.hex()) == (-1, acct)
    a = own.ton_user_friendly(0, acct)
    for bad in (a[:-1] + ("A" if a[-1] != "A" else "B"), a[:47], "5:" + acct.hex(),
                own.ton_user_friendly(3, acct), " " + a):
        with pytest.raises(own.OwnershipError):
            own.parse_ton_address(bad)
