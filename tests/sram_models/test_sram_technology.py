"""Technology presets: the published anchor points, interpolation, ranges, user files and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from sram_models import (
    GaussianCellModel,
    InputError,
    TabulatedTechnology,
    list_presets,
    load_technology,
)

DPCS_TABLE = [  # issue 2 / gem5params-L1-A.csv: V, BER, access energy (nJ), static power (mW)
    (1.0, 9.49e-11, 0.02607, 157.6),
    (0.9, 5.24e-9, 0.02499, 124.7),
    (0.8, 2.16e-7, 0.02392, 98.9),
    (0.7, 6.44e-6, 0.02286, 78.0),
    (0.6, 1.35e-4, 0.02181, 58.8),
    (0.5, 1.93e-3, 0.02077, 31.1),
    (0.4, 1.81e-2, 0.01974, 20.7),
]


def test_shipped_presets_are_listed_with_sources() -> None:
    infos = {p.name: p for p in list_presets()}
    assert set(infos) == {
        "chandramoorthy14", "chandramoorthy14_fig1", "dpcs45", "generic", "salami28_bram",
        "yang_murmann28_macro",
    }
    assert infos["chandramoorthy14"].node == "14 nm" and infos["dpcs45"].node == "45 nm"
    for info in infos.values():
        assert info.source and info.v_low < info.v_high


def test_chandramoorthy14_fit_reproduces_its_anchor_points() -> None:
    tech = load_technology("chandramoorthy14")
    assert isinstance(tech, GaussianCellModel)
    # the fit, redone here: BER(1.0) = 1/(512*64), BER(0.83) = 1%
    z1, z2 = norm.ppf(1 / 32768), norm.ppf(0.01)
    sigma = 0.17 / (z2 - z1)
    mu = 1.0 + z1 * sigma
    assert tech.mu == pytest.approx(mu, abs=1e-4) and tech.sigma == pytest.approx(sigma, abs=1e-4)
    assert tech.mu == pytest.approx(0.595, abs=5e-4) and tech.sigma == pytest.approx(0.101, abs=5e-4)
    assert tech.ber(0.83) == pytest.approx(0.01, rel=0.01)
    assert tech.ber(1.0) == pytest.approx(1 / 32768, rel=0.01)
    assert tech.read_energy_norm(0.83) == pytest.approx(0.6889)  # ~31% lower, the reported ~30%
    assert tech.read_energy(0.9) is None and tech.leakage_power(0.9) is None
    assert not tech.has_absolute_energy
    assert tech.v_nominal == tech.v_min == 1.0 and tech.voltage_unit == "Vmin"
    v = np.linspace(0.75, 1.0, 50)
    assert np.all(np.diff(tech.ber(v)) < 0)


def test_dpcs45_table_points_and_monotone_log_interpolation() -> None:
    tech = load_technology("dpcs45")
    assert isinstance(tech, TabulatedTechnology) and tech.has_absolute_energy
    for v, ber, nj, mw in DPCS_TABLE:
        assert tech.ber(v) == pytest.approx(ber, rel=1e-9)
        assert tech.read_energy(v) == pytest.approx(nj * 1000, rel=1e-9)  # pJ
        assert tech.source_leakage_power(v) == pytest.approx(mw, rel=1e-9)  # the gated cache's figure
    # between rows: linear in log10(BER), so the geometric mean at the midpoint
    assert tech.ber(0.55) == pytest.approx(np.sqrt(1.35e-4 * 1.93e-3), rel=1e-9)
    v = np.linspace(0.4, 1.0, 601)
    assert np.all(np.diff(tech.ber(v)) < 0), "BER must fall with V everywhere"
    assert tech.read_energy_norm(1.0) == pytest.approx(1.0)
    assert tech.access_bits == 512 and tech.leakage_bits == 524288


@pytest.mark.parametrize("v", [0.39, 1.01, float("nan")])
def test_out_of_range_voltage_names_the_range(v: float) -> None:
    tech = load_technology("dpcs45")
    with pytest.raises(InputError, match=r"range 0\.4\.\.1 V|not a finite"):
        tech.ber(v)
    with pytest.raises(InputError):
        tech.read_energy_norm(np.array([0.5, v]))


def test_unknown_preset_lists_the_shipped_ones() -> None:
    shipped = "chandramoorthy14, chandramoorthy14_fig1, dpcs45, generic, salami28_bram"
    with pytest.raises(InputError, match=shipped):
        load_technology("tsmc3")


GOOD_TOML = """\
name = "mine"
kind = "table"
node = "22 nm"
source = "my measurements"
v_nominal = 0.9
v_min = 0.8
v_low = 0.6
v_high = 0.9
cycle_time_ns = 1.0

[table]
columns = ["voltage", "ber", "read_energy_pj", "leakage_mw"]
rows = [
  [0.6, 1e-3, 2.0, 5.0],
  [0.7, 1e-5, 2.2, 6.0],
  [0.9, 1e-9, 3.0, 9.0],
]
"""

GOOD_CSV = """\
# name = mine_csv
# node = 22 nm
# source = my measurements
# v_nominal = 0.9
# v_min = 0.8
# v_low = 0.6
# v_high = 0.9
voltage,ber
0.9,1e-9
0.6,1e-3
0.7,1e-5
"""


def test_user_presets_load_from_toml_and_csv(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(GOOD_TOML)
    tech = load_technology(tmp_path / "mine.toml")
    assert tech.name == "mine" and tech.ber(0.7) == pytest.approx(1e-5)
    assert tech.read_energy(0.9) == pytest.approx(3.0)
    (tmp_path / "mine.csv").write_text(GOOD_CSV)
    tech = load_technology(str(tmp_path / "mine.csv"))
    assert tech.name == "mine_csv" and tech.ber(0.6) == pytest.approx(1e-3)
    assert tech.read_energy(0.8) is None and tech.read_energy_norm(0.45 * 2) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (("v_low = 0.6", "v_low = 'low'"), r"line 7: field 'v_low' must be a number"),
        (("[0.7, 1e-5, 2.2, 6.0]", "[0.7, 1e-2, 2.2, 6.0]"), r"line 15: column 'ber'.*must fall as V rises"),
        (("[0.9, 1e-9, 3.0, 9.0]", "[0.9, 1e-9, 3.0]"), r"line 16: table row 3 must have 4 values"),
        (("[0.6, 1e-3, 2.0, 5.0]", "[0.6, 2.0, 2.0, 5.0]"), r"line 14: column 'ber': 2.0 must be in"),
        (('kind = "table"', 'kind = "lookup"'), r"line 2: field 'kind'"),
        (('node = "22 nm"\n', ""), r"missing field 'node'"),
        (("rows = [", "rows = [[0.6,"), "not valid TOML"),
        (("v_high = 0.9", "v_high = 1.2"), r"inside the table's 0\.6\.\.0\.9"),
    ],
)
def test_malformed_toml_names_field_and_line(tmp_path: Path, edit: tuple[str, str], match: str) -> None:
    path = tmp_path / "bad.toml"
    assert edit[0] in GOOD_TOML
    path.write_text(GOOD_TOML.replace(edit[0], edit[1], 1))
    with pytest.raises(InputError, match=match):
        load_technology(path)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (("0.7,1e-5", "0.7,abc"), r"bad.csv line 11: column 'ber': 'abc' is not a number"),
        (("# v_min = 0.8", "# v_min = eight"), r"line 5: field 'v_min'"),
        (("voltage,ber", "voltage,bitrate"), r"unknown column 'bitrate'"),
        (("0.6,1e-3", "0.6,1e-3,7"), r"line 10: 3 values, the header has 2"),
    ],
)
def test_malformed_csv_names_field_and_line(tmp_path: Path, edit: tuple[str, str], match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(GOOD_CSV.replace(edit[0], edit[1], 1))
    with pytest.raises(InputError, match=match):
        load_technology(path)


def test_missing_preset_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_technology(tmp_path / "nope.toml")
