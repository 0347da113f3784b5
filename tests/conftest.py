"""Shared pytest fixtures.

``pg_url``: a real PostgreSQL server (Debian's ``postgresql`` package: initdb/pg_ctl) on
127.0.0.1 and a free port, in a temporary directory, started once per test session (per xdist
worker) by ``scripts/pg-local.sh`` and stopped afterwards. Its URL names a fresh database.
"""

from __future__ import annotations

import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PG_LOCAL = REPO / "scripts" / "pg-local.sh"


@pytest.fixture(scope="session")
def pg_server():
    """The URL of a running PostgreSQL server (database ``por``), for the whole session."""
    # Not under pytest's tmp dir: as root the server runs as `postgres`, which must reach it.
    base = Path(tempfile.mkdtemp(prefix="por-pg-", dir="/tmp"))
    base.chmod(0o755)
    data = base / "pg"
    proc = subprocess.run(["bash", str(PG_LOCAL), "start", str(data)], capture_output=True,
                          text=True, timeout=180)
    if proc.returncode != 0:
        raise RuntimeError(f"could not start PostgreSQL for the tests:\n{proc.stderr}")
    url = proc.stdout.strip().splitlines()[-1]
    try:
        yield url
    finally:
        subprocess.run(["bash", str(PG_LOCAL), "stop", str(data)], capture_output=True,
                       timeout=120)
        subprocess.run(["rm", "-rf", str(base)])


@pytest.fixture
def pg_url(pg_server):
    """A URL of a fresh, empty database on the session's PostgreSQL server."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    yield pg_server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(pg_server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
