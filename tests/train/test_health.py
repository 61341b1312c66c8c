"""A model at chance is refused by every fault and attack command (exit 2, one line) unless
--allow-degenerate; the rule itself (wcatsim.train.health) against its definition."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from wcatsim.train.checkpoints import BEST, read_checkpoint, save_checkpoint
from wcatsim.train.health import (
    DEGENERATE_MARGIN,
    DegenerateModelError,
    at_chance,
    check_run,
    majority_share,
    refuse_degenerate,
)

# the embedded digits' test split: 539 images, the most frequent class has 55 of them
DIGITS_TEST_MAJORITY = 100 * 55 / 539


def test_chance_is_within_two_points_of_the_most_frequent_class() -> None:
    assert majority_share([0, 1, 1, 2]) == 50.0
    assert majority_share(torch.tensor([3] * 9 + [1])) == 90.0
    assert DEGENERATE_MARGIN == 2.0
    assert at_chance(12.0, 10.0) and at_chance(3.0, 10.0) and not at_chance(12.01, 10.0)
    refuse_degenerate(12.5, 10.0, "m")  # above the margin: nothing happens
    refuse_degenerate(10.0, 10.0, "m", allow=True)
    refusal = r"^m has clean accuracy 11.00%.*\(10.00%\).*`option.allow_degenerate`"
    with pytest.raises(DegenerateModelError, match=refusal):
        refuse_degenerate(11.0, 10.0, "m")
    with pytest.raises(Exception, match="empty"):
        majority_share([])


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture
def dead_run(digits_runs: dict, tmp_path: Path) -> Path:
    """A copy of the maxabs digits run whose classifier answers class 0 whatever the image."""
    run = tmp_path / "dead"
    shutil.copytree(digits_runs["maxabs"], run)
    payload = read_checkpoint(run / BEST)
    payload["model"]["fc.weight"].zero_()
    payload["model"]["fc.bias"].copy_(torch.arange(10, 0, -1, dtype=torch.float32))  # class 0 wins
    save_checkpoint(run / BEST, payload)
    return run


def _invoke(args: list) -> object:
    from wcatsim.cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


REFUSING = [
    ["random-flip", "--ber", "0,1e-2", "--samples", "2"],
    ["sweep-voltage", "--preset", "chandramoorthy14", "--voltages", "0.9,1.0", "--chips", "1"],
    ["bfa", "--trials", "1", "--max-flips", "2", "--max-iterations", "2", "--no-progress"],
    ["plan-voltage", "--preset", "chandramoorthy14", "--voltages", "0.9,1.0", "--chips", "2",
     "--verify-chips", "2"],
]


@pytest.mark.parametrize("args", REFUSING, ids=[a[0] for a in REFUSING])
def test_fault_commands_refuse_a_model_at_chance_unless_allowed(args: list, dead_run: Path) -> None:
    before = _tree_digest(dead_run)
    result = _invoke([*args, "--run", dead_run, "--device", "cpu", "--quiet"] if args[0] != "bfa"
                     else [*args, "--run", dead_run, "--device", "cpu"])  # fmt: skip
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the model in "), result.stderr
    share = f"({DIGITS_TEST_MAJORITY:.2f}%)"
    assert share in lines[0] and "--allow-degenerate" in lines[0] and "Traceback" not in result.output
    assert _tree_digest(dead_run) == before, "a refused command must not touch the run directory"
    extra = ["--quiet"] if args[0] != "bfa" else []
    allowed = _invoke([*args, "--run", dead_run, "--device", "cpu", *extra, "--allow-degenerate"])
    assert allowed.exit_code == 0, allowed.output


def test_pareto_refuses_the_sweep_of_a_model_at_chance(dead_run: Path, tmp_path: Path) -> None:
    sweep = ["sweep-voltage", "--preset", "chandramoorthy14", "--voltages", "0.9,1.0", "--chips", "2",
             "--device", "cpu", "--quiet", "--allow-degenerate"]  # fmt: skip
    assert _invoke([*sweep, "--run", dead_run]).exit_code == 0
    result = _invoke(["pareto", dead_run, "--out", tmp_path / "p.png"])
    assert result.exit_code == 2 and "--allow-degenerate" in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "p.png").exists()
    assert _invoke(["pareto", dead_run, "--out", tmp_path / "p.png", "--allow-degenerate"]).exit_code == 0


def test_a_run_whose_training_stopped_unhealthy_is_refused(digits_runs: dict, tmp_path: Path) -> None:
    import json

    from wcatsim.train.runs import load_run

    run_dir = tmp_path / "unhealthy"
    shutil.copytree(digits_runs["wcat"], run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    check_run(load_run(run_dir, device="cpu"))  # healthy and far above chance
    summary.update(healthy=False, reason="wcat ranges of conv2 fell to the floor at epoch 2")
    (run_dir / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(DegenerateModelError, match="stopped unhealthy .*conv2 fell to the floor"):
        check_run(load_run(run_dir, device="cpu"))
    check_run(load_run(run_dir, device="cpu"), allow=True)


def test_the_demo_refuses_a_model_at_chance_unless_allowed(
    dead_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import wcatsim.pipelines.demo as demo

    plan = demo.DemoPlan(
        quick=True, quantizers=("maxabs",), bits=4, train_overrides=(), bers=(0.0, 1e-2), samples=2,
        preset="chandramoorthy14", voltages=(0.9, 1.0), chips=2, bfa_trials=1, bfa_max_flips=1,
        bfa_max_iterations=1, bfa_k_top=5, bfa_eval_subset=0,
    )  # fmt: skip
    monkeypatch.setattr(demo, "train_or_reuse", lambda *args, **kwargs: (dead_run, True))
    with pytest.raises(DegenerateModelError, match="`option.allow_degenerate`"):
        demo.run_demo(tmp_path / "out", plan=plan, device="cpu", progress=False, log=lambda _: None)
    assert not (dead_run / "random_flip.csv").exists()

    class Reached(Exception):
        pass

    def first_stage(run, plan, progress):
        raise Reached(run.dir)

    monkeypatch.setattr(demo, "_random_flip", first_stage)  # allowed: the evaluation starts
    # a stage's own failure stops the demo as one StageFailed line naming the stage (issue 16 section 4)
    with pytest.raises(demo.StageFailed, match="random_flip .maxabs. failed: Reached"):
        demo.run_demo(tmp_path / "out", plan=plan, device="cpu", progress=False, log=lambda _: None,
                      allow_degenerate=True)  # fmt: skip
    assert "--allow-degenerate" in _invoke(["demo", "--help"]).output


# ------------------------------------------------------------------ the training chance test (issue 19 §5)


def _naive_upper_tails(n: int, right: int, total: int) -> list[float]:
    """P(X >= k) for k = 0 .. n + 1, X ~ Binomial(n, right / total), in exact integers (reference; not the
    code under test): C(n, i) right^i (total - right)^(n - i) / total^n."""
    from math import comb

    pmf = [comb(n, i) * right**i * (total - right) ** (n - i) for i in range(n + 1)]
    tails = [sum(pmf[k:]) / total**n for k in range(n + 1)]
    return [float(t) for t in tails] + [0.0]


@pytest.mark.parametrize(("n", "right", "total"), [(8, 1, 4), (126, 12, 126), (539, 55, 539), (40, 1, 2)])
def test_the_binomial_tail_matches_exact_integer_arithmetic(n: int, right: int, total: int) -> None:
    from wcatsim.train.health import binomial_upper_tail

    want_all = _naive_upper_tails(n, right, total)
    for k in range(-1, n + 2):
        p = right / total
        got, want = binomial_upper_tail(k, n, p), want_all[min(max(k, 0), n + 1)]
        assert got == pytest.approx(want, rel=1e-9, abs=1e-300), f"P(X >= {k}), n={n}, p={p}: {got} vs {want}"


def test_an_8_image_split_never_calls_chance_whatever_it_scores() -> None:
    from wcatsim.train.health import chance_verdict

    for correct in range(9):  # 4 balanced classes: the majority share is 25%
        verdict = chance_verdict(correct, 8, 25.0)
        # 6 of 8 are needed to be above 25% at 1% (P(X >= 5) = 0.0273, P(X >= 6) = 0.00423), and 75% is
        # more than halfway from 25% to 100%: the split cannot tell chance from learning
        assert verdict.needed == 6 and not verdict.can_tell and not verdict.at_chance, verdict


def test_a_large_split_at_chance_is_called_so_with_the_bound_in_the_message() -> None:
    from wcatsim.train.health import CHANCE_ALPHA, chance_verdict

    n, majority = 539, DIGITS_TEST_MAJORITY
    at = chance_verdict(55, n, majority)  # exactly the most frequent class's count
    assert at.can_tell and at.at_chance and at.p_value >= CHANCE_ALPHA, at
    # the bound: the smallest count significant at 1%, checked against exact arithmetic
    tails = _naive_upper_tails(n, 55, 539)
    assert tails[at.needed] < CHANCE_ALPHA <= tails[at.needed - 1], at.needed
    assert f"learning needs {at.needed} of 539" in at.describe() and "at 1%" in at.describe()
    assert chance_verdict(at.needed - 1, n, majority).at_chance
    assert not chance_verdict(at.needed, n, majority).at_chance  # one more right answer: learning
    assert not chance_verdict(539, n, majority).at_chance


def test_trainer_health_is_declared_once_with_stop_as_default() -> None:
    from wcatsim.config import load_config
    from wcatsim.errors import InputError
    from wcatsim.store.runs import config_hash

    default = load_config([], [])
    assert default.trainer.health == "stop"
    warn = load_config([], ["trainer.health=warn"])
    assert warn.trainer.health == "warn"
    assert config_hash(warn) == config_hash(default)  # what an unhealthy run does is not which run
    with pytest.raises(InputError, match="trainer.health"):
        load_config([], ["trainer.health=ignore"])


def _chance_on_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the digits' 126-image validation split score exactly its most frequent class's share."""
    import wcatsim.train.trainer as training

    real = training._accuracy

    def dead(model, images, dev):
        if len(images.y) == 126:
            return 100.0 * float(torch.bincount(images.y).max()) / 126
        return real(model, images, dev)

    monkeypatch.setattr(training, "_accuracy", dead)


def test_a_run_whose_epoch_is_one_step_is_told_about_batch_size_and_epochs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from wcatsim.config import load_config
    from wcatsim.train.health import TrainingHealthError
    from wcatsim.train.trainer import train

    _chance_on_validation(monkeypatch)
    settings = ["trainer.epochs=4", "trainer.steps_per_epoch=1", "trainer.batch_size=16"]
    with pytest.raises(TrainingHealthError) as caught:
        train(load_config([], settings), out_dir=tmp_path / "stop", device="cpu", progress=False)
    message = str(caught.value)
    # the digits' validation split: 126 images, 13 of the most frequent class; 22 right are significant
    tails = _naive_upper_tails(126, 13, 126)
    assert tails[22] < 0.01 <= tails[21]
    assert "at epoch 3 is at chance" in message and "learning needs 22 of 126" in message, message
    assert "single step of 16 images" in message and "trainer.batch_size" in message, message
    assert "trainer.epochs" in message and "trainer.lr" not in message, message

    # trainer.health = "warn": the same run goes on to its last epoch and records what it was warned of
    result = train(load_config([], [*settings, "trainer.health=warn"]), out_dir=tmp_path / "warn",
                   device="cpu", progress=False)  # fmt: skip
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["healthy"] is True and summary["epochs"] == 4
    assert [w.split(":")[0] for w in summary["health_warnings"]] == ["epoch 3", "epoch 4"]
    assert "warning, unhealthy: validation accuracy" in (result.run_dir / "train.log").read_text()
