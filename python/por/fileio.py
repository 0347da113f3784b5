"""Atomic file writes: the one place every artifact of por reaches the disk through; and the
one JSON reader whose errors name the file.

A file is written under a unique temporary name in its own directory, flushed and fsynced,
then renamed over the final name, and the directory entry is fsynced: a reader sees the old
file or the whole new one, never half of it, and a killed writer leaves only a dot-file that
no reader takes for a finished artifact.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: str | os.PathLike, data: bytes, *, mode: int = 0o644, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically, with permission bits ``mode``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if fsync:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def read_json(path: str | os.PathLike, error: Callable[[str], Exception], *,
              missing: Callable[[str], Exception] | None = None, hint: str = "") -> Any:
    """Parse a JSON file; failures raise ``error(message)`` naming the file:
    ``"<path>: cannot read (<reason>)<hint>"`` or ``"<path>: not JSON (<reason>)"``, and
    ``missing("<path>: missing")`` for an absent file when ``missing`` is given."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        if missing is not None:
            raise missing(f"{path}: missing") from None
        raise error(f"{path}: cannot read ({exc.strerror}){hint}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror}){hint}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not JSON ({exc})") from None
