"""Dask clusters from a scheduler description: a batch queue (Slurm, PBS, SGE) or this machine.

``wcatsim random-flip --executor dask --scheduler slurm.toml`` reads a small TOML file that names the
kind of cluster and the keyword arguments of its class, starts that cluster and maps the realisations
onto it.  The batch kinds go through ``dask-jobqueue`` (the ``dask`` extra): this process runs the Dask
scheduler and submits ``jobs`` batch jobs, each of which starts Dask workers that connect back to it.
``local`` starts a ``distributed.LocalCluster`` here, the same path without a queue (and what the tests
run).  A description file::

    kind = "slurm"          # slurm | pbs | sge | local
    jobs = 4                # batch jobs submitted (slurm, pbs, sge only)

    [options]               # keyword arguments of dask_jobqueue.SLURMCluster (or LocalCluster)
    cores = 8
    memory = "16GB"
    walltime = "02:00:00"
    queue = "compute"
    account = "my-project"

The workers load the run directory themselves (:mod:`wcatsim.experiments.montecarlo.tasks`), so it
must lie on a file system the compute nodes share, and the jobs start this interpreter
(``sys.executable``) unless ``python`` names another.  Each Dask worker process is started by a nanny
that sets ``OMP_NUM_THREADS=1`` (distributed's default ``pre-spawn-environ``), so a worker thread
computes one realisation on one core, as :class:`~wcatsim.experiments.montecarlo.ProcessExecutor`
does.  Seeds come from what a realisation is, so the cluster changes the speed, never a number.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sram_models.errors import InputError

# kind -> (module, class) of the cluster it starts
CLUSTER_CLASSES: dict[str, tuple[str, str]] = {
    "slurm": ("dask_jobqueue", "SLURMCluster"),
    "pbs": ("dask_jobqueue", "PBSCluster"),
    "sge": ("dask_jobqueue", "SGECluster"),
    "local": ("distributed", "LocalCluster"),
}
SCHEDULER_KINDS = tuple(CLUSTER_CLASSES)
# dask-jobqueue needs both to write a job script (unless the user's dask config sets them); asking here
# gives a one-line message naming the file instead of dask_jobqueue's ValueError.
_REQUIRED_BATCH_OPTIONS = ("cores", "memory")
_TOP_LEVEL_KEYS = ("kind", "jobs", "options")


@dataclass(frozen=True)
class SchedulerDescription:
    """What ``--scheduler FILE`` describes: the kind of cluster, how many batch jobs, its options.

    Parameters
    ----------
    kind : str
        ``slurm``, ``pbs``, ``sge`` (batch queues through dask-jobqueue) or ``local`` (this machine).
    jobs : int
        Batch jobs to submit (each starts ``options['cores']`` worker threads); 0 for ``local``.
    options : dict
        Keyword arguments of the cluster class (``dask_jobqueue.SLURMCluster`` and so on, or
        ``distributed.LocalCluster``).
    source : Path or None
        The file the description was read from, named in error messages.
    """

    kind: str
    jobs: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    @property
    def batch(self) -> bool:
        """Whether the workers are batch jobs of a queue (slurm, pbs, sge) rather than local."""
        return self.kind != "local"

    @property
    def parallelism(self) -> int:
        """Worker threads the full cluster has: jobs x cores for a queue (0 for local: ask the cluster)."""
        return self.jobs * int(self.options["cores"]) if self.batch else 0

    def _where(self) -> str:
        return str(self.source) if self.source is not None else "the scheduler description"


def is_scheduler_file(scheduler: str) -> bool:
    """Whether ``--scheduler`` names a description file rather than a scheduler address.

    A value ending in ``.toml`` is a file (a missing one is reported as missing, not dialled as an
    address), and so is any existing file: an address (``tcp://host:8786``, ``host:8786``) is neither.
    """
    return scheduler.lower().endswith(".toml") or Path(scheduler).is_file()


def read_scheduler(path: str | Path) -> SchedulerDescription:
    """Read and check a scheduler description file.

    Parameters
    ----------
    path : str or Path
        A TOML file with ``kind``, ``jobs`` (batch kinds) and an ``[options]`` table.

    Returns
    -------
    SchedulerDescription
        The checked description.

    Raises
    ------
    InputError
        The file is missing or not TOML, or a key is unknown, missing or of the wrong type; the one-line
        message names the file and the fix.
    """
    from sram_models.tomlio import read_toml

    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"no scheduler description at {path} (`option.scheduler`: a .toml file naming kind = "
            f"{' | '.join(SCHEDULER_KINDS)}, or a scheduler address such as tcp://10.0.0.5:8786)"
        )
    try:
        raw = read_toml(path)  # not TOML / not UTF-8: read_toml's one-line InputError names the file
    except OSError as exc:
        raise InputError(f"cannot read the scheduler description {path}: {exc.strerror or exc}") from None
    unknown = sorted(set(raw) - set(_TOP_LEVEL_KEYS))
    if unknown:
        raise InputError(
            f"{path}: unknown key {unknown[0]!r}; a scheduler description has kind, jobs and an "
            "[options] table (the cluster's own arguments go under [options])"
        )
    kind = raw.get("kind")
    if kind not in CLUSTER_CLASSES:
        raise InputError(f"{path}: kind must be one of {', '.join(SCHEDULER_KINDS)}, got {kind!r}")
    options = raw.get("options", {})
    if not isinstance(options, dict):
        raise InputError(f"{path}: options must be a table ([options]), got {type(options).__name__}")
    jobs = raw.get("jobs")
    if kind == "local":
        if jobs is not None:
            raise InputError(
                f"{path}: jobs applies to a batch queue; a local cluster takes [options] n_workers"
            )
        return SchedulerDescription(kind, 0, dict(options), path)
    if jobs is None:
        jobs = 1  # one batch job unless told: the smallest request a queue accepts
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise InputError(f"{path}: jobs must be a whole number >= 1 (batch jobs to submit), got {jobs!r}")
    missing = [name for name in _REQUIRED_BATCH_OPTIONS if name not in options]
    if missing:
        raise InputError(
            f"{path}: [options] needs {' and '.join(missing)} (one job's cores and memory, e.g. "
            'cores = 8 and memory = "16GB")'
        )
    cores = options["cores"]
    if not isinstance(cores, int) or isinstance(cores, bool) or cores < 1:
        raise InputError(f"{path}: [options] cores must be a whole number >= 1, got {cores!r}")
    return SchedulerDescription(kind, jobs, dict(options), path)


def _cluster_class(kind: str) -> Any:
    module, name = CLUSTER_CLASSES[kind]
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        package = "dask-jobqueue" if module == "dask_jobqueue" else "distributed"
        raise InputError(
            f"a {kind} cluster needs {package}, part of the optional extra: pip install 'wcatsim[dask]'"
        ) from None


def make_cluster(description: SchedulerDescription) -> Any:
    """Start the cluster a description names (its scheduler runs in this process; no job is submitted).

    Parameters
    ----------
    description : SchedulerDescription
        From :func:`read_scheduler`.

    Returns
    -------
    object
        A ``dask_jobqueue`` cluster (scale it to submit jobs) or a running ``distributed.LocalCluster``.

    Raises
    ------
    InputError
        The extra is not installed, or the cluster class rejects an option (one line naming the file).
    """
    cls = _cluster_class(description.kind)
    try:
        return cls(**description.options)
    except (TypeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise InputError(
            f"{description._where()}: [options] rejected by {cls.__module__.split('.')[0]}.{cls.__name__}: "
            f"{type(exc).__name__}: {first}"
        ) from None


def job_script(description: SchedulerDescription | str | Path) -> str:
    """Return the batch script each job of a queue description runs, without submitting anything.

    The script holds the queue's directives (``#SBATCH``, ``#PBS``, ``#$``) and the worker command.

    Parameters
    ----------
    description : SchedulerDescription, str or Path
        A description or the file to read it from; its kind must be a batch queue.

    Returns
    -------
    str
        The script dask-jobqueue would submit ``jobs`` times.
    """
    if not isinstance(description, SchedulerDescription):
        description = read_scheduler(description)
    if not description.batch:
        raise InputError(f"{description._where()}: a local cluster submits no job script")
    cluster = make_cluster(description)
    try:
        return cluster.job_script()
    finally:
        cluster.close()


def start_cluster(description: SchedulerDescription) -> tuple[Any, Any, int]:
    """Start the described cluster, submit its jobs and connect a client.

    Parameters
    ----------
    description : SchedulerDescription
        From :func:`read_scheduler`.

    Returns
    -------
    tuple
        ``(cluster, client, parallelism)``: parallelism is the worker threads the cluster will have
        (jobs x cores for a queue, whose jobs may still be waiting; the started threads for local).
    """
    from distributed import Client

    cluster = make_cluster(description)
    try:
        if description.batch:
            cluster.scale(jobs=description.jobs)
        client = Client(cluster)
    except BaseException:
        cluster.close()
        raise
    parallelism = description.parallelism or sum(client.nthreads().values())
    return cluster, client, max(1, int(parallelism))


__all__ = [
    "CLUSTER_CLASSES",
    "SCHEDULER_KINDS",
    "SchedulerDescription",
    "is_scheduler_file",
    "job_script",
    "make_cluster",
    "read_scheduler",
    "start_cluster",
]
