"""The asset registry and exact amount / price parsing (por.amounts)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from por.amounts import (
    AMOUNT_LIMIT,
    DEFAULT_ASSETS,
    PRICE_LIMIT,
    format_price,
    get_asset,
    parse_price,
    usd_value,
)

BTC, ETH, USDT, SHIB = (get_asset(s) for s in ("BTC", "ETH", "USDT", "SHIB"))

#: generous upper bounds of each asset's total supply, in whole units (docs/assets.md)
MAX_SUPPLY = {
    "BTC": 21_000_000, "ETH": 200_000_000, "USDT": 1_000_000_000_000, "USDC": 1_000_000_000_000,
    "XRP": 100_000_000_000, "SOL": 1_000_000_000, "DOGE": 180_000_000_000,
    "ADA": 45_000_000_000, "TRX": 200_000_000_000, "TON": 10_000_000_000,
    "LTC": 84_000_000, "LINK": 1_000_000_000, "DOT": 10_000_000_000, "AVAX": 720_000_000,
    "BCH": 21_000_000, "ETC": 210_700_000, "FIL": 2_000_000_000, "APT": 10_000_000_000,
    "SHIB": 1_000_000_000_000_000, "UNI": 1_000_000_000, "OKB": 300_000_000,
    "PEPE": 420_690_000_000_000,
}


def test_registry_has_22_distinct_assets_whose_supply_fits_64_bits():
    syms = [a.symbol for a in DEFAULT_ASSETS]
    assert len(syms) == 22 == len(set(syms))
    assert syms[:4] == ["BTC", "ETH", "USDT", "USDC"]
    for a in DEFAULT_ASSETS:
        assert MAX_SUPPLY[a.symbol] * 10**a.decimals < AMOUNT_LIMIT, a.symbol
        assert a.chains


def test_get_asset_unknown():
    with pytest.raises(KeyError, match="unknown asset 'BTCX'"):
        get_asset("BTCX")


@pytest.mark.parametrize(
    "asset, text, expected",
    [
        (BTC, "1", 100_000_000),
        (BTC, "0.00000001", 1),
        (BTC, " 21000000 ", 21_000_000 * 10**8),
        (ETH, "1.5", 1_500_000_000),
        (USDT, "0", 0),
        (SHIB, "1e3", 1000 * 10**4),
        (BTC, "1.000000000000", 100_000_000),  # trailing zeros beyond the scale are exact
    ],
)
def test_to_base_units(asset, text, expected):
    assert asset.to_base_units(text) == expected
    assert asset.to_base_units(asset.format(expected)) == expected


@pytest.mark.parametrize("text", ["0.000000001", "abc", "", "nan", "inf", "1,5"])
def test_to_base_units_rejects(text):
    with pytest.raises(ValueError):
        BTC.to_base_units(text)


def test_format_exact():
    assert BTC.format(1) == "0.00000001"
    assert BTC.format(100_000_000) == "1"
    assert BTC.format(-150_000_000) == "-1.5"
    assert ETH.format(2**64 - 1) == "18446744073.709551615"


@pytest.mark.parametrize(
    "asset, text, expected",
    [
        (BTC, "95000", 95000 * 10**10),  # 1e-18 USD per satoshi
        (BTC, "95000.123456789", 950001234567890),
        (USDT, "1", 10**12),
        (USDT, "0.999870", 999_870_000_000),
        (SHIB, "0.000014", 1_400_000_000),
        (BTC, "0.0000000001", 1),  # the smallest representable BTC price
        (get_asset("PEPE"), "0.0000125", 1_250_000_000),  # a denominator of 2^a * 5^b
    ],
)
def test_parse_price(asset, text, expected):
    p = parse_price(asset, text)
    assert p == expected
    assert Fraction(format_price(asset, p)) == Fraction(text.strip())


@pytest.mark.parametrize(
    "text, words",
    [
        ("0", "positive"),
        ("-1", "positive"),
        ("nan", "positive"),
        ("Infinity", "positive"),
        ("x", "not a decimal"),
        ("0.00000000001", "precision"),  # below 1e-18 USD per satoshi
        ("1844674407.3709551616", "too large"),  # exactly 2**64 at scale
    ],
)
def test_parse_price_rejects(text, words):
    with pytest.raises(ValueError, match=words):
        parse_price(BTC, text)


def test_price_limit_edge():
    assert parse_price(BTC, "1844674407.3709551615") == PRICE_LIMIT - 1


def test_usd_value_exact():
    p = parse_price(BTC, "95000.5")
    assert usd_value(BTC, 150_000_000, p) == Fraction(14250075, 100)  # 1.5 BTC at 95000.5
    assert usd_value(SHIB, 3, parse_price(SHIB, "0.000014")) == Fraction(42, 10**10)
