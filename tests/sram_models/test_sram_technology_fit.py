"""Every preset's BER(V) curve: its points with sources, the fit redone independently, its residuals.

The independent derivation is written here with numpy alone: the probit fit z = c0 + c1 V is a
straight line, solved by ``numpy.linalg.lstsq``; mu = -c0 / c1, sigma = -1 / c1, and their standard
errors follow from the line's covariance s^2 (X^T X)^-1 by the delta method.  The code under test
(scipy's curve_fit on (mu - V) / sigma) must agree with it.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.special import ndtri  # Phi^-1; the test's own probit

from sram_models import InputError, load_technology
from sram_models.technology import TECHNOLOGIES
from sram_models.technology.fit import fit_gaussian, load_fit, parse_fit
from wcatsim.cli.sram import sram

PRESETS = list(TECHNOLOGIES.names())
MEASURED_NEW = ("salami28_bram", "chandramoorthy14_fig1")


def _line_fit(v: np.ndarray, b: np.ndarray) -> tuple[float, float, float | None, float | None]:
    """mu, sigma and their standard errors (None with no residual degree of freedom), by lstsq."""
    z = ndtri(b)
    x = np.column_stack([np.ones_like(v), v])
    (c0, c1), *_ = np.linalg.lstsq(x, z, rcond=None)
    mu, sigma = -c0 / c1, -1.0 / c1
    dof = v.size - 2
    if dof == 0:
        return mu, sigma, None, None
    s2 = float(np.sum((z - x @ np.array([c0, c1])) ** 2)) / dof
    cov = s2 * np.linalg.inv(x.T @ x)
    # gradients of mu = -c0/c1 and sigma = -1/c1 with respect to (c0, c1)
    g_mu = np.array([-1.0 / c1, c0 / c1**2])
    g_sigma = np.array([0.0, 1.0 / c1**2])
    return mu, sigma, float(np.sqrt(g_mu @ cov @ g_mu)), float(np.sqrt(g_sigma @ cov @ g_sigma))


def test_new_measured_presets_are_registered() -> None:
    for name in MEASURED_NEW:
        assert name in PRESETS
    assert {"chandramoorthy14", "dpcs45", "generic"} <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_lists_sourced_points(name: str) -> None:
    fit = load_fit(name)
    assert fit is not None, f"{name} has no [fit] section"
    fitted = fit.fitted
    assert len(fitted) >= 2
    assert all(p.source.strip() for p in fit.points)
    # assumed points are marked, and never the only support of the curve
    assert any(p.kind != "assumed" for p in fitted)
    assert all(p.source.startswith("ASSUMED") for p in fit.points if p.kind == "assumed")


@pytest.mark.parametrize("name", PRESETS)
def test_curve_reproduces_its_points_within_the_stated_residual(name: str) -> None:
    fit, tech = load_fit(name), load_technology(name)
    res = fit.residuals(tech)[[p.use == "fit" for p in fit.points]]
    assert np.all(np.isfinite(res))
    assert np.max(np.abs(res)) <= fit.max_residual_decades, (name, res)
    if fit.model == "interpolation":  # a table goes through its rows
        np.testing.assert_allclose(res, 0.0, atol=1e-12)
        rows = {round(v, 9): b for v, b in zip(tech.voltages, tech.bers, strict=True)}
        assert {round(p.voltage, 9): p.ber for p in fit.fitted} == rows


@pytest.mark.parametrize("name", [n for n in PRESETS if load_fit(n).model == "gaussian"])
def test_gaussian_fit_rederived_independently(name: str) -> None:
    fit, tech = load_fit(name), load_technology(name)
    v = np.array([p.voltage for p in fit.fitted])
    b = np.array([p.ber for p in fit.fitted])
    mu, sigma, se_mu, se_sigma = _line_fit(v, b)
    # the file's parameters are the technology's, and both are the independent fit (to the 5
    # significant figures the file keeps)
    assert fit.parameters == {"mu": tech.mu, "sigma": tech.sigma}
    assert tech.mu == pytest.approx(mu, abs=1e-5) and tech.sigma == pytest.approx(sigma, rel=1e-4)
    # the code's fit agrees with the independent one
    got, err = fit_gaussian(v, b)
    assert got["mu"] == pytest.approx(mu, rel=1e-6) and got["sigma"] == pytest.approx(sigma, rel=1e-6)
    if se_mu is None:
        assert err is None and fit.stderr is None and fit.uncertainty, "exact fit: state the bound"
    else:
        assert err["mu"] == pytest.approx(se_mu, rel=1e-4)
        assert err["sigma"] == pytest.approx(se_sigma, rel=1e-4)
        # the file states them to 2 significant figures
        assert fit.stderr["mu"] == pytest.approx(se_mu, rel=0.02)
        assert fit.stderr["sigma"] == pytest.approx(se_sigma, rel=0.02)


def test_measured_presets_rest_on_three_or_more_measured_points_and_a_power_figure() -> None:
    for name in MEASURED_NEW:
        fit = load_fit(name)
        assert sum(p.kind == "measured" for p in fit.fitted) >= 3
        assert all(p.kind == "measured" for p in fit.fitted)
        assert fit.stderr is not None and fit.power


def test_bram_preset_matches_the_released_counts() -> None:
    # VC707: 2060 BRAMs x 16 kbit; counts from the released sheet (sources note section 2a)
    counts = {0.60: 4, 0.59: 24, 0.58: 146, 0.57: 772, 0.56: 2732, 0.55: 7520, 0.54: 23706}
    fit, tech = load_fit("salami28_bram"), load_technology("salami28_bram")
    got = {round(p.voltage, 2): p.ber for p in fit.fitted}
    assert got == pytest.approx({v: c / (2060 * 16384) for v, c in counts.items()}, rel=1e-5)
    # FPL'18: no observable fault at Vmin = 0.61 V (below one expected faulty bit on the board)
    assert tech.faulty_cell_rate(0.61) * 2060 * 16384 < 1.0
    # "rises to about 0.06 % at the crash voltage": the fitted curve at VC707's 0.54 V
    assert 0.0005 < tech.ber(0.54) < 0.001
    assert tech.v_nominal == 1.0 and tech.v_min == 0.61


def test_fig1_preset_agrees_with_the_unfitted_zero_point() -> None:
    # Fig. 1 gives BER 0 at 1.0 Vmin over 32 arrays of 32768 cells; the fit must expect < 1 cell there
    tech = load_technology("chandramoorthy14_fig1")
    assert tech.ber(1.0) * 32 * 32768 < 1.0
    # the Spectre energy of the same figure is (k/24)^2: C V^2 of the whole access
    for p in load_fit("chandramoorthy14_fig1").power:
        assert tech.read_energy_norm(p.voltage) == pytest.approx(p.ratio, abs=1e-3)


def test_fit_section_refuses_a_curve_on_assumed_points_only() -> None:
    section = {
        "model": "gaussian", "method": "exact",
        "points": [
            {"voltage": 0.8, "ber": 1e-3, "kind": "assumed", "source": "ASSUMED"},
            {"voltage": 1.0, "ber": 1e-6, "kind": "assumed", "source": "ASSUMED"},
        ],
    }  # fmt: skip
    with pytest.raises(InputError, match="all assumed"):
        parse_fit(section, "x.toml")
    section["points"][0]["kind"] = "guessed"
    with pytest.raises(InputError, match="kind 'guessed'"):
        parse_fit(section, "x.toml")


@pytest.mark.parametrize("name", PRESETS)
def test_show_prints_points_residuals_and_uncertainty(name: str) -> None:
    result = CliRunner().invoke(sram, ["show", name])
    assert result.exit_code == 0, result.output
    out = result.output
    fit = load_fit(name)
    assert f"BER(V) fit: {fit.model}" in out and "residual" in out
    for p in fit.points:
        assert p.source in out
    if fit.stderr is not None:
        assert "(1 s.e.)" in out
    else:
        assert "uncertainty: " in out
