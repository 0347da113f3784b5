"""EVM reserves at the snapshot block on a real in-process py-evm chain with real Vyper
ERC-20 contracts, read over real HTTP JSON-RPC on 127.0.0.1."""

from __future__ import annotations

import hashlib

import pytest
import requests
from eth_account import Account

from por.assets import evm

HOT = Account.from_key(hashlib.sha256(b"por-test evm hot").digest())
COLD = Account.from_key(hashlib.sha256(b"por-test evm cold").digest())
OUTSIDER = Account.from_key(hashlib.sha256(b"por-test evm outsider").digest())

ETH_HOT = 1_234 * 10**9  # gwei (registry base unit)
USDT_HOT, USDT_COLD, USDC_COLD = 5_000_000_000, 70_000_000, 1_000_001
ODD_WEI = 1_500_000_007  # 1.500000007 gwei: not a whole number of gwei
MOVED = 40_000_000  # USDT the hot wallet sends out after the snapshot


@pytest.fixture(scope="module")
def chain():
    c = evm.start_demo_chain([(HOT.address, "ETH", ETH_HOT), (HOT.address, "USDT", USDT_HOT),
                              (COLD.address, "USDT", USDT_COLD),
                              (COLD.address, "USDC", USDC_COLD)], after_snapshot=False)
    w3 = c.w3
    # the cold wallet also gets an amount of wei that is not a whole number of gwei
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
        {"from": w3.eth.accounts[0], "to": COLD.address, "value": ODD_WEI}))
    c.block = w3.eth.block_number  # the snapshot block
    # after the snapshot: the hot wallet signs a real USDT transfer out (it pays its own gas)
    usdt = evm.token_contract(w3, "USDT", c.tokens["USDT"])
    tx = usdt.functions.transfer(OUTSIDER.address, MOVED).build_transaction({
        "from": HOT.address, "nonce": w3.eth.get_transaction_count(HOT.address),
        "gas": 100_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9,
        "chainId": w3.eth.chain_id})
    signed = HOT.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(
        signed.raw_transaction))
    assert receipt["status"] == 1 and receipt["blockNumber"] > c.block
    # ... and the cold wallet receives more USDC
    evm.fund(w3, c.tokens, COLD.address, "USDC", 999)
    yield c
    c.close()


QUERIES = [(HOT.address, "ETH"), (HOT.address, "USDT"), (COLD.address, "USDT"),
           (COLD.address, "USDC"), (COLD.address, "ETH")]
AT_SNAPSHOT = {(HOT.address, "ETH"): ETH_HOT, (HOT.address, "USDT"): USDT_HOT,
               (COLD.address, "USDT"): USDT_COLD, (COLD.address, "USDC"): USDC_COLD,
               (COLD.address, "ETH"): ODD_WEI // 10**9}


def test_balances_at_the_snapshot_block_over_http(chain) -> None:
    assert chain.url.startswith("http://127.0.0.1:")
    assert evm.read_balances(chain.url, QUERIES, chain.block, chain.tokens) == AT_SNAPSHOT
    # the same through the in-process provider
    assert evm.read_balances(chain.w3, QUERIES, chain.block, chain.tokens) == AT_SNAPSHOT


def test_later_transfers_do_not_change_the_snapshot_but_other_blocks_differ(chain) -> None:
    head = chain.w3.eth.block_number
    now = evm.read_balances(chain.url, QUERIES, head, chain.tokens)
    assert now[(HOT.address, "USDT")] == USDT_HOT - MOVED
    assert now[(COLD.address, "USDC")] == USDC_COLD + 999
    assert now[(HOT.address, "ETH")] < ETH_HOT  # the hot wallet paid gas
    # one block before the snapshot, the odd wei had not arrived yet
    before = evm.read_balances(chain.url, QUERIES, chain.block - 1, chain.tokens)
    assert before[(COLD.address, "ETH")] == 0
    assert before != AT_SNAPSHOT
    # and at the snapshot it is still what it was
    assert evm.read_balances(chain.url, QUERIES, chain.block, chain.tokens) == AT_SNAPSHOT


def test_raw_units_and_conservative_conversion(chain) -> None:
    snap = evm.read_balances_detailed(chain.url, QUERIES, chain.block, chain.tokens)
    by = {(b.address, b.asset): b for b in snap.balances}
    cold_eth = by[(COLD.address, "ETH")]
    assert cold_eth.raw == ODD_WEI and cold_eth.chain_decimals == 18
    assert cold_eth.amount == 1 and cold_eth.dropped == 500_000_007  # floor to gwei
    assert by[(HOT.address, "ETH")].raw == ETH_HOT * 10**9
    usdt = by[(HOT.address, "USDT")]
    assert (usdt.raw, usdt.chain_decimals, usdt.amount, usdt.dropped) == (USDT_HOT, 6, USDT_HOT, 0)
    assert usdt.token == chain.tokens["USDT"]
    assert snap.block == chain.block and snap.block_hash == \
        chain.w3.eth.get_block(chain.block)["hash"].to_0x_hex()


def test_unknown_token_and_non_contract_fail_loudly(chain) -> None:
    with pytest.raises(evm.EvmError, match="unknown token 'LINK'"):
        evm.read_balances(chain.url, [(HOT.address, "LINK")], chain.block, chain.tokens)
    # no token map on a non-mainnet chain: no token is known
    with pytest.raises(evm.EvmError, match="unknown token 'USDT'"):
        evm.read_balances(chain.url, [(HOT.address, "USDT")], chain.block)
    # a token "contract" that is a plain account
    with pytest.raises(evm.EvmError, match="no contract code"):
        evm.read_balances(chain.url, [(HOT.address, "USDT")], chain.block,
                          {"USDT": OUTSIDER.address})
    # the real contract, but at a block before it was deployed
    with pytest.raises(evm.EvmError, match="no contract code"):
        evm.read_balances(chain.url, [(HOT.address, "USDT")], 0, chain.tokens)
    with pytest.raises(evm.EvmError, match="not in the asset registry"):
        evm.read_balances(chain.url, [(HOT.address, "DOGGO")], chain.block, chain.tokens)


def test_bad_addresses_blocks_and_endpoints_fail_loudly(chain) -> None:
    bad_checksum = HOT.address[:2] + HOT.address[2:].swapcase()
    with pytest.raises(evm.EvmError, match="not a valid EVM address"):
        evm.read_balances(chain.url, [(bad_checksum, "ETH")], chain.block, chain.tokens)
    with pytest.raises(evm.EvmError, match="not a valid EVM address"):
        evm.read_balances(chain.url, [("0x1234", "ETH")], chain.block, chain.tokens)
    with pytest.raises(evm.EvmError, match="beyond the chain head"):
        evm.read_balances(chain.url, QUERIES, 10**6, chain.tokens)
    with pytest.raises(evm.EvmError, match="non-negative integer"):
        evm.read_balances(chain.url, QUERIES, -1, chain.tokens)
    with pytest.raises(evm.EvmError, match="did not answer"):
        evm.read_balances("http://127.0.0.1:9", QUERIES, 1, chain.tokens)
    with pytest.raises(evm.EvmError, match="bad EVM RPC endpoint"):
        evm.read_balances("ftp://x", QUERIES, 1, chain.tokens)


def test_rpc_server_speaks_standard_json_rpc(chain) -> None:
    def call(body):
        return requests.post(chain.url, json=body, timeout=10).json()

    r = call({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance",
              "params": [HOT.address, hex(chain.block)]})
    assert r["result"] == hex(ETH_HOT * 10**9)
    batch = call([{"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []},
                  {"jsonrpc": "2.0", "id": 3, "method": "eth_sendTransaction", "params": [{}]}])
    assert int(batch[0]["result"], 16) == chain.w3.eth.block_number
    assert batch[1]["error"]["code"] == -32601  # read-only: no sending through the server


def test_bench_reads_reports_rates() -> None:
    out = evm.bench_reads(20)
    assert out["reads"] == 20
    assert out["in_process"]["reads_per_second"] > 0 and out["http"]["reads_per_second"] > 0


def test_mainnet_token_table_is_the_real_contracts():
    """The well-known Ethereum mainnet ERC-20 contracts (as published by their issuers and
    shown on every block explorer), EIP-55 checksummed, with their on-chain decimals()."""
    from eth_utils import is_checksum_address, to_checksum_address

    from por.amounts import get_asset
    from por.assets.evm import MAINNET_TOKENS

    known = {
        "USDT": ("0xdac17f958d2ee523a2206206994597c13d831ec7", 6),   # Tether USD
        "USDC": ("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", 6),   # USD Coin (Circle)
        "LINK": ("0x514910771af9ca656af840dff83e8264ecf986ca", 18),
        "SHIB": ("0x95ad61b0a150d79219dcf64e1e6cc01f0b64c4ce", 18),
        "UNI": ("0x1f9840a85d5af5bf1d1762f925bdaddc4201f984", 18),
        "OKB": ("0x75231f58b43240c9718dd58b4967c5114342a86c", 18),
        "PEPE": ("0x6982508145454ce325ddbe47a25d4ec3d2311933", 18),
    }
    assert set(MAINNET_TOKENS) == set(known)
    for sym, (addr, dec) in MAINNET_TOKENS.items():
        assert is_checksum_address(addr), sym
        assert addr == to_checksum_address(known[sym][0]), sym
        assert dec == known[sym][1], sym
        assert "ethereum" in get_asset(sym).chains
        assert get_asset(sym).decimals <= dec  # registry unit is never finer than the chain's
    assert MAINNET_TOKENS["USDT"][0] == "0xdAC17F958D2ee523a2206206994597C13D831ec7"
    assert MAINNET_TOKENS["USDC"][0] == "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
