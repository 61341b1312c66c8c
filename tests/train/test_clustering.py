"""Piecewise clustering (He et al., CVPR 2020): the penalty (both forms) against a hand computation,
lambda = 0 leaves training untouched (the penalty is never evaluated, the run keeps its name), lambda > 0
pulls the weights towards their two centres."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from wcatsim.config import load_config
from wcatsim.errors import ConfigError
from wcatsim.store.runs import run_name
from wcatsim.train.clustering import clustering_penalty

TINY = ["quant.method=maxabs", "quant.bits=4", "trainer.epochs=1", "trainer.steps_per_epoch=3"]


def test_penalty_matches_a_hand_computation() -> None:
    model = nn.Sequential(nn.Linear(2, 2, bias=True), nn.ReLU(), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 3.0], [-2.0, 0.0]]))
        model[0].bias.copy_(torch.tensor([100.0, -100.0]))  # biases are not clustered
        model[2].weight.copy_(torch.tensor([[-1.0, -3.0]]))
    # layer 0: positives {1, 3}, mean 2: deviations (-1, 1); negatives {-2}: 0 (0 is neither side)
    # layer 2: no positive; negatives {-1, -3}, mean -2: deviations (1, -1)
    # "norm" (Eq. 5 as printed): sqrt(1 + 1) per layer
    assert float(clustering_penalty(model, "norm").detach()) == pytest.approx(2 * math.sqrt(2.0))
    clustering_penalty(model, "norm").backward()
    # d/dw ||w - mean(w)|| = (w - mean)/norm: the mean's own term sums (w - mean) over the side, 0
    expected = torch.tensor([[-1.0, 1.0], [0.0, 0.0]]) / math.sqrt(2.0)
    assert torch.allclose(model[0].weight.grad, expected)
    assert model[0].bias.grad is None
    # "squared" (the authors' code, the default): 1 + 1 per layer; d/dw = 2 (w - mean)
    model.zero_grad()
    assert float(clustering_penalty(model).detach()) == pytest.approx(4.0)
    clustering_penalty(model, "squared").backward()
    assert torch.allclose(model[0].weight.grad, torch.tensor([[-2.0, 2.0], [0.0, 0.0]]))
    assert torch.allclose(model[2].weight.grad, torch.tensor([[2.0, -2.0]]))
    with pytest.raises(ValueError, match="squared"):
        clustering_penalty(model, "cubed")


def _train(tmp_path, extra):
    from wcatsim.train.trainer import train

    cfg = load_config([], TINY + extra)
    out = tmp_path / run_name(cfg)
    train(cfg, out_dir=out, device="cpu", progress=False)
    return cfg, torch.load(out / "checkpoint.pt", weights_only=False)["model"]


def test_lambda_zero_is_todays_training_and_lambda_above_pulls_to_two_centres(tmp_path, monkeypatch) -> None:
    import wcatsim.train.trainer as trainer

    calls = []
    real = trainer.clustering_penalty
    monkeypatch.setattr(trainer, "clustering_penalty", lambda m, form: calls.append(form) or real(m, form))
    default_cfg = load_config([], TINY)
    cfg0, off = _train(tmp_path / "off", ["trainer.clustering=0.0"])
    assert calls == [], "lambda = 0 evaluated the penalty"
    assert run_name(cfg0) == run_name(default_cfg), "trainer.clustering = 0 changed the run's name"
    cfg1, on = _train(tmp_path / "on", ["trainer.clustering=0.5"])
    assert calls == ["squared"] * 3, calls  # once per step, the default form
    assert run_name(cfg1) != run_name(cfg0)
    weights = [k for k in off if k.endswith(".weight") and off[k].dim() > 1]

    def spread(state):
        return sum(float(clustering_penalty_of(state[k])) for k in weights)

    assert spread(on) < spread(off), (spread(on), spread(off))


def clustering_penalty_of(w: torch.Tensor) -> torch.Tensor:
    """The (squared) penalty of one weight tensor, written out again in plain torch."""
    pos, neg = w[w > 0], w[w < 0]
    return ((pos - pos.mean()) ** 2).sum() + ((neg - neg.mean()) ** 2).sum()


def test_negative_lambda_and_an_unknown_form_are_refused() -> None:
    with pytest.raises(ConfigError, match="trainer.clustering"):
        load_config([], ["trainer.clustering=-1.0"])
    with pytest.raises(ConfigError, match="trainer.clustering_form"):
        load_config([], ["trainer.clustering_form=cubed"])


def test_the_setting_offers_exactly_the_forms_the_penalty_computes() -> None:
    import typing

    from wcatsim.config.schema import TrainerConfig
    from wcatsim.train.clustering import CLUSTERING_FORMS

    hints = typing.get_type_hints(TrainerConfig)
    assert typing.get_args(hints["clustering_form"]) == CLUSTERING_FORMS
    assert TrainerConfig().clustering_form == CLUSTERING_FORMS[0] == "squared"


def test_the_form_names_the_run_only_when_it_is_not_the_default(tmp_path) -> None:
    base = ["trainer.clustering=0.1"]
    squared = run_name(load_config([], base))
    assert run_name(load_config([], [*base, "trainer.clustering_form=squared"])) == squared
    assert run_name(load_config([], [*base, "trainer.clustering_form=norm"])) != squared
