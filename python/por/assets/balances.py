"""Declared balances: reserves on chains por cannot read itself (format version 1).

A CSV file, UTF-8, with exactly this header line::

    address,chain,asset,amount,height

* ``address`` - the wallet address as the chain writes it (no spaces, 1..128 characters);
* ``chain`` - one of the chains the asset registry lists for ``asset`` (``por.amounts``);
* ``asset`` - a registry symbol (``BTC``, ``XRP``, ...);
* ``amount`` - the balance in WHOLE units as a plain decimal string (``12.5``, ``0.000001``,
  ``300``): digits, at most one point, no sign, no exponent, no thousands separators, and no
  more decimal places than the asset's base unit allows. It is converted exactly to base units;
* ``height`` - the block height (or ledger index) of the snapshot on that chain, a
  non-negative integer; every row of one chain must carry the same height.

Lines starting with ``#`` are comments. A repeated (address, chain, asset) is an error. Every
record is marked ``declared (unverified by por)``: por checked the file's form, not the chain.
Errors name the file, the row (1-based line number) and the field.
"""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from por.amounts import ASSETS_BY_SYMBOL

FORMAT_VERSION = 1
HEADER = ("address", "chain", "asset", "amount", "height")
DECLARED = "declared (unverified by por)"
_AMOUNT = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]+)?$")
_HEIGHT = re.compile(r"^(0|[1-9][0-9]*)$")
_ADDRESS = re.compile(r"^[\x21-\x7e]{1,128}$")


class BalancesFileError(ValueError):
    """A declared-balances file that does not follow format version 1."""

    def __init__(self, path: Path, row: int | None, field: str | None, message: str) -> None:
        where = str(path) + (f", row {row}" if row is not None else "") + \
            (f", field {field!r}" if field else "")
        super().__init__(f"{where}: {message}")
        self.path, self.row, self.field = path, row, field


@dataclass(frozen=True, slots=True)
class DeclaredBalance:
    address: str
    chain: str
    asset: str
    amount: int  # in the asset's registry base unit
    height: int
    source: str  # file name
    row: int  # line number in the file
    status: str = DECLARED

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_balances_file(path: str | Path) -> list[DeclaredBalance]:
    """Read and strictly validate a declared-balances CSV (format version 1)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BalancesFileError(path, None, None, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise BalancesFileError(path, None, None, f"cannot read: {exc.strerror}") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise BalancesFileError(path, None, None, "empty file: expected the header "
                                + ",".join(HEADER))
    head_no, head = lines[0]
    if tuple(c.strip() for c in next(csv.reader([head]))) != HEADER:
        raise BalancesFileError(path, head_no, None,
                                f"header must be exactly {','.join(HEADER)!r}, got {head!r}")
    out: list[DeclaredBalance] = []
    seen: dict[tuple[str, str, str], int] = {}
    chain_height: dict[str, tuple[int, int]] = {}
    for n, line in lines[1:]:
        cells = next(csv.reader([line]))
        if len(cells) != len(HEADER):
            raise BalancesFileError(path, n, None,
                                    f"expected {len(HEADER)} fields, got {len(cells)}")
        address, chain, asset, amount_s, height_s = cells

        def bad(field: str, msg: str, n: int = n) -> BalancesFileError:
            return BalancesFileError(path, n, field, msg)

        if not _ADDRESS.match(address):
            raise bad("address", f"{address!r} is empty, too long or has spaces/control "
                                 f"characters")
        a = ASSETS_BY_SYMBOL.get(asset)
        if a is None:
            raise bad("asset", f"unknown asset {asset!r}")
        if chain not in a.chains:
            raise bad("chain", f"{asset} is not held on chain {chain!r} "
                               f"(registry: {', '.join(a.chains)})")
        if not _AMOUNT.match(amount_s):
            raise bad("amount", f"{amount_s!r} is not a plain non-negative decimal number of "
                                f"whole {asset}")
        try:
            amount = a.to_base_units(amount_s)
        except ValueError as exc:
            raise bad("amount", str(exc)) from None
        if not _HEIGHT.match(height_s):
            raise bad("height", f"{height_s!r} is not a non-negative integer")
        height = int(height_s)
        key = (address, chain, asset)
        if key in seen:
            raise bad("address", f"{address} {asset} on {chain} was already declared on row "
                                 f"{seen[key]}")
        seen[key] = n
        if chain in chain_height and chain_height[chain][0] != height:
            h0, r0 = chain_height[chain]
            raise bad("height", f"height {height} differs from height {h0} of chain {chain} "
                                f"on row {r0}: one snapshot height per chain")
        chain_height.setdefault(chain, (height, n))
        out.append(DeclaredBalance(address, chain, asset, amount, height, path.name, n))
    return out


def totals(records: list[DeclaredBalance]) -> dict[str, int]:
    """Sum of declared amounts per asset, in base units."""
    out: dict[str, int] = {}
    for r in records:
        out[r.asset] = out.get(r.asset, 0) + r.amount
    return out
