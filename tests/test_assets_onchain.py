"""Proof of assets end to end on real chains: signed wallets, an in-process EVM (py-evm, Vyper
ERC-20s) and a served regtest Bitcoin chain; balances read at the snapshot height."""

from __future__ import annotations

import hashlib
import json
import os

import coincurve
import pytest
from btclib import b32
from btclib.hashes import hash160
from eth_account import Account

from por.assets.btcchain import multisig_script, start_demo_btc_node
from por.assets.evm import start_demo_chain
from por.assets.ownership import sign_wallets
from por.assets.report import AssetsError, prove_assets, verify_assets

MESSAGE = "por round 2026-11: I am an exchange address"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("assets")
    eth = Account.create()
    btc_key = os.urandom(32)
    btc_pub = coincurve.PrivateKey(btc_key).public_key.format()
    btc_addr = b32.address_from_witness(0, hash160(btc_pub), "regtest")
    ms_keys = [os.urandom(32) for _ in range(3)]
    ms_pubs = [coincurve.PrivateKey(k).public_key.format() for k in ms_keys]
    script = multisig_script(2, ms_pubs)
    ms_addr = b32.address_from_witness(0, hashlib.sha256(script).digest(), "regtest")
    keys = {"format": "por-exchange-keys", "version": 1, "wallets": [
        {"chain": "bitcoin", "type": "p2wsh-multisig", "address": ms_addr,
         "private_keys": [k.hex() for k in ms_keys], "public_keys": [p.hex() for p in ms_pubs],
         "redeem_script": script.hex(), "threshold": 2},
        {"chain": "ethereum", "type": "eoa", "address": eth.address,
         "private_keys": [eth.key.hex()], "public_keys": [], "redeem_script": None, "threshold": 1},
        {"chain": "bitcoin", "type": "p2wpkh", "address": btc_addr,
         "private_keys": [btc_key.hex()], "public_keys": [btc_pub.hex()],
         "redeem_script": None, "threshold": 1},
    ]}
    wallets = sign_wallets(keys, MESSAGE, assets={("ethereum", eth.address): ["ETH", "USDT"],
                                                  ("bitcoin", btc_addr): ["BTC"],
                                                  ("bitcoin", ms_addr): ["BTC"]})
    wpath = tmp / "wallets.json"
    wpath.write_text(json.dumps(wallets))
    evm = start_demo_chain([(eth.address, "ETH", 5_000_000_000), (eth.address, "USDT", 777_000_000)])
    btc = start_demo_btc_node([(btc_addr, 123_456_789), (ms_addr, 1_000_000_000)])
    yield {"tmp": tmp, "wallets": wpath, "evm": evm, "btc": btc}
    evm.close()
    btc.close()


def _prove(world, out):
    return prove_assets(world["wallets"], out, MESSAGE, evm_rpc=world["evm"].url,
                        btc_rpc=world["btc"].url,
                        heights={"ethereum": world["evm"].block, "bitcoin": world["btc"].height},
                        evm_tokens=world["evm"].tokens)


def test_balances_read_at_snapshot_height_and_reverified(world):
    out = world["tmp"] / "bundle"
    b = _prove(world, out)
    # the demo chains pay every address one more unit AFTER the snapshot: not counted
    assert b["totals"]["ETH"]["amount"] == "5000000000"
    assert b["totals"]["USDT"]["amount"] == "777000000"
    assert b["totals"]["BTC"]["amount"] == str(123_456_789 + 1_000_000_000)
    sources = {ev["asset"]: ev["balance_source"] for ev in b["evidence"]}
    assert sources == {"ETH": "evm-rpc", "USDT": "evm-rpc", "BTC": "bitcoin-rpc"}
    r = verify_assets(out, evm_rpc=world["evm"].url, btc_rpc=world["btc"].url)
    assert r["balances_rechecked"] == 4
    assert r["totals"]["BTC"]["amount"] == str(123_456_789 + 1_000_000_000)


def test_inflated_balance_is_caught_against_the_chain(world):
    out = world["tmp"] / "inflated"
    _prove(world, out)
    path = out / "assets.json"
    doc = json.loads(path.read_text())
    for ev in doc["evidence"]:
        if ev["asset"] == "USDT":
            ev["amount"] = str(int(ev["amount"]) + 1)
    doc["totals"]["USDT"]["amount"] = str(int(doc["totals"]["USDT"]["amount"]) + 1)
    path.write_text(json.dumps(doc))
    with pytest.raises(AssetsError) as exc:
        verify_assets(out, evm_rpc=world["evm"].url, btc_rpc=world["btc"].url)
    assert any("chain says 777000000" in d for d in exc.value.details)
