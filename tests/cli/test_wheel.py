"""The wheel: it installs only ``wcatsim`` and ``sram_models`` (no top-level ``cli``), carries data/ and
configs/, and once installed in a fresh virtual environment its ``wcatsim`` command runs from a folder
that is not the checkout: ``--help``, ``sram list``, and ``demo --quick`` on the embedded digits."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built once for this module from the checkout with no network."""
    pytest.importorskip("hatchling")
    dist = tmp_path_factory.mktemp("dist")
    # --no-isolation: build with the hatchling already installed (no network at test time)
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    (built,) = dist.glob("wcatsim-*.whl")
    return built


def test_the_wheel_installs_wcatsim_and_sram_models_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    (dist_info,) = [name for name in top if name.endswith(".dist-info")]
    assert top == {"wcatsim", "sram_models", dist_info}, sorted(top)
    # the command line is inside wcatsim, and the console script points there
    assert "wcatsim/cli/main.py" in names
    entry_points = zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert "wcatsim = wcatsim.cli.main:main" in entry_points, entry_points


def _run_from_wheel(code: str, site: Path, cwd: Path) -> subprocess.CompletedProcess:
    """``python -c code`` from an empty folder with the unzipped wheel first on the path, not the checkout."""
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "NUMBA_CACHE_DIR": str(cwd / "numba")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env)


def test_wheel_ships_the_presets(wheel: Path, tmp_path: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "sram_models/_data/sram/chandramoorthy14.toml" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sram_models\n"
        "from sram_models import load_technology, list_presets\n"
        "from sram_models.paths import data_dir\n"
        "print(sram_models.__file__)\n"
        "print(data_dir())\n"
        "print(sorted(p.name for p in list_presets()))\n"
        "print(load_technology('dpcs45').ber(0.6))\n"
    )
    run = _run_from_wheel(code, site, tmp_path)
    assert run.returncode == 0, run.stderr
    module_file, data, presets, ber = run.stdout.strip().splitlines()
    assert module_file.startswith(str(site)) and data.startswith(str(site))
    assert presets == (
        "['chandramoorthy14', 'chandramoorthy14_fig1', 'dpcs45', 'generic', 'salami28_bram', "
        "'yang_murmann28_macro']"
    )
    assert float(ber) == pytest.approx(1.35e-4)

    # The config layers travel too: the README's `-c configs/...` resolves from anywhere to the wheel's
    # copy (the layer lookup wcatsim.config uses; checked here without torch, which would triple the
    # test's time), and a layer that is not there says where the shipped ones are.
    assert "wcatsim/_configs/quantization/4bit_wcat.toml" in names
    code = (
        "import json, sys\n"
        "from sram_models.tomlio import read_toml\n"
        "from wcatsim.config.shipped import find_layer\n"
        "layer = find_layer('configs/quantization/4bit_wcat.toml')\n"
        "try:\n"
        "    find_layer('configs/quantization/4bit_nope.toml')\n"
        "except ValueError as exc:\n"
        "    error = str(exc)\n"
        "print(json.dumps([str(layer), read_toml(layer)['quant'], error, 'torch' in sys.modules]))\n"
    )
    run = _run_from_wheel(code, site, tmp_path)
    assert run.returncode == 0, run.stderr
    import json

    layer, quant, error, torch_loaded = json.loads(run.stdout.strip().splitlines()[-1])
    shipped = site / "wcatsim" / "_configs"
    assert layer == str(shipped / "quantization" / "4bit_wcat.toml")
    assert quant["method"] == "wcat" and quant["bits"] == 4
    assert f"the shipped layers are in {shipped}" in error, error
    assert not torch_loaded


# ---------------------------------------------------------------- installed in a fresh environment


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed, offline.

    The dependencies (torch, numba, ...) come from the environment running the tests through a ``.pth``
    line naming its site-packages: ``--system-site-packages`` would give the base interpreter's
    packages, not this environment's.  A ``.pth`` line only appends the folder to ``sys.path`` (its own
    ``.pth`` files, the checkout's editable install among them, are not read), and the venv's own
    site-packages come first, so ``wcatsim`` and ``sram_models`` are the wheel's.
    """
    env_dir = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--no-index", str(wheel)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "_test_dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(here)))
    return env_dir


def _installed(venv: Path, cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """The venv's ``wcatsim ARGS`` from ``cwd``, with no PYTHONPATH: only the installed wheel is seen."""
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(cwd), "OMP_NUM_THREADS": "1",
        "NUMBA_CACHE_DIR": str(cwd / "numba"), "MPLCONFIGDIR": str(cwd / "mpl"),
    }  # fmt: skip
    return subprocess.run(
        [str(venv / "bin" / "wcatsim"), *args], capture_output=True, text=True, cwd=cwd, env=env,
        timeout=timeout,
    )  # fmt: skip


def test_the_installed_command_runs_away_from_the_checkout(venv: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import wcatsim.cli.main as m, sram_models as s; "
         "print(m.__file__); print(s.__file__); import importlib.util as u; print(u.find_spec('cli'))"],
        capture_output=True, text=True, cwd=elsewhere, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    cli_file, sram_file, top_level_cli = where.stdout.strip().splitlines()
    assert cli_file.startswith(str(venv)) and sram_file.startswith(str(venv)), where.stdout
    assert top_level_cli == "None", "no top-level `cli` package may be importable from the wheel"

    help_ = _installed(venv, elsewhere, "--help")
    assert help_.returncode == 0, help_.stderr
    assert "demo" in help_.stdout and "sweep-voltage" in help_.stdout
    presets = _installed(venv, elsewhere, "sram", "list")
    assert presets.returncode == 0, presets.stderr
    # the presets are the wheel's package data (sram_models/_data), found from a folder with no data/
    for name in ("chandramoorthy14", "chandramoorthy14_fig1", "dpcs45", "generic", "salami28_bram"):
        assert name in presets.stdout, presets.stdout
    assert not (elsewhere / "data").exists()


def test_the_installed_command_trains_and_sweeps_on_the_shipped_data(venv: Path, tmp_path: Path) -> None:
    """A tiny run from the wheel: the embedded digits, a shipped config layer and a random-flip sweep."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    train = _installed(venv, elsewhere, "train", "-c", "configs/quantization/4bit_wcat.toml",
                       "--set", "trainer.epochs=1", "--set", "trainer.steps_per_epoch=2", "--out", "run",
                       "--device", "cpu", "--quiet")  # fmt: skip
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]
    config = (elsewhere / "run" / "config.toml").read_text()
    assert 'method = "wcat"' in config and 'name = "digits"' in config, config
    flips = _installed(venv, elsewhere, "random-flip", "--run", "run", "--ber", "0,1e-2", "--samples", "2",
                       "--device", "cpu", "--quiet")  # fmt: skip
    assert flips.returncode == 0, flips.stdout[-3000:] + flips.stderr[-3000:]
    rows = (elsewhere / "run" / "random_flip.csv").read_text().splitlines()
    assert len(rows) == 3, rows  # header + BER 0 + BER 1e-2


# 161 s on the 2-core development machine under load (the quick demo trains 3 quantizers x 5 epochs);
# the default run covers the installed command with the tiny run above
@pytest.mark.slow
def test_the_installed_quick_demo_runs_away_from_the_checkout(venv: Path, tmp_path: Path) -> None:
    """``wcatsim demo --quick`` from the wheel: the embedded digits and presets come from the package."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    demo = _installed(venv, elsewhere, "demo", "--quick", "--out", "demo", "--device", "cpu",
                      "--runs-root", "runs", "--quiet")  # fmt: skip
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    out = elsewhere / "demo"
    for name in ("report.md", "pareto.csv", "summary.json", "demo.json"):
        assert (out / name).is_file(), (name, sorted(os.listdir(out)))
