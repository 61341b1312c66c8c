"""The geometric-skip samplers, tested on what they promise: the cells they pick form a Bernoulli(p)
sequence, so the gaps between consecutive picks are i.i.d. Geometric(p) on {0, 1, 2, ...},
P(gap = k) = (1 - p)^k p.  A chi-square goodness-of-fit test on the gaps (20 bins of about equal
probability, the censored last gap left out) rejects at p-value 1e-6: a correct sampler fails with
probability 1e-6 per case, while an off-by-one gap, a biased log or a thinning step that keeps the wrong
share moves the statistic by hundreds.  Counts alone (the other tests) cannot see clustering or a
shifted gap.  Each sampler is reached through the public fault model that uses it where there is one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2 as chi2_distribution
from scipy.stats import chisquare

from sram_models import (
    AsymmetricTransient,
    ChipFaultMap,
    MemoryImage,
    StuckAt,
    Transient,
    WordLayout,
    load_technology,
)

P_VALUE_BOUND = 1e-6
N_CELLS = 2_000_000
RATES = [2e-3, 0.05, 0.3]


def gaps_of(positions: np.ndarray) -> np.ndarray:
    """Cells skipped before each pick: the first pick's index, then differences minus one."""
    ordered = np.sort(np.asarray(positions, dtype=np.int64))
    return np.diff(np.concatenate([[-1], ordered])) - 1


def chi_square_against_geometric(gaps: np.ndarray, p: float, bins: int = 20) -> tuple[float, float, str]:
    """(statistic, p-value, description) of the gaps against Geometric(p), bins cut at its quantiles."""
    q = 1.0 - p
    # bin j = [edge_j, edge_{j+1}): edges where the survival (1-p)^k crosses 1 - j/bins
    edges = sorted({0, *(math.ceil(math.log(1 - j / bins) / math.log(q)) for j in range(1, bins))})
    survival = np.array([q**k for k in edges] + [0.0])
    expected = (survival[:-1] - survival[1:]) * gaps.size
    observed = np.histogram(gaps, bins=[*edges, np.inf])[0]
    result = chisquare(observed, expected)
    dof = len(expected) - 1
    critical = float(chi2_distribution.isf(P_VALUE_BOUND, dof))
    text = (
        f"chi2 {result.statistic:.1f} over {dof} degrees of freedom (reject above {critical:.1f}, "
        f"p-value {result.pvalue:.2e} < {P_VALUE_BOUND:g}) on {gaps.size} gaps"
    )
    return float(result.statistic), float(result.pvalue), text


def assert_geometric(positions: np.ndarray, p: float, what: str) -> None:
    gaps = gaps_of(positions)
    expected_count = N_CELLS * p
    assert abs(gaps.size - expected_count) < 6 * math.sqrt(expected_count * (1 - p)), (
        f"{what}: {gaps.size} picks, expected {expected_count:.0f}"
    )
    _, p_value, text = chi_square_against_geometric(gaps, p)
    assert p_value > P_VALUE_BOUND, f"{what}: gaps are not Geometric({p}): {text}"


@pytest.fixture(scope="module")
def zeros() -> MemoryImage:
    # every cell stores 0, so every fault that reads 1 changes its cell: changed cells = picked cells
    return MemoryImage.pack({"w": np.zeros(N_CELLS // 4, np.int64)}, WordLayout(bits=4, word_bits=64))


def changed_positions(clean: MemoryImage, faulty: MemoryImage) -> np.ndarray:
    """Cells (word * phys_bits + bit) whose stored value differs: the XOR of the words, bit by bit."""
    diff = np.ascontiguousarray(clean.words ^ faulty.words)  # (words, lanes) uint64, lane j = bits 64j..
    bits = np.unpackbits(diff.view(np.uint8).reshape(diff.shape[0], -1), axis=1, bitorder="little")
    words, cells = np.nonzero(bits[:, : clean.layout.phys_bits])
    return words.astype(np.int64) * clean.layout.phys_bits + cells


@pytest.mark.parametrize("p", RATES)
def test_geometric_positions_kernel(p: float) -> None:
    from sram_models import _kernels

    positions, _ = _kernels._geometric_positions(np.uint64(12345), N_CELLS, p, 16)
    assert np.all(np.diff(positions) > 0) and positions.max() < N_CELLS
    assert_geometric(positions, p, "_geometric_positions")


@pytest.mark.parametrize("p", RATES)
def test_transient_flips(zeros: MemoryImage, p: float) -> None:
    result = Transient(p).corrupt(zeros, seed=7)
    assert_geometric(changed_positions(zeros, result.image), p, "Transient (flip fast path)")


@pytest.mark.parametrize("p", RATES)
def test_stuck_at_cells(zeros: MemoryImage, p: float) -> None:
    # ber is the probability that a bit of random data reads wrong (sram_models' one convention): a stuck
    # model makes 2 x ber of the cells faulty, so ber = p / 2 asks for faulty cells at rate p
    result = StuckAt(p / 2, stuck_at_one=1.0).corrupt(zeros, seed=8)
    assert_geometric(changed_positions(zeros, result.image), p, "StuckAt (general sampler)")


@pytest.mark.parametrize("p", RATES)
def test_thinned_sampler_keeps_each_cell_at_its_own_rate(zeros: MemoryImage, p: float) -> None:
    # candidates are drawn at the largest rate, p10 = 2p (it applies to stored 1s, of which there are
    # none here), and a candidate storing 0 is kept with probability p01 / p10: Bernoulli(p) again
    p10 = min(2 * p, 0.9)
    result = AsymmetricTransient(p01=p, p10=p10).corrupt(zeros, seed=9)
    assert_geometric(changed_positions(zeros, result.image), p, f"AsymmetricTransient thinned from {p10}")


@pytest.mark.parametrize("voltage", [0.8, 0.9])
def test_chip_map_faulty_cells_at_a_voltage(zeros: MemoryImage, voltage: float) -> None:
    # drawn once at the technology's highest rate (its lowest voltage), thinned by each cell's draw
    tech = load_technology("chandramoorthy14")
    chip = ChipFaultMap(technology=tech, stuck_at_one=1.0)
    p = float(tech.ber(voltage))
    assert p < chip.max_rate
    assert_geometric(chip.faulty_positions(zeros, seed=3, voltage=voltage), p, f"ChipFaultMap at {voltage}")
    changed = changed_positions(zeros, chip.corrupt(zeros, seed=3, voltage=voltage).image)
    assert_geometric(changed, p, f"ChipFaultMap corrupt at {voltage}")


def test_the_gap_test_rejects_a_sampler_off_by_one() -> None:
    # the statistic itself can fail: gaps of a correct sampler shifted by one cell are rejected
    rng = np.random.default_rng(0)
    gaps = rng.geometric(0.05, size=100_000) - 1  # numpy's geometric counts trials, from 1
    assert chi_square_against_geometric(gaps, 0.05)[1] > P_VALUE_BOUND
    assert chi_square_against_geometric(gaps + 1, 0.05)[1] < 1e-100
