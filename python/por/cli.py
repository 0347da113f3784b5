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
    2. `por snapshot check DIR` - validate the round's inputs: balances, prices, haircuts,
       every customer's solvency.
    3. `por prove liabilities` - the zero-knowledge proof of liabilities (Plonky3), with one
       inclusion proof per customer.
    4. `por wallets sign` / `por prove assets` - sign with every exchange wallet and total
       the reserves read on chain at the snapshot height.

    **Checking a round** (anyone)

    - `por verify liabilities BUNDLE` - the proof, and the per-asset totals it proves.
    - `por verify user --proof FILE --bundle BUNDLE` - a customer's own balances are in it.
    - `por verify assets BUNDLE` - every wallet signature and, given RPC URLs, every balance.

    **Serving a round** (operator)

    - `por token keygen` / `por token issue` - the keys and tokens customers use.
    - `por serve BUNDLE --db URL` - each customer's own proof, the public bundle and the web
      verifier, over HTTP.

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


def _progress_bar(description: str):
    """A rich progress bar on stderr (only drawn on a terminal)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(f"[bold]{description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )


@snapshot.command("check")
@click.argument("directory", type=click.Path(file_okay=False, path_type=str))
@json_option
def snapshot_check(directory: str, as_json: bool) -> None:
    """Validate a round's snapshot directory and print what it adds up to.

    DIRECTORY holds `round.json`, `prices.csv` and `balances.csv` (or `balances.parquet`),
    in the format of docs/snapshot.md. Every cell is checked exactly: account ids are
    unique and 1-256 bytes of UTF-8; every amount is a whole number of base units in
    [0, 2^64); every asset is known and has a price and a haircut; and every customer is
    solvent under the published prices and haircuts:

        10000 * sum(debt_a * price_a) <= sum(equity_a * price_a * haircut_bps_a)

    On success prints the number of customers and, per asset, total equity, debt and net
    liabilities, in whole units (exact decimals) and in base units.

    On failure prints every problem found (up to 100), each naming the file, the data row
    (row 1 is the first line after the header) and the column, and exits with code 1.
    With `--json`: `{"ok": true, ...summary}` or `{"ok": false, "errors": [...]}`.
    """
    from por.snapshot import SnapshotError, validate

    bar = _progress_bar("checking balances")
    task = bar.add_task("rows", total=None)

    def progress(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)

    try:
        with bar:
            summary = validate(directory, progress=progress if err_console.is_terminal else None)
    except SnapshotError as exc:
        if as_json:
            doc = {"ok": False, "errors": [i.to_dict() for i in exc.issues]}
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
            raise SystemExit(1)
        from por.snapshot import MAX_ERRORS

        more = f"; stopped after the first {MAX_ERRORS}" if len(exc.issues) >= MAX_ERRORS else ""
        fail(False, f"snapshot {directory} is invalid ({len(exc.issues)} problem(s){more})",
             [str(i) for i in exc.issues])
        return

    doc = {"ok": True, **summary.to_dict()}

    def render() -> None:
        from rich.table import Table

        console.print(
            f"[bold green]ok[/]: snapshot [bold]{summary.round_id}[/] is valid: "
            f"{summary.customers:,} customers, {len(summary.assets)} assets "
            f"({summary.balances_file})"
        )
        t = Table(title="Customer totals per asset (whole units; base units below)")
        for c in ("asset", "equity", "debt", "net liabilities"):
            t.add_column(c, justify="right" if c != "asset" else "left")
        for a in doc["assets"]:
            t.add_row(
                a["asset"],
                f"{a['equity_units']}\n[dim]{a['equity']}[/]",
                f"{a['debt_units']}\n[dim]{a['debt']}[/]",
                f"{a['net_units']}\n[dim]{a['net']}[/]",
            )
        console.print(t)

    emit(as_json, doc, render)


# --------------------------------------------------------------------------------------
# generate (por.synthetic)
# --------------------------------------------------------------------------------------


@main.command("generate")
@click.option("--users", type=click.IntRange(min=1), required=True, help="Number of customers.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed: the same seed writes the same bytes.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=str), required=True,
              help="Directory to write the round into (created if missing).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True, help="File format of the customer balances.")
@click.option("--btc-network", type=click.Choice(["regtest", "mainnet"]), default="regtest",
              show_default=True, help="Network of the Bitcoin wallet addresses.")
@click.option("--debt-share", type=click.IntRange(0, 10000), default=500, show_default=True,
              help="Share of customers with margin debt, in basis points (500 = 5 %).")
@click.option("--target", "targets", multiple=True, metavar="SYM=PCT",
              help="Reserve ratio target of an asset, e.g. `--target BTC=104.5` (repeatable). "
                   "Defaults: BTC 104, ETH 102, USDT 106, USDC 100, others 100-115 from the seed.")
@click.option("--round-id", default=None, help="Round id (default: synthetic-SEED).")
@click.option("--snapshot-time", default="2026-10-31T23:59:59Z", show_default=True,
              help="Snapshot time, RFC 3339 UTC.")
@json_option
def generate_cmd(users: int, seed: int, out: str, fmt: str, btc_network: str, debt_share: int,
                 targets: tuple[str, ...], round_id: str | None, snapshot_time: str,
                 as_json: bool) -> None:
    """Write a synthetic exchange's round: a snapshot to prove, and the exchange's wallets.

    Writes into OUT:

    - `round.json`, `prices.csv`, `balances.csv` (or `.parquet`): the snapshot
      (docs/snapshot.md): 22 assets, heavy-tailed balances (most customers hold a few
      assets, a few whales), realistic prices and haircuts, and a share of margin customers
      whose debt stays covered under the haircuts (every customer is solvent).
    - `exchange/wallet_keys.json`: the exchange's wallets with their **private keys**
      (Bitcoin P2WPKH and 2-of-3 P2WSH, Ethereum and TRON accounts). This file is the
      operator's secret: it is never published.
    - `exchange/reserves.csv`: `chain,address,asset,amount` - what each wallet holds, set so
      that each asset's reserves / (equity - debt) is at its target, rounded up.

    Same seed, same bytes. A million customers take a few seconds.
    """
    from por.synthetic import generate, parse_target

    overrides: dict[str, int] = {}
    for t in targets:
        try:
            sym, bps = parse_target(t)
        except (ValueError, KeyError) as exc:
            fail(as_json, f"--target {t}: {exc}")
            return
        overrides[sym] = bps
    bar = _progress_bar("generating customers")
    task = bar.add_task("rows", total=users)

    def progress(stage: str, done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    try:
        with bar:
            result = generate(out, users, seed, fmt=fmt, btc_network=btc_network,
                              debt_share_bps=debt_share, targets_bps=overrides,
                              round_id=round_id, snapshot_time=snapshot_time, progress=progress)
    except (ValueError, OSError) as exc:
        fail(as_json, str(exc))
        return
    doc = result.to_dict()

    def render() -> None:
        from rich.table import Table

        console.print(
            f"[bold green]ok[/]: wrote round [bold]{result.round_id}[/] to {out}: "
            f"{users:,} customers ({result.debtors:,} with margin debt), 22 assets"
        )
        for f in result.files:
            note = "  [red](PRIVATE: never publish)[/]" if f.endswith("wallet_keys.json") else ""
            console.print(f"  {out}/{f}{note}")
        t = Table(title="Reserves placed per asset")
        for c in ("asset", "reserves", "target", "reserves / (equity - debt)"):
            t.add_column(c, justify="right" if c != "asset" else "left")
        for a in doc["assets"]:
            tb = a["target_bps"]
            t.add_row(a["asset"], a["reserves_units"], f"{tb // 100}.{tb % 100:02d} %",
                      a["ratio"] or "n/a")
        console.print(t)

    emit(as_json, doc, render)


# --------------------------------------------------------------------------------------
# liabilities commands (por.liabilities)
# --------------------------------------------------------------------------------------


def _totals_table(title: str, rows: list[dict]) -> None:
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for c in ("asset", "equity", "debt", "net", "unit"):
        t.add_column(c, justify="left" if c in ("asset", "unit") else "right")
    for r in rows:
        t.add_row(r["asset"], r["equity_units"], r["debt_units"], r["net_units"], "whole units")
    console.print(t)


@prove.command("liabilities")
@click.option("--snapshot", "snapshot_dir", required=True, type=click.Path(file_okay=False),
              help="The round's snapshot directory (see `por snapshot check`).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Bundle directory to write (created if missing).")
@click.option("--no-inclusion", is_flag=True, help="Do not write per-customer inclusion proofs.")
@json_option
def prove_liabilities_cmd(snapshot_dir: str, out_dir: str, no_inclusion: bool, as_json: bool) -> None:
    """Prove the round's liabilities in zero knowledge.

    Validates the snapshot, commits every customer behind a secret nonce, and proves on
    Plonky3 that every balance is in [0, 2^64), that the per-asset totals of equity and debt
    are exact, that every customer is solvent under the published prices and haircuts, that
    every leaf binds every per-asset balance under the Merkle root, and that the account
    commitments are distinct.

    Writes to OUT:

    - `public.json`, `proof.bin` - publish these;
    - `inclusion/<account>.json` - one per customer: give each customer only their own;
    - `round-secret.key` - the operator's nonce secret: never publish it.
    """
    from por.liabilities import LiabilitiesError, prove, totals_table
    from por.snapshot import SnapshotError

    bar = _progress_bar("proving liabilities")
    tasks: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    try:
        with bar:
            r = prove(snapshot_dir, out_dir, write_inclusion=not no_inclusion, progress=progress)
    except SnapshotError as exc:
        fail(as_json, f"the snapshot {snapshot_dir} is not valid; nothing was proven",
             [str(i) for i in exc.issues])
        return
    except (LiabilitiesError, ValueError, OSError) as exc:
        fail(as_json, str(exc))
        return
    rows = totals_table(r.public)
    doc = {"ok": True, "bundle": str(r.bundle), "round_id": r.public["round_id"],
           "customers": r.customers, "tree_height": r.public["tree_height"],
           "proof_bytes": r.proof_bytes, "root": r.public["root"], "totals": rows,
           "inclusion_dir": None if no_inclusion else str(r.inclusion_dir)}

    def render() -> None:
        console.print(f"[green]proved[/] the liabilities of {r.customers} customers "
                      f"(tree height {r.public['tree_height']}, proof {r.proof_bytes:,} bytes)")
        console.print(f"root {r.public['root']}")
        _totals_table(f"proven totals, round {r.public['round_id']}", rows)
        console.print(f"bundle: {r.bundle}")

    emit(as_json, doc, render)


@verify.command("liabilities")
@click.argument("bundle", type=click.Path(file_okay=False))
@json_option
def verify_liabilities_cmd(bundle: str, as_json: bool) -> None:
    """Verify a liabilities proof and print the per-asset totals it proves.

    The verifier builds the statement (assets, prices, haircuts, totals, root, tree height)
    and every proof-system parameter in its own code; the proof file cannot change them.
    Exits 1, in red, if anything does not verify.
    """
    from por.liabilities import LiabilitiesError, totals_table, verify

    try:
        doc = verify(bundle)
    except LiabilitiesError as exc:
        fail(as_json, f"{bundle}: {exc}")
        return
    rows = totals_table(doc)
    out = {"ok": True, "round_id": doc["round_id"], "root": doc["root"],
           "tree_height": doc["tree_height"], "max_customers": doc["max_customers"],
           "prices": dict(zip(doc["assets"], doc["prices"])),
           "haircuts_bps": dict(zip(doc["assets"], doc["haircuts_bps"])), "totals": rows}

    def render() -> None:
        console.print(f"[bold green]VERIFIED[/] liabilities proof of round {doc['round_id']}: "
                      f"at most {doc['max_customers']:,} customers, root {doc['root']}")
        _totals_table("proven per-asset totals", rows)

    emit(as_json, out, render)


@verify.command("user")
@click.option("--proof", "proof_file", required=True, type=click.Path(dir_okay=False),
              help="Your inclusion proof file (from the exchange).")
@click.option("--bundle", required=True, type=click.Path(file_okay=False),
              help="The published liabilities bundle of the round.")
@json_option
def verify_user_cmd(proof_file: str, bundle: str, as_json: bool) -> None:
    """Check that YOUR balances are inside the proven totals.

    Verifies the round's liabilities proof first, then recomputes your account commitment
    from your account id and nonce, your leaf from your own balances, and walks your Merkle
    path to the root the proof proved. Says exactly what failed if anything does.
    """
    from por.amounts import get_asset
    from por.inclusion import InclusionError
    from por.liabilities import LiabilitiesError, totals_table, verify_user

    try:
        r = verify_user(proof_file, bundle)
    except LiabilitiesError as exc:
        fail(as_json, f"{bundle}: {exc}")
        return
    except InclusionError as exc:
        fail(as_json, f"{proof_file}: NOT included ({exc.reason}): {exc.message}",
             {"reason": exc.reason} if as_json else None)
        return
    inc = r["inclusion"]
    doc = inc.to_json_dict()
    doc["totals"] = totals_table(r["public"])

    def render() -> None:
        from rich.table import Table

        console.print(f"[bold green]INCLUDED[/]: account {inc.account_id} is leaf "
                      f"{inc.leaf_index} of the proven tree of round {inc.round_id}")
        t = Table(title="your balances, as proven", title_justify="left")
        for c in ("asset", "equity", "debt"):
            t.add_column(c, justify="left" if c == "asset" else "right")
        for s, (e, d) in inc.balances.items():
            if e or d:
                a = get_asset(s)
                t.add_row(s, a.format(e), a.format(d))
        console.print(t)
        _totals_table("proven per-asset totals", doc["totals"])

    emit(as_json, doc, render)


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
@click.option("--evm-token", "evm_tokens", multiple=True, metavar="SYMBOL=0xADDRESS",
              help="ERC-20 contract of an asset on the --evm-rpc chain (repeatable; default: "
                   "the mainnet contracts). Recorded in the bundle for verifiers.")
@json_option
def prove_assets_cmd(wallets_path, out_dir, message, evm_rpc, btc_rpc, balances_path, heights,
                     evm_tokens, as_json) -> None:
    """Prove ownership of the exchange's wallets and total their balances per asset.

    Every signature must verify against the round's message (fails closed: an unknown
    scheme, a bad key, a wrong message all fail). Writes `assets.json` only if all pass.
    """
    from por.assets.report import AssetsError, prove_assets
    from por.assets.wallets import WalletFileError

    h = _assets_heights(heights, as_json)
    try:
        tokens = {}
        for item in evm_tokens:
            sym, sep, addr = item.partition("=")
            if not sep or not sym or not addr:
                fail(as_json, f"--evm-token {item!r}: expected SYMBOL=0xADDRESS")
            tokens[sym.strip().upper()] = addr.strip()
        b = prove_assets(wallets_path, out_dir, message, evm_rpc, btc_rpc, balances_path, h,
                         evm_tokens=tokens)
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


# --------------------------------------------------------------------------------------
# proof service: tokens and `por serve` (por.tokens, por.service)
# --------------------------------------------------------------------------------------


@main.group()
def token() -> None:
    """Customer access tokens for the proof service (ed25519-signed, docs/serve.md)."""


@token.command("keygen")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write the SIGNING key (mode 0600); the public key goes to OUT.pub.")
@click.option("--force", is_flag=True, help="Overwrite existing key files.")
@json_option
def token_keygen_cmd(out_path: str, force: bool, as_json: bool) -> None:
    """Make a new token key pair.

    Keep the signing key with whatever issues tokens (the exchange's login backend); give
    only the public key (`OUT.pub`) to `por serve --token-key`.
    """
    from por.tokens import KeyFileError, TokenKey, public_key_path, write_key

    key = TokenKey.generate()
    pub = public_key_path(out_path)
    try:
        if not force:
            for p in (Path(out_path), pub):
                if p.exists():
                    raise KeyFileError(f"{p}: exists; refusing to overwrite a key (--force)")
        write_key(key, out_path, overwrite=force)
        write_key(key.public_only(), pub, overwrite=force)
    except (KeyFileError, OSError) as exc:
        fail(as_json, str(exc))
    emit(as_json, {"ok": True, "key_id": key.kid, "signing_key": out_path, "public_key": str(pub)},
         lambda: console.print(f"[green]key {key.kid}[/]: signing key -> {out_path} (keep it "
                               f"secret), public key -> {pub}"))


@token.command("issue")
@click.option("--account", required=True, help="The customer's account id.")
@click.option("--round", "round_id", required=True, help="The round id, e.g. 2026-11.")
@click.option("--ttl", default="30d", show_default=True,
              help="How long the token is valid: 90s, 15m, 12h, 30d (400d at most).")
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False),
              help="The signing key file from `por token keygen`.")
@json_option
def token_issue_cmd(account: str, round_id: str, ttl: str, key_path: str, as_json: bool) -> None:
    """Issue a token that lets one customer fetch their own proof of one round."""
    import time as _time

    from por.tokens import KeyFileError, TokenError, issue_token, load_key, parse_ttl

    try:
        seconds = parse_ttl(ttl)
        key = load_key(key_path)
        now = int(_time.time())
        tok = issue_token(key, account, round_id, seconds, now=now)
    except (ValueError, KeyFileError) as exc:
        fail(as_json, str(exc))
    except TokenError as exc:
        fail(as_json, exc.message)
    doc = {"ok": True, "token": tok, "account_id": account, "round_id": round_id,
           "key_id": key.kid, "issued_at": now, "expires_at": now + seconds}
    emit(as_json, doc, lambda: sys.stdout.write(tok + "\n"))


@main.command("serve")
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.option("--db", "db_url", required=True,
              help="The proof store: a SQLite file path or sqlite:///path, or postgresql://...")
@click.option("--token-key", "key_files", multiple=True, required=True,
              type=click.Path(dir_okay=False, exists=True),
              help="A token PUBLIC key file (repeat for key rotation).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="uvicorn worker processes (one per core is a good start).")
@click.option("--web-dir", type=click.Path(file_okay=False), default=None,
              help="The web verifier's files for /verify/ (default: the packaged page).")
@click.option("--access-log", is_flag=True, help="Log every request.")
@json_option
def serve_cmd(bundle, db_url, key_files, host, port, workers, web_dir, access_log, as_json):
    """Serve a round: customers' own proofs, the public bundle and the web verifier.

    `GET /api/v1/proof` with `Authorization: Bearer TOKEN` returns the token holder's
    inclusion proof from the store; `/bundle/...` the public bundle files; `/verify/` the
    web verifier; `/openapi.json` and `/docs` the API. See docs/serve.md.
    """
    from por.service import WEB_DIR, ServiceConfig, ServiceError, load_bundle_public, run
    from por.store import StoreError
    from por.tokens import KeyFileError

    cfg = ServiceConfig(bundle=Path(bundle).resolve(), db_url=db_url, key_files=list(key_files),
                        web_dir=Path(web_dir).resolve() if web_dir else WEB_DIR)
    try:
        pub = load_bundle_public(cfg.bundle)
        if as_json:
            sys.stdout.write(json.dumps({"ok": True, "url": f"http://{host}:{port}/",
                                         "round_id": pub["round_id"], "workers": workers}) + "\n")
            sys.stdout.flush()
        else:
            err_console.print(f"[green]serving round {pub['round_id']}[/] on "
                              f"http://{host}:{port}/ ({workers} worker(s))")
        run(cfg, host=host, port=port, workers=workers,
            log_level="info" if access_log else "warning", access_log=access_log)
    except (ServiceError, StoreError, KeyFileError) as exc:
        fail(as_json, str(exc))
