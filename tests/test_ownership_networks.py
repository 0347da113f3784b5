"""Signed-message ownership on the chains the synthetic exchange added: legacy P2PKH
signmessage on Litecoin, Dogecoin and Bitcoin Cash (their own magic and version bytes), EVM
accounts on Avalanche C-chain and Ethereum Classic. Every check fails closed."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json

import base58
import coincurve
import pytest
from btclib.ecc import bms
from btclib.hashes import hash160
from btclib.key import PrvKeyData

from por.assets import ownership as own
from por.assets.wallets import WalletEntry, load_wallets

MSG = "por round 11: I control this address"
VERSION = {"litecoin": 0x30, "dogecoin": 0x1E, "bitcoincash": 0x00}
MAGIC = {"litecoin": b"Litecoin Signed Message:\n", "dogecoin": b"Dogecoin Signed Message:\n",
         "bitcoincash": b"Bitcoin Signed Message:\n"}


def E(**kw) -> WalletEntry:
    base = dict(source="t", row=1, layout="por-wallets-v1", chain="litecoin", address="",
                assets=("LTC",), message=MSG, scheme="btc-bms", signatures=())
    base.update(kw)
    return WalletEntry(**base)


def _sign(priv: bytes, magic: bytes, msg: str = MSG, compressed: bool = True) -> str:
    """BIP-137 signmessage written out here: double SHA-256 of varstr(magic) || varstr(msg)."""
    m = msg.encode()
    digest = hashlib.sha256(hashlib.sha256(bytes([len(magic)]) + magic + bytes([len(m)]) + m)
                            .digest()).digest()
    rs = coincurve.PrivateKey(priv).sign_recoverable(digest, hasher=None)
    return base64.b64encode(bytes([(31 if compressed else 27) + rs[64]]) + rs[:64]).decode()


def _addr(pub: bytes, version: int) -> str:
    return base58.b58encode_check(bytes([version]) + hash160(pub)).decode()


def test_published_addresses_of_private_key_one():
    pub = coincurve.PrivateKey((1).to_bytes(32, "big")).public_key.format()
    assert own.p2pkh_address(pub, "litecoin") == "LVuDpNCSSj6pQ7t9Pv6d6sUkLKoqDEVUnJ"
    assert own.p2pkh_address(pub, "dogecoin") == "DFpN6QqFfUm3gKNaxN6tNcab1FArL9cZLE"
    assert own.p2pkh_address(pub, "bitcoincash") == "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"


@pytest.mark.parametrize("chain", ["litecoin", "dogecoin", "bitcoincash"])
def test_p2pkh_signmessage_per_network_and_fail_closed(chain):
    k = coincurve.PrivateKey().secret
    pub = coincurve.PrivateKey(k).public_key.format()
    addr = _addr(pub, VERSION[chain])
    assert own.p2pkh_address(pub, chain) == addr
    sig = _sign(k, MAGIC[chain])
    assert own.bms_sign(k, MSG.encode(), chain) == sig  # RFC 6979: the same bytes
    e = E(chain=chain, address=addr, signatures=(sig,))
    r = own.verify_entry(e, MSG)
    assert r.ok, r.detail
    assert r.signers == [pub.hex()] and f"{chain} P2PKH" in r.address_link
    # an uncompressed-key signature (header 27..30) for the uncompressed key's address
    upub = coincurve.PrivateKey(k).public_key.format(compressed=False)
    assert own.verify_entry(E(chain=chain, address=_addr(upub, VERSION[chain]),
                              signatures=(_sign(k, MAGIC[chain], compressed=False),)), MSG).ok
    # wrong network magic: another chain's signmessage prefix
    for other, magic in MAGIC.items():
        if magic != MAGIC[chain]:
            bad = own.verify_entry(dataclasses.replace(e, signatures=(_sign(k, magic),)), MSG)
            assert not bad.ok and "magic" in bad.detail, (other, bad.detail)
    # wrong version byte: the same key's address with another chain's version byte
    for other, v in VERSION.items():
        if v != VERSION[chain]:
            bad = own.verify_entry(dataclasses.replace(e, address=_addr(pub, v)), MSG)
            assert not bad.ok and "version byte" in bad.detail, (other, bad.detail)
    # one changed character in the address or the signature, another message, another key
    for i in (1, len(addr) // 2, len(addr) - 1):
        c = "2" if addr[i] != "2" else "3"
        a2 = addr[:i] + c + addr[i + 1:]
        assert not own.verify_entry(dataclasses.replace(e, address=a2), MSG).ok
    for i in (2, 30, len(sig) - 3):
        c = "A" if sig[i] != "A" else "B"
        s2 = sig[:i] + c + sig[i + 1:]
        assert not own.verify_entry(dataclasses.replace(e, signatures=(s2,)), MSG).ok
    assert not own.verify_entry(dataclasses.replace(e, message=MSG + "!"), MSG + "!").ok
    other_key = coincurve.PrivateKey().secret
    assert not own.verify_entry(
        dataclasses.replace(e, signatures=(_sign(other_key, MAGIC[chain]),)), MSG).ok
    # a segwit header (35..42) on a legacy chain, a high-s twin, a P2SH address: refused
    raw = base64.b64decode(sig)
    seg = base64.b64encode(bytes([raw[0] + 4]) + raw[1:]).decode()
    assert "segwit header" in own.verify_entry(dataclasses.replace(e, signatures=(seg,)), MSG).detail
    s_ = int.from_bytes(raw[33:], "big")
    twin = bytes([raw[0] ^ 1]) + raw[1:33] + (own.SECP256K1_N - s_).to_bytes(32, "big")
    assert not own.verify_entry(dataclasses.replace(
        e, signatures=(base64.b64encode(twin).decode(),)), MSG).ok
    p2sh = base58.b58encode_check(bytes([own.P2SH_VERSION[chain]]) + hash160(pub)).decode()
    assert not own.verify_entry(dataclasses.replace(e, address=p2sh), MSG).ok


def test_bitcoin_cash_takes_bitcoin_signmessage_from_btclib():
    """btclib's own Bitcoin signmessage (an independent implementation) verifies as a BCH row."""
    k = coincurve.PrivateKey().secret
    info = PrvKeyData(int.from_bytes(k, "big"), "mainnet", True)
    sig = bms.sign(MSG.encode(), info).b64encode()
    pub = coincurve.PrivateKey(k).public_key.format()
    assert own.verify_entry(E(chain="bitcoincash", address=_addr(pub, 0), assets=("BCH",),
                              signatures=(sig,)), MSG).ok
    # and not as a Litecoin row (other magic, other version byte)
    assert not own.verify_entry(E(chain="litecoin", address=_addr(pub, 0x30),
                                  signatures=(sig,)), MSG).ok


def _keys(wallets):
    return {"format": "por-exchange-keys", "version": 1, "wallets": wallets}


def test_sign_wallets_new_chains_roundtrip(tmp_path):
    from eth_account import Account

    wallets = []
    for chain in ("avalanche", "ethereumclassic"):
        acct = Account.create()
        wallets.append({"chain": chain, "type": "eoa", "address": acct.address,
                        "private_keys": [acct.key.hex()], "public_keys": [],
                        "redeem_script": None, "threshold": 1})
    for chain in ("litecoin", "dogecoin", "bitcoincash"):
        k = coincurve.PrivateKey()
        wallets.append({"chain": chain, "type": "p2pkh",
                        "address": _addr(k.public_key.format(), VERSION[chain]),
                        "private_keys": [k.secret.hex()], "public_keys": [],
                        "redeem_script": None, "threshold": 1})
    doc = own.sign_wallets(_keys(wallets), MSG)
    p = tmp_path / "wallets.json"
    p.write_text(json.dumps(doc))
    entries = load_wallets(p).entries
    assert [(e.chain, e.scheme, e.assets) for e in entries] == [
        ("avalanche", "evm-personal-sign", ("AVAX",)),
        ("ethereumclassic", "evm-personal-sign", ("ETC",)),
        ("litecoin", "btc-bms", ("LTC",)), ("dogecoin", "btc-bms", ("DOGE",)),
        ("bitcoincash", "btc-bms", ("BCH",))]
    for e in entries:
        assert own.verify_entry(e, MSG).ok
        assert not own.verify_entry(dataclasses.replace(e, message="x"), "x").ok
    # an EVM signature by another account for the same address fails
    other = Account.create()
    from eth_account.messages import encode_defunct
    s = other.sign_message(encode_defunct(text=MSG)).signature.hex()
    assert not own.verify_entry(dataclasses.replace(entries[0], signatures=("0x" + s.removeprefix("0x"),)), MSG).ok
    # a key file whose address is not the key's (Bitcoin's version byte on Litecoin): refused
    wallets[2]["address"] = _addr(coincurve.PrivateKey(bytes.fromhex(wallets[2]["private_keys"][0]))
                                  .public_key.format(), 0x00)
    with pytest.raises(ValueError, match="not the litecoin P2PKH address"):
        own.sign_wallets(_keys(wallets), MSG)


def test_synthetic_exchange_signs_and_verifies_every_wallet(tmp_path):
    """`por generate`'s keys: every wallet (16) signs the round message and verifies."""
    from por.synthetic import generate

    generate(tmp_path / "r", 60, seed=3, fmt="csv")
    keys = json.loads((tmp_path / "r" / "exchange" / "wallet_keys.json").read_text())
    doc = own.sign_wallets(keys, MSG)
    chains = [w["chain"] for w in doc["wallets"]]
    for c in ("avalanche", "ethereumclassic", "litecoin", "dogecoin", "bitcoincash"):
        assert c in chains
    p = tmp_path / "w.json"
    p.write_text(json.dumps(doc))
    for e in load_wallets(p).entries:
        assert own.verify_entry(e, MSG).ok, e


# ------------------------------------------------------------------ XRP Ledger, Filecoin

XRP_ALPHABET = b"rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz"


def test_xrp_genesis_account_address():
    """The XRP Ledger's genesis account: its published key, account id and address."""
    pub = bytes.fromhex("0330E7FC9D56BB25D6893BA3F317AE5BCF33B3291BD63DB32654A313222F7FD020")
    assert hash160(pub).hex() == "b5f762798a53d543a014caf8b297cff8f2f937e8"
    assert own.xrp_address(pub) == "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh"
    assert own.parse_xrp_address("rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh") == hash160(pub)


def _xrp_entry(k: coincurve.PrivateKey, msg: str = MSG) -> WalletEntry:
    pub = k.public_key.format()
    # independently: SHA-512Half, DER, base58check in XRP's alphabet
    digest = hashlib.sha512(msg.encode()).digest()[:32]
    sig = k.sign(digest, hasher=None).hex().upper()
    assert own.xrp_sign(k.secret, msg.encode()) == sig
    addr = base58.b58encode_check(b"\x00" + hash160(pub), alphabet=XRP_ALPHABET).decode()
    return E(chain="xrp", address=addr, assets=("XRP",), scheme="xrp-keypairs",
             signatures=(sig,), public_keys=(pub.hex(),))


def test_xrp_keypairs_signature_and_fail_closed():
    k = coincurve.PrivateKey()
    e = _xrp_entry(k)
    r = own.verify_entry(e, MSG)
    assert r.ok and r.address_link.startswith("checked") and r.signers == [k.public_key.format().hex()]
    bad = lambda **kw: own.verify_entry(dataclasses.replace(e, **kw), kw.get("message", MSG))  # noqa: E731
    # the same account id in Bitcoin's base58 alphabet is not an XRP address
    btc_alpha = base58.b58encode_check(b"\x00" + hash160(k.public_key.format())).decode()
    assert not bad(address=btc_alpha).ok
    # another version byte (0x05) in XRP's alphabet
    v5 = base58.b58encode_check(b"\x05" + hash160(k.public_key.format()), alphabet=XRP_ALPHABET).decode()
    assert "not a classic" in bad(address=v5).detail
    for i in (1, 12, len(e.address) - 1):
        c = "r" if e.address[i] != "r" else "p"
        assert not bad(address=e.address[:i] + c + e.address[i + 1:]).ok
    sig = e.signatures[0]
    for i in (9, 40, len(sig) - 2):
        c = "0" if sig[i] != "0" else "1"
        assert not bad(signatures=(sig[:i] + c + sig[i + 1:],)).ok
    assert not bad(message=MSG + "!").ok
    # another key (its own valid signature) for this address; the uncompressed key; high S
    other = _xrp_entry(coincurve.PrivateKey())
    assert "not the address" in bad(public_keys=other.public_keys, signatures=other.signatures).detail
    assert not bad(public_keys=(k.public_key.format(compressed=False).hex(),)).ok
    der = bytes.fromhex(sig)
    lr = der[3]
    r_ = int.from_bytes(der[4:4 + lr], "big")
    s_ = int.from_bytes(der[6 + lr:], "big")

    def enc(x):
        b = x.to_bytes((x.bit_length() + 8) // 8, "big")
        return b"\x02" + bytes([len(b)]) + b
    body = enc(r_) + enc(own.SECP256K1_N - s_)
    assert "high s" in bad(signatures=((b"\x30" + bytes([len(body)]) + body).hex(),)).detail
    # a signature over SHA-256 instead of SHA-512Half
    wrong = k.sign(hashlib.sha256(MSG.encode()).digest(), hasher=None).hex()
    assert not bad(signatures=(wrong,)).ok


def test_filecoin_f1_signature_and_fail_closed():
    k = coincurve.PrivateKey()
    upub = k.public_key.format(compressed=False)
    payload = hashlib.blake2b(upub, digest_size=20).digest()
    check = hashlib.blake2b(b"\x01" + payload, digest_size=4).digest()
    addr = "f1" + base64.b32encode(payload + check).decode().lower().rstrip("=")
    assert len(addr) == 41 and own.filecoin_address(k.public_key) == addr
    rs = k.sign_recoverable(hashlib.blake2b(MSG.encode(), digest_size=32).digest(), hasher=None)
    sig = (b"\x01" + rs).hex()
    assert own.filecoin_sign(k.secret, MSG.encode()) == sig
    e = E(chain="filecoin", address=addr, assets=("FIL",), scheme="filecoin-secp256k1",
          signatures=(sig,))
    r = own.verify_entry(e, MSG)
    assert r.ok and r.signers == [upub.hex()]
    bad = lambda **kw: own.verify_entry(dataclasses.replace(e, **kw), kw.get("message", MSG))  # noqa: E731
    assert bad(address="t1" + addr[2:]).ok  # testnet form of the same payload
    for a in ("f3" + addr[2:], "F1" + addr[2:], addr.upper(), addr[:-1], addr + "a"):
        assert not bad(address=a).ok, a
    for i in (2, 20, 39):
        c = "a" if addr[i] != "a" else "b"
        assert "checksum" in bad(address=addr[:i] + c + addr[i + 1:]).detail
    # the last character carries 2 bits: other values are non-canonical or a wrong checksum
    for c in "abcdefghijklmnopqrstuvwxyz234567":
        if c != addr[40]:
            assert not bad(address=addr[:40] + c).ok
    # the checksum over the payload without the protocol byte, or blake2b-160 of the compressed key
    nop = "f1" + base64.b32encode(payload + hashlib.blake2b(payload, digest_size=4).digest()).decode().lower().rstrip("=")
    assert not bad(address=nop).ok
    p2 = hashlib.blake2b(k.public_key.format(), digest_size=20).digest()
    comp = "f1" + base64.b32encode(p2 + hashlib.blake2b(b"\x01" + p2, digest_size=4).digest()).decode().lower().rstrip("=")
    assert "not the address" in bad(address=comp).detail
    raw = bytes.fromhex(sig)
    assert "type byte" in bad(signatures=(("03" + sig[2:]),)).detail
    assert not bad(signatures=(sig[2:],)).ok  # no type byte
    assert not bad(signatures=((raw[:65] + bytes([raw[65] ^ 1])).hex(),)).ok
    assert not bad(signatures=((raw[:40] + bytes([raw[40] ^ 1]) + raw[41:]).hex(),)).ok
    assert not bad(message=MSG + "!").ok
    # sha256 instead of blake2b-256
    rs2 = k.sign_recoverable(hashlib.sha256(MSG.encode()).digest(), hasher=None)
    assert not bad(signatures=((b"\x01" + rs2).hex(),)).ok
