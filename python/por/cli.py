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
