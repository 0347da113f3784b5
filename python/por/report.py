"""The monthly report: per-asset reserve ratios from the two verified proofs (pure).

Inputs are the VERIFIED public values of the liabilities proof (``liabilities/public.json``,
as returned by :func:`por.liabilities.verify`) and the VERIFIED assets bundle
(``assets/assets.json``, checked by :func:`por.assets.report.verify_assets`). Nothing here
reads a file or the network: :func:`build_report` is a pure function, so a verifier recomputes
``report.json`` from the proven values and compares it field by field
(:func:`compare_reports`).

Per asset a:

* reserves ``A_a``: the assets proof's total in the registry base unit;
* net customer liabilities ``L_a = E_a - D_a`` (proven equity minus proven debt);
* the reserve ratio ``A_a / L_a`` as an exact :class:`~fractions.Fraction`, shown as a
  percentage rounded DOWN to two decimals (99.999 % shows as 99.99 %, never 100.00 %);
  ``below_100`` is decided on the exact fraction (``A_a < L_a``), never on the rounded text;
* when ``L_a <= 0`` the exchange owes its customers nothing net in that asset: the ratio is
  undefined, ``ratio_num``/``ratio_den``/``ratio_percent`` are ``null``, ``coverage`` is
  ``"no-net-liabilities"`` and ``below_100`` is false (any reserve covers nothing owed);
* USD values at the round's proven prices ``p_a`` (10^-18 USD per base unit): the exact
  integer ``x * p_a`` in 10^-18 USD, written as an exact decimal string of USD.

The format is ``por-report`` version 1 (docs/report.md).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict

from por.amounts import PRICE_SCALE, format_price, format_scaled, get_asset

REPORT_FORMAT = "por-report"
REPORT_VERSION = 1

#: balance sources of the assets proof that por re-reads on chain (por.assets.report)
ONCHAIN_SOURCES = ("evm-rpc", "bitcoin-rpc", "bitcoin-blocks")

Coverage = Literal["covered", "below-100", "no-net-liabilities"]


class ReportError(ValueError):
    """A report cannot be built, or a report does not match the proven values."""


class AssetLine(BaseModel):
    """One asset's row of the report (every amount an exact decimal string)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    asset: str
    name: str
    decimals: int
    unit: str
    price_usd: str                 #: USD per whole unit (exact)
    price: str                     #: 10^-18 USD per base unit (exact integer, proven)
    haircut_bps: int
    reserves: str                  #: A_a, base units
    reserves_unverified: str       #: the part of A_a declared by the exchange, not read on chain
    equity: str                    #: E_a, base units (proven)
    debt: str                      #: D_a, base units (proven)
    net_liabilities: str           #: L_a = E_a - D_a
    ratio_num: Optional[str]       #: A_a / L_a as a reduced fraction; null when L_a <= 0
    ratio_den: Optional[str]
    ratio_percent: Optional[str]   #: 100 * A_a / L_a rounded DOWN to 2 decimals; null when L_a <= 0
    below_100: bool                #: A_a < L_a, decided exactly
    coverage: Coverage
    reserves_usd: str              #: A_a * p_a / 10^18, exact decimal USD
    net_liabilities_usd: str       #: L_a * p_a / 10^18, exact decimal USD
    reserves_verified_by: str      #: where A_a comes from, in words
    reserves_sources: dict[str, int]  #: balance source -> number of (address, asset) balances


class Totals(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reserves_usd: str
    equity_usd: str
    debt_usd: str
    net_liabilities_usd: str
    ratio_percent: Optional[str]   #: sum of reserves_usd / sum of net_liabilities_usd, rounded down
    below_100: bool
    assets_below_100: list[str]


class Report(BaseModel):
    """``report.json``: format ``por-report`` version 1 (docs/report.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["por-report"]
    version: Literal[1]
    round_id: str
    snapshot_time: str
    block_heights: dict[str, int]          #: the snapshot's heights (round.json)
    assets_read_heights: dict[str, int]    #: heights the assets proof read balances at
    liabilities_root: str
    tree_height: int
    max_customers: int
    wallet_message: str
    wallets: int
    assets: list[AssetLine]
    totals_usd: Totals
    extra_reserves: dict[str, str]         #: reserves of assets not in the liabilities proof
    tool: dict[str, str]

    def to_json(self) -> str:
        import json

        return json.dumps(self.model_dump(mode="json"), indent=1) + "\n"


# --------------------------------------------------------------------------------------
# exact arithmetic
# --------------------------------------------------------------------------------------


def ratio(reserves: int, net: int) -> Fraction | None:
    """A / L exactly, or None when nothing is owed net (L <= 0)."""
    if net <= 0:
        return None
    return Fraction(reserves, net)


def percent_floor(q: Fraction, places: int = 2) -> str:
    """``100 * q`` rounded DOWN to ``places`` decimals ("104.00"); ``q`` >= 0."""
    if q < 0:
        raise ReportError("a reserve ratio cannot be negative")
    scaled = q.numerator * 100 * 10**places // q.denominator
    return format_fixed(scaled, places)


def format_fixed(value: int, places: int) -> str:
    """``value / 10**places`` with exactly ``places`` decimals (no rounding: value is scaled)."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"


def usd(amount: int, price: int) -> str:
    """Exact USD value of ``amount`` base units at ``price`` (10^-18 USD per base unit)."""
    return format_scaled(amount * price, PRICE_SCALE)


def usd_cents_floor(usd_text: str) -> str:
    """An exact USD decimal string, rounded DOWN (toward zero) to cents, with thousands
    separators: for people (report.html, the CLI table)."""
    neg = usd_text.startswith("-")
    whole, _, frac = usd_text.lstrip("-").partition(".")
    cents = (frac + "00")[:2]
    return ("-" if neg else "") + f"{int(whole):,}.{cents}"


def _sources_text(sources: dict[str, int], unverified: int, total: int) -> str:
    if not sources:
        return "no reserves in the assets proof"
    parts = [f"{src}: {n}" for src, n in sorted(sources.items())]
    kind = ("read on chain at the snapshot height" if unverified == 0 else
            "declared by the exchange, not read on chain by por" if unverified == total else
            "partly read on chain, partly declared by the exchange")
    return f"{kind} ({'; '.join(parts)} balances)"


# --------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------


def build_report(liabilities: dict[str, Any], assets: dict[str, Any], round_meta: dict[str, Any],
                 tool_version: str) -> Report:
    """The report of a round from its verified public values (pure).

    ``liabilities``: the liabilities ``public.json`` document; ``assets``: the ``assets.json``
    document; ``round_meta``: the round's ``round.json`` (snapshot time, block heights).
    Raises :class:`ReportError` if they describe different rounds or assets.
    """
    round_id = str(liabilities["round_id"])
    if round_meta.get("round_id") != round_id:
        raise ReportError(f"round.json is round {round_meta.get('round_id')!r} but the "
                          f"liabilities proof is round {round_id!r}")
    syms = list(liabilities["assets"])
    if list(round_meta.get("assets", syms)) != syms:
        raise ReportError("round.json lists other assets than the liabilities proof")
    totals = assets.get("totals", {})
    lines: list[AssetLine] = []
    sum_res = sum_eq = sum_debt = sum_net = 0
    below: list[str] = []
    for i, s in enumerate(syms):
        a = get_asset(s)
        price = int(liabilities["prices"][i])
        e, d = int(liabilities["equity_totals"][i]), int(liabilities["debt_totals"][i])
        t = totals.get(s)
        if t is not None and t.get("unit") != a.unit:
            raise ReportError(f"assets proof: reserves of {s} are in {t.get('unit')!r}, "
                              f"not the registry unit {a.unit!r}")
        res = int(t["amount"]) if t else 0
        unver = int(t["unverified_amount"]) if t else 0
        sources = dict(sorted((t or {}).get("sources", {}).items()))
        net = e - d
        q = ratio(res, net)
        if q is None:
            cov: Coverage = "no-net-liabilities"
            is_below = False
        else:
            is_below = res < net
            cov = "below-100" if is_below else "covered"
        if is_below:
            below.append(s)
        lines.append(AssetLine(
            asset=s, name=a.name, decimals=a.decimals, unit=a.unit,
            price_usd=format_price(a, price), price=str(price),
            haircut_bps=int(liabilities["haircuts_bps"][i]),
            reserves=str(res), reserves_unverified=str(unver),
            equity=str(e), debt=str(d), net_liabilities=str(net),
            ratio_num=None if q is None else str(q.numerator),
            ratio_den=None if q is None else str(q.denominator),
            ratio_percent=None if q is None else percent_floor(q),
            below_100=is_below, coverage=cov,
            reserves_usd=usd(res, price), net_liabilities_usd=usd(net, price),
            reserves_verified_by=_sources_text(sources, unver, res),
            reserves_sources=sources,
        ))
        sum_res += res * price
        sum_eq += e * price
        sum_debt += d * price
        sum_net += net * price
    tq = ratio(sum_res, sum_net)
    total = Totals(
        reserves_usd=format_scaled(sum_res, PRICE_SCALE),
        equity_usd=format_scaled(sum_eq, PRICE_SCALE),
        debt_usd=format_scaled(sum_debt, PRICE_SCALE),
        net_liabilities_usd=format_scaled(sum_net, PRICE_SCALE),
        ratio_percent=None if tq is None else percent_floor(tq),
        below_100=tq is not None and sum_res < sum_net,
        assets_below_100=below,
    )
    extra = {s: str(t["amount"]) for s, t in sorted(totals.items()) if s not in syms}
    return Report(
        format=REPORT_FORMAT, version=REPORT_VERSION, round_id=round_id,
        snapshot_time=str(round_meta.get("snapshot_time", "")),
        block_heights={k: int(v) for k, v in sorted(round_meta.get("block_heights", {}).items())},
        assets_read_heights={k: int(v) for k, v in sorted(assets.get("heights", {}).items())},
        liabilities_root=str(liabilities["root"]), tree_height=int(liabilities["tree_height"]),
        max_customers=int(liabilities["max_customers"]),
        wallet_message=str(assets.get("message", "")), wallets=len(assets.get("entries", [])),
        assets=lines, totals_usd=total, extra_reserves=extra,
        tool={"name": "por", "version": tool_version},
    )


def parse_report(doc: Any) -> Report:
    """Validate a ``report.json`` document; raises :class:`ReportError` naming the field."""
    from pydantic import ValidationError

    if isinstance(doc, dict) and doc.get("format") == REPORT_FORMAT and doc.get("version") != REPORT_VERSION:
        raise ReportError(f"report.json: unsupported version {doc.get('version')!r}")
    try:
        return Report.model_validate(doc)
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = ".".join(str(x) for x in e["loc"])
        raise ReportError(f"report.json: field {loc}: {e['msg']}") from None


def compare_reports(stated: dict[str, Any], recomputed: Report) -> list[str]:
    """Every difference between a stated report.json and the recomputed one, named by its
    JSON path (``assets[BTC].ratio_percent: report says 105.00, proofs give 104.00``)."""
    want = recomputed.model_dump(mode="json")
    out: list[str] = []

    def walk(path: str, got: Any, exp: Any) -> None:
        if isinstance(exp, dict) and isinstance(got, dict):
            for k in sorted(set(exp) | set(got)):
                if k not in got:
                    out.append(f"{path}{k}: missing from report.json")
                elif k not in exp:
                    out.append(f"{path}{k}: not a field of por-report v1")
                else:
                    walk(f"{path}{k}.", got[k], exp[k])
        elif isinstance(exp, list) and isinstance(got, list):
            if len(got) != len(exp):
                out.append(f"{path.rstrip('.')}: report has {len(got)} entries, proofs give {len(exp)}")
            for i, (g, e) in enumerate(zip(got, exp)):
                tag = e.get("asset", i) if isinstance(e, dict) else i
                walk(f"{path.rstrip('.')}[{tag}].", g, e)
        elif got != exp or type(got) is not type(exp):
            out.append(f"{path.rstrip('.')}: report says {got!r}, the proofs give {exp!r}")

    walk("", stated, want)
    return out
