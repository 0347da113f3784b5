"""Start `por serve` as a real uvicorn process on a free loopback port (shared by the tests)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def por_serve(bundle: Path, db: str, token_pub: Path, *, workers: int = 1):
    """Yield the base URL of a running `por serve`; stop it afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "por", "serve", str(bundle), "--db", str(db),
         "--token-key", str(token_pub), "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        else:
            proc.kill()
            raise AssertionError(proc.stderr.read().decode())
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
