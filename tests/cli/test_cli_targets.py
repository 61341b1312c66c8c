"""`--target weights|activations|both` of random-flip and sweep-voltage (issue 20 section 1)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from wcatsim.store.atomic import read_csv


def _invoke(command, args: list) -> object:
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


def test_random_flip_target_flags_reach_the_table(digits_runs, tmp_path) -> None:
    from cli.random_flip import random_flip

    common = ["--run", digits_runs["maxabs"], "--ber", "0,2e-2", "--samples", "2", "--eval-images", "100",
              "--device", "cpu"]  # fmt: skip
    result = _invoke(random_flip, [*common, "--out", tmp_path / "w.csv", "--quiet"])
    assert result.exit_code == 0, result.output
    result = _invoke(random_flip, [*common, "--out", tmp_path / "b.csv", "--target", "both",
                                   "--act-ber", "1e-3", "--calibration-images", "64",
                                   "--act-protect", "secded"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "act_ber" in result.output.splitlines()[1]  # the printed header (after the subset note)
    rows = read_csv(tmp_path / "b.csv")
    assert [r["act_ber"] for r in rows] == ["0.001", "0.001"]
    side = json.loads((tmp_path / "b.json").read_text())
    buffer = side["settings"]["activations"]
    assert (buffer["target"], buffer["protect"], buffer["calibration_images"]) == ("both", "secded", 64)
    assert side["fingerprint"] != json.loads((tmp_path / "w.json").read_text())["fingerprint"]
    assert "activations" not in json.loads((tmp_path / "w.json").read_text())["settings"]


def test_sweep_voltage_target_activations_from_the_config(digits_runs, tmp_path) -> None:
    from cli.sweep_voltage import sweep_voltage

    result = _invoke(sweep_voltage, [
        "--run", digits_runs["maxabs"], "--voltages", "1.0,0.8", "--chips", "2", "--eval-images", "100",
        "--set", "attack.activations.target=activations", "--set", "attack.activations.calibration_images=64",
        "--out", tmp_path / "a.csv", "--quiet", "--device", "cpu",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = read_csv(tmp_path / "a.csv")
    assert [r["act_voltage"] for r in rows] == ["1.0", "0.8"] and {r["flip_rate"] for r in rows} == {"0.0"}


@pytest.mark.parametrize("args, message", [
    (["--target", "both", "--act-voltage", "0.2"], "0.2"),
    (["--target", "activations", "--act-bits", "9"], "--act-bits"),
    (["--target", "nothing"], "--target"),
    (["--target", "both", "--act-preset", "no_such_preset"], "no_such_preset"),
])  # fmt: skip
def test_bad_buffer_settings_are_one_line_exit_2_and_keep_results(
    digits_runs, tmp_path, args, message
) -> None:
    from cli.sweep_voltage import sweep_voltage

    out = tmp_path / "kept.csv"
    out.write_text("voltage,acc_mean\n1.0,97.0\n")
    result = _invoke(sweep_voltage, ["--run", digits_runs["maxabs"], "--voltages", "1.0", "--out", out,
                                     "--quiet", "--device", "cpu", *args])  # fmt: skip
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[-1], lines
    assert out.read_text() == "voltage,acc_mean\n1.0,97.0\n"


def test_a_buffer_table_has_its_own_name_in_the_run_directory(tmp_path) -> None:
    """A buffer sweep never replaces the weights table the analysis reads, nor writes over another's."""
    from sram_models.errors import InputError
    from wcatsim.config import ActivationSpec
    from wcatsim.experiments.sweeps.targets import table_name
    from wcatsim.store.files import check_table_path, target_family

    assert table_name("sweep_voltage.csv", None) == "sweep_voltage.csv"
    assert table_name("sweep_voltage.csv", ActivationSpec(target="both")) == "sweep_voltage_both.csv"
    assert table_name("random_flip.csv", ActivationSpec(target="activations")) == (
        "random_flip_activations.csv")
    own = tmp_path / "random_flip_activations.csv"
    check_table_path(own, target_family("random_flip", "activations"))  # its own name: allowed
    with pytest.raises(InputError, match="random-flip --target activations"):  # another family's: refused
        check_table_path(own, target_family("random_flip", "weights"))
    with pytest.raises(InputError, match="sweep_voltage.csv"):
        check_table_path(tmp_path / "sweep_voltage.csv", target_family("sweep_voltage", "both"))
