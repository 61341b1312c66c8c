"""The targeted Bit-Flip Attack (T-BFA, Rakin et al., TPAMI 2021) on the embedded digits: its loss
against a hand computation, its success rule, its summary and flip log."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from sram_models.errors import InputError
from wcatsim.experiments.attacks.bfa import FLIP_COLUMNS, run_bfa
from wcatsim.experiments.attacks.objectives import ATTACK_OBJECTIVES, Targeted, targeted_loss
from wcatsim.image import run_from_image, weight_image
from wcatsim.store.atomic import read_csv
from wcatsim.store.columns import standard_columns

# issue 20 §4: the targeted attack reaches >= 90% attack success on the digits maxabs model
REQUIRED_SUCCESS = 90.0
# As many random flips as the attack needed must not do the attack's work: at most this attack success
# rate (percent; the clean model sends ~0% of the source images to the target).
RANDOM_SUCCESS_LIMIT = 10.0


@pytest.fixture(scope="module")
def maxabs_run(digits_runs):
    from wcatsim.train.runs import load_run

    return load_run(digits_runs["maxabs"], device="cpu")


def _hand_ce(logits: torch.Tensor, labels: list[int]) -> float:
    """Mean cross-entropy written out: -log(exp(z_y) / sum_j exp(z_j)), averaged by hand."""
    total = 0.0
    for row, label in zip(logits.tolist(), labels, strict=True):
        total += -(row[label] - math.log(sum(math.exp(v) for v in row)))
    return total / len(labels)


@pytest.mark.parametrize("source", [None, 2])
def test_targeted_loss_is_minus_the_two_group_cross_entropies(source) -> None:
    torch.manual_seed(0)
    logits = torch.randn(12, 4, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 2, 1, 0, 3, 2, 2, 1, 3])
    target = 3
    src = [i for i, c in enumerate(y.tolist()) if (c == source if source is not None else c != target)]
    rest = [i for i in range(len(y)) if i not in src]
    to_target = _hand_ce(logits[src], [target] * len(src))
    expected = -(to_target + _hand_ce(logits[rest], [int(y[i]) for i in rest]))
    got = float(targeted_loss(logits, y, target, source))
    assert got == pytest.approx(expected, rel=1e-12), (got, expected)
    assert float(Targeted(target, source).loss(logits, y)) == got


def test_targeted_loss_with_an_empty_group_is_the_other_term() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, 3.0]], dtype=torch.float64)
    y = torch.tensor([0, 0])  # no image of source class 1: only the "keep" term is left
    expected = -_hand_ce(logits, [0, 0])
    assert float(targeted_loss(logits, y, 2, 1)) == pytest.approx(expected, rel=1e-12)


def test_the_registry_holds_both_objectives_and_refuses_bad_classes() -> None:
    assert set(ATTACK_OBJECTIVES.names()) >= {"untargeted", "targeted"}
    with pytest.raises(InputError, match="needs two"):
        Targeted(3, 3)
    with pytest.raises(InputError, match="class index"):
        Targeted(-1)
    with pytest.raises(InputError, match=r"use 0\.\.9"):
        Targeted(10).validate(10)
    with pytest.raises(InputError, match=r"use 0\.\.9"):
        Targeted(1, 12).validate(10)
    Targeted(9, 0).validate(10)  # both in range: no error


def _replay(run, rows: list[dict]) -> dict[str, torch.Tensor]:
    image = weight_image(run.model)
    codes = {name: img.codes.clone() for name, img in image.items()}
    for row in rows:
        flat = codes[row["layer"]].view(-1)
        assert int(flat[int(row["index"])]) == int(row["code_before"])
        flat[int(row["index"])] = int(row["code_after"])
    return codes


@pytest.mark.parametrize("source", [None, 5])
def test_targeted_attack_on_maxabs_reaches_90_percent_success(maxabs_run, tmp_path: Path, source) -> None:
    target = 3
    result = run_bfa(maxabs_run, trials=1, seed=0, out_dir=tmp_path, objective="targeted",
                     objective_options={"target_class": target, "source_class": source})  # fmt: skip
    s = result.summary
    asr, other = s["attack_success_rate"][0], s["other_classes_accuracy"][0]
    assert s["status"] == ["broken"] and asr >= REQUIRED_SUCCESS, (
        f"targeted attack ({'N-to-1' if source is None else '1-to-1'}) reached {asr:.2f}% success in "
        f"{s['flips_to_break'][0]} flips (status {s['status'][0]}); required {REQUIRED_SUCCESS}%"
    )
    assert s["flips_to_break"][0] <= s["max_flips"] and s["censored"] == 0
    assert other >= s["clean_other_classes_accuracy"] - s["max_other_drop"], (other, s)
    assert s["random_baseline_attack_success_rate"][0] <= RANDOM_SUCCESS_LIMIT, (
        f"{s['flips_to_break'][0]} random flips gave {s['random_baseline_attack_success_rate'][0]:.2f}% "
        f"success (limit {RANDOM_SUCCESS_LIMIT}%)"
    )
    assert s["clean_attack_success_rate"] < REQUIRED_SUCCESS
    assert (s["objective"], s["target_class"], s["source_class"]) == ("targeted", target, source)
    assert s["attack_mode"] == ("N-to-1" if source is None else "1-to-1")
    saved = json.loads((tmp_path / "bfa_targeted_summary.json").read_text())
    for key in ("objective", "target_class", "source_class", "attack_success_rate", "other_classes_accuracy",
                "random_baseline_attack_success_rate", "fingerprint", "flips_to_break_median"):
        assert key in saved, key
    assert saved["attack_success_rate"] == s["attack_success_rate"]
    # the flip log: the untargeted columns plus the two rates; the last row is the success
    rows = read_csv(tmp_path / "bfa_targeted_flips.csv")
    assert list(rows[0]) == list(standard_columns(FLIP_COLUMNS + ["asr", "other_acc"]))  # run, units
    assert len(rows) == s["flips_to_break"][0]
    assert float(rows[-1]["asr"]) == pytest.approx(asr)
    floor = s["clean_other_classes_accuracy"] - s["max_other_drop"]
    earlier = [r for r in rows if int(r["iteration"]) < int(rows[-1]["iteration"])]
    assert not any(float(r["asr"]) >= REQUIRED_SUCCESS and float(r["other_acc"]) >= floor for r in earlier), (
        "success reported late"
    )
    # recount by hand at the replayed codes: source images predicted as the target
    codes = _replay(maxabs_run, rows)
    x, y = maxabs_run.data.test_tensors()
    with torch.no_grad(), run_from_image(maxabs_run.model, codes):
        pred = maxabs_run.model(x).argmax(dim=1)
    mask = (y == source) if source is not None else (y != target)
    hits = sum(1 for p, m in zip(pred.tolist(), mask.tolist(), strict=True) if m and p == target)
    assert 100.0 * hits / int(mask.sum()) == pytest.approx(asr), (hits, int(mask.sum()), asr)


def test_untargeted_summary_has_no_targeted_keys(maxabs_run, tmp_path: Path) -> None:
    s = run_bfa(maxabs_run, trials=1, max_flips=1, max_iterations=1, k_top=5, seed=0, write=False).summary
    assert "objective" not in s and "attack_success_rate" not in s
    with pytest.raises(InputError, match="does not take"):
        run_bfa(maxabs_run, trials=1, write=False, objective_options={"target_class": 1})
