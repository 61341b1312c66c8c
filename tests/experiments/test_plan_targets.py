"""`plan-voltage --target both|activations`: the activation buffer as a voltage domain (issue 20 section 1).

The buffer's energy in the plan's normalisation (both memories at nominal = 1) and its level shifters
by hand; a tiny digits plan over both memories (the buffer's domain listed with its kind, the energies
summing by hand); target weights giving exactly the plan and the fingerprint of a plan without it; the
settings a plan refuses; a plan of the buffer alone (target activations: the weights held fault-free at
nominal, costed by hand) and its planted extremes (a huge budget reaches the grid's lowest voltage, a zero
budget with a noisy buffer keeps it at nominal).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sram_models.errors import InputError

# 0.5 transitions per bit x 20.43 fJ, in read energies of one bit at nominal (52.5 fJ / 0.45^2): the level
# shifters' defaults (wcatsim.experiments.plan.energy.LEVEL_SHIFTER_SOURCE)
SHIFT_PER_BIT = 0.5 * 20.43 / (52.5 / 0.45**2)
# the digits small CNN (tests/conftest.py): 25,744 4-bit weights, 16 per 64-bit word
WEIGHTS = 25744


@pytest.fixture(scope="module")
def maxabs(digits_runs):
    from wcatsim.train.runs import load_run

    return load_run(digits_runs["maxabs"], device="cpu")


@pytest.fixture(scope="module")
def buffer(maxabs):
    from wcatsim.memory.activations import ActivationBuffer, calibration_images

    return ActivationBuffer(maxabs.model, calibration_images(maxabs, 50, 0))


def _buffer_words(buffer) -> int:
    """Words one inference writes into the buffer: each layer's input (8-bit, 8 per 64-bit word) from a
    word boundary, computed from the input shapes (not the code's word count)."""
    import math

    return sum(-(-math.prod(shape) // 8) for shape in buffer.shapes.values())


def test_the_buffer_domain_costs_its_traffic_and_crossing_over_both_memories_at_nominal(maxabs, buffer):
    from sram_models import MemoryImage, load_technology
    from wcatsim.experiments.plan.chips import DomainChips, make_layout
    from wcatsim.experiments.plan.domains import per_layer_domains
    from wcatsim.experiments.plan.energy import domains_energy
    from wcatsim.image import weight_image

    tech = load_technology("chandramoorthy14")  # read energy ∝ V² (× Vmin), no leakage: reads only
    layout = make_layout(4, 64, "none")
    weights = {name: int(li.codes.numel()) for name, li in weight_image(maxabs.model).items()}
    chips = DomainChips(maxabs.model, per_layer_domains(weights), layout, tech)
    reference = MemoryImage.pack(chips.clean, layout)
    assert reference.n_words == -(-WEIGHTS // 16)
    # the digits CNN's quantized layers read 1,856 input activations per image (docs/activations.md)
    assert buffer.volume_per_inference == 1856
    words = _buffer_words(buffer)
    assert buffer.words_per_inference == words
    ref_w, ref_b = reference.n_words * 64, 2 * words * 64  # bit reads at nominal: weights, buffer (w + r)

    # both memories at nominal: exactly the reference
    at_nominal = domains_energy([reference], [1.0, 1.0], tech, reference, buffer=buffer)
    assert at_nominal.total_norm == pytest.approx(1.0, rel=1e-12)
    assert at_nominal.domain_norm[1] == pytest.approx(ref_b / (ref_w + ref_b), rel=1e-12)
    assert at_nominal.level_shifter_norm == 0.0

    # the weights at 1.0, the buffer at 0.8: its reads (not its writes) cross a level shifter
    got = domains_energy([reference], [1.0, 0.8], tech, reference, buffer=buffer)
    shift = words * 64 * SHIFT_PER_BIT
    assert got.level_shifter_norm == pytest.approx(shift / (ref_w + ref_b), rel=1e-12)
    buffer_part = (ref_b * 0.8**2 + shift) / (ref_w + ref_b)
    assert got.domain_norm[1] == pytest.approx(buffer_part, rel=1e-12)
    assert got.domain_norm[0] == pytest.approx(ref_w / (ref_w + ref_b), rel=1e-12)
    assert got.total_norm == pytest.approx(sum(got.domain_norm), rel=1e-12)

    # the buffer at the top, the weights below: now the weights' reads cross
    low = domains_energy([reference], [0.9, 1.0], tech, reference, buffer=buffer)
    assert low.level_shifter_norm == pytest.approx(ref_w * SHIFT_PER_BIT / (ref_w + ref_b), rel=1e-12)
    assert low.total_norm == pytest.approx(
        (ref_w * 0.9**2 + ref_b + ref_w * SHIFT_PER_BIT) / (ref_w + ref_b), rel=1e-12)  # fmt: skip
    with pytest.raises(InputError, match="1 weight domains and the buffer but 1 voltages"):
        domains_energy([reference], [1.0], tech, reference, buffer=buffer)


def test_a_chips_buffer_is_read_at_its_domain_voltage_from_its_own_seed() -> None:
    from sram_models import load_technology
    from wcatsim.config import ActivationSpec
    from wcatsim.experiments.plan.chips import BufferChips, domain_chip_seed

    chips = BufferChips(ActivationSpec(target="both"), load_technology("chandramoorthy14"), 0.5, 7)
    assert chips.read(None, 3) is None
    read = chips.read(0.8, 3)
    assert read.voltage == 0.8 and read.seed == domain_chip_seed(7, "activations", 3)
    assert read.seed != domain_chip_seed(7, "fc", 3)
    assert chips.read(0.9, 3).seed == read.seed  # a chip's cells at every voltage (nested faults)


def test_a_plan_refuses_a_buffer_it_cannot_plan() -> None:
    from sram_models import load_technology
    from wcatsim.config import ActivationSpec
    from wcatsim.experiments.plan.planner import check_buffer

    tech = load_technology("chandramoorthy14")
    grid = [1.0, 0.9]
    assert check_buffer(None, tech, grid) is None
    assert check_buffer(ActivationSpec(), tech, grid) is None  # target weights: no buffer
    assert check_buffer(ActivationSpec(target="both", preset="chandramoorthy14"), tech, grid) is not None
    alone = ActivationSpec(target="activations")
    assert check_buffer(alone, tech, grid) is alone  # the buffer alone is planned (weights at nominal)
    with pytest.raises(InputError, match="plan with the default domains"):
        check_buffer(alone, tech, grid, "domains.toml")  # no weight domain to group
    with pytest.raises(InputError, match="chooses the buffer's voltage"):
        check_buffer(ActivationSpec(target="both", voltage=0.9), tech, grid)
    with pytest.raises(InputError, match="on the plan's preset"):
        check_buffer(ActivationSpec(target="both", preset="dpcs45"), tech, grid)


TINY = ["--preset", "chandramoorthy14", "--voltages", "0.8:1.0:0.1", "--chips", "2", "--verify-chips", "2",
        "--max-sets", "1", "--eval-images", "100", "--device", "cpu", "--quiet"]  # fmt: skip


def _plan_cli(run_dir: Path, target: str, out: Path) -> tuple[dict, str]:
    """``wcatsim plan-voltage --target TARGET`` at TINY size into ``out``: (plan_voltage.json, output)."""
    from click.testing import CliRunner

    from wcatsim.cli.main import cli

    args = ["plan-voltage", "--run", str(run_dir), *TINY, "--target", target,
            "--calibration-images", "50", "--out", str(out), "--plot"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 1), result.output
    return json.loads((out / "plan_voltage.json").read_text()), result.output


def test_plan_voltage_target_both_on_a_digits_run(digits_runs, buffer, tmp_path: Path) -> None:
    from wcatsim.store.atomic import read_csv

    out = tmp_path / "both"
    data, output = _plan_cli(digits_runs["maxabs"], "both", out)
    names = [d["name"] for d in data["domains"]]
    assert names == ["conv1", "conv2", "conv3", "fc", "activations"]
    assert [d["kind"] for d in data["domains"]] == ["weights"] * 4 + ["buffer"]
    held = data["domains"][-1]
    assert held["weights"] == 0 and held["activations"] == 1856
    assert data["target"] == "both" and data["activation_buffer"]["bits"] == 8
    recorded = data["activation_buffer"]
    assert recorded["fault"] == "chip" and recorded["calibration_images"] == 50
    assert all(d["voltage"] in (0.8, 0.9, 1.0) for d in data["domains"])
    # the buffer has a sensitivity curve of its own
    rows = read_csv(out / "plan_voltage_sensitivity.csv")
    assert {r["domain"] for r in rows} == set(names)
    assert float(next(r for r in rows if r["domain"] == "activations")["voltage"]) == 1.0

    # energies by hand: the weights' domains (16 weights per word) and the buffer (traffic words written and
    # read) at their voltages, V² per bit read, plus a level shifter for every bit read from a domain below
    # the highest, over both memories at nominal
    words = _buffer_words(buffer)
    ref = -(-WEIGHTS // 16) * 64 + 2 * words * 64
    top = max(d["voltage"] for d in data["domains"])
    parts = []
    for d in data["domains"]:
        read = words * 64 if d["kind"] == "buffer" else -(-d["weights"] // 16) * 64
        memory = (2 * read if d["kind"] == "buffer" else read) * d["voltage"] ** 2
        parts.append((memory + (read * SHIFT_PER_BIT if d["voltage"] < top else 0.0)) / ref)
    details = data["domain_details"]
    assert [d["energy_norm"] for d in details] == pytest.approx(parts, rel=1e-9)
    assert data["energy_norm"] == pytest.approx(sum(parts), rel=1e-9)
    assert sum(d["energy_share"] for d in details) == pytest.approx(1.0)
    # the uniform design: both memories on one rail, no shifters
    v = data["uniform_voltage"]
    assert data["uniform_energy_norm"] == pytest.approx(v**2, rel=1e-9)
    # the final set read the buffer at its planned voltage
    assert data["final_set"]["voltages"] == [d["voltage"] for d in data["domains"]]
    assert "activations: the activation buffer (1856 activations per inference" in output
    assert (out / "plan_voltage.png").stat().st_size > 1000


def test_target_weights_is_the_plan_and_fingerprint_without_it(maxabs, tmp_path: Path) -> None:
    from wcatsim.config import ActivationSpec
    from wcatsim.experiments.plan.planner import PlanSettings, plan_voltage

    # two chips per set: a CI (not nan, which no dict comparison equals)
    settings = PlanSettings(planning_chips=2, verification_chips=2, max_verification_sets=1, eval_images=100)
    grid = [1.0, 0.9, 0.8]
    plans, sidecars = {}, {}
    for name, spec in (("none", None), ("weights", ActivationSpec()),
                       ("both", ActivationSpec(target="both", calibration_images=50))):  # fmt: skip
        plans[name] = plan_voltage(maxabs, "chandramoorthy14", grid, settings=settings,
                                   out_dir=tmp_path / name, activations=spec)  # fmt: skip
        sidecars[name] = (tmp_path / name / "plan_voltage_sensitivity.json").read_text()
    assert plans["weights"].to_json() == plans["none"].to_json()
    assert sidecars["weights"] == sidecars["none"]
    for name in ("plan_voltage.json", "plan_voltage.csv", "plan_voltage_sensitivity.csv"):
        assert (tmp_path / "weights" / name).read_bytes() == (tmp_path / "none" / name).read_bytes(), name
    assert "target" not in plans["none"].to_json()
    assert all("kind" not in d for d in plans["none"].to_json()["domains"])
    assert sidecars["both"] != sidecars["none"]
    assert plans["both"].domains[-1].kind == "buffer"


def test_plan_voltage_target_activations_plans_the_buffer_alone(digits_runs, buffer, tmp_path: Path) -> None:
    from wcatsim.store.atomic import read_csv

    out = tmp_path / "alone"
    data, output = _plan_cli(digits_runs["maxabs"], "activations", out)
    # the buffer is the one planned domain; no weights domain is planned
    assert [(d["name"], d["kind"]) for d in data["domains"]] == [("activations", "buffer")]
    (planned,) = data["domains"]
    assert planned["voltage"] in (0.8, 0.9, 1.0) and planned["activations"] == 1856
    assert data["target"] == "activations" and data["activation_buffer"]["calibration_images"] == 50
    held = data["weights_memory"]  # the weights: fault-free, at chandramoorthy14's nominal 1.0 x Vmin
    assert held["voltage"] == 1.0 and held["weights"] == WEIGHTS
    assert held["layers"] == ["conv1", "conv2", "conv3", "fc"]
    # the buffer's own curve, and nothing swept for the weights
    rows = read_csv(out / "plan_voltage_sensitivity.csv")
    assert {r["domain"] for r in rows} == {"activations"}
    # plan_voltage.csv: the held weights at nominal, then the buffer; the shares sum to 1
    table = read_csv(out / "plan_voltage.csv")
    assert [r["name"] for r in table] == ["weights", "activations"]
    assert float(table[0]["voltage_norm"]) == 1.0
    assert sum(float(r["energy_share"]) for r in table) == pytest.approx(1.0)

    # energies by hand: the weights read once at nominal (16 per word), the buffer's traffic written and read
    # at its voltage (V² per bit), its reads through a level shifter below nominal; over both at nominal
    words = _buffer_words(buffer)
    ref_w, ref_b = -(-WEIGHTS // 16) * 64, 2 * words * 64
    v = planned["voltage"]
    shift = words * 64 * SHIFT_PER_BIT if v < 1.0 else 0.0
    assert held["energy_norm"] == pytest.approx(ref_w / (ref_w + ref_b), rel=1e-9)
    assert data["domain_details"][1]["energy_norm"] == pytest.approx((ref_b * v**2 + shift) / (ref_w + ref_b),
                                                                     rel=1e-9)  # fmt: skip
    assert data["energy_norm"] == pytest.approx((ref_w + ref_b * v**2 + shift) / (ref_w + ref_b), rel=1e-9)
    assert data["level_shifter_norm"] == pytest.approx(shift / (ref_w + ref_b), rel=1e-9)
    # the uniform baseline is the same design (one planned domain): the buffer at its voltage, weights at 1.0
    u = data["uniform_voltage"]
    shift_u = words * 64 * SHIFT_PER_BIT if u < 1.0 else 0.0
    assert data["uniform_energy_norm"] == pytest.approx((ref_w + ref_b * u**2 + shift_u) / (ref_w + ref_b),
                                                        rel=1e-9)  # fmt: skip
    assert data["final_set"]["voltages"] == [v]
    assert "memory planned: the activation buffer alone" in output
    assert f"weights ({WEIGHTS}) held fault-free in one memory at nominal (1.000" in output
    assert (out / "plan_voltage.png").stat().st_size > 1000  # the figure: the buffer's bar alone


@pytest.mark.parametrize(("budget", "expected"), [(100.0, 0.75), (0.0, 1.0)])
def test_the_buffer_alone_reaches_the_lowest_voltage_or_stays_at_nominal(maxabs, budget, expected,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    """Planted extremes: a 100-point budget lets the buffer down to the grid's lowest voltage; a zero budget
    keeps it at nominal, since at 0.75 x Vmin its faults cost the digits model about 15 points
    (docs/activations.md's sweep: 98.14 -> 83.41% on maxabs), far more than one image of the 100."""
    from wcatsim.config import ActivationSpec
    from wcatsim.experiments.plan.planner import PlanSettings, plan_voltage

    settings = PlanSettings(budget=budget, planning_chips=2, verification_chips=2, max_verification_sets=1,
                            eval_images=100)  # fmt: skip
    plan = plan_voltage(maxabs, "chandramoorthy14", [1.0, 0.75], settings=settings, out_dir=tmp_path,
                        activations=ActivationSpec(target="activations", calibration_images=50))  # fmt: skip
    assert [d.name for d in plan.domains] == ["activations"]
    assert plan.voltages == [expected] and plan.uniform_voltage == expected
    assert plan.held["voltage"] == 1.0
    if budget == 0.0:  # at nominal the buffer has no faulty cell: the plan is exactly clean
        assert plan.verified.acc_mean == plan.clean_acc and plan.within_budget
        assert plan.energy_norm == pytest.approx(1.0, rel=1e-12) and plan.level_shifter_norm == 0.0
    else:  # far below the clean accuracy, yet within the huge budget
        assert plan.verified.acc_mean < plan.clean_acc - 2 and plan.within_budget
        assert plan.energy_norm < 1.0 and plan.level_shifter_norm > 0.0


def test_a_plan_over_both_memories_replays_the_clean_prefix_exactly(maxabs, tmp_path: Path,
                                                                    monkeypatch) -> None:  # fmt: skip
    """The weights' curves of a plan over both memories read the buffer clean and replay the prefix
    recorded through its hooks (wcatsim.memory.prefix); the buffer's own points run whole.  Every curve,
    the table on disk and the plan equal those of whole forwards exactly."""
    from wcatsim.config import ActivationSpec
    from wcatsim.experiments.plan.planner import SENSITIVITY_CSV, PlanSettings, plan_voltage

    settings = PlanSettings(planning_chips=2, verification_chips=1, max_verification_sets=1, eval_images=200)
    from wcatsim.memory.prefix import CleanPrefix

    replayed = []  # the prefix's own count of unit calls answered from a record, per sharing run
    original = CleanPrefix.predict

    def counting(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        replayed.append(self.replayed_calls)
        return out

    monkeypatch.setattr(CleanPrefix, "predict", counting)
    spec = ActivationSpec(target="both", calibration_images=50)
    plans = {}
    for share in (False, True):
        plans[share] = plan_voltage(
            maxabs, "chandramoorthy14", [1.0, 0.85, 0.8, 0.75], settings=settings,
            out_dir=tmp_path / str(share), share_prefix=share, activations=spec,
        )  # fmt: skip
    plain, shared = plans[False], plans[True]
    assert replayed and replayed[-1] > 0, "the weights' points should have replayed the clean prefix"
    weights_rows = [r for r in plain.sensitivity if r["domain"] != "activations"]
    assert len({r["acc_mean"] for r in weights_rows}) > 2, "the weights' curves should fall with the voltage"
    assert any(r["domain"] == "activations" and r["voltage"] < 1.0 for r in plain.sensitivity)
    assert shared.sensitivity == plain.sensitivity
    name = SENSITIVITY_CSV
    assert (tmp_path / "True" / name).read_bytes() == (tmp_path / "False" / name).read_bytes()
    assert shared.to_json()["final_set"] == plain.to_json()["final_set"]
    assert shared.voltages == plain.voltages
