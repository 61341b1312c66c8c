"""Sweeps run on the technology they are given: in this process, in worker processes and on Dask; the
resume fingerprint covers the whole technology, the energy organisation and the evaluation batch."""

from __future__ import annotations

import dataclasses
import math

import pytest

from sram_models import load_technology
from wcatsim.store.atomic import read_csv


@pytest.fixture(scope="module")
def run(digits_runs):
    from wcatsim.train.runs import load_run

    return load_run(digits_runs["maxabs"], device="cpu")


def _twins():
    """chandramoorthy14 and a copy with the same name and another sigma (another BER curve)."""
    first = load_technology("chandramoorthy14")
    return first, dataclasses.replace(first, sigma=first.sigma * 1.3)


def _executors():
    import distributed  # installed by the test run: the Dask case must run, not skip

    from wcatsim.experiments.montecarlo import DaskExecutor, LocalExecutor, ProcessExecutor

    yield "local", LocalExecutor()
    with ProcessExecutor(workers=1) as pool:  # one worker: it sees both technologies in turn
        yield "processes", pool
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                       dashboard_address=None)  # fmt: skip
    with cluster, distributed.Client(cluster) as client:
        yield "dask", DaskExecutor(client=client)


def test_a_preset_with_the_same_name_and_another_sigma_is_its_own_sweep(run, tmp_path) -> None:
    from wcatsim.experiments.sweeps.sweep import voltage_sweep

    first, second = _twins()
    assert first.name == second.name and first.fingerprint() != second.fingerprint()
    reference = None
    seen: list[bool] = []
    for name, executor in _executors():
        out = tmp_path / f"{name}.csv"
        seen.clear()
        kwargs = dict(chips=2, out=out, executor=executor, on_row=lambda row, resumed: seen.append(resumed))
        a = voltage_sweep(run, first, [0.8], **kwargs)
        b = voltage_sweep(run, second, [0.8], **kwargs)
        assert seen == [False, False], f"{name}: the second technology was resumed from the first's table"
        assert a[0]["bits_changed_mean"] != b[0]["bits_changed_mean"], f"{name}: the same faults twice"
        assert b[0]["ber"] == pytest.approx(float(second.ber(0.8))) != a[0]["ber"]
        again = voltage_sweep(run, second, [0.8], **kwargs)
        assert seen[-1] is True and again == b, f"{name}: the same technology resumes"
        reference = reference or (a, b)
        assert (a, b) == reference, f"{name}: another executor gave other numbers"


def test_transient_and_chip_sweeps_give_the_same_flip_rate(run, tmp_path) -> None:
    from wcatsim.experiments.sweeps.sweep import voltage_sweep

    v = 0.8  # chandramoorthy14: BER 2.1% of the cells faulty, so 1.06% of the bits read wrong
    rows = {f: voltage_sweep(run, "chandramoorthy14", [v], chips=10, fault=f, out=tmp_path / f"{f}.csv")[0]
            for f in ("chip", "transient")}  # fmt: skip
    chip, transient = rows["chip"]["flip_rate"], rows["transient"]["flip_rate"]
    message = f"flip_rate chip {chip:.3e} vs transient {transient:.3e}"
    assert abs(chip - transient) <= 0.15 * transient, message
    assert transient == pytest.approx(rows["transient"]["ber"] / 2, rel=0.1)  # faulty_cell: half read wrong
    header = list(read_csv(tmp_path / "chip.csv")[0])
    assert header.index("flip_frac") == header.index("ber") + 1  # flip_rate under its unit-named name


def test_every_registered_fault_model_sweeps_voltages(run, tmp_path) -> None:
    """A fault model is one file: the moment it registers, sweep-voltage runs it at a preset's voltages."""
    from sram_models import FAULT_MODELS
    from wcatsim.experiments.sweeps.sweep import voltage_sweep

    for name in FAULT_MODELS.names():
        rows = voltage_sweep(run, "chandramoorthy14", [0.8, 1.0], chips=2, fault=name,
                             out=tmp_path / f"{name}.csv")  # fmt: skip
        low, nominal = (next(r for r in rows if r["voltage"] == v) for v in (0.8, 1.0))
        assert low["ber"] > nominal["ber"], name
        assert low["flip_rate"] > 0, f"{name}: no weight bit changed at BER {low['ber']:.2e}"
        assert 0.0 <= low["acc_mean"] <= 100.0, name


def test_energy_columns_and_what_the_fingerprint_covers(run, tmp_path) -> None:
    from wcatsim.experiments.sweeps.sweep import voltage_sweep

    out = tmp_path / "sv.csv"
    seen: list[bool] = []
    kwargs = dict(chips=1, out=out, on_row=lambda row, resumed: seen.append(resumed))
    base = voltage_sweep(run, "dpcs45", [1.0, 0.6], **kwargs)
    nominal, low = base
    assert nominal["energy_norm"] == pytest.approx(1.0)
    assert nominal["dynamic_pj"] + nominal["leakage_pj"] == pytest.approx(nominal["energy_per_inference_pj"])
    share = nominal["leakage_pj"] / nominal["energy_per_inference_pj"]
    assert nominal["leakage_share"] == pytest.approx(share)
    assert low["inference_time_ns"] > nominal["inference_time_ns"], "the clock slows with the voltage"
    more_banks = voltage_sweep(run, "dpcs45", [1.0, 0.6], banks=1, **kwargs)
    assert more_banks[0]["inference_time_ns"] > nominal["inference_time_ns"] and seen[-1] is False
    timed = voltage_sweep(run, "dpcs45", [1.0, 0.6], inference_time_ns=1e6, **kwargs)
    assert timed[0]["inference_time_ns"] == 1e6 and timed[0]["leakage_share"] > 0.99 and seen[-1] is False
    voltage_sweep(run, "dpcs45", [1.0, 0.6], batch_size=7, **kwargs)  # another batch: another table
    assert seen[-2:] == [False, False]
    relative = voltage_sweep(run, "chandramoorthy14", [1.0], chips=1, out=tmp_path / "c.csv")[0]
    assert relative["dynamic_pj"] is None and relative["inference_time_ns"] is None
    assert relative["leakage_share"] == 0.0 and math.isclose(relative["energy_norm"], 1.0)
