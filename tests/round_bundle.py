"""A small, real round bundle for the report/bundle/history tests (no mocks).

A synthetic exchange of a few hundred customers is generated, its liabilities proven by the
Rust core, its wallets signed with real keys, its assets proven from declared balances, and
the report written and signed with a fresh ed25519 key.
"""

from __future__ import annotations

import json
from pathlib import Path

from por.bundle import ROUND_FILE, atomic_write, load_signing_key, make_manifest, write_key
from por.history import make_round


def build_round(tmp: Path, *, users: int = 120, seed: int = 3, round_id: str = "2026-11",
                snapshot_time: str = "2026-11-30T23:59:59Z", targets: dict[str, int] | None = None,
                key: Path | None = None, pdf: bool = False) -> tuple[Path, Path, Path]:
    """(bundle, key file, round dir) of one whole round under ``tmp``."""
    tmp.mkdir(parents=True, exist_ok=True)
    if key is None:
        key = tmp / "report.key"
        if not key.exists():
            write_key(key)
    bundle = tmp / "bundle" / round_id
    make_round(tmp / "work" / round_id / "round", bundle, tmp / "work" / round_id / "private",
               users=users, seed=seed, round_id=round_id, snapshot_time=snapshot_time,
               targets_bps=targets or {"BTC": 10400, "ETH": 9990, "USDT": 10600, "USDC": 10000},
               sign_key=key, pdf=pdf)
    return bundle, key, tmp / "work" / round_id / "round"


def resign(bundle: Path, key: Path) -> None:
    """Re-hash every file and sign the manifest again with ``key`` (what a dishonest operator
    holding the key could do after editing a file)."""
    meta = json.loads((bundle / ROUND_FILE).read_text())
    assets = json.loads((bundle / "assets" / "assets.json").read_text())
    man = make_manifest(bundle, meta, assets.get("heights", {}), load_signing_key(key))
    atomic_write(bundle / "manifest.json", (json.dumps(man, indent=1) + "\n").encode())
