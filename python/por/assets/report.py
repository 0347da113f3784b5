"""The assets proof bundle: ``assets.json`` (format ``por-assets``, version 1).

``prove_assets`` loads a wallet file, checks every ownership signature, reads (or takes the
declared) balance of every (address, asset) at the snapshot height and writes the bundle.
``verify_assets`` re-checks a bundle: every signature, the arithmetic of every total, and,
given endpoints, every balance. See docs/wallets.md for the format.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from por.amounts import ASSETS_BY_SYMBOL
from por.assets.ownership import VERIFIED, verify_entry
from por.assets.wallets import EVM, WalletEntry, WalletFile, load_wallets

ASSETS_FORMAT = "por-assets"
ASSETS_VERSION = 1

SRC_EVM = "evm-rpc"
SRC_BTC = "bitcoin-rpc"
SRC_BLOCKS = "bitcoin-blocks"
SRC_DECLARED = "declared (unverified by por)"
SRC_NONE = "none (no balance given; counted as 0)"


class AssetsError(ValueError):
    """The assets proof cannot be made or does not verify."""

    def __init__(self, message: str, details: list[str] | None = None):
        super().__init__(message)
        self.details = details or []


def _balance_module(name: str):
    try:
        return importlib.import_module(f"por.assets.{name}")
    except ImportError as exc:
        raise AssetsError(f"balance reader por.assets.{name} is not available ({exc})") from None


def _norm_addr(chain: str, address: str) -> str:
    return address.lower() if chain in EVM else address


def choose_message(wf: WalletFile, message: str | None) -> str:
    if message is not None:
        return message
    if wf.message is not None:
        return wf.message
    msgs = sorted(wf.messages())
    if len(msgs) != 1:
        raise AssetsError(f"{wf.path}: rows sign {len(msgs)} different messages {msgs!r}; "
                          "name the round's message with --message")
    return msgs[0]


@dataclass
class _Declared:
    amount: int  # in por's registry base unit (the balances file's unit)
    height: int | None


def _declared_from_file(path: str) -> dict[tuple[str, str, str], _Declared]:
    mod = _balance_module("balances")
    out: dict[tuple[str, str, str], _Declared] = {}
    try:
        rows = mod.load_balances_file(path)
    except ValueError as exc:
        raise AssetsError(str(exc)) from None
    for b in rows:
        key = (b.chain, _norm_addr(b.chain, b.address), b.asset)
        if key in out:
            raise AssetsError(f"{path}: balance of {b.asset} at {b.address} on {b.chain} is "
                              "given twice")
        out[key] = _Declared(int(b.amount), getattr(b, "height", None))
    return out


def to_por_units(asset: str, native: int, native_dec: int | None) -> tuple[int | None, int]:
    """(amount in por's base unit rounded DOWN, dropped remainder in native units)."""
    a = ASSETS_BY_SYMBOL.get(asset)
    if a is None or native_dec is None:
        return None, 0
    shift = native_dec - a.decimals
    if shift >= 0:
        q, r = divmod(native, 10**shift)
        return q, r
    return native * 10 ** (-shift), 0


def prove_assets(
    wallets: str | Path,
    out_dir: str | Path,
    message: str | None = None,
    evm_rpc: str | None = None,
    btc_rpc: str | None = None,
    balances: str | Path | None = None,
    heights: dict[str, int] | None = None,
    evm_tokens: dict[str, str] | None = None,
    btc_blocks: str | Path | None = None,
) -> dict[str, Any]:
    """Make the assets bundle.

    ``evm_tokens`` maps an ERC-20 asset symbol to its contract address on the EVM chain that
    ``evm_rpc`` serves (default: the mainnet contracts in :mod:`por.assets.evm`); it is written
    into the bundle so that a verifier reads the same contracts. ``btc_blocks`` is a directory
    of Bitcoin Core ``blk*.dat`` files: BTC balances are then replayed offline from genesis
    (balance source ``bitcoin-blocks``) instead of asked of a node. Raises :class:`AssetsError` (with details) on any failure;
    in that case ``assets.failed.json`` is written for diagnosis and no ``assets.json``."""
    heights = dict(heights or {})
    if btc_rpc and btc_blocks:
        raise AssetsError("give one Bitcoin balance source: --btc-rpc or --btc-blocks, not both")
    wf = load_wallets(wallets)
    msg = choose_message(wf, message)
    declared = _declared_from_file(str(balances)) if balances else {}

    failures: list[str] = []
    results = [verify_entry(e, msg) for e in wf.entries]
    for e, r in zip(wf.entries, results):
        if not r.ok:
            failures.append(f"{e.source}, row {e.row} ({e.chain} {e.address}): {r.status}: {r.detail}")

    # every (chain, address, asset) counted once
    seen: dict[tuple[str, str, str], int] = {}
    for e in wf.entries:
        for a in e.assets:
            k = (e.chain, _norm_addr(e.chain, e.address), a)
            if k in seen:
                failures.append(f"{e.source}, row {e.row}: {a} at {e.address} on {e.chain} is "
                                f"already listed at row {seen[k]} (would be counted twice)")
            seen[k] = e.row

    def height_of(e: WalletEntry) -> int | None:
        return heights.get(e.chain, e.height)

    # balances
    # (idx, asset) -> (amount, source, height, amount is in the chain's native unit?)
    amounts: dict[tuple[int, str], tuple[int, str, int | None, bool]] = {}
    evm_q: dict[int, list[tuple[int, str]]] = {}
    btc_q: dict[int, list[int]] = {}
    for i, e in enumerate(wf.entries):
        for a in e.assets:
            key = (e.chain, _norm_addr(e.chain, e.address), a)
            h = height_of(e)
            if key in declared:
                d = declared[key]
                amounts[(i, a)] = (d.amount, SRC_DECLARED, d.height if d.height is not None else h,
                                   False)
            elif evm_rpc and e.chain == "ethereum":
                if h is None:
                    failures.append(f"row {e.row}: no snapshot height for {e.chain} "
                                    "(give --height ethereum=N)")
                    continue
                evm_q.setdefault(h, []).append((i, a))
            elif (btc_rpc or btc_blocks) and e.chain == "bitcoin":
                if h is None:
                    failures.append(f"row {e.row}: no snapshot height for bitcoin "
                                    "(give --height bitcoin=N)")
                    continue
                if a != "BTC":
                    failures.append(f"row {e.row}: asset {a} on bitcoin")
                    continue
                btc_q.setdefault(h, []).append(i)
            elif a in e.declared:
                amounts[(i, a)] = (e.declared[a], SRC_DECLARED, h, True)
            else:
                amounts[(i, a)] = (0, SRC_NONE, h, False)
    try:
        if evm_q:
            mod = _balance_module("evm")
            for h, qs in evm_q.items():
                got = mod.read_balances(evm_rpc, [(wf.entries[i].address, a) for i, a in qs], h,
                                        tokens=evm_tokens or None)
                for i, a in qs:
                    amounts[(i, a)] = (int(got[(wf.entries[i].address, a)]), SRC_EVM, h, False)
        if btc_q:
            mod = _balance_module("bitcoin")
            for h, idxs in btc_q.items():
                addrs = [wf.entries[i].address for i in idxs]
                if btc_blocks:
                    got, src = mod.balances_from_blk_dir(btc_blocks, addrs, h), SRC_BLOCKS
                else:
                    got, src = mod.read_balances_rpc(btc_rpc, addrs, h), SRC_BTC
                for i in idxs:
                    amounts[(i, "BTC")] = (int(got[wf.entries[i].address]), src, h, False)
    except (AssetsError, ValueError, RuntimeError, OSError) as exc:
        raise AssetsError(f"reading balances failed: {exc}") from exc

    evidence = []
    for i, (e, r) in enumerate(zip(wf.entries, results)):
        for a in e.assets:
            if (i, a) not in amounts:
                continue
            amt, src, h, native = amounts[(i, a)]
            nd = e.native_decimals.get(a)
            if native:
                por_amt, dust = to_por_units(a, amt, nd)
            elif a in ASSETS_BY_SYMBOL:
                por_amt, dust = amt, 0
            else:
                failures.append(f"row {e.row}: asset {a} is not in the por registry and its "
                                "balance is not in a known native unit")
                continue
            evidence.append({
                "entry": i,
                "chain": e.chain,
                "address": e.address,
                "asset": a,
                "height": h,
                "amount_native": str(amt) if native else None,
                "native_decimals": nd if native else None,
                "amount": None if por_amt is None else str(por_amt),
                "dropped_native_remainder": str(dust),
                "balance_source": src,
                "signature": r.status,
            })
    totals = compute_totals(evidence)
    bundle = {
        "format": ASSETS_FORMAT,
        "version": ASSETS_VERSION,
        "message": msg,
        "wallet_file": {"path": str(wallets), "layout": wf.layout,
                        "summary": [s.__dict__ for s in wf.summary]},
        "heights": heights,
        "evm_tokens": dict(evm_tokens or {}),
        "ok": not failures,
        "failures": failures,
        "totals": totals,
        "evidence": evidence,
        "entries": [dict(e.to_json(), ownership=r.to_json()) for e, r in zip(wf.entries, results)],
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if failures:
        (out / "assets.failed.json").write_text(json.dumps(bundle, indent=1) + "\n")
        raise AssetsError(f"{len(failures)} check(s) failed; nothing published "
                          f"(see {out / 'assets.failed.json'})", failures)
    (out / "assets.json").write_text(json.dumps(bundle, indent=1) + "\n")
    return bundle


def compute_totals(evidence: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per-asset totals: por base units for registry assets, else native units."""
    totals: dict[str, dict[str, Any]] = {}
    for ev in evidence:
        a = ev["asset"]
        t = totals.setdefault(a, {"amount": 0, "unit": None, "addresses": 0,
                                  "unverified_amount": 0, "sources": {}})
        if ev["amount"] is not None:
            if a not in ASSETS_BY_SYMBOL:
                raise AssetsError(f"asset {a} is not in the registry but has a por-unit amount")
            v, unit = int(ev["amount"]), ASSETS_BY_SYMBOL[a].unit
        else:
            v, unit = int(ev["amount_native"]), f"native base unit (10^-{ev['native_decimals']})"
        if t["unit"] not in (None, unit):
            raise AssetsError(f"asset {a}: evidence mixes units {t['unit']!r} and {unit!r}")
        t["unit"] = unit
        t["amount"] += v
        t["addresses"] += 1
        if ev["balance_source"] not in (SRC_EVM, SRC_BTC, SRC_BLOCKS):
            t["unverified_amount"] += v
        t["sources"][ev["balance_source"]] = t["sources"].get(ev["balance_source"], 0) + 1
    for a, t in totals.items():
        t["amount"] = str(t["amount"])
        t["unverified_amount"] = str(t["unverified_amount"])
        if a in ASSETS_BY_SYMBOL:
            t["whole_units"] = ASSETS_BY_SYMBOL[a].format(int(t["amount"]))
    return dict(sorted(totals.items()))


def verify_assets(bundle_dir: str | Path, evm_rpc: str | None = None,
                  btc_rpc: str | None = None,
                  btc_blocks: str | Path | None = None) -> dict[str, Any]:
    """Re-check an assets bundle. Raises :class:`AssetsError` listing every failure."""
    p = Path(bundle_dir) / "assets.json"
    try:
        doc = json.loads(p.read_text())
    except OSError as exc:
        raise AssetsError(f"{p}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise AssetsError(f"{p}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or doc.get("format") != ASSETS_FORMAT:
        raise AssetsError(f"{p}: field 'format' is not {ASSETS_FORMAT!r}")
    if doc.get("version") != ASSETS_VERSION:
        raise AssetsError(f"{p}: unsupported version {doc.get('version')!r}")
    failures: list[str] = []
    notes: list[str] = []
    try:
        msg = doc["message"]
        entries = [WalletEntry.from_json(d) for d in doc["entries"]]
        evidence = doc["evidence"]
        stated = doc["totals"]
    except (KeyError, TypeError, ValueError) as exc:
        raise AssetsError(f"{p}: malformed bundle ({type(exc).__name__}: {exc})") from None
    if not isinstance(msg, str):
        raise AssetsError(f"{p}: field 'message' is not a string")

    results = []
    for i, e in enumerate(entries):
        r = verify_entry(e, msg)
        results.append(r)
        if not r.ok:
            failures.append(f"entry {i} (row {e.row}, {e.chain} {e.address}): {r.status}: {r.detail}")

    seen = set()
    checked_rpc = 0
    evm_by_h: dict[int, list[dict]] = {}
    btc_by_h: dict[int, list[dict]] = {}
    blk_by_h: dict[int, list[dict]] = {}
    for k, ev in enumerate(evidence):
        try:
            i = int(ev["entry"])
            e = entries[i]
            if ev["chain"] != e.chain or ev["address"] != e.address or ev["asset"] not in e.assets:
                failures.append(f"evidence {k}: does not match entry {i}")
                continue
            key = (e.chain, _norm_addr(e.chain, e.address), ev["asset"])
            if key in seen:
                failures.append(f"evidence {k}: {ev['asset']} at {e.address} counted twice")
            seen.add(key)
            if ev["amount_native"] is not None:
                amt = int(ev["amount_native"])
                nd = e.native_decimals.get(ev["asset"])
                por_amt, _dust = to_por_units(ev["asset"], amt, nd)
                if amt < 0 or (None if por_amt is None else str(por_amt)) != ev["amount"] \
                        or ev["native_decimals"] != nd:
                    failures.append(f"evidence {k}: amount {ev['amount']} is not the native "
                                    f"amount {amt} converted to por units ({por_amt})")
            elif ev["asset"] not in ASSETS_BY_SYMBOL or int(ev["amount"]) < 0:
                failures.append(f"evidence {k}: amount {ev['amount']!r} of {ev['asset']} is not "
                                "a non-negative registry amount")
            src = ev["balance_source"]
            if src == SRC_EVM:
                if evm_rpc:
                    evm_by_h.setdefault(int(ev["height"]), []).append(ev)
                else:
                    notes.append(f"evidence {k}: evm-rpc balance not re-read (no --evm-rpc)")
            elif src == SRC_BTC:
                if btc_rpc:
                    btc_by_h.setdefault(int(ev["height"]), []).append(ev)
                else:
                    notes.append(f"evidence {k}: bitcoin-rpc balance not re-read (no --btc-rpc)")
            elif src == SRC_BLOCKS:
                if btc_blocks:
                    blk_by_h.setdefault(int(ev["height"]), []).append(ev)
                else:
                    notes.append(f"evidence {k}: bitcoin-blocks balance not re-derived "
                                 "(no --btc-blocks)")
            elif src not in (SRC_DECLARED, SRC_NONE):
                failures.append(f"evidence {k}: unknown balance source {src!r}")
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            failures.append(f"evidence {k}: malformed ({type(exc).__name__}: {exc})")
    try:
        if evm_by_h:
            mod = _balance_module("evm")
            for h, evs in evm_by_h.items():
                got = mod.read_balances(evm_rpc, [(ev["address"], ev["asset"]) for ev in evs], h,
                                        tokens=doc.get("evm_tokens") or None)
                for ev in evs:
                    checked_rpc += 1
                    now = int(got[(ev["address"], ev["asset"])])
                    if now != int(ev["amount"]):
                        failures.append(f"{ev['asset']} at {ev['address']} block {h}: chain says "
                                        f"{now}, bundle says {ev['amount']}")
        for h, evs in blk_by_h.items():
            got = _balance_module("bitcoin").balances_from_blk_dir(
                btc_blocks, [ev["address"] for ev in evs], h)
            for ev in evs:
                checked_rpc += 1
                now = int(got[ev["address"]])
                if now != int(ev["amount"]):
                    failures.append(f"BTC at {ev['address']} height {h}: the blocks say {now}, "
                                    f"bundle says {ev['amount']}")
        if btc_by_h:
            mod = _balance_module("bitcoin")
            for h, evs in btc_by_h.items():
                got = mod.read_balances_rpc(btc_rpc, [ev["address"] for ev in evs], h)
                for ev in evs:
                    checked_rpc += 1
                    now = int(got[ev["address"]])
                    if now != int(ev["amount"]):
                        failures.append(f"BTC at {ev['address']} height {h}: chain says {now}, "
                                        f"bundle says {ev['amount']}")
    except (AssetsError, ValueError, RuntimeError, OSError) as exc:
        failures.append(f"re-reading balances failed: {exc}")
    try:
        totals = compute_totals(evidence)
    except (AssetsError, KeyError, TypeError, ValueError) as exc:
        failures.append(f"totals cannot be recomputed: {exc}")
        totals = {}
    for a in sorted(set(totals) | set(stated)):
        t, s = totals.get(a), stated.get(a)
        if t is None or s is None or t["amount"] != s.get("amount"):
            failures.append(f"total of {a}: bundle states {s and s.get('amount')}, "
                            f"evidence sums to {t and t['amount']}")
    report = {
        "ok": not failures,
        "message": msg,
        "signatures_checked": len(entries),
        "signatures_verified": sum(r.status == VERIFIED for r in results),
        "balances_rechecked": checked_rpc,
        "totals": totals,
        "address_links_not_checked": [
            f"{e.chain} {e.address}: {r.address_link}" for e, r in zip(entries, results)
            if r.ok and r.address_link.startswith("not checked")
        ],
        "notes": notes,
        "failures": failures,
    }
    if failures:
        raise AssetsError(f"{len(failures)} check(s) failed", failures)
    return report
