"""The three scripts of examples/ run at tiny size (``--tiny``) and print what they promise.

They run in this process (``runpy``, as ``python examples/NAME.py --tiny`` would run them), from an
empty working directory that they must leave empty: the API writes nothing without a path.
"""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
         folder: Path) -> list[str]:
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / name), "--tiny"])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    assert sorted(folder.iterdir()) == [], f"{name} left files in the working directory"
    return capsys.readouterr().out.strip().splitlines()


def _table(lines: list[str]) -> list[dict[str, float]]:
    head = lines[0].split()
    return [dict(zip(head, map(float, line.split()), strict=True)) for line in lines[1:]]


def test_own_model_and_training_loop_to_a_sweep(monkeypatch, capsys, tmp_path: Path) -> None:
    out = _run("own_model_sweep.py", monkeypatch, capsys, tmp_path)
    found = re.fullmatch(r"Net \(wcat, 4-bit\), clean accuracy ([\d.]+)%", out[0])
    assert found, out[0]
    rows = _table(out[1:])
    assert [r["ber"] for r in rows] == [0.0, 1e-3, 1e-2, 3e-2]
    # BER 0 changes no bit: every realisation is the clean accuracy exactly, so the CI has no width
    zero = rows[0]
    assert zero["flip_frac"] == 0.0
    assert zero["acc_mean_pct"] == zero["ci_low_pct"] == zero["ci_high_pct"]
    assert f"{zero['acc_mean_pct']:.2f}" == found.group(1)
    assert float(found.group(1)) > 50, "one epoch of Adam reaches well above chance (10%) on the digits"
    assert all(abs(r["flip_frac"] - r["ber"]) < 0.5 * r["ber"] for r in rows[1:]), rows


def test_pretrained_state_dict_swept_without_training(monkeypatch, capsys, tmp_path: Path) -> None:
    out = _run("pretrained_sweep.py", monkeypatch, capsys, tmp_path)
    assert re.fullmatch(r"pretrained_cnn on chandramoorthy14: clean accuracy [\d.]+%", out[0]), out[0]
    rows = _table(out[1:])
    assert [r["voltage_norm"] for r in rows] == [1.0, 0.9, 0.85, 0.8, 0.75]  # x Vmin
    assert all(r["voltage_v"] == pytest.approx(0.8 * r["voltage_norm"]) for r in rows)  # vmin_volts 0.8
    energies = [r["energy_norm"] for r in rows]
    assert energies[0] == 1.0 and energies == sorted(energies, reverse=True)  # nominal = 1, falls with V
    bers = [r["ber"] for r in rows]
    assert bers == sorted(bers)  # the preset's BER rises as the voltage falls


def test_bfa_on_two_quantizers_compared(monkeypatch, capsys, tmp_path: Path) -> None:
    out = _run("bfa_two_quantizers.py", monkeypatch, capsys, tmp_path)
    assert [line.split(":")[0] for line in out] == ["cnn_maxabs", "cnn_wcat"]
    for line in out:
        found = re.search(r"flips to break per trial \[(\d+)\] \(\['(broken|budget|stalled)'\]\)", line)
        assert found, line
        assert 1 <= int(found.group(1)) <= 10  # --tiny: a budget of 10 flips


def test_the_readme_shows_the_first_example_as_it_is() -> None:
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    script = {line.strip() for line in (EXAMPLES / "own_model_sweep.py").read_text().splitlines()}
    shown = [line.strip() for line in block.splitlines() if line.strip()]
    assert len(shown) >= 10 and [line for line in shown if line not in script] == []
