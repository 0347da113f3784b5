"""Bitcoin reserves at the snapshot height: a real regtest chain, the offline block parser and
UTXO replay, and the Bitcoin Core RPC rewind/scan/reconsider pattern over a loopback server."""

from __future__ import annotations

import copy
import struct

import pytest

from por.assets import bitcoin as B
from por.assets.btcchain import (
    Coin,
    Key,
    RegtestChain,
    RegtestRpcServer,
    Wallet,
    build_tx,
    grind,
    regtest_genesis,
)

# scenario amounts (satoshi); the expected balances below are derived from these by hand
FUND_A1, FUND_A2, FUND_M, FUND_P = 10_000_000, 2_500_000, 20_000_000, 30_000_000
M_TO_A = 1_000_000
FEE = 1_000
SNAPSHOT = 103
LATER_M_OUT, LATER_A_IN = 5_000_000, 7_000_000

A, M, P = Wallet.p2wpkh("reserve-A"), Wallet.multisig("reserve-M"), Wallet.p2pkh("reserve-P")
OUTSIDER, MINER = Wallet.p2wpkh("outsider"), Wallet.p2wpkh("miner")

AT_SNAPSHOT = {"A": FUND_A1 + FUND_A2 + M_TO_A, "M": FUND_M - M_TO_A - FEE, "P": FUND_P}
AT_TIP = {"A": AT_SNAPSHOT["A"] + LATER_A_IN, "M": AT_SNAPSHOT["M"] - LATER_M_OUT - FEE, "P": 0}


def _build() -> tuple[RegtestChain, RegtestChain]:
    c = RegtestChain()
    for _ in range(101):
        c.mine(to=MINER)
    # block 102: the exchange funds its reserve wallets (P2WPKH, P2WSH 2-of-3, P2PKH)
    c.mine([c.pay(MINER, [(A.script_pubkey, FUND_A1), (A.script_pubkey, FUND_A2),
                          (M.script_pubkey, FUND_M), (P.script_pubkey, FUND_P)], fee=FEE)])
    # block 103 = snapshot: the multisig pays the single-key wallet
    c.mine([c.pay(M, [(A.script_pubkey, M_TO_A)], fee=FEE)])
    assert c.height == SNAPSHOT
    at_snapshot = copy.deepcopy(c)
    # after the snapshot: a multisig spend out, a receipt, and the P2PKH wallet emptied
    c.mine([c.pay(M, [(OUTSIDER.script_pubkey, LATER_M_OUT)], fee=FEE)])
    c.mine([c.pay(MINER, [(A.script_pubkey, LATER_A_IN)], fee=FEE)])
    c.mine([c.sweep(P, OUTSIDER.script_pubkey, fee=FEE)])
    return c, at_snapshot


CHAIN, CHAIN_AT_SNAPSHOT = _build()
RAW = CHAIN.raw_blocks
ADDR = {"A": A.address(), "M": M.address(), "P": P.address()}


def named(balances: dict[str, int]) -> dict[str, int]:
    return {k: balances[a] for k, a in ADDR.items()}


# ---------------------------------------------------------------------------- the chain itself


def test_genesis_is_bitcoins_regtest_genesis() -> None:
    g = regtest_genesis()
    assert g.hash_hex == "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
    assert B.display_hash(g.header.merkle_root) == (
        "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b")


def test_addresses_have_the_right_form() -> None:
    assert ADDR["A"].startswith("bcrt1q") and len(ADDR["A"]) == 44  # P2WPKH
    assert ADDR["M"].startswith("bcrt1q") and len(ADDR["M"]) == 64  # P2WSH
    assert ADDR["P"][0] in "mn"  # regtest P2PKH (version byte 0x6f)


def test_blocks_and_signatures_pass_an_independent_validator() -> None:
    """btclib (a separate implementation) parses every block byte for byte, checks its merkle
    root, witness commitment and BIP-34 height, and runs every input's script."""
    from btclib.block import Block as BBlock
    from btclib.script.engine import verify_transaction
    from btclib.tx import Tx as BTx
    from btclib.tx import TxOut as BTxOut

    outputs: dict[tuple[bytes, int], B.TxOut] = {}
    kinds = set()
    for height, (raw, block) in enumerate(zip(RAW, CHAIN.blocks)):
        bb = BBlock.parse(raw, check_validity=False)
        assert bb.serialize(check_validity=False) == raw
        bb.assert_valid_merkle_root()
        if height:
            bb.assert_valid_witness_commitment()
            bb.assert_valid_coinbase_height(height)
        for t in block.txs:
            if not t.is_coinbase:
                prev = [outputs[(i.prev_txid, i.prev_index)] for i in t.inputs]
                verify_transaction([BTxOut(o.value, o.script_pubkey) for o in prev],
                                   BTx.parse(t.serialize()))
                kinds |= {len(o.script_pubkey) for o in prev}
            for v, o in enumerate(t.outputs):
                outputs[(t.txid, v)] = o
    assert kinds == {22, 25, 34}  # P2WPKH, P2PKH and P2WSH inputs were all spent and verified


# ---------------------------------------------------------------------------- offline path


def test_offline_balances_at_snapshot_exclude_later_blocks() -> None:
    got = B.balances_from_blocks(RAW, ADDR.values(), SNAPSHOT, "regtest")
    assert named(got) == AT_SNAPSHOT
    assert named(B.balances_from_blocks(RAW, ADDR.values(), CHAIN.height)) == AT_TIP
    # the blocks after the snapshot are not even needed
    assert B.balances_from_blocks(RAW[: SNAPSHOT + 1], ADDR.values(), SNAPSHOT) == got
    # one block earlier, the multisig payment to A had not happened yet
    before = named(B.balances_from_blocks(RAW, ADDR.values(), SNAPSHOT - 1))
    assert before == {"A": FUND_A1 + FUND_A2, "M": FUND_M, "P": FUND_P}


def test_offline_needs_every_block_up_to_height() -> None:
    with pytest.raises(B.BitcoinError, match="only 100 blocks given"):
        B.balances_from_blocks(RAW[:100], ADDR.values(), SNAPSHOT)


def _replace_block(raw_blocks: list[bytes], height: int, block: B.Block) -> list[bytes]:
    out = list(raw_blocks)
    out[height] = block.serialize()
    return out


def test_bad_proof_of_work_is_rejected() -> None:
    blk = CHAIN.blocks[50]
    target = B.bits_to_target(blk.header.bits)
    nonce = next(n for n in range(1000) if int.from_bytes(B.sha256d(
        blk.header.serialize()[:76] + struct.pack("<I", n)), "little") > target)
    h = blk.header
    bad = B.Block(B.BlockHeader(h.version, h.prev_hash, h.merkle_root, h.time, h.bits, nonce),
                  blk.txs)
    with pytest.raises(B.BitcoinError, match="bad proof of work"):
        B.balances_from_blocks(_replace_block(RAW, 50, bad), ADDR.values(), SNAPSHOT)


def test_easier_target_than_network_limit_is_rejected() -> None:
    blk = CHAIN.blocks[10]
    h = blk.header
    # a mainnet node must refuse regtest-difficulty blocks
    with pytest.raises(B.BitcoinError, match="proof-of-work limit"):
        B.check_block(blk, "mainnet", 10)
    easy = grind(B.BlockHeader(h.version, h.prev_hash, h.merkle_root, h.time, 0x2100FFFF, 0))
    with pytest.raises(B.BitcoinError, match="proof-of-work limit"):
        B.check_block(B.Block(easy, blk.txs), "regtest", 10)


def test_tampered_transaction_breaks_the_merkle_root() -> None:
    raw = bytearray(RAW[102])
    funding = CHAIN.blocks[102].txs[1]
    value = struct.pack("<q", FUND_P)
    pos = raw.find(value)
    assert pos > 0 and raw.count(value) == 1
    raw[pos : pos + 8] = struct.pack("<q", FUND_P * 10)  # claim ten times the reserve
    # re-grind the header so that only the merkle root is wrong, not the proof of work
    blk = B.parse_block(bytes(raw))
    assert blk.txs[1].txid != funding.txid
    regrind = B.Block(grind(blk.header), blk.txs)
    blocks = _replace_block(RAW, 102, regrind)
    with pytest.raises(B.BitcoinError, match="merkle root does not match"):
        B.balances_from_blocks(blocks, ADDR.values(), SNAPSHOT)


def test_broken_prev_hash_link_is_rejected() -> None:
    blk = CHAIN.blocks[60]
    h = blk.header
    other = grind(B.BlockHeader(h.version, CHAIN.blocks[58].hash, h.merkle_root, h.time,
                                h.bits, 0))  # valid PoW, wrong parent
    with pytest.raises(B.BitcoinError, match="broken chain link"):
        B.balances_from_blocks(_replace_block(RAW, 60, B.Block(other, blk.txs)), ADDR.values(),
                               SNAPSHOT)
    # dropping a block breaks the link too
    with pytest.raises(B.BitcoinError, match="broken chain link"):
        B.balances_from_blocks(RAW[:30] + RAW[31:], ADDR.values(), SNAPSHOT)


def test_tampered_witness_breaks_the_witness_commitment() -> None:
    blk = CHAIN.blocks[SNAPSHOT]
    tx = blk.txs[1]
    i0 = tx.inputs[0]
    sig = bytearray(i0.witness[1])
    sig[10] ^= 1
    bad_in = B.TxIn(i0.prev_txid, i0.prev_index, i0.script_sig, i0.sequence,
                    (i0.witness[0], bytes(sig)) + i0.witness[2:])
    bad_tx = B.Tx(tx.version, (bad_in,) + tx.inputs[1:], tx.outputs, tx.locktime)
    assert bad_tx.txid == tx.txid  # the witness is not in the txid ...
    bad = B.Block(blk.header, (blk.txs[0], bad_tx) + blk.txs[2:])
    with pytest.raises(B.BitcoinError, match="witness commitment"):  # ... but is committed
        B.balances_from_blocks(_replace_block(RAW, SNAPSHOT, bad), ADDR.values(), SNAPSHOT)


def test_spend_signed_by_the_wrong_key_is_rejected() -> None:
    """A block with valid PoW, merkle root and commitment whose tx 'spends' reserve A with a
    thief's key: the script engine refuses it (and would have let the thief move reserves)."""
    forged = copy.deepcopy(CHAIN_AT_SNAPSHOT)
    coin = forged.coins(A)[0]
    thief = Wallet.p2wpkh("thief")
    tx = build_tx([Coin(coin.txid, coin.vout, coin.value, thief)],
                  [B.TxOut(coin.value - FEE, thief.script_pubkey)])
    forged.mine([tx])  # the builder does not check scripts; the reader must
    with pytest.raises(B.BitcoinError, match="script verification failed"):
        B.balances_from_blocks(forged.raw_blocks, ADDR.values(), SNAPSHOT + 1)


def test_double_spend_and_money_creation_are_rejected() -> None:
    forged = copy.deepcopy(CHAIN_AT_SNAPSHOT)
    coin = forged.coins(P)[0]
    t1 = build_tx([coin], [B.TxOut(coin.value - FEE, OUTSIDER.script_pubkey)])
    t2 = build_tx([coin], [B.TxOut(coin.value - 2 * FEE, OUTSIDER.script_pubkey)])
    with pytest.raises(B.BitcoinError, match="not unspent"):
        forged.mine([t1, t2])
    forged = copy.deepcopy(CHAIN_AT_SNAPSHOT)
    t3 = build_tx([coin], [B.TxOut(coin.value + 1, OUTSIDER.script_pubkey)])
    with pytest.raises(B.BitcoinError, match="creates money"):
        forged.mine([t3])


def test_garbage_and_wrong_network_are_rejected() -> None:
    with pytest.raises(B.BitcoinError, match="truncated"):
        B.balances_from_blocks([RAW[0], RAW[1][:-3]], ADDR.values(), 1)
    with pytest.raises(B.BitcoinError, match="trailing bytes"):
        B.balances_from_blocks([RAW[0], RAW[1] + b"\x00"], ADDR.values(), 1)
    with pytest.raises(B.BitcoinError, match="not the mainnet genesis"):
        B.balances_from_blocks(RAW, [], SNAPSHOT, "mainnet")
    with pytest.raises(B.BitcoinError, match="not regtest"):
        B.balances_from_blocks(RAW, ["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"], SNAPSHOT)
    with pytest.raises(B.BitcoinError, match="invalid Bitcoin address"):
        B.balances_from_blocks(RAW, [ADDR["A"][:-1] + "x"], SNAPSHOT)


# ---------------------------------------------------------------------------- RPC path


@pytest.fixture()
def node():
    with RegtestRpcServer(RAW, user="por", password="s3cret") as srv:
        yield srv


def test_rpc_balances_at_snapshot(node: RegtestRpcServer) -> None:
    snap = B.read_balances_rpc_detailed(node.url, list(ADDR.values()), SNAPSHOT)
    assert named(snap.balances) == AT_SNAPSHOT
    assert snap.block_hash == CHAIN.blocks[SNAPSHOT].hash_hex
    assert B.read_balances_rpc(node.url, list(ADDR.values()), SNAPSHOT) == snap.balances
    # the node was rewound, scanned, and put back
    assert node.calls.count("invalidateblock") == node.calls.count("reconsiderblock") == 2
    seq = [c for c in node.calls if c in ("invalidateblock", "scantxoutset", "reconsiderblock")]
    assert seq[:3] == ["invalidateblock", "scantxoutset", "reconsiderblock"]
    assert node.tip_height == CHAIN.height
    # at the tip no rewind is needed; the later spends and receipts show up
    node.calls.clear()
    assert named(B.read_balances_rpc(node.url, list(ADDR.values()), CHAIN.height)) == AT_TIP
    assert "invalidateblock" not in node.calls


def test_rpc_agrees_with_offline_replay_of_the_nodes_blocks(node: RegtestRpcServer) -> None:
    raw = B.fetch_raw_blocks(node.url, SNAPSHOT)
    assert raw == RAW[: SNAPSHOT + 1]
    assert B.balances_from_blocks(raw, ADDR.values(), SNAPSHOT) == \
        B.read_balances_rpc(node.url, list(ADDR.values()), SNAPSHOT)


@pytest.mark.parametrize("fault,error,match", [
    ("stale_scan", B.BitcoinError, "not at the snapshot block"),
    ("scan_error", B.BitcoinRpcError, "Scan already in progress"),
    ("ignore_invalidate", B.BitcoinError, "not the snapshot block"),
])
def test_rpc_failures_are_loud_and_always_reconsider(node: RegtestRpcServer, fault: str,
                                                      error: type, match: str) -> None:
    node.faults.add(fault)
    with pytest.raises(error, match=match):
        B.read_balances_rpc(node.url, list(ADDR.values()), SNAPSHOT)
    assert node.calls.count("invalidateblock") == node.calls.count("reconsiderblock") == 1
    assert node.tip_height == CHAIN.height  # never left rewound


def test_rpc_bad_credentials_and_bad_height(node: RegtestRpcServer) -> None:
    with pytest.raises(B.BitcoinRpcError, match="401"):
        B.read_balances_rpc(node.url.replace("s3cret", "wrong"), list(ADDR.values()), SNAPSHOT)
    with pytest.raises(B.BitcoinError, match="not in the node's chain"):
        B.read_balances_rpc(node.url, list(ADDR.values()), CHAIN.height + 1)
    assert "invalidateblock" not in node.calls


def test_rpc_amounts_are_exact() -> None:
    from decimal import Decimal

    assert B.btc_to_sats(Decimal("0.18999000"), "x") == 18_999_000
    assert B.btc_to_sats(Decimal("20999999.97690000"), "x") == 2_099_999_997_690_000
    with pytest.raises(B.BitcoinError, match="float"):
        B.btc_to_sats(0.1, "x")
    with pytest.raises(B.BitcoinError, match="whole number of satoshi"):
        B.btc_to_sats(Decimal("0.000000001"), "x")


def test_key_signatures_are_low_s_der() -> None:
    from coincurve import PublicKey

    k = Key.from_label("x")
    digest = B.sha256d(b"message")
    sig = k.sign(digest)
    assert sig[0] == 0x30 and PublicKey(k.pub).verify(sig, digest, hasher=None)


def test_demo_node_funds_any_regtest_address() -> None:
    from por.assets.btcchain import start_demo_btc_node

    amounts = {ADDR["M"]: 1_500 * B.SATS_PER_BTC, ADDR["P"]: 12_345}
    demo = start_demo_btc_node(list(amounts.items()))
    try:
        assert B.read_balances_rpc(demo.url, list(amounts), demo.height) == amounts
        later = B.read_balances_rpc(demo.url, list(amounts), demo.height + 1)
        assert later == {a: v + 1_000 for a, v in amounts.items()}
    finally:
        demo.close()


def test_rpc_detects_the_nodes_network(node: RegtestRpcServer) -> None:
    with pytest.raises(B.BitcoinError, match="the node runs regtest, not mainnet"):
        B.read_balances_rpc(node.url, list(ADDR.values()), SNAPSHOT, network="mainnet")
    with pytest.raises(B.BitcoinError, match="not regtest"):  # a mainnet address
        B.read_balances_rpc(node.url, ["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"], SNAPSHOT)
