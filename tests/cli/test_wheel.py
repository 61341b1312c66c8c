"""The wheel carries data/ and configs/: build it, unzip it away from the checkout, load a preset and a
config layer from it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_from_wheel(code: str, site: Path, cwd: Path) -> subprocess.CompletedProcess:
    """``python -c code`` from an empty folder with the unzipped wheel first on the path, not the checkout."""
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "NUMBA_CACHE_DIR": str(cwd / "numba")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env)


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
