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
    5. `por report BUNDLE --sign-key KEY` - per-asset reserve ratios (exact, rounded down,
       red below 100 %), report.json/html/pdf, and manifest.json signed (`por keygen`).

    **Checking a round** (anyone)

    - `por verify liabilities BUNDLE` - the proof, and the per-asset totals it proves.
    - `por verify user --proof FILE --bundle BUNDLE` - a customer's own balances are in it.
    - `por verify assets BUNDLE` - every wallet signature and, given RPC URLs, every balance.
    - `por verify bundle BUNDLE --fingerprint FP` - the whole published round: signature,
      every file's hash, both proofs, every number of the report.
    - `por history FOLDER --key KEY.pub` - reserve ratios over past rounds, charted.

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


def _staged_progress(bar):
    """A ``progress(stage, done, total)`` callback: one bar row per stage, created on first use."""
    tasks: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return progress


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
                   "On 2 cores 2^12 needs about 1.8 GB and 4 s per shard (the fastest per customer), "
                   "2^14 about 7.4 GB and 24 s.")
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
    progress = _staged_progress(bar)

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
    progress = _staged_progress(bar)

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
@click.option("--proof", "proof_file", default=None, type=click.Path(dir_okay=False),
              help="Your inclusion proof file (from the exchange).")
@click.option("--bundle", default=None, metavar="DIR_OR_URL",
              help="The round's published bundle: a directory (with `liabilities/public.json`, "
                   "or a bare liabilities directory with `public.json`) or an http(s) URL. "
                   "With --history: the folder or URL holding one bundle per round, named by "
                   "round id (default HISTORY/bundles).")
@click.option("--history", "history", default=None, type=click.Path(file_okay=False),
              help="Check many rounds at once: HISTORY/proofs/*.json (one inclusion proof per "
                   "round) against HISTORY/bundles/<round_id>/ (see --bundle).")
@json_option
def verify_user_cmd(proof_file: str | None, bundle: str | None, history: str | None,
                    as_json: bool) -> None:
    """Check that YOUR balances are inside the proven totals.

    Verifies the round's zero-knowledge liabilities proof first, then recomputes your account
    commitment from your account id and nonce, your leaf from your own balances, and walks
    your Merkle path to the root the proof proved. Shows your balances (whole units), the
    proven totals of all customers and, when the bundle has a `report.json`, the reserve
    ratios (checked against the proven totals).

    `--bundle` may be a URL: the public files are downloaded to a temporary folder first
    (checked against `manifest.json` when the bundle has one). Nothing about you is sent.

    `--history DIR` checks a folder of your proofs, one per round, and prints a table.

    On any failure: exit 1 and a red message naming what failed (`liabilities`, `bundle`,
    `report`, or the inclusion step: `format`, `round`, `assets`, `root`, `height`,
    `commitment`, `balance`, `path`). See docs/inclusion-proof.md.
    """
    from por.customer import (
        REASON_TEXT, CustomerCheckError, check_history, check_user, render_history,
        render_user,
    )

    if history is not None:
        if proof_file is not None:
            fail(as_json, "give either --proof (one round) or --history (many), not both")
        try:
            outcomes = check_history(history, bundle)
        except CustomerCheckError as exc:
            fail(as_json, f"{exc.message}", {"reason": exc.reason} if as_json else None)
            return
        ok = all(o.ok for o in outcomes)
        doc = {"ok": ok, "rounds": [o.to_json_dict() for o in outcomes]}
        if as_json:
            emit(True, doc, lambda: None)
        else:
            render_history(console, outcomes)
        if not ok:
            bad = [o for o in outcomes if not o.ok]
            if not as_json:
                err_console.print(f"[bold red]error:[/] {len(bad)} of {len(outcomes)} rounds "
                                  "do NOT verify: " + ", ".join(
                                      f"{o.round_id or o.proof_file} ({o.reason})" for o in bad))
            raise SystemExit(1)
        return
    if proof_file is None or bundle is None:
        fail(as_json, "--proof FILE and --bundle DIR_OR_URL are required (or --history DIR)")
        return
    try:
        c = check_user(proof_file, bundle)
    except CustomerCheckError as exc:
        what = {"liabilities": f"{bundle}: the liabilities proof does NOT verify",
                "bundle": "the round's bundle cannot be used",
                "report": "the report contradicts the liabilities proof"}.get(
                    exc.reason, f"{proof_file}: NOT included")
        fail(as_json, f"{what} ({exc.reason}: {REASON_TEXT[exc.reason]}): {exc.message}",
             {"reason": exc.reason, "round_id": exc.round_id} if as_json else None)
        return
    emit(as_json, c.to_json_dict(), lambda: render_user(console, c))


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
@click.option("--btc-blocks", default=None, type=click.Path(file_okay=False, exists=True),
              help="Offline instead of --btc-rpc: a directory of Bitcoin Core blk*.dat files; BTC "
                   "balances are replayed from genesis, every block and signature checked.")
@click.option("--balances", "balances_path", default=None, type=click.Path(dir_okay=False),
              help="Declared balances file for chains por cannot read.")
@click.option("--height", "heights", multiple=True, metavar="CHAIN=N",
              help="Snapshot height of a chain (repeatable).")
@click.option("--evm-token", "evm_tokens", multiple=True, metavar="SYMBOL=0xADDRESS",
              help="ERC-20 contract of an asset on the --evm-rpc chain (repeatable; default: "
                   "the mainnet contracts). Recorded in the bundle for verifiers.")
@json_option
def prove_assets_cmd(wallets_path, out_dir, message, evm_rpc, btc_rpc, btc_blocks, balances_path,
                     heights, evm_tokens, as_json) -> None:
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
                         evm_tokens=tokens, btc_blocks=btc_blocks)
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
@click.option("--btc-blocks", default=None, type=click.Path(file_okay=False, exists=True),
              help="Directory of Bitcoin Core blk*.dat files to re-derive bitcoin-blocks balances.")
@json_option
def verify_assets_cmd(bundle_dir, evm_rpc, btc_rpc, btc_blocks, as_json) -> None:
    """Re-check an assets bundle: every signature, every total and, given endpoints, every
    balance at the snapshot height. Any failure exits 1."""
    from por.assets.report import AssetsError, verify_assets

    try:
        r = verify_assets(bundle_dir, evm_rpc, btc_rpc, btc_blocks)
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
# the report, the signed bundle and the history (por.report, por.bundle, por.history)
# --------------------------------------------------------------------------------------

#: exit code of `por verify bundle` / `por history` when everything verifies but an asset's
#: reserves are below 100 % of what the exchange owes
EXIT_BELOW_100 = 3


def _ratio_table(title: str, report) -> None:
    from rich.table import Table

    from por.report import usd_cents_floor

    t = Table(title=title, title_justify="left")
    for c in ("asset", "ratio", "reserves (USD)", "net liabilities (USD)", "reserves are"):
        t.add_column(c, justify="left" if c in ("asset", "reserves are") else "right",
                     no_wrap=c != "reserves are")
    for a in report.assets:
        if a.ratio_percent is None:
            pct = "[dim]n/a (nothing owed)[/]"
        elif a.below_100:
            pct = f"[bold white on red] {a.ratio_percent} % [/]"
        else:
            pct = f"[green]{a.ratio_percent} %[/]"
        unver = int(a.reserves_unverified)
        src = ("[red]none proven[/]" if not a.reserves_sources else
               "on chain" if unver == 0 else
               "[yellow]declared[/]" if unver == int(a.reserves) else "[yellow]partly declared[/]")
        t.add_row(a.asset, pct, usd_cents_floor(a.reserves_usd),
                  usd_cents_floor(a.net_liabilities_usd), src)
    tot = report.totals_usd
    t.add_row("[bold]all", f"[bold {'red' if tot.below_100 else 'green'}]"
              f"{tot.ratio_percent or 'n/a'} %[/]", usd_cents_floor(tot.reserves_usd),
              usd_cents_floor(tot.net_liabilities_usd), "")
    console.print(t)


def _below_100_line(report) -> None:
    below = report.totals_usd.assets_below_100
    if below:
        console.print(f"[bold red]BELOW 100 %:[/] {len(below)} of {len(report.assets)} assets: "
                      f"[red]{', '.join(below)}[/]")
    else:
        console.print(f"[bold green]every asset is covered[/] ({len(report.assets)} assets)")


def _step_printer(as_json: bool):
    return (lambda s: None) if as_json else (lambda s: err_console.print(f"[dim]... {s}[/]"))


@main.command("keygen")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Private key file to create (mode 0600); OUT.pub gets the public key.")
@json_option
def keygen_cmd(out_path: str, as_json: bool) -> None:
    """Create the exchange's ed25519 **report key** (signs each round's manifest.json).

    Writes OUT (the private key: keep it offline, never publish it) and OUT.pub (the public
    key, format `por-report-public-key`). Publish the public key's fingerprint once, on a
    channel customers trust; `por verify bundle --fingerprint` pins it. Refuses to overwrite.
    """
    from por.bundle import BundleError, write_key

    try:
        doc = write_key(out_path)
    except (BundleError, OSError) as exc:
        fail(as_json, str(exc))
        return
    out = {"ok": True, "key": out_path, "public_key_file": out_path + ".pub",
           "public_key": doc["public_key"], "fingerprint": doc["fingerprint"]}
    emit(as_json, out, lambda: console.print(
        f"[green]wrote[/] {out_path} [red](PRIVATE)[/] and {out_path}.pub\n"
        f"fingerprint: [bold]{doc['fingerprint']}[/]"))


@main.command("report")
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("--sign-key", "sign_key", required=True, type=click.Path(dir_okay=False),
              help="The exchange's report key (from `por keygen`).")
@click.option("--snapshot", "snapshot_dir", default=None, type=click.Path(file_okay=False),
              help="The round's snapshot directory: its round.json (snapshot time, block "
                   "heights) is copied into the bundle. Needed unless BUNDLE has round.json.")
@click.option("--no-pdf", is_flag=True, help="Skip report.pdf (no Chromium needed).")
@click.option("--evm-rpc", default=None, help="EVM JSON-RPC URL: re-read balances while verifying.")
@click.option("--btc-rpc", default=None, help="Bitcoin Core JSON-RPC URL: ditto.")
@json_option
def report_cmd(bundle, sign_key, snapshot_dir, no_pdf, evm_rpc, btc_rpc, as_json) -> None:
    """Write the round's report into BUNDLE and sign the bundle.

    BUNDLE holds `liabilities/` (from `por prove liabilities`) and `assets/` (from
    `por prove assets`). Both proofs are verified first; then per asset: reserves A, net
    customer liabilities L = equity - debt, and the reserve ratio A / L as an exact fraction,
    shown as a percentage rounded DOWN to 0.01 % (never up to 100 %). Assets below 100 % are
    flagged in red. USD values use the round's proven prices, exactly.

    Writes `prices.json`, `round.json`, `report.json` (format `por-report` v1,
    docs/report.md), `report.html` (self-contained: inline CSS and SVG charts), `report.pdf`
    (printed by headless Chromium) and last `manifest.json`: the SHA-256 of every file,
    signed with the report key (docs/bundle.md). Refuses a bundle that holds anything private
    (round-secret.key, inclusion/). Exit 0 when written, even if an asset is below 100 %
    (the report says so in red); exit 1 on any failure.
    """
    from por.bundle import BundleError, write_report

    try:
        report, man = write_report(bundle, sign_key, snapshot_dir, pdf=not no_pdf,
                                   evm_rpc=evm_rpc, btc_rpc=btc_rpc,
                                   progress=_step_printer(as_json))
    except BundleError as exc:
        fail(as_json, exc.message, exc.details or None)
        return
    except (ValueError, OSError, RuntimeError) as exc:
        fail(as_json, f"{bundle}: {exc}")
        return
    doc = {"ok": True, "bundle": bundle, "round_id": report.round_id,
           "signer": man["signer"]["fingerprint"], "files": [f["path"] for f in man["files"]],
           "below_100": report.totals_usd.assets_below_100, "report": report.model_dump(mode="json")}

    def render() -> None:
        _ratio_table(f"reserve ratios, round {report.round_id} (snapshot {report.snapshot_time})", report)
        _below_100_line(report)
        console.print(f"[green]wrote[/] {bundle}/report.json, report.html"
                      f"{'' if no_pdf else ', report.pdf'} and manifest.json "
                      f"({len(man['files'])} files, signed by {man['signer']['fingerprint']})")

    emit(as_json, doc, render)


@verify.command("bundle")
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("--key", default=None,
              help="The exchange's report public key: 64 hex digits or its .pub file.")
@click.option("--fingerprint", "pinned", default=None,
              help="The pinned fingerprint of the report key (sha256:...).")
@click.option("--evm-rpc", default=None, help="EVM JSON-RPC URL to re-read balances.")
@click.option("--btc-rpc", default=None, help="Bitcoin Core JSON-RPC URL to re-read balances.")
@json_option
def verify_bundle_cmd(bundle, key, pinned, evm_rpc, btc_rpc, as_json) -> None:
    """Check a whole published round: signature, files, both proofs, every report number.

    In order, failing at the first problem with a named reason: the manifest's ed25519
    signature by the key you trust (`--key` or `--fingerprint`; unsigned or signed by
    another key fails); the SHA-256 of every file, no file missing, none extra, nothing
    private; the liabilities proof; the assets proof (every wallet signature, and with
    `--evm-rpc` / `--btc-rpc` every balance re-read at the snapshot height); prices.json and
    round.json against the proofs; and every number of report.json recomputed from the
    proven values (and report.html re-rendered).

    Exit codes: 0 verified and every asset covered; **3** verified but some asset's reserves
    are below 100 % (listed in red); 1 anything fails to verify.
    """
    from por.bundle import BundleError, verify_bundle

    try:
        r = verify_bundle(bundle, key, pinned, evm_rpc, btc_rpc, progress=_step_printer(as_json))
    except BundleError as exc:
        if as_json:
            sys.stdout.write(json.dumps({"ok": False, "reason": exc.reason, "error": exc.message,
                                         "details": exc.details}, indent=2) + "\n")
            raise SystemExit(1)
        fail(False, f"{bundle}: NOT VERIFIED ({exc.reason}): {exc.message}",
             exc.details if len(exc.details) > 1 else None)
        return
    doc = r.to_json()

    def render() -> None:
        console.print(f"[bold green]VERIFIED[/] round {r.report.round_id} "
                      f"(snapshot {r.report.snapshot_time})")
        for c in r.checks:
            console.print(f"  [green]✓[/] {c}")
        for n in r.assets_check.get("notes", [])[:5]:
            console.print(f"  [yellow]not re-checked[/]: {n}")
        _ratio_table("reserve ratios (recomputed from the proofs)", r.report)
        _below_100_line(r.report)

    emit(as_json, doc, render)
    if r.report.totals_usd.assets_below_100:
        raise SystemExit(EXIT_BELOW_100)


@main.command("history")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--key", default=None, help="The report public key (64 hex or its .pub file).")
@click.option("--fingerprint", "pinned", default=None, help="Pinned report key fingerprint.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Where to write history.html, history.png and history.json (default: FOLDER).")
@click.option("--no-png", is_flag=True, help="Skip history.png (no Chromium needed).")
@json_option
def history_cmd(folder, key, pinned, out_dir, no_png, as_json) -> None:
    """Reserve ratios over past rounds: verify every bundle, chart and tabulate.

    FOLDER holds one sub-directory per round (each a bundle with a manifest.json). Every
    bundle is checked exactly as `por verify bundle` does; one that fails stops the history
    (exit 1), naming the round. Writes `history.json` (format `por-history` v1),
    `history.html` (self-contained: SVG charts per asset, a table with month-over-month
    changes) and `history.png` (the chart, from headless Chromium). Every month below 100 %
    is flagged in red. Exit 0, or 3 when the latest round has an asset below 100 %.
    """
    from por.bundle import BundleError
    from por.history import history_table, load_history
    from por.render import render_history_html, render_png

    bar = _progress_bar("verifying rounds")
    task = bar.add_task("rounds", total=None)
    try:
        with bar:
            h = load_history(folder, key, pinned,
                             progress=lambda d, n, name: bar.update(task, completed=d, total=n))
    except BundleError as exc:
        fail(as_json, f"{folder}: NOT VERIFIED ({exc.reason}): {exc.message}")
        return
    table = history_table(h.reports)
    out = Path(out_dir or folder)
    out.mkdir(parents=True, exist_ok=True)
    from por.bundle import atomic_write

    atomic_write(out / "history.json", (json.dumps(table, indent=1) + "\n").encode())
    atomic_write(out / "history.html", render_history_html(table).encode())
    files = [str(out / "history.json"), str(out / "history.html")]
    if not no_png:
        try:
            render_png(out / "history.html", out / "history.png", width=1180, selector="#chart")
        except Exception as exc:  # noqa: BLE001 - Chromium missing or failing is a failure
            fail(as_json, f"history.png: headless Chromium failed: {exc}")
        files.append(str(out / "history.png"))
    doc = {"ok": True, "rounds": len(h.rounds), "files": files, **table}

    def render() -> None:
        from rich.table import Table

        t = Table(title=f"reserve ratio per round ({len(h.rounds)} rounds, all verified)",
                  title_justify="left")
        t.add_column("round")
        for s in table["charted_assets"]:
            t.add_column(s, justify="right")
        t.add_column("below 100 %")
        for i, rd in enumerate(table["rounds"]):
            cells = []
            for s in table["charted_assets"]:
                p = table["assets"][s][i]
                v = p["ratio_percent"] or "n/a"
                ch = f" [dim]({p['change_pp']})[/]" if p["change_pp"] else ""
                cells.append(f"[bold red]{v}[/]{ch}" if p["below_100"] else f"{v}{ch}")
            t.add_row(rd["round_id"], *cells, f"[red]{len(rd['assets_below_100'])}[/]"
                      if rd["assets_below_100"] else "[green]0[/]")
        wide = console if console.is_terminal else Console(width=max(console.width, 200))
        wide.print(t)
        if table["never_proven"]:
            console.print(f"[red]no reserves proven in any round[/]: {', '.join(table['never_proven'])}")
        for s, months in table["months_below_100"].items():
            if s in table["charted_assets"]:
                console.print(f"[bold red]{s} below 100 %[/] in {', '.join(months)}")
        console.print("wrote " + ", ".join(files))

    emit(as_json, doc, render)
    if table["rounds"] and table["rounds"][-1]["assets_below_100"]:
        raise SystemExit(EXIT_BELOW_100)


@main.command("generate-history")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write one signed round bundle per month into (OUT/YYYY-MM/).")
@click.option("--work", "work_dir", default=None, type=click.Path(file_okay=False),
              help="Folder for the rounds' inputs and private files (default: OUT-work).")
@click.option("--sign-key", "sign_key", required=True, type=click.Path(dir_okay=False),
              help="The report key (`por keygen`).")
@click.option("--rounds", type=click.IntRange(1, 120), default=24, show_default=True)
@click.option("--users", type=click.IntRange(1, 1 << 14), default=200, show_default=True,
              help="Customers per round (200 gives a 2^8 tree: cheap to prove).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--pdf", is_flag=True, help="Also print each round's report.pdf (slower).")
@json_option
def generate_history_cmd(out_dir, work_dir, sign_key, rounds, users, seed, pdf, as_json) -> None:
    """Make a demo history: ROUNDS small synthetic rounds, each proven, reported and signed.

    Reserves drift from month to month; ETH, USDC and TRX dip below 100 % in some months
    (deterministic from the seed). Reserves are declared balances signed by the exchange's
    wallets (no chain needed). Then run `por history OUT --key KEY.pub`.
    """
    from por.bundle import BundleError
    from por.history import generate_history
    from por.liabilities import LiabilitiesError

    bar = _progress_bar("proving rounds")
    task = bar.add_task("rounds", total=rounds)
    try:
        with bar:
            made = generate_history(out_dir, work_dir or (out_dir.rstrip("/") + "-work"), sign_key,
                                    rounds=rounds, users=users, seed=seed, pdf=pdf,
                                    progress=lambda d, n, rid: bar.update(task, completed=d))
    except (BundleError, LiabilitiesError, ValueError, OSError) as exc:
        fail(as_json, str(exc))
        return
    emit(as_json, {"ok": True, "out": out_dir, "rounds": [str(p) for p in made]},
         lambda: console.print(f"[green]wrote {len(made)} signed rounds[/] into {out_dir}"))


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
