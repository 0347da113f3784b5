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
