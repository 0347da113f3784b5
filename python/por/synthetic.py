"""A synthetic exchange: a complete, realistic round in the snapshot format.

``generate(out, users, seed)`` writes::

    OUT/round.json, OUT/prices.csv, OUT/balances.csv|.parquet     (the snapshot, docs/snapshot.md)
    OUT/exchange/wallet_keys.json    PRIVATE keys of the exchange's wallets (never published)
    OUT/exchange/reserves.csv        chain,address,asset,amount  (what each wallet holds)

Everything is deterministic from the seed (same seed, same bytes). Randomness comes from
``numpy.random.Generator(PCG64(seed))``; every amount is drawn directly as an integer
(a mantissa times a power of ten, in base units) and all money arithmetic (debt sizing,
solvency, totals, reserves) is exact integer arithmetic; no float touches an amount.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from por.amounts import DEFAULT_ASSETS, HAIRCUT_DENOMINATOR, Asset, get_asset, parse_price
from por.snapshot import (
    ACCOUNT_COLUMN,
    SNAPSHOT_FORMAT,
    SNAPSHOT_VERSION,
    RoundMeta,
    column_totals,
    solvency_check,
)

KEYS_FORMAT = "por-exchange-keys"
KEYS_VERSION = 1
#: secp256k1 group order
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

#: (USD price per whole unit, haircut in bps, share of customers holding it, highest
#: USD decade of an ordinary holding: 6 means up to $10M)
MARKET: dict[str, tuple[str, int, int, int]] = {
    "BTC": ("95000.00", 9500, 4000, 6),
    "ETH": ("3500.00", 9500, 3000, 6),
    "USDT": ("1.0000", 9900, 5500, 6),
    "USDC": ("1.0000", 10000, 2000, 6),
    "XRP": ("2.30", 8500, 1000, 5),
    "SOL": ("180.00", 8500, 1200, 5),
    "DOGE": ("0.25", 8000, 1000, 5),
    "ADA": ("0.75", 8000, 600, 5),
    "TRX": ("0.28", 8000, 500, 5),
    "TON": ("3.20", 7500, 500, 5),
    "LTC": ("95.00", 8500, 400, 5),
    "LINK": ("18.00", 8000, 400, 5),
    "DOT": ("4.50", 7500, 300, 5),
    "AVAX": ("25.00", 7500, 300, 5),
    "BCH": ("480.00", 8000, 200, 5),
    "ETC": ("20.00", 7000, 200, 4),
    "FIL": ("3.50", 6000, 200, 4),
    "APT": ("6.00", 6500, 200, 4),
    "SHIB": ("0.000014", 6000, 500, 4),
    "UNI": ("9.00", 7000, 200, 4),
    "OKB": ("150.00", 7500, 400, 5),
    "PEPE": ("0.00001", 5000, 500, 4),
}

#: default reserve ratio targets in basis points of net liabilities (10400 = 104 %)
DEFAULT_TARGETS_BPS: dict[str, int] = {"BTC": 10400, "ETH": 10200, "USDT": 10600, "USDC": 10000}

#: probability (per mille) of a holding's USD value falling in decade 0..6 ($1-10 ... $1M-10M)
_DECADE_PERMILLE = (100, 250, 300, 200, 100, 40, 10)
#: assets a margin customer borrows, and how often (weights)
_DEBT_ASSETS = ("USDT", "USDC", "BTC", "ETH")
_DEBT_WEIGHTS = (50, 20, 15, 15)
#: whales: per million customers, holding one major asset worth $10M-$1B
_WHALES_PER_MILLION = 200
#: chains por can read, and the chains the other assets live on (reserves are still listed)
EVM_TOKENS = ("ETH", "USDC", "LINK", "SHIB", "UNI", "OKB", "PEPE")

_CHUNK = 1 << 16

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Wallet:
    chain: Literal["bitcoin", "ethereum", "tron", "solana", "aptos", "ton", "polkadot", "cardano",
                   "avalanche", "ethereumclassic", "litecoin", "dogecoin", "bitcoincash", "xrp",
                   "filecoin"]
    type: Literal["p2wpkh", "p2wsh-multisig", "eoa", "ed25519", "p2pkh", "secp256k1"]
    address: str
    private_keys: tuple[str, ...]
    public_keys: tuple[str, ...]
    redeem_script: str | None
    threshold: int

    def to_dict(self) -> dict:
        return {
            "chain": self.chain,
            "type": self.type,
            "address": self.address,
            "private_keys": list(self.private_keys),
            "public_keys": list(self.public_keys),
            "redeem_script": self.redeem_script,
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class GenerateResult:
    out: Path
    users: int
    seed: int
    format: str
    round_id: str
    equity: dict[str, int]
    debt: dict[str, int]
    reserves: dict[str, int]
    targets_bps: dict[str, int]
    debtors: int
    files: tuple[str, ...]

    def to_dict(self) -> dict:
        assets = []
        for s in self.equity:
            a = get_asset(s)
            net = self.equity[s] - self.debt[s]
            assets.append(
                {
                    "asset": s,
                    "equity": str(self.equity[s]),
                    "debt": str(self.debt[s]),
                    "reserves": str(self.reserves[s]),
                    "reserves_units": a.format(self.reserves[s]),
                    "target_bps": self.targets_bps[s],
                    "ratio": _ratio_str(self.reserves[s], net),
                }
            )
        return {
            "ok": True,
            "out": str(self.out),
            "users": self.users,
            "seed": self.seed,
            "format": self.format,
            "round_id": self.round_id,
            "customers_with_debt": self.debtors,
            "files": list(self.files),
            "assets": assets,
        }


def _ratio_str(reserves: int, net: int) -> str | None:
    if net <= 0:
        return None
    q = Fraction(reserves * 100, net)
    whole, rem = divmod(q.numerator * 10**4 // q.denominator, 10**4)
    return f"{whole}.{rem:04d} %"


# --------------------------------------------------------------------------------------
# keys and addresses
# --------------------------------------------------------------------------------------


def _privkey(seed: int, label: str) -> bytes:
    d = int.from_bytes(hashlib.sha256(f"por-synthetic-key|{seed}|{label}".encode()).digest(), "big")
    return ((d % (_N - 1)) + 1).to_bytes(32, "big")


def make_wallets(seed: int, btc_network: str = "regtest") -> list[Wallet]:
    """The exchange's wallets, deterministic from the seed."""
    import coincurve
    from btclib.b32 import address_from_witness, p2wsh
    from btclib.hashes import hash160
    from eth_account import Account

    from nacl.signing import SigningKey

    from por.assets.btcchain import multisig_script
    from por.assets.ownership import (BMS_NETWORKS, ED25519_CHAINS, ed25519_address,
                                      filecoin_address, p2pkh_address, tron_address_of,
                                      xrp_address)

    wallets: list[Wallet] = []
    for i in range(2):
        sk = _privkey(seed, f"bitcoin-p2wpkh-{i}")
        pk = coincurve.PrivateKey(sk).public_key.format(compressed=True)
        addr = address_from_witness(0, hash160(pk), btc_network)
        wallets.append(Wallet("bitcoin", "p2wpkh", addr, (sk.hex(),), (pk.hex(),), None, 1))
    for i in range(2):
        sks = [_privkey(seed, f"bitcoin-p2wsh-{i}-{j}") for j in range(3)]
        pks = [coincurve.PrivateKey(k).public_key.format(compressed=True) for k in sks]
        script = multisig_script(2, sorted(pks))  # keys sorted (BIP 67)
        addr = p2wsh(script, btc_network)
        wallets.append(
            Wallet("bitcoin", "p2wsh-multisig", addr, tuple(k.hex() for k in sks),
                   tuple(p.hex() for p in pks), script.hex(), 2)
        )
    for i in range(3):
        sk = _privkey(seed, f"ethereum-eoa-{i}")
        pk = coincurve.PrivateKey(sk).public_key.format(compressed=False)
        wallets.append(Wallet("ethereum", "eoa", Account.from_key(sk).address, (sk.hex(),), (pk.hex(),), None, 1))
    for i in range(2):
        sk = _privkey(seed, f"tron-eoa-{i}")
        pk = coincurve.PrivateKey(sk).public_key.format(compressed=False)
        addr = tron_address_of(coincurve.PublicKey(pk))
        wallets.append(Wallet("tron", "eoa", addr, (sk.hex(),), (pk.hex(),), None, 1))
    for chain in ED25519_CHAINS:
        seed32 = _privkey(seed, f"{chain}-ed25519-0")  # the ed25519 private key (RFC 8032 seed)
        pk = bytes(SigningKey(seed32).verify_key)
        addr = ed25519_address(chain, pk)
        wallets.append(Wallet(chain, "ed25519", addr, (seed32.hex(),), (pk.hex(),), None, 1))
    # EVM accounts on other EVM chains (personal_sign; the row's chain says which chain)
    for chain in ("avalanche", "ethereumclassic"):
        sk = _privkey(seed, f"{chain}-eoa-0")
        pk = coincurve.PrivateKey(sk).public_key.format(compressed=False)
        wallets.append(Wallet(chain, "eoa", Account.from_key(sk).address, (sk.hex(),), (pk.hex(),), None, 1))
    # legacy P2PKH on the bitcoin-family chains (mainnet version bytes: there is no shared
    # regtest convention for them), signed with each chain's signmessage magic
    for chain in BMS_NETWORKS:
        sk = _privkey(seed, f"{chain}-p2pkh-0")
        pk = coincurve.PrivateKey(sk).public_key.format(compressed=True)
        wallets.append(Wallet(chain, "p2pkh", p2pkh_address(pk, chain), (sk.hex(),), (pk.hex(),), None, 1))
    # XRP Ledger (classic address of a secp256k1 key) and Filecoin (f1 address)
    sk = _privkey(seed, "xrp-secp256k1-0")
    pk = coincurve.PrivateKey(sk).public_key.format(compressed=True)
    wallets.append(Wallet("xrp", "secp256k1", xrp_address(pk), (sk.hex(),), (pk.hex(),), None, 1))
    sk = _privkey(seed, "filecoin-secp256k1-0")
    key = coincurve.PrivateKey(sk).public_key
    wallets.append(Wallet("filecoin", "secp256k1", filecoin_address(key), (sk.hex(),),
                          (key.format(compressed=False).hex(),), None, 1))
    return wallets


# --------------------------------------------------------------------------------------
# market, targets, reserves (pure)
# --------------------------------------------------------------------------------------


def reserve_targets(seed: int, assets: Sequence[str], overrides: dict[str, int] | None = None) -> dict[str, int]:
    """Per-asset reserve ratio targets in bps: the defaults, others 100-115 % from the seed."""
    rng = np.random.Generator(np.random.PCG64([seed, 7]))
    out = {}
    for s in assets:
        draw = 10000 + 10 * int(rng.integers(0, 151))
        out[s] = DEFAULT_TARGETS_BPS.get(s, draw)
    out.update(overrides or {})
    return out


def required_reserve(net: int, target_bps: int) -> int:
    """Smallest integer R with R / net >= target_bps / 10000 (0 when nothing is owed)."""
    if net <= 0:
        return 0
    return -(-net * target_bps // HAIRCUT_DENOMINATOR)


def _split(total: int, weights: Sequence[int]) -> list[int]:
    w = sum(weights)
    parts = [total * x // w for x in weights[:-1]]
    return parts + [total - sum(parts)]


def place_reserves(
    reserves: dict[str, int], wallets: Sequence[Wallet], seed: int
) -> list[tuple[str, str, str, int]]:
    """Rows (chain, address, asset, amount) that add up exactly to each asset's reserve."""
    btc = [w for w in wallets if w.chain == "bitcoin"]
    eth = [w for w in wallets if w.chain == "ethereum"]
    trx = [w for w in wallets if w.chain == "tron"]
    rows: list[tuple[str, str, str, int]] = []

    def put(asset: str, ws: Sequence[Wallet], weights: Sequence[int], amount: int) -> None:
        for w, part in zip(ws, _split(amount, weights)):
            rows.append((w.chain, w.address, asset, part))

    for s, r in reserves.items():
        if s == "BTC":
            put(s, btc, [5, 5, 45, 45][: len(btc)], r)
        elif s == "USDT":
            on_eth, on_tron = _split(r, [60, 40])
            put(s, eth, [10, 30, 60][: len(eth)], on_eth)
            put(s, trx, [30, 70][: len(trx)], on_tron)
        elif s == "TRX":
            put(s, trx, [30, 70][: len(trx)], r)
        elif s in EVM_TOKENS:
            put(s, eth, [10, 30, 60][: len(eth)], r)
        elif (ws := [w for w in wallets if w.chain == get_asset(s).chains[0]
                     and w.type in ("ed25519", "eoa", "p2pkh", "secp256k1")]):
            put(s, ws, [1] * len(ws), r)
        else:
            chain = get_asset(s).chains[0]
            tag = hashlib.sha256(f"por-synthetic-ext|{seed}|{chain}".encode()).hexdigest()[:40]
            rows.append((chain, f"ext-{chain}-{tag}", s, r))
    return rows


# --------------------------------------------------------------------------------------
# balances (vectorised, integer)
# --------------------------------------------------------------------------------------


def _pow10_exponent(asset: Asset, price_usd: str) -> int:
    """floor(log10(base units per USD)), exactly."""
    per_usd = Fraction(10**asset.decimals) / Fraction(Decimal(price_usd))
    e = 0
    while Fraction(10 ** (e + 1)) <= per_usd:
        e += 1
    while Fraction(10**e) > per_usd:
        e -= 1
    return e


def _gen_chunk(
    rng: np.random.Generator,
    n: int,
    symbols: Sequence[str],
    exps: np.ndarray,
    hold_pm: np.ndarray,
    max_dec: np.ndarray,
    prices: Sequence[int],
    haircuts: Sequence[int],
    debt_share_bps: int,
) -> tuple[np.ndarray, int]:
    k = len(symbols)
    # which assets each customer holds (integer draws in per-ten-thousand)
    holds = rng.integers(0, 10000, size=(n, k)) < hold_pm[None, :]
    none = ~holds.any(axis=1)
    usdt = symbols.index("USDT") if "USDT" in symbols else 0
    holds[none, usdt] = True
    # USD decade of each holding, capped per asset
    cdf = np.cumsum(_DECADE_PERMILLE)
    dec = np.searchsorted(cdf, rng.integers(0, cdf[-1], size=(n, k)), side="right")
    dec = np.minimum(dec, max_dec[None, :])
    # whales: one major asset worth $10M-$1B
    whale_n = rng.binomial(n, _WHALES_PER_MILLION / 1e6)
    if whale_n:
        rows = rng.choice(n, size=whale_n, replace=False)
        majors = [symbols.index(s) for s in ("BTC", "ETH", "USDT", "USDC") if s in symbols]
        cols = np.array(majors)[rng.integers(0, len(majors), size=whale_n)]
        holds[rows, cols] = True
        dec[rows, cols] = rng.integers(7, 9, size=whale_n)
    mant = rng.integers(1000, 10000, size=(n, k), dtype=np.uint64)
    e = dec + exps[None, :] - 3
    pos = np.maximum(e, 0).astype(np.uint64)
    neg = np.maximum(-e, 0).astype(np.uint64)
    with np.errstate(over="raise"):
        amt = mant * (np.uint64(10) ** pos) // (np.uint64(10) ** neg)
    equity = np.where(holds, amt, np.uint64(0)).astype(np.uint64)
    debt = np.zeros_like(equity)
    # margin customers: borrow 5-60 % of their haircut-weighted collateral, in 1 or 2 assets
    debtors = np.flatnonzero(rng.integers(0, 10000, size=n) < debt_share_bps)
    dcols = [symbols.index(s) for s in _DEBT_ASSETS if s in symbols]
    if len(debtors) and dcols:
        m = len(debtors)
        w = np.array([_DEBT_WEIGHTS[_DEBT_ASSETS.index(symbols[c])] for c in dcols])
        a1 = rng.choice(len(dcols), size=m, p=w / w.sum())
        a2 = (a1 + 1 + rng.integers(0, max(len(dcols) - 1, 1), size=m)) % len(dcols)
        two = rng.integers(0, 10, size=m) < 3
        u = rng.integers(500, 6001, size=m)
        k1 = rng.integers(3, 8, size=m)
        ph = np.array([int(p) * int(h) for p, h in zip(prices, haircuts)], dtype=object)
        coll = equity[debtors].astype(object).dot(ph)  # 10**-18 USD * 10**4
        v = coll * u.astype(object) // (HAIRCUT_DENOMINATOR * HAIRCUT_DENOMINATOR)  # 10**-18 USD
        p = np.array([int(prices[c]) for c in dcols], dtype=object)
        v1 = np.where(two, v * k1.astype(object) // 10, v)
        v2 = v - v1
        d1 = v1 // p[a1]
        d2 = v2 // p[a2]
        c1 = np.array(dcols)[a1]
        c2 = np.array(dcols)[a2]
        debt[debtors, c1] = d1.astype(np.uint64)
        debt[debtors, c2] += d2.astype(np.uint64)
    amounts = np.concatenate([equity, debt], axis=1)
    return amounts, int(len(debtors))


def _account_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    # unique 10-digit exchange UIDs in random order
    return (np.int64(1_000_000_000) + rng.choice(9_000_000_000, size=n, replace=False)).astype(np.int64)


def generate(
    out: str | os.PathLike,
    users: int,
    seed: int,
    fmt: Literal["csv", "parquet"] = "csv",
    btc_network: str = "regtest",
    debt_share_bps: int = 500,
    targets_bps: dict[str, int] | None = None,
    round_id: str | None = None,
    snapshot_time: str = "2026-10-31T23:59:59Z",
    progress: ProgressFn | None = None,
) -> GenerateResult:
    """Write a complete synthetic round to ``out`` (created if needed); see module doc."""
    if users < 1:
        raise ValueError("users must be at least 1")
    if fmt not in ("csv", "parquet"):
        raise ValueError("format must be csv or parquet")
    if not 0 <= debt_share_bps <= 10000:
        raise ValueError("debt share must be within [0, 10000] bps")
    out = Path(out)
    (out / "exchange").mkdir(parents=True, exist_ok=True)
    for stale in ("balances.csv", "balances.parquet"):
        (out / stale).unlink(missing_ok=True)
    symbols = [a.symbol for a in DEFAULT_ASSETS]
    assets = list(DEFAULT_ASSETS)
    k = len(symbols)
    prices = [parse_price(a, MARKET[a.symbol][0]) for a in assets]
    haircuts = [MARKET[s][1] for s in symbols]
    exps = np.array([_pow10_exponent(a, MARKET[a.symbol][0]) for a in assets])
    hold = np.array([MARKET[s][2] for s in symbols])
    max_dec = np.array([MARKET[s][3] for s in symbols])
    # the largest amount drawn is 9999 * 10^(top decade + exponent - 3); keep it below 2^64
    top = max(int(max_dec.max()), 8) + int(exps.max()) - 3
    if 9999 * 10**top >= 1 << 64:
        raise AssertionError("market table would draw amounts >= 2^64")
    rng = np.random.Generator(np.random.PCG64(seed))
    round_id = round_id or f"synthetic-{seed}"

    # round.json
    chains = sorted({c for a in assets for c in a.chains})
    base_heights = {"bitcoin": 920_000, "ethereum": 23_700_000, "tron": 76_000_000}
    heights = {c: int(base_heights.get(c, 10_000_000) + rng.integers(0, 10_000)) for c in chains}
    meta = {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "round_id": round_id,
        "snapshot_time": snapshot_time,
        "block_heights": heights,
        "assets": symbols,
    }
    RoundMeta.model_validate(meta)  # a bad --round-id or --snapshot-time fails here, loudly
    (out / "round.json").write_text(json.dumps(meta, indent=2) + "\n")
    lines = ["asset,price_usd,haircut_bps"] + [f"{s},{MARKET[s][0]},{MARKET[s][1]}" for s in symbols]
    (out / "prices.csv").write_text("\n".join(lines) + "\n")

    # balances
    cols = [ACCOUNT_COLUMN]
    for s in symbols:
        cols += [f"{s}_equity", f"{s}_debt"]
    schema = pa.schema([(ACCOUNT_COLUMN, pa.string())] + [(c, pa.uint64()) for c in cols[1:]])
    ids = _account_ids(rng, users)
    path = out / f"balances.{fmt}"
    writer: pa_csv.CSVWriter | pq.ParquetWriter
    if fmt == "csv":
        writer = pa_csv.CSVWriter(str(path), schema, write_options=pa_csv.WriteOptions(quoting_style="none", quoting_header="none"))
    else:
        writer = pq.ParquetWriter(str(path), schema, compression="zstd")
    totals = [0] * (2 * k)
    debtors = 0
    try:
        for start in range(0, users, _CHUNK):
            n = min(_CHUNK, users - start)
            amounts, nd = _gen_chunk(rng, n, symbols, exps, hold, max_dec, prices, haircuts, debt_share_bps)
            bad, _, _ = solvency_check(amounts, prices, haircuts)
            if len(bad):  # never emit an insolvent customer
                raise AssertionError(f"generator produced {len(bad)} insolvent customers")
            debtors += nd
            for j, t in enumerate(column_totals(amounts)):
                totals[j] += t
            arrays = [pa.array(np.char.add("UID", ids[start : start + n].astype("U10")))]
            order = [j for s in range(k) for j in (s, k + s)]  # file order: SYM_equity, SYM_debt
            arrays += [pa.array(amounts[:, j]) for j in order]
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
            if progress is not None:
                progress("customers", start + n, users)
    finally:
        writer.close()

    equity = {s: totals[j] for j, s in enumerate(symbols)}
    debt = {s: totals[k + j] for j, s in enumerate(symbols)}
    targets = reserve_targets(seed, symbols, targets_bps)
    reserves = {s: required_reserve(equity[s] - debt[s], targets[s]) for s in symbols}

    wallets = make_wallets(seed, btc_network)
    keys_doc = {"format": KEYS_FORMAT, "version": KEYS_VERSION, "wallets": [w.to_dict() for w in wallets]}
    keys_path = out / "exchange" / "wallet_keys.json"
    keys_path.write_text(json.dumps(keys_doc, indent=2) + "\n")
    os.chmod(keys_path, 0o600)
    rows = place_reserves(reserves, wallets, seed)
    text = "chain,address,asset,amount\n" + "".join(f"{c},{a},{s},{v}\n" for c, a, s, v in rows)
    (out / "exchange" / "reserves.csv").write_text(text)
    files = ("round.json", "prices.csv", f"balances.{fmt}", "exchange/wallet_keys.json", "exchange/reserves.csv")
    return GenerateResult(out, users, seed, fmt, round_id, equity, debt, reserves, targets, debtors, files)


def parse_target(text: str) -> tuple[str, int]:
    """``SYM=PCT`` (e.g. ``BTC=104.5``) into (symbol, bps), exactly."""
    sym, sep, pct = text.partition("=")
    sym = sym.strip().upper()
    if not sep:
        raise ValueError(f"{text!r}: write SYMBOL=PERCENT, e.g. BTC=104")
    get_asset(sym)
    try:
        bps = Decimal(pct.strip()) * 100
    except ArithmeticError:
        raise ValueError(f"{text!r}: {pct!r} is not a number") from None
    if bps != bps.to_integral_value() or bps < 0:
        raise ValueError(f"{text!r}: percent must be non-negative with at most 2 decimals")
    return sym, int(bps)
