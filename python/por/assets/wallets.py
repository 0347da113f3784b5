"""Wallet files: por's own format and OKX's published CSV layouts, all into one typed model.

Formats read (see docs/wallets.md for each, field by field):

* ``por-wallets`` version 1 (JSON): por's own format, written by :func:`sign_wallets`.
* OKX 7-column (2022-11): a summary block, a blank line, then
  ``coin,address,amount,message,signature1,signature2,redeem script/ public key``;
  amounts are integers in the chain's base unit (satoshi, wei, 1e-6 USDT).
* OKX 11-column: summary block, then
  ``coin,Network,Snapshot Height,address,amount,message,signature1,signature2,
  redeem script/ public key, eoa1, eoa2``; amounts are decimals of whole units.
* OKX 12-column staking: as 11-column with a ``Type`` column after ``coin``.
* OKX 9-column auditor (AUP) layout:
  ``digitalAsset,network,address,signedMessage,signedMessage2,message,publicKey,owner1,owner2``.

Every error is a :class:`WalletFileError` that names the file, the row (the 1-based line of the
file, or the index in a JSON list) and the field.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

WALLETS_FORMAT = "por-wallets"
WALLETS_VERSION = 1


class WalletFileError(ValueError):
    """Bad wallet file input; the message names file, row and field."""

    def __init__(self, file: str, row: int | str | None, field_name: str | None, problem: str):
        self.file, self.row, self.field, self.problem = file, row, field_name, problem
        where = file
        if row is not None:
            where += f", row {row}"
        if field_name:
            where += f", field {field_name!r}"
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class WalletEntry:
    """One address and the evidence that the custodian controls it."""

    source: str  # the file it came from
    row: int  # 1-based line in a CSV file, or 1-based position in a JSON wallet list
    layout: str  # "por-wallets-v1" | "okx-7col" | "okx-11col" | "okx-12col" | "okx-9col"
    chain: str  # normalized: bitcoin, ethereum, arbitrum, optimism, tron, ton, aptos, ...
    address: str
    assets: tuple[str, ...]  # asset symbols held at this address ("BTC", "USDT", ...)
    message: str
    scheme: str  # see por.assets.ownership.SCHEMES
    signatures: tuple[str, ...]
    public_keys: tuple[str, ...] = ()
    redeem_script: str | None = None
    threshold: int | None = None
    owners: tuple[str, ...] = ()  # contract wallet owner EOAs / Aptos auth key
    unsigned_owners: tuple[int, ...] = ()  # reserved: owners known not to sign (none so far)
    coin: str = ""  # as published (OKX "USDT-TRC20")
    kind: str = ""  # OKX staking "Type"
    height: int | None = None  # snapshot height declared by the file
    #: declared balances in the chain's native base unit (wei, satoshi, ...) per asset
    declared: dict[str, int] = field(default_factory=dict)
    native_decimals: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "row": self.row,
            "layout": self.layout,
            "chain": self.chain,
            "address": self.address,
            "assets": list(self.assets),
            "message": self.message,
            "scheme": self.scheme,
            "signatures": list(self.signatures),
            "public_keys": list(self.public_keys),
            "redeem_script": self.redeem_script,
            "threshold": self.threshold,
            "owners": list(self.owners),
            "coin": self.coin,
            "kind": self.kind,
            "height": self.height,
            "declared": {k: str(v) for k, v in self.declared.items()},
            "native_decimals": dict(self.native_decimals),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "WalletEntry":
        return cls(
            source=d["source"],
            row=int(d["row"]),
            layout=d["layout"],
            chain=d["chain"],
            address=d["address"],
            assets=tuple(d["assets"]),
            message=d["message"],
            scheme=d["scheme"],
            signatures=tuple(d["signatures"]),
            public_keys=tuple(d.get("public_keys", ())),
            redeem_script=d.get("redeem_script"),
            threshold=d.get("threshold"),
            owners=tuple(d.get("owners", ())),
            coin=d.get("coin", ""),
            kind=d.get("kind", ""),
            height=d.get("height"),
            declared={k: int(v) for k, v in d.get("declared", {}).items()},
            native_decimals={k: int(v) for k, v in d.get("native_decimals", {}).items()},
        )


@dataclass(frozen=True)
class SummaryRow:
    """One row of the summary block at the top of an OKX 7/11/12-column file."""

    row: int
    coin: str
    height: int | None
    amount: str  # a decimal string as published (whole units), leading spaces removed


@dataclass
class WalletFile:
    path: str
    layout: str
    entries: list[WalletEntry]
    #: the round's message if the file declares one (por-wallets), else None
    message: str | None = None
    summary: list[SummaryRow] = field(default_factory=list)

    def messages(self) -> set[str]:
        return {e.message for e in self.entries}


# --------------------------------------------------------------------------------------
# chains, coins and native units
# --------------------------------------------------------------------------------------

CHAINS = (
    "bitcoin", "dogecoin", "litecoin", "bitcoincash", "ethereum", "ethereumclassic", "arbitrum", "optimism", "polygon",
    "avalanche", "bsc", "base", "okc", "tron", "ton", "aptos", "solana", "polkadot", "cardano",
    "starknet", "eos", "xrp", "filecoin",
)

_NETWORK = {
    "BTC": "bitcoin", "BITCOIN": "bitcoin", "DOGE": "dogecoin", "LTC": "litecoin",
    "ETH": "ethereum", "ERC20": "ethereum", "ETHEREUM": "ethereum",
    "ARBITRUM": "arbitrum", "OPTIMISM": "optimism", "POLY": "polygon", "POLYGON": "polygon",
    "AVAXC": "avalanche", "AVAX": "avalanche", "BSC": "bsc", "BASE": "base", "OKC": "okc",
    "TRC20": "tron", "TRON": "tron", "TRX": "tron", "TON": "ton", "APTOS": "aptos",
    "APT": "aptos", "SOL": "solana", "SOLANA": "solana", "DOT": "polkadot",
    "POLKADOT": "polkadot", "ADA": "cardano", "CARDANO": "cardano", "STARKNET": "starknet",
    "VAULTA": "eos", "EOS": "eos", "BCH": "bitcoincash", "ETC": "ethereumclassic",
    "XRP": "xrp", "FIL": "filecoin",
}
_ASSET_ALIAS = {"APTOS": "APT"}
EVM = frozenset({"ethereum", "arbitrum", "optimism", "polygon", "avalanche", "bsc", "base", "okc",
                 "ethereumclassic"})

#: decimals of an asset's native base unit on a chain (what balances on that chain count in)
_NATIVE_DECIMALS = {
    "BTC": 8, "DOGE": 8, "LTC": 8, "TRX": 6, "TON": 9, "APT": 8, "SOL": 9, "DOT": 10,
    "ADA": 6, "EOS": 4, "ETC": 18, "XRP": 6, "BCH": 8, "FIL": 18, "AVAX": 18,
    "USDT": 6, "USDC": 6,  # 6 on every chain por reads them on (ERC-20, TRC-20, L2s, TON)
    "ETH": 18, "LINK": 18, "UNI": 18, "OKB": 18, "SHIB": 18, "PEPE": 18,
}


def native_decimals(asset: str, chain: str) -> int | None:
    if asset == "USDT" and chain == "bsc":
        return 18
    return _NATIVE_DECIMALS.get(asset)


def chain_of(coin: str, network: str | None) -> tuple[str, str]:
    """(asset, chain) for an OKX coin name (``USDT-TRC20``) and optional Network column."""
    base, _, suffix = coin.strip().partition("-")
    base = base.upper()
    asset = _ASSET_ALIAS.get(base, base)
    net = (network or "").strip().upper() or suffix.upper() or base
    chain = _NETWORK.get(net)
    if chain is None:
        raise KeyError(net)
    return asset, chain


def default_scheme(chain: str, address: str, has_script: bool) -> str:
    """The signature scheme OKX uses for a row on ``chain``."""
    if chain in ("bitcoin", "dogecoin", "litecoin", "bitcoincash"):
        return "btc-bms-multisig" if has_script else "btc-bms"
    if chain == "okc":
        return "okx-ecdsa"
    if chain in EVM:
        return "evm-personal-sign-keccak"
    if chain == "tron":
        return "tron-okx"
    if chain in ("ton", "aptos", "solana", "polkadot", "cardano"):
        return "ed25519-okx"
    if chain == "eos":
        return "eos-okx"
    if chain == "starknet":
        return "starknet"
    return f"unknown ({chain})"


def _null(v: str | None) -> str:
    v = (v or "").strip()
    return "" if v.lower() == "null" else v


# --------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------


def load_wallets(path: str | Path) -> WalletFile:
    """Load any supported wallet file (detected from its content)."""
    p = Path(path)
    name = str(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise WalletFileError(name, None, None, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WalletFileError(name, None, None, f"not UTF-8 text (byte {exc.start})") from None
    if text.lstrip().startswith("{"):
        return _load_por_json(name, text)
    return _load_okx_csv(name, text)


def _load_okx_csv(name: str, text: str) -> WalletFile:
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or not lines[0].strip():
        raise WalletFileError(name, 1, None, "empty file or blank first line")
    first = [c.strip() for c in next(csv.reader([lines[0]]))]
    summary: list[SummaryRow] = []
    start = 0
    if first == ["coin", "snapshot height", "amount"]:
        i = 1
        while i < len(lines) and lines[i].strip():
            cells = next(csv.reader([lines[i]]))
            if len(cells) != 3:
                raise WalletFileError(name, i + 1, None, f"summary row has {len(cells)} fields, expected 3")
            coin, h, amt = (c.strip() for c in cells)
            height = _height(name, i + 1, "snapshot height", h)
            _decimal(name, i + 1, "amount", amt)
            summary.append(SummaryRow(i + 1, coin, height, amt))
            i += 1
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines):
            raise WalletFileError(name, i, None, "summary block is not followed by an address block")
        start = i
    header_line = start + 1
    body = "\n".join(lines[start:])
    rows = list(csv.reader(io.StringIO(body)))
    header = [c.strip() for c in rows[0]]
    layouts = {
        ("coin", "address", "amount", "message", "signature1", "signature2",
         "redeem script/ public key"): "okx-7col",
        ("coin", "Network", "Snapshot Height", "address", "amount", "message", "signature1",
         "signature2", "redeem script/ public key", "eoa1", "eoa2"): "okx-11col",
        ("coin", "Type", "Network", "Snapshot Height", "address", "amount", "message",
         "signature1", "signature2", "redeem script/public key", "EOA1", "EOA2"): "okx-12col",
        ("digitalAsset", "network", "address", "signedMessage", "signedMessage2", "message",
         "publicKey", "owner1", "owner2"): "okx-9col",
    }
    layout = layouts.get(tuple(header))
    if layout is None:
        raise WalletFileError(name, header_line, None, f"unknown header {','.join(header)!r}")
    summary_heights = {s.coin: s.height for s in summary}
    entries = []
    for k, cells in enumerate(rows[1:], 1):
        line = header_line + k
        if not cells or all(not c.strip() for c in cells):
            continue  # the trailing blank line(s) of "\n\n" endings
        # OKX omits empty trailing owner columns on some rows (11-column sample, rows 16-17)
        optional = {"eoa1", "eoa2", "EOA1", "EOA2", "owner1", "owner2"}
        missing = header[len(cells):]
        if len(cells) > len(header) or any(h not in optional for h in missing):
            raise WalletFileError(name, line, None,
                                  f"{len(cells)} fields, the {layout} header has {len(header)}")
        cells = cells + [""] * len(missing)
        rec = {h: c for h, c in zip(header, cells)}
        entries.append(_okx_entry(name, line, layout, rec, summary_heights))
    if not entries:
        raise WalletFileError(name, header_line, None, "no address rows")
    return WalletFile(name, layout, entries, None, summary)


def _height(name: str, line: int, fld: str, v: str) -> int | None:
    v = v.strip()
    if v in ("-", ""):
        return None
    if not re.fullmatch(r"[0-9]+", v):
        raise WalletFileError(name, line, fld, f"{v!r} is not a block height")
    return int(v)


def _decimal(name: str, line: int, fld: str, v: str) -> Decimal:
    v = v.strip()
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", v):
        raise WalletFileError(name, line, fld, f"{v!r} is not a non-negative decimal amount")
    try:
        return Decimal(v)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise WalletFileError(name, line, fld, f"{v!r} is not a decimal") from None


def _okx_entry(name: str, line: int, layout: str, rec: dict[str, str],
               summary_heights: dict[str, int | None]) -> WalletEntry:
    if layout == "okx-9col":
        coin, network = rec["digitalAsset"].strip(), rec["network"].strip()
        address = rec["address"].strip()
        sigs = [_null(rec["signedMessage"]), _null(rec["signedMessage2"])]
        keycol, keyname = _null(rec["publicKey"]), "publicKey"
        owners = [_null(rec["owner1"]), _null(rec["owner2"])]
        amount_text, height, kind = None, None, ""
    else:
        coin = rec["coin"].strip()
        network = rec.get("Network", "").strip() or None
        address = rec["address"].strip()
        sigs = [_null(rec["signature1"]), _null(rec["signature2"])]
        keyname = "redeem script/public key" if layout == "okx-12col" else "redeem script/ public key"
        keycol = _null(rec[keyname])
        if layout == "okx-11col":
            owners = [_null(rec["eoa1"]), _null(rec["eoa2"])]
        elif layout == "okx-12col":
            owners = [_null(rec["EOA1"]), _null(rec["EOA2"])]
        else:
            owners = ["", ""]
        amount_text = rec["amount"]
        if "Snapshot Height" in rec:
            height = _height(name, line, "Snapshot Height", rec["Snapshot Height"])
        else:
            height = summary_heights.get(coin)
        kind = rec.get("Type", "").strip()
    if not coin:
        raise WalletFileError(name, line, "coin", "empty")
    if not address:
        raise WalletFileError(name, line, "address", "empty")
    try:
        asset, chain = chain_of(coin, network)
    except KeyError as exc:
        raise WalletFileError(name, line, "Network" if network else "coin",
                              f"unknown network {exc.args[0]!r} for coin {coin!r}") from None
    message = rec["message"]
    if not message:
        raise WalletFileError(name, line, "message", "empty")
    if sigs[1] and not sigs[0]:
        raise WalletFileError(name, line, "signature1", "empty while signature2 is set")
    sigs_t = tuple(s for s in sigs if s)
    if not sigs_t:
        raise WalletFileError(name, line, "signature1", "no signature")
    owners_t = tuple(o for o in owners if o)
    if owners[1] and not owners[0]:
        raise WalletFileError(name, line, "eoa1", "empty while eoa2 is set")
    is_btc = chain in ("bitcoin", "dogecoin", "litecoin", "bitcoincash")
    scheme = default_scheme(chain, address, bool(keycol) and is_btc)
    redeem = keycol if is_btc and keycol else None
    pubs = (keycol,) if keycol and not is_btc else ()
    declared: dict[str, int] = {}
    nd: dict[str, int] = {}
    dec = native_decimals(asset, chain)
    if dec is not None:
        nd[asset] = dec
    if amount_text is not None:
        fld = "amount"
        if layout == "okx-7col":
            v = amount_text.strip()
            if not re.fullmatch(r"[0-9]+", v):
                raise WalletFileError(name, line, fld,
                                      f"{v!r} is not an integer of base units (7-column layout)")
            declared[asset] = int(v)
        else:
            d = _decimal(name, line, fld, amount_text)
            if dec is None:
                raise WalletFileError(name, line, "coin", f"no known base unit for {asset} on {chain}")
            scaled = d.scaleb(dec)
            if scaled != scaled.to_integral_value():
                raise WalletFileError(name, line, fld,
                                      f"{amount_text.strip()!r} has more than {dec} decimals")
            declared[asset] = int(scaled)
    return WalletEntry(
        source=name, row=line, layout=layout, chain=chain, address=address, assets=(asset,),
        message=message, scheme=scheme, signatures=sigs_t, public_keys=pubs,
        redeem_script=redeem, threshold=None, owners=owners_t, coin=coin, kind=kind,
        height=height, declared=declared, native_decimals=nd,
    )


# --------------------------------------------------------------------------------------
# por's own JSON format
# --------------------------------------------------------------------------------------


class _PorWallet(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    chain: str
    address: str
    assets: list[str]
    scheme: str
    signatures: list[str]
    public_keys: list[str] = []
    redeem_script: str | None = None
    threshold: int | None = None
    owners: list[str] = []
    message: str | None = None
    height: int | None = None

    @field_validator("chain")
    @classmethod
    def _chain(cls, v: str) -> str:
        if v not in CHAINS:
            raise ValueError(f"unknown chain {v!r} (known: {', '.join(CHAINS)})")
        return v

    @field_validator("assets")
    @classmethod
    def _assets(cls, v: list[str]) -> list[str]:
        if not v or any(not a or a != a.strip() for a in v) or len(set(v)) != len(v):
            raise ValueError("must be a non-empty list of distinct asset symbols")
        return v

    @field_validator("signatures")
    @classmethod
    def _sigs(cls, v: list[str]) -> list[str]:
        if not v or any(not s for s in v):
            raise ValueError("must be a non-empty list of non-empty signatures")
        return v


class _PorWalletsDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    format: str
    version: int
    message: str
    wallets: list[_PorWallet]


def _load_por_json(name: str, text: str) -> WalletFile:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WalletFileError(name, f"line {exc.lineno}", None, f"not JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or doc.get("format") != WALLETS_FORMAT:
        raise WalletFileError(name, None, "format", f"expected {WALLETS_FORMAT!r}")
    if doc.get("version") != WALLETS_VERSION:
        raise WalletFileError(name, None, "version",
                              f"unsupported version {doc.get('version')!r}, expected {WALLETS_VERSION}")
    try:
        m = _PorWalletsDoc.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        row = None
        if len(loc) >= 2 and loc[0] == "wallets" and isinstance(loc[1], int):
            row = loc[1] + 1
            loc = loc[2:]
        raise WalletFileError(name, row, ".".join(str(x) for x in loc) or None, err["msg"]) from None
    entries = []
    seen: set[tuple[str, str]] = set()
    for i, w in enumerate(m.wallets, 1):
        if (w.chain, w.address) in seen:
            raise WalletFileError(name, i, "address", f"{w.address} is listed twice on {w.chain}")
        seen.add((w.chain, w.address))
        nd = {a: d for a in w.assets if (d := native_decimals(a, w.chain)) is not None}
        entries.append(WalletEntry(
            source=name, row=i, layout="por-wallets-v1", chain=w.chain, address=w.address,
            assets=tuple(w.assets), message=w.message if w.message is not None else m.message,
            scheme=w.scheme, signatures=tuple(w.signatures), public_keys=tuple(w.public_keys),
            redeem_script=w.redeem_script, threshold=w.threshold, owners=tuple(w.owners),
            height=w.height, native_decimals=nd,
        ))
    if not entries:
        raise WalletFileError(name, None, "wallets", "empty list")
    return WalletFile(name, "por-wallets-v1", entries, m.message)


def wallets_doc(message: str, wallets: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``por-wallets`` v1 document (validated) from a list of wallet dicts."""
    doc = {"format": WALLETS_FORMAT, "version": WALLETS_VERSION, "message": message,
           "wallets": wallets}
    _PorWalletsDoc.model_validate(doc)
    return doc
