"""The ``por`` command: the product's face.

Every command prints plain words for a person and, with ``--json``, one JSON document for
scripts. Long work shows a progress bar on stderr. Errors exit non-zero with a message that
names the file, row and field at fault.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

import rich_click as click
from rich.console import Console

from por import __version__

click.rich_click.USE_MARKDOWN = True
click.rich_click.SHOW_ARGUMENTS = True
click.rich_click.GROUP_ARGUMENTS_OPTIONS = False

console = Console()
err_console = Console(stderr=True)

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout, for scripts."
)


def emit(as_json: bool, data: Any, render: Callable[[], None]) -> None:
    """Print ``data`` as JSON, or call ``render`` to show it to a person."""
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
    else:
        render()


def fail(as_json: bool, message: str, details: Any = None, code: int = 1) -> None:
    """Report a failure loudly (red on stderr, or a JSON error document) and exit."""
    if as_json:
        doc = {"ok": False, "error": message}
        if details is not None:
            doc["details"] = details
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        err_console.print(f"[bold red]error:[/] {message}")
        if isinstance(details, list):
            for d in details[:50]:
                err_console.print(f"  [red]-[/] {d}")
            if len(details) > 50:
                err_console.print(f"  ... and {len(details) - 50} more")
    raise SystemExit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="por")
def main() -> None:
    """**por** - Proof of Reserves you can check yourself.

    A custodian runs por each month to prove, per asset, that its reserves cover what it
    owes its customers, without revealing any customer's data. Customers check that their
    own balances were counted; anyone can re-check the whole proof.

    **A monthly round, step by step**

    1. `por generate` - make a synthetic exchange to try everything on (or bring your own
       snapshot directory).
    2. `por snapshot check DIR` - validate the round's inputs: balances, prices, haircuts.

    Every command takes `--json` for scripts and `--help` for its manual.
    Run `make demo` in the source tree for a whole round end to end.
    """


# --------------------------------------------------------------------------------------
# command groups; each domain module registers its commands below
# --------------------------------------------------------------------------------------


@main.group()
def snapshot() -> None:
    """Inspect and validate a round's inputs (balances, prices, haircuts, metadata)."""


@main.group()
def prove() -> None:
    """Produce proofs: of liabilities (zero-knowledge) and of assets (wallets)."""


@main.group()
def verify() -> None:
    """Check proofs: the whole liabilities proof, one customer's inclusion, assets."""


# --------------------------------------------------------------------------------------
# snapshot commands (por.snapshot)
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# generate (por.synthetic)
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# liabilities commands (por.liabilities)
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# assets commands (por.assets)
# --------------------------------------------------------------------------------------


from pathlib import Path  # noqa: E402  (assets section)


def _assets_heights(values: tuple[str, ...], as_json: bool) -> dict[str, int]:
    heights: dict[str, int] = {}
    for v in values:
        chain, sep, n = v.partition("=")
        if not sep or not chain or not n.isdigit():
            fail(as_json, f"--height {v!r}: expected CHAIN=N, e.g. ethereum=120")
        heights[chain] = int(n)
    return heights


def _assets_totals_table(title: str, totals: dict) -> None:
    from rich.table import Table

    t = Table(title=title)
    for c in ("asset", "total", "unit", "addresses", "of which unverified", "balance sources"):
        t.add_column(c)
    for a, v in totals.items():
        t.add_row(a, v.get("whole_units", v["amount"]), v["unit"], str(v["addresses"]),
                  v["unverified_amount"], ", ".join(f"{k}: {n}" for k, n in v["sources"].items()))
    console.print(t)


@prove.command("assets")
@click.option("--wallets", "wallets_path", required=True, type=click.Path(dir_okay=False),
              help="Wallet file: por-wallets JSON or an OKX published CSV.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Bundle directory; assets.json is written there.")
@click.option("--message", default=None, help="The round's message every wallet must sign.")
@click.option("--evm-rpc", default=None, help="EVM JSON-RPC URL to read balances from.")
@click.option("--btc-rpc", default=None, help="Bitcoin Core JSON-RPC URL to read balances from.")
@click.option("--balances", "balances_path", default=None, type=click.Path(dir_okay=False),
              help="Declared balances file for chains por cannot read.")
@click.option("--height", "heights", multiple=True, metavar="CHAIN=N",
              help="Snapshot height of a chain (repeatable).")
@json_option
def prove_assets_cmd(wallets_path, out_dir, message, evm_rpc, btc_rpc, balances_path, heights,
                     as_json) -> None:
    """Prove ownership of the exchange's wallets and total their balances per asset.

    Every signature must verify against the round's message (fails closed: an unknown
    scheme, a bad key, a wrong message all fail). Writes `assets.json` only if all pass.
    """
    from por.assets.report import AssetsError, prove_assets
    from por.assets.wallets import WalletFileError

    h = _assets_heights(heights, as_json)
    try:
        b = prove_assets(wallets_path, out_dir, message, evm_rpc, btc_rpc, balances_path, h)
    except (AssetsError, WalletFileError) as exc:
        fail(as_json, str(exc), getattr(exc, "details", None))
    doc = {"ok": True, "bundle": str(Path(out_dir) / "assets.json"), "message": b["message"],
           "addresses": len(b["entries"]), "totals": b["totals"]}

    def render() -> None:
        console.print(f"[green]all {len(b['entries'])} wallet signatures verify[/] "
                      f"(message {b['message']!r}); wrote {doc['bundle']}")
        _assets_totals_table("reserves per asset", b["totals"])

    emit(as_json, doc, render)


@verify.command("assets")
@click.argument("bundle_dir", type=click.Path(file_okay=False))
@click.option("--evm-rpc", default=None, help="EVM JSON-RPC URL to re-read balances.")
@click.option("--btc-rpc", default=None, help="Bitcoin Core JSON-RPC URL to re-read balances.")
@json_option
def verify_assets_cmd(bundle_dir, evm_rpc, btc_rpc, as_json) -> None:
    """Re-check an assets bundle: every signature, every total and, given endpoints, every
    balance at the snapshot height. Any failure exits 1."""
    from por.assets.report import AssetsError, verify_assets

    try:
        r = verify_assets(bundle_dir, evm_rpc, btc_rpc)
    except AssetsError as exc:
        fail(as_json, str(exc), exc.details)

    def render() -> None:
        console.print(f"[green]OK[/]: {r['signatures_verified']}/{r['signatures_checked']} "
                      f"signatures verify, {r['balances_rechecked']} balances re-read on chain")
        _assets_totals_table("reserves per asset", r["totals"])
        for n in r["address_links_not_checked"]:
            console.print(f"[yellow]address link not checked[/]: {n}")
        for n in r["notes"]:
            console.print(f"[yellow]note[/]: {n}")

    emit(as_json, r, render)


@main.group()
def wallets() -> None:
    """Wallet files: check ownership signatures, sign our own wallets."""


@wallets.command("check")
@click.argument("wallets_path", type=click.Path(dir_okay=False))
@click.option("--message", default=None, help="The round's message (default: the file's).")
@json_option
def wallets_check_cmd(wallets_path, message, as_json) -> None:
    """Load a wallet file (por-wallets JSON or OKX CSV) and check every signature."""
    from por.assets.ownership import verify_entry
    from por.assets.report import AssetsError, choose_message
    from por.assets.wallets import WalletFileError, load_wallets

    try:
        wf = load_wallets(wallets_path)
        msg = choose_message(wf, message)
    except (WalletFileError, AssetsError) as exc:
        fail(as_json, str(exc))
    rows = []
    for e in wf.entries:
        r = verify_entry(e, msg)
        rows.append({"row": e.row, "chain": e.chain, "address": e.address,
                     "assets": list(e.assets), **r.to_json()})
    bad = [f"row {x['row']} {x['chain']} {x['address']}: {x['status']}: {x['detail']}"
           for x in rows if x["status"] != "verified"]
    if bad:
        fail(as_json, f"{len(bad)} of {len(rows)} wallet signatures do not verify", bad)

    def render() -> None:
        console.print(f"[green]all {len(rows)} signatures verify[/] ({wf.layout}, message "
                      f"{msg!r})")
        for x in rows:
            if x["address_link"].startswith("not checked"):
                console.print(f"[yellow]row {x['row']} {x['chain']}[/]: {x['address_link']}")

    emit(as_json, {"ok": True, "layout": wf.layout, "message": msg, "rows": rows}, render)


@wallets.command("sign")
@click.option("--keys", "keys_path", required=True, type=click.Path(dir_okay=False),
              help="por-exchange-keys JSON (exchange/wallet_keys.json).")
@click.option("--reserves", "reserves_path", default=None, type=click.Path(dir_okay=False),
              help="reserves.csv (chain,address,asset,amount): which assets each address holds.")
@click.option("--message", required=True, help="The round's message to sign.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False))
@json_option
def wallets_sign_cmd(keys_path, reserves_path, message, out_path, as_json) -> None:
    """Sign the round's message with the exchange's own wallet keys (por-wallets JSON)."""
    import csv as _csv

    from por.assets.ownership import sign_wallets

    try:
        keys_doc = json.loads(Path(keys_path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        fail(as_json, f"{keys_path}: cannot read keys ({exc})")
    assets: dict[tuple[str, str], list[str]] = {}
    if reserves_path:
        with open(reserves_path, newline="") as f:
            for n, rec in enumerate(_csv.DictReader(f), 2):
                try:
                    lst = assets.setdefault((rec["chain"], rec["address"]), [])
                    if rec["asset"] not in lst:
                        lst.append(rec["asset"])
                except KeyError as exc:
                    fail(as_json, f"{reserves_path}, row {n}: missing field {exc.args[0]!r}")
    try:
        doc = sign_wallets(keys_doc, message, assets or None)
    except (ValueError, KeyError) as exc:
        fail(as_json, f"{keys_path}: {exc}")
    Path(out_path).write_text(json.dumps(doc, indent=1) + "\n")
    emit(as_json, {"ok": True, "out": out_path, "wallets": len(doc["wallets"])},
         lambda: console.print(f"[green]signed {len(doc['wallets'])} wallets[/] -> {out_path}"))
