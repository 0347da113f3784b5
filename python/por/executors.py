"""Executors: where shard proofs run.

* ``local`` (the default): a process pool on this machine (``--workers N`` processes; each
  proof already uses every core through Plonky3's thread pool, so N > 1 pays only when memory
  allows and cores are many);
* ``ray``: each shard one Ray task on a Ray cluster (``--ray-address``; without one, a local
  Ray instance is started for the run). The cluster's workers must have the same ``por``
  installed (same version of ``por._core``).

Both run the same pure function on the same inputs and yield results as they finish; the
caller writes them to disk. Output bytes do not depend on the executor.
"""

from __future__ import annotations

import multiprocessing
from itertools import islice
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("local", "ray")


class ExecutorError(Exception):
    """An executor could not be started or a task failed."""


def run_local(fn: Callable[[T], R], tasks: Sequence[T], workers: int = 1) -> Iterator[R]:
    """Run ``fn`` over ``tasks`` in a pool of ``workers`` fresh processes; yield as finished."""
    if workers < 1:
        raise ExecutorError(f"--workers must be at least 1, got {workers}")
    if not tasks:
        return
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding thread pools
    queue = iter(tasks)
    window = 2 * workers  # tasks in flight: inputs of a 10^8 round never all pickled at once
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx) as pool:
        pending = {pool.submit(fn, t) for t in islice(queue, window)}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    try:
                        res = fut.result()
                        nxt = next(queue, None)
                        if nxt is not None:
                            pending.add(pool.submit(fn, nxt))
                    except BrokenProcessPool:
                        raise ExecutorError("a prover process died (killed, or out of memory: "
                                            "try a smaller --shard-size or fewer --workers)"
                                            ) from None
                    yield res
        finally:
            for fut in pending:
                fut.cancel()


def run_ray(fn: Callable[[T], R], tasks: Sequence[T], address: str | None = None,
            num_cpus: float = 1) -> Iterator[R]:
    """Run ``fn`` over ``tasks`` as Ray tasks on the cluster at ``address``; yield as finished."""
    try:
        import ray
    except ImportError:  # pragma: no cover - ray is a pinned dependency
        raise ExecutorError("--executor ray needs the `ray` package") from None
    if not tasks:
        return
    started_here = not ray.is_initialized()
    if started_here and address not in (None, "auto", "local"):
        _probe(address)
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     logging_level="ERROR", configure_logging=False)
        except Exception as exc:  # ConnectionError, RuntimeError, ...
            raise ExecutorError(f"cannot connect to the Ray cluster at {address!r}: {exc}") from None
    try:
        remote = ray.remote(num_cpus=num_cpus, max_retries=2)(fn)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        window = max(4, 2 * int(cpus / num_cpus))
        queue = iter(tasks)
        pending: list[Any] = [remote.remote(t) for t in islice(queue, window)]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            nxt = next(queue, None)
            if nxt is not None:
                pending.append(remote.remote(nxt))
            for ref in done:
                try:
                    yield ray.get(ref)
                except Exception as exc:
                    raise ExecutorError(f"a Ray task failed: {exc}") from None
    finally:
        if started_here:
            ray.shutdown()


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fail fast (instead of Ray's minutes of retries) when nothing listens at ``address``."""
    import socket

    host, _, port = address.replace("ray://", "").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        raise ExecutorError(f"cannot connect to the Ray cluster at {address!r}: {exc}") from None


def run(fn: Callable[[T], R], tasks: Sequence[T], *, executor: str = "local", workers: int = 1,
        ray_address: str | None = None) -> Iterator[R]:
    if executor == "local":
        return run_local(fn, tasks, workers)
    if executor == "ray":
        return run_ray(fn, tasks, ray_address)
    raise ExecutorError(f"unknown executor {executor!r} (choose one of {', '.join(EXECUTORS)})")


__all__ = ["EXECUTORS", "ExecutorError", "run", "run_local", "run_ray"]
