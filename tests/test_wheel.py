"""The wheel carries data/: build it, unzip it away from the checkout, load a preset from it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_the_presets(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    dist = tmp_path / "dist"
    # --no-isolation: build with the hatchling already installed (no network at test time)
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    (wheel,) = dist.glob("wcatsim-*.whl")
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
    # run from an empty folder with the unzipped wheel first on the path, not the checkout
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "NUMBA_CACHE_DIR": str(tmp_path / "numba")},
    )
    assert run.returncode == 0, run.stderr
    module_file, data, presets, ber = run.stdout.strip().splitlines()
    assert module_file.startswith(str(site)) and data.startswith(str(site))
    assert presets == "['chandramoorthy14', 'dpcs45', 'generic']"
    assert float(ber) == pytest.approx(1.35e-4)
