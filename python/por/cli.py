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
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Throughput: items per second."""

        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:,.1f}/s", style="cyan")

    return Progress(
        TextColumn(f"[bold]{description}"),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
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


def _shard_size(value: str) -> int:
    """'4096' or '2^12' -> 12 (the shard height)."""
    v = value.strip()
    try:
        n = 1 << int(v[2:]) if v.startswith("2^") else int(v)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number or 2^k") from None
    if n < 2 or n & (n - 1):
        raise click.BadParameter(f"{value!r}: the shard size is a power of two >= 2")
    return n.bit_length() - 1


@prove.command("liabilities")
@click.option("--snapshot", "snapshot_dir", required=True, type=click.Path(file_okay=False),
              help="The round's snapshot directory (see `por snapshot check`).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Public directory to write, e.g. BUNDLE/liabilities (created if missing).")
@click.option("--private", "private_dir", type=click.Path(file_okay=False), default=None,
              help="Private directory (round secret, finished shards, default proof store). "
                   "Default: BUNDLE.private for OUT = BUNDLE/liabilities, else OUT.private; mode 0700.")
@click.option("--shard-size", default="2^12", show_default=True,
              help="Customers per shard proof, a power of two (4096 or 2^12). "
                   "2^12 needs about 2.2 GB and 7 s per shard, 2^14 about 9 GB and 29 s.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="Where shards are proven: a local process pool, or Ray.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Local executor: shard proofs at once (each uses every core already).")
@click.option("--ray-address", default=None,
              help="Ray executor: the cluster address (e.g. 10.0.0.5:6379); none = a local Ray.")
@click.option("--db", default=None,
              help="Proof store URL for the per-customer inclusion proofs: sqlite:///path.db or "
                   "postgresql://user@host:port/db. Default: PRIVATE/proofs.db (SQLite).")
@click.option("--no-inclusion", is_flag=True, help="Do not make per-customer inclusion proofs.")
@json_option
def prove_liabilities_cmd(snapshot_dir: str, out_dir: str, private_dir: str | None,
                          shard_size: str, executor: str, workers: int, ray_address: str | None,
                          db: str | None, no_inclusion: bool, as_json: bool) -> None:
    """Prove the round's liabilities in zero knowledge, shard by shard.

    Validates the snapshot, commits every customer behind a secret nonce, cuts the customers
    (sorted by commitment) into shards and proves each on Plonky3: every balance is in
    [0, 2^64), the per-asset totals of equity and debt are exact, every customer is solvent
    under the published prices and haircuts, every leaf binds every per-asset balance under
    the shard root, and every commitment lies in the shard's key range (so all are distinct).
    The shards are bound into one global statement: one root, exact per-asset totals.

    Writes to OUT (publish these): `public.json`, `shards/NNNNNN.bin`.
    Writes to PRIVATE (never publish; default `BUNDLE.private/` for `--out BUNDLE/liabilities`): `round-secret.key`, finished shards (a killed run
    resumes from them when re-run), and the proof store with every customer's inclusion
    proof (`por proofs export` writes them out as files).
    """
    from por.executors import ExecutorError
    from por.liabilities import LiabilitiesError, prove, totals_table
    from por.snapshot import SnapshotError
    from por.store import StoreError

    try:
        height = _shard_size(shard_size)
    except click.BadParameter as exc:
        fail(as_json, f"--shard-size: {exc.message}")
        return
    bar = _progress_bar("liabilities")
    tasks: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    try:
        with bar:
            r = prove(snapshot_dir, out_dir, private=private_dir, shard_height=height,
                      executor=executor, workers=workers, ray_address=ray_address, db=db,
                      write_inclusion=not no_inclusion, progress=progress)
    except SnapshotError as exc:
        fail(as_json, f"the snapshot {snapshot_dir} is not valid; nothing was proven",
             [str(i) for i in exc.issues])
        return
    except (LiabilitiesError, ExecutorError, StoreError, ValueError, OSError) as exc:
        fail(as_json, str(exc))
        return
    rows = totals_table(r.public)
    doc = {"ok": True, "bundle": str(r.bundle), "private": str(r.private),
           "round_id": r.public["round_id"], "customers": r.customers,
           "tree_height": r.public["tree_height"], "shards": r.shards,
           "shard_height": r.public["shard_height"], "shards_reused": r.shards_reused,
           "proof_bytes": r.proof_bytes, "root": r.public["root"], "store": r.store_url,
           "timings_s": {k: round(v, 3) for k, v in r.timings.items()}, "totals": rows}

    def render() -> None:
        console.print(f"[green]proved[/] the liabilities of {r.customers:,} customers in "
                      f"{r.shards} shard(s) of 2^{r.public['shard_height']} "
                      f"({r.shards_reused} reused from an earlier run); global tree height "
                      f"{r.public['tree_height']}, proofs {r.proof_bytes:,} bytes")
        console.print(f"root {r.public['root']}")
        _totals_table(f"proven totals, round {r.public['round_id']}", rows)
        console.print(f"public: {r.bundle}   private: {r.private}")
        if r.store_url:
            console.print(f"inclusion proofs: {r.store_url}")

    emit(as_json, doc, render)


@main.group()
def proofs() -> None:
    """The proof store: every customer's inclusion proof, by round and account id."""


def _store_url(db: str | None, private_dir: str | None) -> str:
    if db:
        return db
    if private_dir:
        from pathlib import Path

        return "sqlite:///" + str((Path(private_dir) / "proofs.db").absolute())
    raise click.UsageError("give --db URL or --private DIR")


@proofs.command("export")
@click.option("--db", default=None, help="Proof store URL (sqlite:///path.db, postgresql://...).")
@click.option("--private", "private_dir", type=click.Path(file_okay=False), default=None,
              help="Or: the round's private directory (its proofs.db).")
@click.option("--round", "round_id", default=None,
              help="The round id (may be left out when the store holds one round).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Directory for one JSON file per customer.")
@json_option
def proofs_export_cmd(db, private_dir, round_id, out_dir, as_json) -> None:
    """Write every customer's inclusion proof of a round as one JSON file each."""
    from pathlib import Path

    from por.store import StoreError, open_store

    try:
        with open_store(_store_url(db, private_dir)) as st:
            if round_id is None:
                have = st.rounds()
                if len(have) != 1:
                    fail(as_json, f"the store holds rounds {have}: name one with --round")
                round_id = have[0]
            total = st.count(round_id)
            if total == 0:
                fail(as_json, f"the store has no proofs for round {round_id!r} "
                              f"(rounds: {', '.join(st.rounds()) or 'none'})")
            bar = _progress_bar("export")
            task = bar.add_task("inclusion proofs", total=total)
            with bar:
                n = st.export(round_id, Path(out_dir),
                              progress=lambda done, _t: bar.update(task, completed=done))
    except (StoreError, OSError) as exc:
        fail(as_json, str(exc))
        return
    emit(as_json, {"ok": True, "round_id": round_id, "exported": n, "out": out_dir},
         lambda: console.print(f"[green]exported[/] {n:,} inclusion proofs of round "
                               f"{round_id} to {out_dir}"))


@proofs.command("get")
@click.option("--db", default=None, help="Proof store URL (sqlite:///path.db, postgresql://...).")
@click.option("--private", "private_dir", type=click.Path(file_okay=False), default=None,
              help="Or: the round's private directory (its proofs.db).")
@click.option("--round", "round_id", required=True, help="The round id.")
@click.option("--account", required=True, help="The customer's account id.")
def proofs_get_cmd(db, private_dir, round_id, account) -> None:
    """Print one customer's inclusion proof (JSON) from the store."""
    from por.store import StoreError, open_store

    try:
        with open_store(_store_url(db, private_dir)) as st:
            data = st.get(round_id, account)
    except StoreError as exc:
        fail(False, str(exc))
        return
    if data is None:
        fail(False, f"no proof for account {account!r} in round {round_id!r}")
        return
    sys.stdout.write(data.decode() + "\n")


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

    bar = _progress_bar("verifying")
    tasks: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    try:
        with bar:
            doc = verify(bundle, progress=progress)
    except LiabilitiesError as exc:
        fail(as_json, f"{bundle}: {exc}")
        return
    rows = totals_table(doc)
    out = {"ok": True, "round_id": doc["round_id"], "root": doc["root"],
           "tree_height": doc["tree_height"], "max_customers": doc["max_customers"],
           "shards": doc.get("shard_count", 1),
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
