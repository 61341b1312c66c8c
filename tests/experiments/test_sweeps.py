"""random_flip_sweep and voltage_sweep on trained digits models: statistics, seeds, resume, energy."""

from __future__ import annotations

import math

import pytest

from sram_models.errors import InputError
from wcatsim.store.atomic import read_csv
from wcatsim.store.columns import standard_columns


@pytest.fixture(scope="module")
def runs(digits_runs):
    from wcatsim.train.runs import load_run

    return {name: load_run(digits_runs[name], device="cpu") for name in ("wcat", "maxabs")}


def test_random_flip_table_and_ber_zero_is_exactly_clean(runs, tmp_path) -> None:
    from wcatsim.experiments.sweeps.sweep import RANDOM_FLIP_COLUMNS, random_flip_sweep

    out = tmp_path / "rf.csv"
    rows = random_flip_sweep(runs["wcat"], [0.0, 2e-2], samples=4, out=out, per_realisation=True)
    assert [r["ber"] for r in rows] == [0.0, 2e-2]
    zero, high = rows
    clean = zero["clean_acc"]
    assert zero["realisations"] == 4
    assert (zero["acc_mean"], zero["acc_min"], zero["acc_max"], zero["acc_std"]) == (clean, clean, clean, 0.0)
    assert (zero["ci_low"], zero["ci_high"], zero["bits_changed_mean"]) == (clean, clean, 0.0)
    assert high["bits_changed_mean"] > 0 and high["ci_low"] <= high["acc_mean"] <= high["ci_high"]
    assert high["acc_min"] <= high["acc_mean"] <= high["acc_max"]
    assert list(read_csv(out)[0]) == list(standard_columns(RANDOM_FLIP_COLUMNS))  # the run and units too
    per = read_csv(tmp_path / "rf_realisations.csv")
    assert len(per) == 8
    assert all(float(r["accuracy"]) == clean for r in per if float(r["ber"]) == 0.0)
    # the lower tail (issue 17 §6) from the realisations the table was made of
    from tests.naive import naive_lower_tail

    assert (zero["acc_p05"], zero["collapsed_share"]) == (clean, 0.0)
    accs = [float(r["accuracy"]) for r in per if float(r["ber"]) == 2e-2]
    p05, share = naive_lower_tail(accs, clean)
    assert high["acc_p05"] == pytest.approx(p05, abs=1e-9) and high["collapsed_share"] == share
    meta = (tmp_path / "rf.json").read_text()
    assert '"versions"' in meta and '"torch"' in meta and '"config"' in meta


def test_common_random_numbers_across_models(runs, tmp_path) -> None:
    from wcatsim.experiments.montecarlo import paired_difference
    from wcatsim.experiments.sweeps.sweep import compare_realisations, random_flip_sweep

    tables = {}
    for name, run in runs.items():
        out = tmp_path / f"{name}.csv"
        random_flip_sweep(run, [3e-2], samples=3, out=out, per_realisation=True, seed=5)
        tables[name] = read_csv(tmp_path / f"{name}_realisations.csv")
    wcat, maxabs = tables["wcat"], tables["maxabs"]
    # Same architecture, same base seed: the same fault positions (same seeds, same number of flips).
    assert [r["seed"] for r in wcat] == [r["seed"] for r in maxabs]
    assert [r["faulty_cells"] for r in wcat] == [r["faulty_cells"] for r in maxabs]
    diff = paired_difference([float(r["accuracy"]) for r in wcat], [float(r["accuracy"]) for r in maxabs])
    assert diff.n == 3 and diff.ci_low <= diff.mean <= diff.ci_high
    (row,) = compare_realisations(tmp_path / "wcat_realisations.csv", tmp_path / "maxabs_realisations.csv")
    assert (row["ber"], row["pairs"], row["diff_mean"], row["ci_low"]) == (3e-2, 3, diff.mean, diff.ci_low)


def test_dask_and_wide_batches_give_the_local_table(runs, tmp_path) -> None:
    import distributed  # installed by the test run: this test must run, not skip

    from wcatsim.experiments.montecarlo import DaskExecutor
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep

    # images="all": Stein's rule on the whole set (a half-width alone asks for the allocated design, whose
    # measured costs may differ between executors)
    kwargs = dict(ci_half_width=1.0, min_samples=3, max_samples=6, seed=2, images="all")
    local = random_flip_sweep(runs["wcat"], [1e-2, 3e-2], out=tmp_path / "local.csv", **kwargs)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as client:
        executor = DaskExecutor(client=client)
        remote = random_flip_sweep(
            runs["wcat"], [1e-2, 3e-2], out=tmp_path / "dask.csv", executor=executor, **kwargs
        )
    assert remote == local
    assert (tmp_path / "local.csv").read_text() == (tmp_path / "dask.csv").read_text()
    for row in local:
        n, hw = row["realisations"], (row["ci_high"] - row["ci_low"]) / 2
        assert 3 <= n <= 6
        assert hw <= 1.0 or n == 6, f"stopped at n={n} with half-width {hw} > 1.0"


def test_worker_processes_give_the_local_table(runs, tmp_path) -> None:
    # Realisations in spawned worker processes (one torch thread each) must reproduce the
    # in-process table to the byte: seeds depend only on what a realisation is.
    from wcatsim.experiments.montecarlo import ProcessExecutor
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep, voltage_sweep

    kwargs = dict(samples=3, seed=5)
    local = random_flip_sweep(runs["maxabs"], [2e-2], out=tmp_path / "local.csv", **kwargs)
    local_v = voltage_sweep(runs["maxabs"], "chandramoorthy14", [0.8, 0.76], chips=2,
                            out=tmp_path / "local_v.csv")  # fmt: skip
    with ProcessExecutor(workers=2) as executor:
        assert executor.parallelism == 2
        pooled = random_flip_sweep(
            runs["maxabs"], [2e-2], out=tmp_path / "pool.csv", executor=executor, **kwargs
        )
        pooled_v = voltage_sweep(runs["maxabs"], "chandramoorthy14", [0.8, 0.76], chips=2,
                                 out=tmp_path / "pool_v.csv", executor=executor)  # fmt: skip
    assert pooled == local and pooled_v == local_v
    assert (tmp_path / "local.csv").read_text() == (tmp_path / "pool.csv").read_text()
    assert (tmp_path / "local_v.csv").read_text() == (tmp_path / "pool_v.csv").read_text()


def test_rerun_reuses_points_and_other_settings_keep_the_old_table(runs, tmp_path) -> None:
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep

    out = tmp_path / "rf.csv"
    first = random_flip_sweep(runs["wcat"], [0.0, 1e-2], samples=2, out=out)
    seen: list[tuple[float, bool]] = []
    again = random_flip_sweep(
        runs["wcat"], [0.0, 1e-2, 3e-2], samples=2, out=out,
        on_row=lambda row, resumed: seen.append((row["ber"], resumed)),
    )
    assert seen == [(0.0, True), (1e-2, True), (3e-2, False)]
    assert again[:2] == first
    # Asking for per-realisation rows later recomputes the points that lack them, to the same rows.
    with_rows = random_flip_sweep(runs["wcat"], [0.0, 1e-2], samples=2, out=out, per_realisation=True)
    assert with_rows == first and len(read_csv(tmp_path / "rf_realisations.csv")) == 4
    before = out.read_text()
    random_flip_sweep(runs["wcat"], [0.0], samples=3, out=out)  # other settings: a new table
    from wcatsim.store.results import kept_tables

    (kept,) = kept_tables(out)  # the earlier table, kept under its creation time and fingerprint
    assert kept.read_text() == before
    assert len(read_csv(out)) == 1


def test_bad_bers_and_fault_names_fail_before_anything_is_written(runs, tmp_path) -> None:
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep

    out = tmp_path / "rf.csv"
    out.write_text("precious\n")
    with pytest.raises(InputError, match=r"outside \[0, 1\]"):
        random_flip_sweep(runs["wcat"], [0.0, 1.5], out=out)
    with pytest.raises(InputError, match="unknown fault model"):
        random_flip_sweep(runs["wcat"], [0.0], fault="gamma-ray", out=out)
    assert out.read_text() == "precious\n"


def test_voltage_sweep_energy_ber_and_nested_chips(runs, tmp_path) -> None:
    from sram_models import load_technology
    from wcatsim.experiments.sweeps.sweep import SWEEP_VOLTAGE_COLUMNS, voltage_sweep

    tech = load_technology("chandramoorthy14")
    volts = [tech.v_nominal, 0.85, 0.78]
    out = tmp_path / "sv.csv"
    rows = voltage_sweep(runs["wcat"], "chandramoorthy14", volts, chips=2, out=out, per_realisation=True)
    assert [r["voltage"] for r in rows] == sorted(volts, reverse=True)
    assert list(read_csv(out)[0]) == list(standard_columns(SWEEP_VOLTAGE_COLUMNS))
    nominal = rows[0]
    assert nominal["energy_norm"] == pytest.approx(1.0, abs=1e-12)
    assert nominal["energy_per_inference_pj"] is None  # chandramoorthy14 publishes normalised energy only
    assert rows[1]["energy_norm"] > rows[2]["energy_norm"], "energy must fall with the voltage"
    for row in rows:
        assert row["ber"] == pytest.approx(float(tech.ber(row["voltage"])), rel=1e-12)
        assert row["realisations"] == 2 and row["clean_acc"] == nominal["clean_acc"]
    per = read_csv(tmp_path / "sv_realisations.csv")
    for chip in ("0", "1"):
        cells = [int(r["faulty_cells"]) for r in per if r["realisation"] == chip]  # highest voltage first
        assert cells == sorted(cells) and cells[-1] > 0, f"chip {chip}: faults not nested {cells}"
    with pytest.raises(InputError, match="outside"):
        voltage_sweep(runs["wcat"], "chandramoorthy14", [0.1], chips=1, out=out)
    with pytest.raises(InputError):
        voltage_sweep(runs["wcat"], "no-such-preset", [0.9], chips=1, out=out)
    assert len(read_csv(out)) == 3


def secded_bits_changed_bound(q: float, n_words: int, chips: int, z: float = 5.0) -> float:
    """An upper bound (z standard deviations above the mean) on the data bits a working SECDED leaves
    changed, summed over ``chips``, when each of a word's 72 cells reads wrong independently with
    probability q: a word with K wrong cells is clean for K <= 1 and leaves at most K + 1 data bits wrong
    otherwise (K stay wrong, plus one miscorrected), so per word X <= (K + 1) 1{K >= 2}."""
    from scipy.stats import binom

    k = list(range(2, 73))
    pmf = binom.pmf(k, 72, q)
    mean = sum((kk + 1) * p for kk, p in zip(k, pmf, strict=True))
    second = sum((kk + 1) ** 2 * p for kk, p in zip(k, pmf, strict=True))
    n = n_words * chips
    return n * mean + z * math.sqrt(n * second)


def test_voltage_sweep_with_absolute_energy_and_ecc(runs, tmp_path) -> None:
    from wcatsim.experiments.sweeps.sweep import voltage_sweep
    from wcatsim.memory.evaluator import ModelMemory

    chips = 2
    plain = voltage_sweep(runs["wcat"], "dpcs45", [1.0, 0.5], chips=chips, out=tmp_path / "a.csv")
    ecc = voltage_sweep(runs["wcat"], "dpcs45", [1.0, 0.5], chips=chips, ecc="secded", out=tmp_path / "b.csv")
    for row in plain + ecc:
        assert row["energy_per_inference_pj"] > 0 and math.isfinite(row["energy_norm"])
    # SECDED stores 8 check bits per 64-bit word: more energy per inference...
    assert ecc[0]["energy_per_inference_pj"] > plain[0]["energy_per_inference_pj"]
    # ... and leaves far fewer data bits changed. The plain sweep measures the per-cell rate q at which a
    # read is wrong at 0.5 V (bits changed / data bits stored, ~1e-3); with q at its 5-sigma upper end,
    # a working SECDED leaves at most the bound below (~100 bits over two chips; measured 8-25, against
    # ~210 without ECC, and as many if the decoder did nothing).
    memory = ModelMemory(runs["wcat"].model, word_bits=64, ecc="secded")
    data_bits = sum(c.size for c in memory.clean_codes.values()) * memory.bits
    changed = plain[1]["bits_changed_mean"] * chips
    q_high = (changed + 5 * math.sqrt(changed) + 1) / (data_bits * chips)
    bound = secded_bits_changed_bound(q_high, memory.image.n_words, chips)
    ecc_changed = ecc[1]["bits_changed_mean"] * chips
    assert ecc_changed <= bound < changed, (
        f"SECDED left {ecc_changed:g} data bits changed over {chips} chips (bound {bound:.1f} at q <= "
        f"{q_high:.2e}); without ECC {changed:g}"
    )


def test_specs_give_the_rows_and_table_of_the_keywords_they_replace(runs, tmp_path) -> None:
    from wcatsim.config import MemorySpec, MonteCarloSpec
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep, voltage_sweep

    run = runs["maxabs"]
    old = random_flip_sweep(run, [2e-2], samples=3, seed=4, word_bits=32, out=tmp_path / "a.csv")
    new = random_flip_sweep(run, [2e-2], memory=MemorySpec(word_bits=32),
                            montecarlo=MonteCarloSpec(samples=3, seed=4), out=tmp_path / "b.csv")  # fmt: skip
    assert new == old
    # the same settings fingerprint: the spec run resumes the keyword run's table
    seen: list[bool] = []
    random_flip_sweep(run, [2e-2], memory=MemorySpec(word_bits=32),
                      montecarlo=MonteCarloSpec(samples=3, seed=4), out=tmp_path / "a.csv",
                      on_row=lambda row, resumed: seen.append(resumed))  # fmt: skip
    assert seen == [True]
    old_v = voltage_sweep(run, "chandramoorthy14", [0.8], chips=2, seed=1, banks=4, out=tmp_path / "c.csv")
    new_v = voltage_sweep(run, "chandramoorthy14", [0.8], memory=MemorySpec(banks=4),
                          montecarlo=MonteCarloSpec(samples=2, seed=1), out=tmp_path / "d.csv")  # fmt: skip
    assert new_v == old_v
    with pytest.raises(InputError, match="word_bits given beside memory="):
        random_flip_sweep(run, [2e-2], word_bits=32, memory=MemorySpec(), out=tmp_path / "e.csv")
    with pytest.raises(InputError, match="seed given beside montecarlo="):
        voltage_sweep(run, "chandramoorthy14", [0.8], seed=2, montecarlo=MonteCarloSpec(),
                      out=tmp_path / "f.csv")  # fmt: skip
    assert not (tmp_path / "e.csv").exists() and not (tmp_path / "f.csv").exists()
