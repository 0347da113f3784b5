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


# ------------------------------------------------------------------ offline: Bitcoin Core blk*.dat


def _blk_dir(world, name, **kw):
    from por.assets.btcchain import write_blk_files
    d = world["tmp"] / name
    write_blk_files(world["btc"].chain.raw_blocks, d, "regtest", **kw)
    return d


def test_prove_from_blk_files_equals_the_rpc_path(world):
    import random
    from click.testing import CliRunner

    from por.cli import main

    n = len(world["btc"].chain.raw_blocks)
    order = list(range(n))
    random.Random(5).shuffle(order)  # Core stores blocks as they arrive, not by height
    blocks = _blk_dir(world, "blocks", order=order, max_file_bytes=20_000, padding=4096,
                      xor_key=bytes.fromhex("0123456789abcdef"))
    assert len(list(blocks.glob("blk*.dat"))) > 1
    rpc = _prove(world, world["tmp"] / "via-rpc")
    out = world["tmp"] / "via-blocks"
    res = CliRunner().invoke(main, [
        "prove", "assets", "--wallets", str(world["wallets"]), "--out", str(out),
        "--message", MESSAGE, "--evm-rpc", world["evm"].url, "--btc-blocks", str(blocks),
        "--height", f"ethereum={world['evm'].block}", "--height", f"bitcoin={world['btc'].height}",
        *[x for s, a in world["evm"].tokens.items() for x in ("--evm-token", f"{s}={a}")],
        "--json"])
    assert res.exit_code == 0, res.output
    offline = json.loads((out / "assets.json").read_text())
    btc = lambda b: sorted((ev["address"], ev["amount"]) for ev in b["evidence"] if ev["asset"] == "BTC")
    assert btc(offline) == btc(rpc) and len(btc(rpc)) == 2
    assert offline["totals"]["BTC"]["amount"] == rpc["totals"]["BTC"]["amount"] \
        == str(123_456_789 + 1_000_000_000)
    assert offline["totals"]["BTC"]["sources"] == {"bitcoin-blocks": 2}
    assert offline["totals"]["BTC"]["unverified_amount"] == "0"
    r = verify_assets(out, btc_blocks=blocks)
    assert r["balances_rechecked"] == 2
    r = verify_assets(out)
    assert any("bitcoin-blocks balance not re-derived" in n for n in r["notes"])
    # both sources at once is refused
    with pytest.raises(AssetsError, match="one Bitcoin balance source"):
        prove_assets(world["wallets"], world["tmp"] / "both", MESSAGE, btc_rpc=world["btc"].url,
                     btc_blocks=blocks, heights={"bitcoin": world["btc"].height})


def test_blk_files_fork_orphans_and_tampering(world):
    from por.assets import bitcoin as btcmod
    from por.assets.btcchain import RegtestChain, Wallet, write_blk_files

    raw = world["btc"].chain.raw_blocks
    h = world["btc"].height
    # a competing branch of 7 blocks from genesis (less work) and an orphan are ignored
    side = RegtestChain()
    m = Wallet.p2wpkh("side-miner")
    for _ in range(7):
        side.mine(to=m)
    d = world["tmp"] / "forked"
    write_blk_files(raw + side.raw_blocks[1:] + [raw[-1][:4] + b"\x11" * 32 + raw[-1][36:]], d)
    net, recs = btcmod.read_blk_records(d)
    assert net == "regtest" and len(btcmod.main_chain(recs, net)) == len(raw)
    assert btcmod.main_chain(recs, net) == raw
    # a block whose transaction bytes were changed: the merkle root check refuses it
    bad = list(raw)
    k = h  # the block that paid the reserves
    bad[k] = bad[k][:-40] + bytes([bad[k][-40] ^ 1]) + bad[k][-39:]
    d2 = world["tmp"] / "tampered"
    write_blk_files(bad, d2)
    with pytest.raises(btcmod.BitcoinError):
        btcmod.balances_from_blk_dir(d2, [], h)
    # too few blocks, bad magic, truncated record
    d3 = world["tmp"] / "short"
    write_blk_files(raw[:3], d3)
    with pytest.raises(btcmod.BitcoinError, match="need blocks"):
        btcmod.balances_from_blk_dir(d3, [], h)
    (d3 / "blk00000.dat").write_bytes(b"\xde\xad\xbe\xef" + (d3 / "blk00000.dat").read_bytes()[4:])
    with pytest.raises(btcmod.BitcoinError, match="bad magic"):
        btcmod.read_blk_records(d3)
    write_blk_files(raw[:3], d3)
    (d3 / "blk00000.dat").write_bytes((d3 / "blk00000.dat").read_bytes()[:-10])
    with pytest.raises(btcmod.BitcoinError, match="truncated"):
        btcmod.read_blk_records(d3)
    # a mainnet request against regtest files
    with pytest.raises(btcmod.BitcoinError, match="regtest blocks"):
        btcmod.balances_from_blk_dir(d, [], 1, network="mainnet")
