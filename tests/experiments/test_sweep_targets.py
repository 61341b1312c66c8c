"""random-flip and sweep-voltage with the activation buffer (issue 20 section 1): target weights is
today's table, activations and both another table with the buffer's columns and both memories' energy."""

from __future__ import annotations

import json

import pytest

from wcatsim.config import ActivationSpec
from wcatsim.experiments.sweeps.sweep import (
    RANDOM_FLIP_COLUMNS,
    SWEEP_VOLTAGE_COLUMNS,
    random_flip_sweep,
    voltage_sweep,
)
from wcatsim.experiments.sweeps.targets import FLIP_ACT_COLUMNS, VOLTAGE_ACT_COLUMNS
from wcatsim.store.atomic import read_csv
from wcatsim.store.columns import standard_columns

CAL = 64  # calibration images: enough for the 8x8 digits, and fast
ACT = ActivationSpec(target="activations", calibration_images=CAL)


@pytest.fixture(scope="module")
def run(digits_runs):
    from wcatsim.train.runs import load_run

    return load_run(digits_runs["maxabs"], device="cpu")


def _fingerprint(path) -> str:
    return json.loads(path.with_suffix(".json").read_text())["fingerprint"]


def test_random_flip_targets(run, tmp_path) -> None:
    common = {"samples": 2, "eval_images": 100, "device": "cpu"}
    plain = random_flip_sweep(run, [0.0, 2e-2], out=tmp_path / "plain.csv", **common)
    weights = random_flip_sweep(run, [0.0, 2e-2], out=tmp_path / "w.csv",
                                activations=ActivationSpec(target="weights"), **common)  # fmt: skip
    assert weights == plain and _fingerprint(tmp_path / "w.csv") == _fingerprint(tmp_path / "plain.csv")
    act = random_flip_sweep(run, [0.0, 2e-2], out=tmp_path / "a.csv", activations=ACT, **common)
    assert tuple(read_csv(tmp_path / "a.csv")[0]) == standard_columns(RANDOM_FLIP_COLUMNS + FLIP_ACT_COLUMNS)
    assert _fingerprint(tmp_path / "a.csv") != _fingerprint(tmp_path / "plain.csv")
    side = json.loads((tmp_path / "a.csv").with_suffix(".json").read_text())["settings"]["activations"]
    assert side["target"] == "activations" and side["bits"] == 8 and side["calibration"] == "max"
    # the weights stay clean: no weight bit changes; faults off reads the clean (stored) accuracy
    assert [r["flip_rate"] for r in act] == [0.0, 0.0] and [r["act_ber"] for r in act] == [0.0, 2e-2]
    assert act[0]["acc_mean"] == act[0]["clean_acc"]
    assert act[1]["acc_mean"] < act[1]["clean_acc"]
    both = random_flip_sweep(run, [2e-2], out=tmp_path / "b.csv", activations=ActivationSpec(
        target="both", calibration_images=CAL, ber=1e-3), **common)  # fmt: skip
    assert both[0]["flip_rate"] == plain[1]["flip_rate"] and both[0]["act_ber"] == 1e-3
    assert _fingerprint(tmp_path / "b.csv") not in {_fingerprint(tmp_path / n) for n in ("a.csv", "w.csv")}


def test_voltage_sweep_counts_both_memories(run, tmp_path) -> None:
    from sram_models import load_technology

    tech = load_technology("chandramoorthy14")
    common = {"chips": 2, "eval_images": 100, "device": "cpu"}
    plain = voltage_sweep(run, tech, [1.0, 0.8], out=tmp_path / "plain.csv", **common)
    act = voltage_sweep(run, tech, [1.0, 0.8], out=tmp_path / "a.csv", activations=ACT, **common)
    header = standard_columns(SWEEP_VOLTAGE_COLUMNS + VOLTAGE_ACT_COLUMNS)
    assert tuple(read_csv(tmp_path / "a.csv")[0]) == header
    assert _fingerprint(tmp_path / "a.csv") != _fingerprint(tmp_path / "plain.csv")
    for row in act:
        assert row["energy_norm"] == pytest.approx(row["weights_energy_norm"] + row["act_energy_norm"])
        assert row["act_voltage"] == row["voltage"]
        assert row["act_ber"] == pytest.approx(tech.ber(row["voltage"]))
        assert row["flip_rate"] == 0.0
    # the weights sit at nominal (fault-free): their share is the same at every voltage; at nominal both
    # memories are their own reference, so energy_norm is 1
    assert act[0]["weights_energy_norm"] == act[1]["weights_energy_norm"]
    assert act[0]["energy_norm"] == pytest.approx(1.0)
    assert act[1]["act_energy_norm"] < act[0]["act_energy_norm"]
    both = voltage_sweep(run, tech, [1.0, 0.8], out=tmp_path / "b.csv", activations=ActivationSpec(
        target="both", calibration_images=CAL, voltage=0.9), **common)  # fmt: skip
    assert [r["act_voltage"] for r in both] == [0.9, 0.9]
    # the buffer's supply in volts too (issue 19 section 3): chandramoorthy14's Vmin is 0.8 V
    assert [(r["act_voltage_v"], r["act_voltage_norm"]) for r in both] == [(0.72, 0.9), (0.72, 0.9)]
    assert [r["flip_rate"] for r in both] == [r["flip_rate"] for r in plain]  # common chips: same weights
    # the weights' energy scales as in the weights-only sweep, the buffer's stays at 0.9
    ratio = both[1]["weights_energy_norm"] / both[0]["weights_energy_norm"]
    assert ratio == pytest.approx(plain[1]["energy_norm"] / plain[0]["energy_norm"])
    assert both[0]["act_energy_norm"] == both[1]["act_energy_norm"]


def test_buffer_settings_are_checked_before_any_work(run, tmp_path) -> None:
    from sram_models.errors import InputError

    with pytest.raises(InputError, match="attack.activations.voltage"):
        voltage_sweep(run, "chandramoorthy14", [1.0], chips=1, out=tmp_path / "x.csv", device="cpu",
                      activations=ActivationSpec(target="both", voltage=0.1))  # fmt: skip
    assert not (tmp_path / "x.csv").exists()
    # another preset: only where both have absolute energies (relative units are each preset's own)
    with pytest.raises(InputError, match="attack.activations.preset"):
        voltage_sweep(run, "chandramoorthy14", [1.0], chips=1, out=tmp_path / "x.csv", device="cpu",
                      activations=ActivationSpec(target="activations", preset="generic"))  # fmt: skip
    assert not (tmp_path / "x.csv").exists()
    with pytest.raises(InputError, match="attack.activations.bits"):
        ActivationSpec(bits=9)


def test_nested_realisations_read_the_buffer_too(run, tmp_path) -> None:
    rows = random_flip_sweep(run, [0.0, 5e-2], samples=3, images=60, out=tmp_path / "n.csv", device="cpu",
                             activations=ACT)  # fmt: skip
    assert [r["images_per_realisation"] for r in rows] == [60, 60]
    # activation faults at 5e-2 cost accuracy on every subset; weights untouched
    assert rows[1]["acc_mean"] < rows[0]["acc_mean"] - 5 and rows[1]["flip_rate"] == 0.0


def test_a_buffer_of_another_preset_adds_its_picojoules(run, tmp_path) -> None:
    from sram_models import load_technology
    from wcatsim.memory.activations import buffer_for_run

    spec = ActivationSpec(target="both", calibration_images=CAL, preset="generic", voltage=0.9)
    common = {"chips": 1, "eval_images": 100, "device": "cpu"}
    plain = voltage_sweep(run, "dpcs45", [0.8], out=tmp_path / "w.csv", **common)
    both = voltage_sweep(run, "dpcs45", [0.8], out=tmp_path / "b.csv", activations=spec, **common)
    buffer = buffer_for_run(run, spec).energy(load_technology("generic"), 0.9)
    assert both[0]["energy_per_inference_pj"] == pytest.approx(
        plain[0]["energy_per_inference_pj"] + buffer.total_pj, rel=1e-12)
    assert both[0]["act_ber"] == pytest.approx(load_technology("generic").ber(0.9))


def test_the_default_table_of_a_buffer_sweep_is_its_own(digits_runs, tmp_path) -> None:
    import shutil

    from wcatsim.train.runs import load_run

    copy = tmp_path / "run"
    shutil.copytree(digits_runs["maxabs"], copy)  # the shared runs are never written to
    run = load_run(copy, device="cpu")
    random_flip_sweep(run, [1e-2], samples=1, eval_images=60, device="cpu")
    random_flip_sweep(run, [1e-2], samples=1, eval_images=60, device="cpu", activations=ACT)
    voltage_sweep(run, "chandramoorthy14", [0.8], chips=1, eval_images=60, device="cpu",
                  activations=ActivationSpec(target="both", calibration_images=CAL))  # fmt: skip
    names = {p.name for p in copy.iterdir()}
    assert {"random_flip.csv", "random_flip_activations.csv", "sweep_voltage_both.csv"} <= names
    # the weights table stays the weights table (nothing archived beside it)
    assert "activations" not in json.loads((copy / "random_flip.json").read_text())["settings"]
    assert not [n for n in names if n.startswith("random_flip.") and n.count(".") > 1]
