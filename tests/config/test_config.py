"""Config layers, overrides, validation and the TOML round trip (wcatsim.config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wcatsim.config import ExperimentConfig, config_from_dict, dump_toml, load_config, parse_override
from wcatsim.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_no_layers_gives_the_builtin_default() -> None:
    cfg = load_config()
    assert cfg == ExperimentConfig()
    assert (cfg.model.name, cfg.data.name) == ("small_cnn", "digits")
    assert (cfg.quant.method, cfg.quant.bits) == ("wcat", 4)
    assert cfg.trainer.optimizer == "adam"
    assert cfg.trainer.range_decay == 0.1  # the evidence (see TrainerConfig)


def test_later_layers_override_earlier_ones_key_by_key(tmp_path: Path) -> None:
    a = write(tmp_path / "a.toml", '[trainer]\nepochs = 7\nlr = 0.5\n[quant]\nmethod = "lsq"\n')
    b = write(tmp_path / "b.toml", "[trainer]\nepochs = 3\n")
    cfg = load_config([a, b])
    assert cfg.trainer.epochs == 3  # b wins
    assert cfg.trainer.lr == 0.5  # a's other keys survive
    assert cfg.quant.method == "lsq"
    assert cfg.quant.bits == 4  # untouched keys keep the built-in default
    cfg = load_config([b, a])
    assert cfg.trainer.epochs == 7


def test_set_overrides_apply_after_every_layer_and_parse_toml_literals(tmp_path: Path) -> None:
    a = write(tmp_path / "a.toml", "[trainer]\nepochs = 7\n")
    cfg = load_config(
        [a],
        [
            "trainer.epochs=2",
            "trainer.lr=3e-3",
            "trainer.nesterov=false",
            "quant.method=maxabs",  # a bare word is a string
            'data.root="/tmp/x y"',
            "attack.random_flip.bers=[0, 1e-3, 0.02]",
            "attack.sweep.voltages=[0.8, 0.9]",
        ],
    )
    assert cfg.trainer.epochs == 2
    assert cfg.trainer.lr == 3e-3
    assert cfg.trainer.nesterov is False
    assert cfg.quant.method == "maxabs"
    assert cfg.data.root == "/tmp/x y"
    assert cfg.attack.random_flip.bers == (0.0, 1e-3, 0.02)
    assert cfg.attack.sweep.voltages == (0.8, 0.9)
    assert load_config([], ["attack.sweep.voltages=0.8:0.9:0.05"]).attack.sweep.voltages == "0.8:0.9:0.05"
    # an integer where a float is expected is accepted and stored as a float
    assert isinstance(load_config([], ["trainer.lr=1"]).trainer.lr, float)


def test_parse_override() -> None:
    assert parse_override("trainer.epochs=5") == ("trainer.epochs", 5)
    assert parse_override("quant.method = wcat") == ("quant.method", "wcat")
    assert parse_override("a.b=[1, 2]") == ("a.b", [1, 2])


@pytest.mark.parametrize("path", sorted(CONFIGS.rglob("*.toml")), ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_shipped_layer_loads(path: Path) -> None:
    load_config([path])


def test_shipped_layers_compose_like_the_original_project() -> None:
    cfg = load_config(
        [
            CONFIGS / "resnet20_cifar10.toml",
            CONFIGS / "quantization" / "8bit_wcat.toml",
            CONFIGS / "attack" / "bfa.toml",
        ]
    )
    names = (cfg.model.name, cfg.data.name, cfg.quant.method, cfg.quant.bits)
    assert names == ("resnet20", "cifar10", "wcat", 8)
    t = cfg.trainer
    # the paper's recipe (kmchiti/WCAT configs/trainer/cifar_config.jsonnet)
    assert (t.optimizer, t.lr, t.momentum, t.nesterov, t.weight_decay) == ("sgd", 0.1, 0.9, True, 5e-4)
    assert (t.schedule, t.range_decay, t.epochs) == ("cosine", 0.01, 300)
    assert cfg.attack.bfa.k_top == 100


def test_toml_round_trip_gives_the_same_config(tmp_path: Path) -> None:
    cfg = load_config(
        [CONFIGS / "quantization" / "4bit_plclip.toml"],
        ["trainer.epochs=2", "attack.random_flip.bers=[0, 0.5]", "attack.sweep.voltages=[0.7, 0.8]"],
    )
    path = write(tmp_path / "config.toml", cfg.to_toml())
    assert load_config([path]) == cfg
    assert config_from_dict(cfg.to_dict()) == cfg


def test_dump_toml_nested_tables() -> None:
    text = dump_toml({"a": {"x": 1, "b": {"y": [1.5, 2.0], "z": "q\""}}})
    assert text == '[a]\nx = 1\n\n[a.b]\ny = [1.5, 2.0]\nz = "q\\""\n'


def test_configs_are_frozen() -> None:
    cfg = load_config()
    with pytest.raises(AttributeError):
        cfg.trainer.epochs = 3  # type: ignore[misc]


# (file contents or None, overrides, substrings the one-line message must contain)
BAD_INPUTS = [
    ("[trainer]\nepoch = 3\n", [], ["trainer.epoch", "bad.toml", "epochs", "did you mean"]),
    ("[trainer]\nepochs = 'five'\n", [], ["trainer.epochs", "bad.toml", "integer"]),
    ("[trainer]\noptimizer = 'rmsprop'\n", [], ["trainer.optimizer", "bad.toml", "sgd, adam"]),
    ("[trainer]\nschedule = 'step'\n", [], ["trainer.schedule", "cosine, exponential, constant"]),
    ("[trainer]\nlr = -0.1\n", [], ["trainer.lr", "bad.toml", "> 0"]),
    ("[trainer]\nepochs = 0\n", [], ["trainer.epochs", ">= 1"]),
    ("[quant]\nbits = 12\n", [], ["quant.bits", "bad.toml", "2..8"]),
    ("[quant]\nmethod = 'dorefa'\n", [], ["quant.method", "bad.toml", "maxabs", "wcat"]),
    ("[model]\nname = 'vgg16'\n", [], ["model.name", "bad.toml", "resnet20", "small_cnn"]),
    ("[data]\nname = 'imagenet'\n", [], ["data.name", "bad.toml", "digits", "cifar10"]),
    ("[optim]\nlr = 1\n", [], ["optim", "bad.toml", "model, data, quant, trainer, attack"]),
    ("[attack.random_flip]\nbers = [0, 2.0]\n", [], ["attack.random_flip.bers", "bad.toml", "[0, 1]"]),
    ("[attack.sweep]\necc = 'hamming'\n", [], ["attack.sweep.ecc", "none, secded"]),
    ("[attack.bfa]\nk_top = 0\n", [], ["attack.bfa.k_top", ">= 1"]),
    ("[attack.bfa]\nk_top_max = 50\n", [], ["attack.bfa.k_top_max", ">= attack.bfa.k_top (100)"]),
    ("[trainer]\nclustering_form = 'l1'\n", [], ["trainer.clustering_form", "squared, norm"]),
    ("trainer = 3\n", [], ["trainer", "table"]),
    ("[trainer\nepochs = 3\n", [], ["bad.toml", "not valid TOML"]),
    (None, ["trainer.epochs"], ["KEY=VALUE"]),
    (None, ["epochs=3"], ["section.name"]),
    (None, ["trainer.nesterov=yes"], ["trainer.nesterov", "--set", "true or false"]),
    (None, ["trainer.seed=-1"], ["trainer.seed", "--set"]),
]


@pytest.mark.parametrize(("text", "overrides", "expected"), BAD_INPUTS)
def test_bad_input_is_a_config_error_naming_key_source_and_fix(
    tmp_path: Path, text: str | None, overrides: list[str], expected: list[str]
) -> None:
    layers = [write(tmp_path / "bad.toml", text)] if text is not None else []
    with pytest.raises(ConfigError) as info:
        load_config(layers, overrides)
    message = str(info.value)
    assert "\n" not in message
    for part in expected:
        assert part in message, f"{part!r} missing from: {message}"


def test_missing_layer_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.toml does not exist"):
        load_config([tmp_path / "nope.toml"])


def test_every_setting_has_type_and_one_line_doc() -> None:
    """Every setting is declared once with its type and a one-line doc (the CLI's help reads it)."""
    import typing

    from wcatsim.config import ExperimentConfig, MemorySpec, MonteCarloSpec

    sections = [ExperimentConfig, MemorySpec, MonteCarloSpec]
    seen = []
    while sections:
        cls = sections.pop()
        hints = typing.get_type_hints(cls)
        for name, info in cls.__pydantic_fields__.items():
            seen.append(f"{cls.__name__}.{name}")
            doc = info.description or ""
            assert doc and "\n" not in doc and len(doc) <= 110, f"{cls.__name__}.{name}: doc {doc!r}"
            assert name in hints, f"{cls.__name__}.{name} has no type"
            if hasattr(hints[name], "__pydantic_fields__"):
                sections.append(hints[name])
    assert "RandomFlipConfig.samples" in seen and "PlanConfig.budget" in seen and "QuantConfig.bits" in seen


def test_plan_section_layers_and_errors(tmp_path) -> None:
    from wcatsim.config import PlanConfig, load_config
    from wcatsim.errors import ConfigError

    layer = tmp_path / "plan.toml"
    layer.write_text("[plan]\nbudget = 2\nmetric = 'ci_low'\nverification_chips = 8\n")
    cfg = load_config([layer], ["plan.seed=3"])
    assert cfg.plan == PlanConfig(budget=2.0, metric="ci_low", verification_chips=8, seed=3)
    assert cfg.to_dict()["plan"]["budget"] == 2.0 and list(cfg.to_dict())[-1] == "plan"
    assert load_config().plan == PlanConfig()  # a saved config without [plan] gets the built-in one
    with pytest.raises(ConfigError) as info:
        load_config([layer], ["plan.verfication_chips=3"])
    message = str(info.value)
    assert "\n" not in message and "--set plan.verfication_chips=3" in message
    assert "did you mean 'verification_chips'" in message
    with pytest.raises(ConfigError, match=r"plan\.protect: unknown protection scheme 'secdd'.*plan\.toml"):
        layer.write_text("[plan]\nprotect = 'secdd'\n")
        load_config([layer])
