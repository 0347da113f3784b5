"""The asset registry and exact integer amounts.

Every amount on the money path is a Python ``int`` in the asset's *base unit* (satoshi for
BTC, gwei for ETH, ...). No float ever touches an amount, a price or a ratio: prices are
parsed from decimal strings into exact integers, haircuts are integer basis points and
ratios are :class:`fractions.Fraction`.

Base units are chosen so that any realistic balance of one customer, and the asset's whole
supply, fits below 2**64 (see docs/assets.md for the table and the reasoning).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

#: Every per-customer amount must lie in [0, AMOUNT_LIMIT).
AMOUNT_BITS = 64
AMOUNT_LIMIT = 1 << AMOUNT_BITS

#: Prices are integers in units of 10**-PRICE_SCALE USD per *base unit* of the asset.
PRICE_SCALE = 18
#: A price (per base unit, in 10**-18 USD) must lie in [1, PRICE_LIMIT).
PRICE_LIMIT = 1 << 64
#: Haircuts are integer basis points: 10_000 means the asset counts at 100 % as collateral.
HAIRCUT_DENOMINATOR = 10_000


@dataclass(frozen=True, slots=True)
class Asset:
    """One asset the exchange reports on."""

    symbol: str
    name: str
    #: amount in whole units = base-unit integer / 10**decimals
    decimals: int
    #: the name of one base unit, for people
    unit: str
    #: the chain(s) on which por reads reserves of this asset
    chains: tuple[str, ...]

    def to_base_units(self, text: str) -> int:
        """Parse a decimal string of whole units ("1.5") into exact base units."""
        try:
            d = Decimal(text.strip())
        except (InvalidOperation, AttributeError) as exc:
            raise ValueError(f"{text!r} is not a decimal number") from exc
        if not d.is_finite():
            raise ValueError(f"{text!r} is not a finite number")
        scaled = d.scaleb(self.decimals)
        if scaled != scaled.to_integral_value():
            raise ValueError(
                f"{text!r} has more than {self.decimals} decimal places for {self.symbol}"
            )
        return int(scaled)

    def format(self, base_units: int) -> str:
        """Format base units as an exact decimal string of whole units."""
        return format_scaled(base_units, self.decimals)


def format_scaled(value: int, decimals: int) -> str:
    """``value / 10**decimals`` as an exact decimal string, trailing zeros dropped."""
    sign = "-" if value < 0 else ""
    q, r = divmod(abs(value), 10**decimals)
    if decimals == 0:
        return f"{sign}{q}"
    frac = f"{r:0{decimals}d}".rstrip("0")
    return f"{sign}{q}.{frac}" if frac else f"{sign}{q}"


def _a(symbol: str, name: str, decimals: int, unit: str, *chains: str) -> Asset:
    return Asset(symbol, name, decimals, unit, tuple(chains))


#: The default registry: the 22 assets a large exchange reports (see docs/assets.md).
DEFAULT_ASSETS: tuple[Asset, ...] = (
    _a("BTC", "Bitcoin", 8, "satoshi", "bitcoin"),
    _a("ETH", "Ether", 9, "gwei", "ethereum"),
    _a("USDT", "Tether USD", 6, "micro-USDT", "ethereum", "tron"),
    _a("USDC", "USD Coin", 6, "micro-USDC", "ethereum"),
    _a("XRP", "XRP", 6, "drop", "xrp"),
    _a("SOL", "Solana", 9, "lamport", "solana"),
    _a("DOGE", "Dogecoin", 8, "koinu", "dogecoin"),
    _a("ADA", "Cardano", 6, "lovelace", "cardano"),
    _a("TRX", "TRON", 6, "sun", "tron"),
    _a("TON", "Toncoin", 9, "nanoton", "ton"),
    _a("LTC", "Litecoin", 8, "litoshi", "litecoin"),
    _a("LINK", "Chainlink", 9, "nano-LINK", "ethereum"),
    _a("DOT", "Polkadot", 8, "1e-8 DOT (100 planck)", "polkadot"),
    _a("AVAX", "Avalanche", 9, "nAVAX", "avalanche"),
    _a("BCH", "Bitcoin Cash", 8, "satoshi", "bitcoincash"),
    _a("ETC", "Ethereum Classic", 9, "gwei", "ethereumclassic"),
    _a("FIL", "Filecoin", 9, "nanoFIL", "filecoin"),
    _a("APT", "Aptos", 8, "octa", "aptos"),
    _a("SHIB", "Shiba Inu", 4, "1e-4 SHIB", "ethereum"),
    _a("UNI", "Uniswap", 9, "nano-UNI", "ethereum"),
    _a("OKB", "OKB", 9, "nano-OKB", "ethereum"),
    _a("PEPE", "Pepe", 4, "1e-4 PEPE", "ethereum"),
)

ASSETS_BY_SYMBOL: dict[str, Asset] = {a.symbol: a for a in DEFAULT_ASSETS}


def get_asset(symbol: str) -> Asset:
    """Look an asset up by symbol; raise ``KeyError`` naming the symbol if unknown."""
    try:
        return ASSETS_BY_SYMBOL[symbol]
    except KeyError:
        raise KeyError(f"unknown asset {symbol!r}") from None


def parse_price(asset: Asset, usd_per_whole_unit: str) -> int:
    """Exact price in 10**-18 USD per base unit, from a decimal USD price per whole unit.

    Raises ``ValueError`` if the price is not positive, is not exactly representable at
    this scale, or does not fit below 2**64.
    """
    try:
        d = Decimal(usd_per_whole_unit.strip())
    except (InvalidOperation, AttributeError) as exc:
        raise ValueError(f"{usd_per_whole_unit!r} is not a decimal number") from exc
    if not d.is_finite() or d <= 0:
        raise ValueError(f"price {usd_per_whole_unit!r} must be a positive number")
    scaled = d.scaleb(PRICE_SCALE - asset.decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(
            f"price {usd_per_whole_unit!r} has more precision than 1e-{PRICE_SCALE} USD "
            f"per {asset.unit}"
        )
    p = int(scaled)
    if p >= PRICE_LIMIT:
        raise ValueError(f"price {usd_per_whole_unit!r} is too large (>= 2**64 at scale)")
    return p


def format_price(asset: Asset, price: int) -> str:
    """Inverse of :func:`parse_price`: USD per whole unit as an exact decimal string."""
    frac = Fraction(price, 10 ** (PRICE_SCALE - asset.decimals))
    return _fraction_to_decimal_string(frac)


def _fraction_to_decimal_string(frac: Fraction) -> str:
    # exact for every terminating decimal: denominators of the form 2^a * 5^b
    den = frac.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:
        raise ValueError("not a terminating decimal")
    k = max(twos, fives)
    return format_scaled(frac.numerator * 10**k // frac.denominator, k)


def usd_value(asset: Asset, base_units: int, price: int) -> Fraction:
    """Exact USD value of an amount at a price (both integers)."""
    return Fraction(base_units * price, 10**PRICE_SCALE)
