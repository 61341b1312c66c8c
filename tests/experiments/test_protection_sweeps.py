"""Protection schemes and measured fault maps through the sweeps and the CLI (issue 9 section 6,
issue 12 sections 2 and 3): ECC columns, energy of the extra cells, contradictions, one-chip sweeps."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from sram_models import ChipMeasurement, InputError, Transient, WordLayout
from tests.naive import naive_image_words, naive_measured_stuck
from wcatsim.experiments.montecarlo.seeds import transient_seed
from wcatsim.experiments.sweeps.sweep import (
    ECC_COLUMNS,
    RANDOM_FLIP_COLUMNS,
    random_flip_sweep,
    voltage_sweep,
)
from wcatsim.store.atomic import read_csv
from wcatsim.store.columns import standard_columns


def _invoke(command, args):
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


def test_random_flip_ecc_columns_match_the_fault_results(digits_runs, tmp_path) -> None:
    from wcatsim.memory.evaluator import ModelMemory
    from wcatsim.train.runs import load_run

    run = load_run(digits_runs["wcat"], device="cpu")
    out = tmp_path / "rf.csv"
    rows = random_flip_sweep(run, [1e-2], samples=3, protect="secded", out=out, per_realisation=True,
                             device="cpu", seed=5)  # fmt: skip
    assert tuple(read_csv(out)[0]) == standard_columns(RANDOM_FLIP_COLUMNS + ECC_COLUMNS)
    per = read_csv(tmp_path / "rf_realisations.csv")
    assert {"ecc_corrected", "ecc_detected", "ecc_miscorrected"} <= set(per[0])
    # the same faults drawn here, through sram_models alone: the means are those of the FaultResults
    memory = ModelMemory(run.model, protect="secded")
    results = [Transient(1e-2).corrupt(memory.image, seed=transient_seed(5, 1e-2, i)) for i in range(3)]
    for col, attr in zip(ECC_COLUMNS, ("ecc_corrected", "ecc_detected", "ecc_miscorrected"), strict=True):
        assert rows[0][col] == pytest.approx(np.mean([getattr(r, attr) for r in results]))
        assert [int(r[attr]) for r in per] == [getattr(r, attr) for r in results]
    assert rows[0]["ecc_corrected_mean"] > 0
    plain = random_flip_sweep(run, [1e-2], samples=2, out=tmp_path / "plain.csv", device="cpu")
    assert "ecc_corrected_mean" not in plain[0]
    assert tuple(read_csv(tmp_path / "plain.csv")[0]) == standard_columns(RANDOM_FLIP_COLUMNS)


@pytest.mark.parametrize("scheme,nominal", [("secded", 72 / 64), ("parity-zero", 65 / 64), ("msb-8t", 1.0),
                                            ("bit-mask", 1.0), ("secded-zero", 72 / 64)])  # fmt: skip
def test_energy_counts_every_schemes_cells(digits_runs, tmp_path, scheme: str, nominal: float) -> None:
    rows = voltage_sweep(digits_runs["maxabs"], "dpcs45", [1.0, 0.7], chips=1, protect=scheme,
                         out=tmp_path / "sv.csv", device="cpu")  # fmt: skip
    # relative to the same weights unprotected at nominal: the check cells read and leak too
    assert rows[0]["energy_norm"] == pytest.approx(nominal)
    unprotected = voltage_sweep(digits_runs["maxabs"], "dpcs45", [0.7], chips=1, out=tmp_path / "u.csv",
                                device="cpu")  # fmt: skip
    assert rows[1]["energy_norm"] == pytest.approx(nominal * unprotected[0]["energy_norm"])
    assert set(ECC_COLUMNS) <= set(rows[0])


def test_fault_map_sweep_changes_exactly_the_known_bits(digits_runs, tmp_path) -> None:
    from wcatsim.memory.evaluator import ModelMemory
    from wcatsim.train.runs import load_run

    run = load_run(digits_runs["lsq"], device="cpu")
    image = ModelMemory(run.model).image  # 4-bit weights in 64-bit words
    rows_, cols = 64, 64  # 4096 cells: the image tiles the chip
    rng = np.random.default_rng(1)
    cells = {0.9: rng.choice(4096, 40, replace=False), 0.8: rng.choice(4096, 120, replace=False)}
    values = {v: rng.integers(0, 2, c.size) for v, c in cells.items()}
    chip = ChipMeasurement(rows_, cols, 1, (0.9, 0.8),
                           tuple(c[values[v] == 0] for v, c in cells.items()),
                           tuple(c[values[v] == 1] for v, c in cells.items()),
                           voltage_unit="Vmin")  # fmt: skip
    path = chip.save(tmp_path / "chip.npz")
    out = tmp_path / "fm.csv"
    rows = voltage_sweep(
        run, "chandramoorthy14", None, fault_map=path, tile_offset=7, out=out, device="cpu"
    )
    clean = naive_image_words(image.words)
    lay = image.layout
    for row in rows:
        v = row["voltage"]
        measured = dict(zip(cells[v].tolist(), values[v].tolist(), strict=True))
        stuck = naive_measured_stuck(image.n_words, lay.phys_bits, 1, 4096, 7, measured)
        want = sum(
            1 for pos, val in stuck.items()
            if pos % 64 < 4 * min(16, image.n_weights - 16 * (pos // 64))  # a weight bit
            and (clean[pos // 64] >> (pos % 64)) & 1 != val
        )  # fmt: skip
        assert row["bits_changed_mean"] == want > 0
        assert row["realisations"] == 1 and row["ci_low"] is None and row["ber"] == chip.faulty_rate(v)
    assert [r["voltage"] for r in rows] == [0.9, 0.8]
    assert read_csv(out)[0]["ci_low"] == ""


def test_fault_map_sweep_refuses_a_preset_in_another_unit(digits_runs, tmp_path) -> None:
    chip = ChipMeasurement(8, 8, 1, (0.9,), (np.array([1]),), (np.array([2]),), voltage_unit="V")
    with pytest.raises(InputError, match="in V, chandramoorthy14's in Vmin"):
        voltage_sweep(digits_runs["lsq"], "chandramoorthy14", None, fault_map=chip, device="cpu",
                      out=tmp_path / "x.csv")  # fmt: skip
    with pytest.raises(InputError, match="holds no measurement at 0.8"):
        voltage_sweep(
            digits_runs["lsq"], "dpcs45", [0.8], fault_map=chip, device="cpu", out=tmp_path / "x.csv"
        )


@pytest.mark.parametrize("command,args,message", [
    ("random_flip", ["--ecc", "secded", "--protect", "parity-zero"], "contradicts --protect parity-zero"),
    ("random_flip", ["--protect", "msb-8t", "--protect-msb", "0.5"], "--protect-msb 0.5 contradicts"),
    ("random_flip", ["--protect", "tmr"], "unknown protection scheme 'tmr'"),
    ("sweep_voltage", ["--ecc", "none", "--protect", "secded"], "contradicts"),
    ("sweep_voltage", ["--fault-map", "MAP", "--chips", "3"], "--chips has no meaning with --fault-map"),
    ("sweep_voltage", ["--fault-map", "MAP", "--fault", "transient"], "--fault has no meaning"),
    ("sweep_voltage", ["--tile-offset", "3"], "--tile-offset applies to --fault-map only"),
])  # fmt: skip
def test_contradictions_are_one_line_exit_2(digits_runs, tmp_path, command, args, message) -> None:
    from cli.random_flip import random_flip
    from cli.sweep_voltage import sweep_voltage

    cmd = {"random_flip": random_flip, "sweep_voltage": sweep_voltage}[command]
    args = [str(tmp_path / "map.npz") if a == "MAP" else a for a in args]
    out = tmp_path / "t.csv"
    result = _invoke(cmd, ["--run", digits_runs["wcat"], "--out", out, "--quiet", "--device", "cpu", *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
    assert not out.exists()


def test_sweep_voltage_cli_protect_and_fault_map(digits_runs, tmp_path) -> None:
    from cli.sweep_voltage import sweep_voltage

    out = tmp_path / "sv.csv"
    result = _invoke(sweep_voltage, ["--run", digits_runs["wcat"], "--preset", "chandramoorthy14",
                                     "--voltages", "0.85,1.0", "--chips", "2", "--protect", "bit-mask",
                                     "--out", out, "--device", "cpu"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ecc_det" in result.output
    rows = read_csv(out)
    # chips are stuck cells: bit-mask's Razor-style detector sees none of them (issue 17 §5), so nothing is
    # flagged and every word read wrong counts as miscorrected
    assert float(rows[1]["ecc_detected_mean"]) == 0 and float(rows[1]["ecc_corrected_mean"]) == 0
    assert float(rows[1]["ecc_miscorrected_mean"]) > 0
    chip = ChipMeasurement(32, 64, 1, (1.0, 0.9), (np.array([3]), np.arange(0, 2048, 97)),
                           (np.array([]), np.arange(5, 2048, 89)),
                           voltage_unit="Vmin").save(tmp_path / "c.npz")  # fmt: skip
    out = tmp_path / "fm.csv"
    result = _invoke(sweep_voltage, ["--run", digits_runs["wcat"], "--preset", "chandramoorthy14",
                                     "--fault-map", chip, "--out", out, "--device", "cpu"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "one measured chip" in result.output and "no CI" in result.output
    assert [r["voltage"] for r in read_csv(out)] == ["1.0", "0.9"]


def test_pareto_legend_names_each_scheme(digits_runs, tmp_path) -> None:
    from wcatsim.analysis.pareto import load_sweep

    labels = []
    for scheme in ("none", "secded", "parity-zero"):
        out = tmp_path / f"{scheme}.csv"
        voltage_sweep(digits_runs["maxabs"], "chandramoorthy14", [1.0, 0.9], chips=1, protect=scheme, out=out,
                      device="cpu")  # fmt: skip
        labels.append(load_sweep(out).label)
    assert labels[0].endswith("ECC off") and labels[1].endswith("ECC secded")
    assert labels[2].endswith("parity-zero")


def test_msb8t_sweep_refuses_voltages_below_the_8t_vmin(digits_runs, tmp_path) -> None:
    from sram_models import GaussianCellModel

    deep = GaussianCellModel(name="deep", node="test", source="test", v_nominal=1.0, v_min=0.8, v_low=0.2,
                             v_high=1.0, mu=0.3, sigma=0.1)  # fmt: skip
    with pytest.raises(InputError, match="below the 8T cells' Vmin"):
        voltage_sweep(digits_runs["maxabs"], deep, [1.0, 0.3], chips=1, protect="msb-8t", device="cpu",
                      out=tmp_path / "x.csv")  # fmt: skip
    assert not (tmp_path / "x.csv").exists()


def test_config_protect_matches_the_schemes() -> None:
    from sram_models.protection import SCHEME_NAMES
    from wcatsim.config import RandomFlipConfig, SweepConfig
    from wcatsim.errors import ConfigError

    # the config accepts exactly the registry's schemes: every one of them, and nothing else
    for scheme in SCHEME_NAMES:
        assert RandomFlipConfig(protect=scheme).protect == scheme
        assert SweepConfig(protect=scheme).protect == scheme
    for section in (RandomFlipConfig, SweepConfig):
        with pytest.raises(ConfigError, match="did you mean 'secded'"):
            section(protect="secdd")
    # a word-zeroing scheme zeroes all the weights of a word: 16 at the default 4-bit / 64-bit layout
    assert WordLayout(bits=4, word_bits=64, protect="parity-zero").weights_per_word == 16
