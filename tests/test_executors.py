"""Executors: a local process pool and a real Ray cluster (started on loopback by the
fixture) prove the same shards into the same bytes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

# Keep Ray on loopback: without this Ray replaces 127.0.0.1 by the host's interface address.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

from por import shards as sh  # noqa: E402
from por.executors import ExecutorError, run  # noqa: E402
from por.liabilities import prove, verify  # noqa: E402
from por.store import open_store  # noqa: E402
from por.synthetic import generate  # noqa: E402


def _square(x: int) -> int:
    return x * x


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_cluster():
    """`ray start --head --block` on 127.0.0.1 in its own process group; killed by pid."""
    port = _free_port()
    tmp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    ray_bin = Path(sys.executable).with_name("ray")
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    proc = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
         "--disable-usage-stats", f"--temp-dir={tmp}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    address = f"127.0.0.1:{port}"
    deadline = time.time() + 120
    ok = False
    while time.time() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                ok = True
                break
        except OSError:
            time.sleep(0.5)
    if not ok:
        out = proc.stdout.read().decode(errors="replace") if proc.poll() is not None else ""
        os.killpg(proc.pid, signal.SIGKILL)
        raise RuntimeError(f"the Ray head did not start:\n{out}")
    time.sleep(2)  # let the raylet register with the GCS
    try:
        yield address
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(tmp, ignore_errors=True)


def test_local_pool_runs_every_task():
    assert sorted(run(_square, list(range(7)), executor="local", workers=2)) == \
        [x * x for x in range(7)]
    with pytest.raises(ExecutorError, match="unknown executor"):
        list(run(_square, [1], executor="dask"))
    with pytest.raises(ExecutorError, match="at least 1"):
        list(run(_square, [1], executor="local", workers=0))


def test_ray_cluster_runs_every_task(ray_cluster):
    assert sorted(run(sh.top_height, [1, 2, 3, 9], executor="ray", ray_address=ray_cluster)) == \
        [0, 1, 2, 4]


def test_ray_unreachable_address_is_a_clear_error():
    with pytest.raises(ExecutorError, match="cannot connect to the Ray cluster"):
        list(run(_square, [1], executor="ray", ray_address=f"127.0.0.1:{_free_port()}"))


def test_local_and_ray_give_identical_bundles(ray_cluster, tmp_path):
    generate(tmp_path / "round", 50, 31)
    secret = bytes(range(32))
    a = prove(tmp_path / "round", tmp_path / "L" / "liabilities", shard_height=4,
              executor="local", workers=2, secret=secret)
    b = prove(tmp_path / "round", tmp_path / "R" / "liabilities", shard_height=4,
              executor="ray", ray_address=ray_cluster, secret=secret)
    assert a.shards == b.shards == 4
    verify(tmp_path / "R" / "liabilities")

    def files(d: Path) -> dict[str, bytes]:
        return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}

    fa, fb = files(tmp_path / "L" / "liabilities"), files(tmp_path / "R" / "liabilities")
    assert sorted(fa) == sorted(fb)
    assert sh.core_has_ranges(), "por._core lacks seeded proving: bundles cannot be identical"
    assert fa == fb
    with open_store(a.store_url) as sa, open_store(b.store_url) as sb:
        rid = a.public["round_id"]
        assert dict(sa.iter_round(rid)) == dict(sb.iter_round(rid))
