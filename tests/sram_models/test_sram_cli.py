"""`wcatsim sram list` and `wcatsim sram show`: tables, CSV columns other tools read, errors, plots."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from wcatsim.cli.sram import sram

SHOW = [
    "voltage", "ber", "read_energy_pj", "leakage_mw", "read_energy_norm", "access_time_ns",
    "access_time_norm", "source_leakage_mw",
]  # fmt: skip


def _run(*args: str):
    return CliRunner().invoke(sram, list(args))


def test_list_shows_the_presets_and_their_sources() -> None:
    r = _run("list")
    assert r.exit_code == 0, r.output
    for name in ("chandramoorthy14", "dpcs45", "generic"):
        assert name in r.output
    assert "Gottscho" in r.output and "Chandramoorthy" in r.output


def test_list_csv_columns() -> None:
    r = _run("list", "--csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0]) == ["name", "node", "v_low", "v_high", "source"]
    by_name = {row["name"]: row for row in rows}
    assert float(by_name["dpcs45"]["v_low"]) == 0.4 and float(by_name["dpcs45"]["v_high"]) == 1.0


def test_show_csv_for_a_preset_with_absolute_energy() -> None:
    r = _run("show", "dpcs45", "--voltages", "0.4:1.0:0.1", "--csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0]) == SHOW
    assert [float(x["voltage"]) for x in rows] == [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]  # both ends
    assert float(rows[0]["ber"]) == pytest.approx(1.81e-2) and float(rows[0]["read_energy_pj"]) == 19.74
    assert float(rows[-1]["leakage_mw"]) == 157.6 and float(rows[-1]["read_energy_norm"]) == 1.0
    # the energy model's full-array leakage beside the source's gated-cache column
    assert float(rows[0]["leakage_mw"]) == 39.08 and float(rows[0]["source_leakage_mw"]) == 20.7
    # access time: the preset's 0.5 ns at nominal, several-fold longer toward 0.4 V
    assert float(rows[-1]["access_time_ns"]) == 0.5 and float(rows[-1]["access_time_norm"]) == 1.0
    times = [float(x["access_time_ns"]) for x in rows]
    assert times == sorted(times, reverse=True) and times[0] > 10 * times[-1]


def test_show_csv_normalised_only_has_empty_fields_and_warns_on_stderr() -> None:
    r = _run("show", "chandramoorthy14", "--voltages", "0.75:1.0:0.05", "--csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))  # stdout is clean CSV
    assert len(rows) == 6 and all(row["read_energy_pj"] == "" and row["leakage_mw"] == "" for row in rows)
    assert float(rows[0]["read_energy_norm"]) == pytest.approx(0.5625)
    # no absolute timing either, but the relative access time of its (assumed) delay model
    assert all(row["access_time_ns"] == "" for row in rows) and float(rows[0]["access_time_norm"]) > 1.0
    assert "no absolute energy" in r.stderr


def test_show_table_default_voltages() -> None:
    r = _run("show", "chandramoorthy14")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("voltage"))
    assert lines[header].split() == SHOW
    end = lines.index("", header)  # the table ends at a blank line; the BER(V) fit follows
    volts = [float(line.split()[0]) for line in lines[header + 1 : end]]
    assert volts == pytest.approx([0.75 + 0.025 * i for i in range(11)])  # the preset's range, 10 steps
    assert any(line.startswith("source:") for line in lines)
    assert "ber_meaning: faulty_cell" in r.stdout and "access time: EKV delay" in r.stdout
    assert "Vmin = 0.8 V" in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "dpcs45", "--voltages", "0.3:1.0:0.1"), "outside dpcs45's range 0.4..1 V"),
        (("show", "nope"), "unknown SRAM preset 'nope'"),
        (("show", "dpcs45", "--voltages", "0.4:1.0"), "A:B:STEP"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    r = _run(*args)
    assert r.exit_code == 2 and message in r.stderr and "Traceback" not in r.output


def test_show_plot_writes_png_and_pdf(tmp_path: Path) -> None:
    out = tmp_path / "c14.png"
    r = _run("show", "chandramoorthy14", "--plot", str(out))
    assert r.exit_code == 0, r.output
    assert out.stat().st_size > 10_000 and out.with_suffix(".pdf").exists()
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sram_list_through_the_wcatsim_group() -> None:
    from wcatsim.cli.main import cli

    r = CliRunner().invoke(cli, ["sram", "list", "--csv"])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "name,node,v_low,v_high,source"


def test_list_and_show_the_macro_preset() -> None:
    r = _run("list", "--csv")
    by_name = {row["name"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
    assert "yang_murmann28_macro" in by_name and by_name["yang_murmann28_macro"]["node"] == "28 nm"
    assert "Yang & Murmann" in by_name["yang_murmann28_macro"]["source"]
    r = _run("show", "yang_murmann28_macro")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "alpha-power law with alpha 1.3, Vth 0.35 V" in out
    assert "inference time: read-bound" in out and "leakage weight in the energy per inference: none" in out
    assert "leakage fit: leakage_v0 = 0.18139 V +- 0.0027 V (1 s.e.)" in out
    # the curve has rows at the two measured voltages, each beside its measured ratios
    header = next(line for line in out.splitlines() if line.startswith("voltage  dynamic_norm"))
    assert header.split() == [
        "voltage", "dynamic_norm", "measured_access", "leakage_norm", "measured_leakage", "access_time_norm",
        "leakage_x_time_norm",
    ]  # fmt: skip
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.split() and len(line.split()) == 7 and line.split()[0] in ("0.72", "0.69")}  # fmt: skip
    t069 = (0.69 / 0.34**1.3) / (1.0 / 0.65**1.3)
    leak = math.exp(-0.31 / 0.18139)
    assert rows["0.69"] == [
        "0.69", f"{0.69**2:.4f}", f"{1 / 2.9:.4f}", f"{leak:.4f}", f"{1 / 5.4:.4f}", f"{t069:.4f}",
        f"{leak * t069:.4f}",
    ]  # fmt: skip
    assert rows["0.72"][2] == f"{1 / 2.6:.4f}" and rows["0.72"][4] == f"{1 / 4.8:.4f}"
    # the residuals of the measured ratios, in percent
    assert "+2.5%" in out and "-2.2%" in out and "+34.8%" in out and "+38.1%" in out
