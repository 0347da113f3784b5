"""Where the shared, published fixtures live.

The OKX files are OKX's own published data; they are not copied into this repository. They sit in
`shared/fixtures/` beside the checkout (as on CI), or wherever `POR_SHARED_FIXTURES` points.
A missing fixture is an error, never a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = Path(os.environ.get("POR_SHARED_FIXTURES", _REPO.parent / "shared" / "fixtures"))
OKX_ASSETS = SHARED_FIXTURES / "okx" / "assets"

if not OKX_ASSETS.is_dir():  # pragma: no cover - environment error, loud on purpose
    raise RuntimeError(
        f"the published OKX fixtures are not at {OKX_ASSETS}; set POR_SHARED_FIXTURES to the "
        "folder that holds okx/assets/"
    )
