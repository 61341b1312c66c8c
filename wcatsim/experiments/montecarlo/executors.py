"""Where realisations run: in this process (default) or on a Dask cluster (optional extra).

An executor maps a picklable function over a list of arguments and returns the
results in argument order.  Seeds come from what a realisation is
(:mod:`wcatsim.experiments.montecarlo.seeds`), so the choice of executor changes speed only,
never a number.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sram_models.errors import InputError
from wcatsim.experiments.montecarlo.clusters import is_scheduler_file, read_scheduler, start_cluster

EXECUTOR_NAMES = ("local", "processes", "dask")


class Executor(Protocol):
    """What the Monte Carlo engine needs from an executor."""

    name: str
    parallelism: int  # realisations worth computing at once (adaptive stopping asks for this many)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """Return ``[fn(item) for item in items]``, in the order of ``items``."""
        ...

    def close(self) -> None:
        """Release the workers (the executor is not used afterwards)."""
        ...


class LocalExecutor:
    """Run every task here, in order.  Torch already uses the cores inside one evaluation."""

    name = "local"
    parallelism = 1

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """Return ``[fn(item) for item in items]``, computed here one after the other."""
        return [fn(item) for item in items]

    def close(self) -> None:
        """Do nothing: there are no workers to release."""
        pass

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# prctl(2) option: the signal the kernel sends this process when its parent dies (Linux).
_PR_SET_PDEATHSIG = 1
# Seconds between the fallback watcher's looks at the parent (where prctl is missing).
_PARENT_POLL_S = 1.0


def _die_with_parent(parent_pid: int) -> None:
    """End this worker when the process that started it ends, even by SIGKILL.

    A killed parent runs no cleanup, so its pool's workers (and with them the multiprocessing
    resource tracker, which lives while any of them holds its pipe) would run on.  On Linux the
    kernel delivers SIGKILL to the worker when its parent dies (PR_SET_PDEATHSIG); elsewhere, and as a
    second line, a daemon thread exits the worker once it has been re-parented.
    """
    import signal
    import sys
    import threading
    import time

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no libc prctl: the watcher below still works
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(_PARENT_POLL_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="wcatsim-parent-watch", daemon=True).start()


def _worker_start(parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    _one_torch_thread()


def _one_torch_thread() -> None:
    # Runs first in every worker process, before the first task imports torch: each worker
    # computes one realisation on one core, so the pool's parallelism is the process count.
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.set_num_threads(1)


class ProcessExecutor:
    """Run tasks in ``workers`` local processes, one torch thread each.

    For models whose evaluation is heavy (ResNet-20 and up): one realisation per core
    beats one realisation split over the cores by torch's intra-op threads (ResNet-20,
    500 images, 2 idle cores: 2 processes x 1 thread evaluated 1.36x the realisations per
    second of 1 process x 2 threads, measured side by side).  Workers start with
    ``spawn`` (forking a process that already runs OpenMP threads can deadlock), load the
    run once each (:mod:`wcatsim.experiments.montecarlo.tasks`) and keep it for every later task.
    For a model as small as the digits CNN the start-up (a second or two per worker)
    outweighs the gain: use ``local`` there.  Killing this process, even with SIGKILL, ends
    its workers too (:func:`_die_with_parent`).
    """

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if workers is not None and workers < 1:
            raise InputError(f"`option.workers` must be at least 1, got {workers}")
        self.parallelism = int(workers or os.cpu_count() or 1)
        self._pool = ProcessPoolExecutor(
            max_workers=self.parallelism,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_start,
            initargs=(os.getpid(),),
        )

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """Return ``[fn(item) for item in items]``, computed by the worker processes."""
        return list(self._pool.map(fn, items))

    def close(self) -> None:
        """Shut the pool down, cancelling what has not started."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DaskExecutor:
    """Run tasks on a Dask distributed cluster: an address, a description file, or your ``Client``.

    Workers rebuild the model from the run directory once per worker thread
    (see :mod:`wcatsim.experiments.montecarlo.tasks`) and keep it, so only seeds and
    results cross the network.  A description file (``*.toml``,
    :mod:`wcatsim.experiments.montecarlo.clusters`) starts a Slurm, PBS or SGE cluster through
    dask-jobqueue, or a local one, which this executor closes again.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, client: Any = None) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise InputError(
                "`montecarlo.executor` dask needs the optional extra: pip install 'wcatsim[dask]'"
            ) from None
        self._cluster: Any = None
        parallelism = 0  # 0: count the threads of the workers connected now
        if client is None and not scheduler:
            raise InputError(
                "`montecarlo.executor` dask needs `option.scheduler`: an ADDRESS (e.g. "
                "tcp://10.0.0.5:8786) or a scheduler description FILE.toml (Slurm, PBS, SGE, local)"
            )
        if client is None and is_scheduler_file(scheduler):
            self._cluster, client, parallelism = start_cluster(read_scheduler(scheduler))
            self._owns_client = True
        elif client is None:
            try:
                client = Client(scheduler, timeout="20s")
            except OSError as exc:
                raise InputError(
                    f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); start one with "
                    "`dask scheduler` or check the address"
                ) from None
            self._owns_client = True
        else:
            self._owns_client = False
        self.client = client
        if not parallelism:
            parallelism = sum(self.client.nthreads().values()) if hasattr(self.client, "nthreads") else 1
        self.parallelism = max(1, int(parallelism))

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """Return ``[fn(item) for item in items]``, computed on the cluster's workers."""
        if not items:
            return []
        futures = self.client.map(fn, list(items), pure=False)
        return self.client.gather(futures)

    def close(self) -> None:
        """Close the client if this executor opened it (a client passed in stays open).

        A cluster it started from a description is closed too (a queue's jobs end with it).
        """
        if self._owns_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(
    name: str = "local", scheduler: str | None = None, workers: int | None = None
) -> LocalExecutor | ProcessExecutor | DaskExecutor:
    """Return an executor by name.

    ``local``, ``processes`` (``workers``, default every core) or ``dask`` (which needs ``scheduler``:
    an address, or a description file ``*.toml`` of a Slurm, PBS, SGE or local cluster).
    """
    if scheduler and name != "dask":
        raise InputError("`option.scheduler` only applies with `montecarlo.executor` dask")
    if workers is not None and name != "processes":
        raise InputError("`option.workers` only applies with `montecarlo.executor` processes")
    if name == "local":
        return LocalExecutor()
    if name == "processes":
        return ProcessExecutor(workers)
    if name == "dask":
        return DaskExecutor(scheduler=scheduler)
    raise InputError(f"unknown executor {name!r}: use one of {', '.join(EXECUTOR_NAMES)}")
