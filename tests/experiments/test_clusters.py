"""Clusters from a scheduler description (issue 19 §7): the job script dask-jobqueue writes for a Slurm,
PBS or SGE description, the description's checks, and a sweep on a local Dask cluster started from a
description whose table is byte for byte the serial executor's.

The test run installs the dask extra (dask-jobqueue included), so none of these skips: without it they
fail on the extra's one-line InputError.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sram_models.errors import InputError
from wcatsim.experiments.montecarlo.clusters import is_scheduler_file, job_script, read_scheduler

SLURM = """\
kind = "slurm"
jobs = 4

[options]
cores = 8
memory = "16GB"
walltime = "02:00:00"
queue = "compute"
account = "my-project"
processes = 2
job_extra_directives = ["--exclusive"]
"""


def _documented(path: Path, after: str, fence: str) -> str:
    """The first fenced block of kind ``fence`` after the line ``after`` in a Markdown page."""
    text = path.read_text(encoding="utf-8")
    rest = text[text.index(after):]
    start = rest.index(f"```{fence}\n") + len(f"```{fence}\n")
    return rest[start:rest.index("```", start)]


def test_the_documented_slurm_example_writes_the_documented_script(tmp_path: Path) -> None:
    """docs/clusters.md's Slurm file gives the job script the page prints (but the machine's paths)."""
    page = Path(__file__).resolve().parents[2] / "docs" / "clusters.md"
    path = _write(tmp_path, _documented(page, "## A Slurm example", "toml"), "slurm.toml")
    shown = _documented(page, "For the file above it prints:", "").splitlines()
    made = job_script(path).splitlines()
    assert [line for line in made if line.startswith("#")] == [line for line in shown if line.startswith("#")]
    (worker,) = [line for line in made if "dask_worker" in line]
    (printed,) = [line for line in shown if "dask_worker" in line]
    # every word but the interpreter (words[0]) and the scheduler's address (words[3])
    made_words, shown_words = worker.split(), printed.split()
    assert made_words[1:3] + made_words[4:] == shown_words[1:3] + shown_words[4:], (worker, printed)


def _write(tmp_path: Path, text: str, name: str = "scheduler.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_slurm_job_script_carries_the_description(tmp_path: Path) -> None:
    path = _write(tmp_path, SLURM, "slurm.toml")
    description = read_scheduler(path)
    assert (description.kind, description.jobs, description.parallelism) == ("slurm", 4, 32)
    script = job_script(path)
    lines = script.splitlines()
    directives = [line for line in lines if line.startswith("#SBATCH")]
    assert directives == [
        "#SBATCH -J dask-worker",
        "#SBATCH -p compute",
        "#SBATCH -A my-project",
        "#SBATCH -n 1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=15G",  # dask-jobqueue writes 16 GB as 15 GiB (16e9 / 2**30 = 14.9, rounded up)
        "#SBATCH -t 02:00:00",
        "#SBATCH --exclusive",
    ], script
    (worker,) = [line for line in lines if "distributed.cli.dask_worker" in line]
    words = worker.split()
    # the jobs run this interpreter (the cluster's nodes share the environment), 2 processes x 4 threads
    assert words[0] == sys.executable
    assert words[words.index("--nthreads") + 1] == "4" and words[words.index("--nworkers") + 1] == "2"
    assert "--nanny" in words, "the nanny sets OMP_NUM_THREADS=1 in each worker (one core per thread)"


@pytest.mark.parametrize(
    ("kind", "directive"),
    [("pbs", "#PBS -l walltime=01:00:00"), ("sge", "#$ -l h_rt=01:00:00")],
)
def test_pbs_and_sge_job_scripts(tmp_path: Path, kind: str, directive: str) -> None:
    options = 'cores = 2\nmemory = "4GB"\nwalltime = "01:00:00"\nprocesses = 1\n'
    script = job_script(_write(tmp_path, f'kind = "{kind}"\n[options]\n{options}'))
    assert directive in script.splitlines(), script
    assert "--nthreads 2" in script  # one worker process with both cores as threads


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('kind = "lsf"\n', "kind must be one of slurm, pbs, sge, local, got 'lsf'"),
        ("jobs = 2\n", "kind must be one of"),
        ('kind = "slurm"\n[options]\ncores = 8\n', "[options] needs memory"),
        ('kind = "slurm"\n', "[options] needs cores and memory"),
        ('kind = "slurm"\njobs = 0\n[options]\ncores = 8\nmemory = "1GB"\n', "jobs must be a whole number"),
        ('kind = "slurm"\njobs = 1.5\n[options]\ncores = 8\nmemory = "1GB"\n', "got 1.5"),
        ('kind = "pbs"\n[options]\ncores = "8"\nmemory = "1GB"\n', "cores must be a whole number"),
        ('kind = "local"\njobs = 2\n', "a local cluster takes [options] n_workers"),
        ('kind = "slurm"\ncores = 8\n', "unknown key 'cores'"),
        ('kind = "slurm"\noptions = 3\n', "options must be a table"),
        ("kind = \n", "is not valid TOML"),
    ],
)
def test_a_bad_description_is_one_line_naming_the_file(tmp_path: Path, text: str, fragment: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        read_scheduler(path)
    message = str(caught.value)
    assert fragment in message and str(path) in message and "\n" not in message, message


def test_an_option_the_cluster_rejects_is_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, 'kind = "slurm"\n[options]\ncores = 8\nmemory = "1GB"\nquue = "x"\n')
    with pytest.raises(InputError, match=r"rejected by dask_jobqueue.SLURMCluster: .*'quue'") as caught:
        job_script(path)
    assert str(path) in str(caught.value)
    local = _write(tmp_path, 'kind = "local"\n', "local.toml")
    with pytest.raises(InputError, match="a local cluster submits no job script"):
        job_script(local)


def test_address_or_file(tmp_path: Path) -> None:
    assert is_scheduler_file("slurm.toml") and is_scheduler_file(str(_write(tmp_path, "", "sched")))
    assert not is_scheduler_file("tcp://10.0.0.5:8786") and not is_scheduler_file("10.0.0.5:8786")


def test_a_sweep_on_a_local_cluster_from_a_description_is_the_serial_table(
    digits_runs, tmp_path, monkeypatch
) -> None:
    """The CLI's path, `--executor dask --scheduler local.toml`: the same bytes as `--executor local`."""
    from wcatsim.cli.random_flip import random_flip
    from wcatsim.experiments.montecarlo import DaskExecutor

    mapped = []  # the realisations the Dask executor was given: proof the cluster did the work
    dask_map = DaskExecutor.map
    monkeypatch.setattr(DaskExecutor, "map", lambda self, fn, items: mapped.extend(items) or dask_map(
        self, fn, items))  # fmt: skip

    # threads of this process (processes = false): no worker process pays torch's start-up in the test
    local = _write(tmp_path, (
        'kind = "local"\n[options]\nn_workers = 2\nthreads_per_worker = 1\nprocesses = false\n'
        'dashboard_address = ":0"\n'
    ), "local.toml")  # fmt: skip
    tables = {}
    for name, executor in (("serial", ["--executor", "local"]), ("dask", ["--executor", "dask",
                                                                          "--scheduler", str(local)])):
        out = tmp_path / f"{name}.csv"
        result = CliRunner().invoke(random_flip, [
            "--run", digits_runs["wcat"], "--ber", "1e-2,3e-2", "--samples", "3", "--seed", "4",
            "--per-realisation", "--out", str(out), "--quiet", "--device", "cpu", *executor,
        ], catch_exceptions=False)  # fmt: skip
        assert result.exit_code == 0, result.output
        tables[name] = (out.read_text(), (tmp_path / f"{name}_realisations.csv").read_text())
    assert len(mapped) == 2 * 3, mapped  # 2 BERs (neither is 0) x 3 realisations, all on the cluster
    assert tables["dask"] == tables["serial"]
    assert len(tables["serial"][1].splitlines()) == 1 + 2 * 3  # header + 2 BERs x 3 realisations
