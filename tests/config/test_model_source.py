"""``model.name = "file.py:factory"`` / ``"package.module:factory"``, ``[model.args]``, recorded SHA-256s."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from sram_models.errors import InputError
from wcatsim.cli.main import cli
from wcatsim.config import load_config
from wcatsim.errors import ConfigError

NET = textwrap.dedent('''
    from torch import nn


    class Net(nn.Module):
        def __init__(self, num_classes, in_channels, width):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, width, 3, padding=1)
            self.bn = nn.BatchNorm2d(width)
            self.fc = nn.Linear(width * 4, num_classes)
            self.pool = nn.AdaptiveAvgPool2d(2)

        def forward(self, x):
            return self.fc(self.pool(self.bn(self.conv(x)).relu()).flatten(1))


    def build(num_classes, in_channels, width=4):
        return Net(num_classes, in_channels, width)


    def everything(**kwargs):
        global SEEN
        SEEN = dict(kwargs)
        return Net(kwargs["num_classes"], kwargs["in_channels"], 4)


    def broken(num_classes):
        return {}["missing key"]


    def not_a_module():
        return 42
''')


def _net(tmp_path: Path, text: str = NET) -> Path:
    path = tmp_path / "my_net.py"
    path.write_text(text)
    return path


def _cfg(path: Path, *extra: str):
    return load_config([], [f"model.name={json.dumps(f'{path}:build')}", *extra])


def test_factory_config_records_the_files_hash_and_names_the_run(tmp_path: Path) -> None:
    from wcatsim.store.runs import config_hash, run_name

    path = _net(tmp_path)
    cfg = _cfg(path, "model.args.width=6")
    assert cfg.model.factory_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert cfg.model.args == {"width": 6}
    assert run_name(cfg).startswith("my_net.build-digits-wcat4-")
    assert config_hash(_cfg(path, "model.args.width=7")) != config_hash(cfg), "[model.args] is in the hash"
    path.write_text(NET + "\n# another version\n")
    assert config_hash(_cfg(path, "model.args.width=6")) != config_hash(cfg), "the file's hash is in it"
    # the saved config round-trips, hash and table included
    from wcatsim.config import config_from_dict

    assert config_from_dict(cfg.to_dict()) == cfg
    assert load_config([], [], base=cfg.to_dict(), record_hashes=False) == cfg


def test_registry_run_names_and_hashes_are_unchanged_by_the_new_keys() -> None:
    from wcatsim.store.runs import run_name

    # the name main's runs had before issue 11 added model.args/weights and the data keys (computed on the
    # tree just before they were merged, after issue 10's trainer.range_lr and quant.lsq_gradient)
    assert run_name(load_config()) == "small_cnn-digits-wcat4-298ac69d"
    assert run_name(load_config([], ["data.stream=true", "data.workers=0"])) == run_name(load_config()), (
        "how data is read is not part of the run"
    )


def test_factory_builds_with_args_and_dataset_sizes(tmp_path: Path) -> None:
    from wcatsim.train.datasets import load_dataset
    from wcatsim.train.models.factory import build_from_factory
    from wcatsim.train.runs import build_model_for

    path = _net(tmp_path)
    cfg = _cfg(path, "model.args.width=6", "quant.method=maxabs")
    model = build_model_for(cfg, load_dataset("digits"))
    assert model.conv.out_channels == 6 and model.conv.in_channels == 1 and model.fc.out_features == 10
    assert type(model.conv).__name__ == "QConv2d", "quantized like a registry model"
    # a **kwargs factory gets every dataset size; [model.args] wins over them
    build_from_factory(f"{path}:everything", "", {"image_size": 99}, 10, 1, 8)
    import sys

    module = next(m for name, m in sys.modules.items() if name.startswith("_wcatsim_model_")
                  and hasattr(m, "SEEN"))
    assert module.SEEN == {"num_classes": 10, "in_channels": 1, "image_size": 99}


def test_module_factory(tmp_path: Path, monkeypatch) -> None:
    from wcatsim.train.datasets import load_dataset
    from wcatsim.train.runs import build_model_for

    package = tmp_path / "userpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text(NET)
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = load_config([], ["model.name=userpkg.nets:build", "quant.method=float"])
    assert cfg.model.factory_sha256 == hashlib.sha256((package / "nets.py").read_bytes()).hexdigest()
    assert build_model_for(cfg, load_dataset("digits")).conv.out_channels == 4


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing.py:build", "does not exist"),
        ("{net}:nothing", "has no 'nothing'"),
        ("{net}:broken", r"KeyError: 'missing key' \(my_net.py:\d+\)"),
        ("{net}:not_a_module", "returned a int, not a torch nn.Module"),
        ("no_such_package_xyz.nets:build", "cannot be found|not an importable module"),
    ],
)
def test_factory_errors_are_one_line(tmp_path: Path, monkeypatch, target: str, message: str) -> None:
    from wcatsim.train.datasets import load_dataset
    from wcatsim.train.runs import build_model_for

    monkeypatch.chdir(tmp_path)
    name = target.format(net=_net(tmp_path))
    with pytest.raises(InputError, match=message) as info:
        build_model_for(load_config([], [f"model.name={json.dumps(name)}"]), load_dataset("digits"))
    assert "\n" not in str(info.value)


FIXED_SIZE = textwrap.dedent('''
    from torch import nn


    def for_16px(num_classes, in_channels):
        # written for 16 x 16 images; ignores image_size
        return nn.Sequential(nn.Flatten(), nn.Linear(in_channels * 16 * 16, num_classes))
''')


def test_a_model_for_another_image_size_is_told_so(tmp_path: Path) -> None:
    """issue 19 §6: a factory that ignores image_size is refused in one line naming the sizes, before
    training, instead of a shape error inside the first step."""
    from wcatsim.train.datasets import load_dataset
    from wcatsim.train.models.factory import build_from_factory
    from wcatsim.train.runs import build_model_for

    path = _net(tmp_path, FIXED_SIZE)
    cfg = load_config([], [f"model.name={json.dumps(f'{path}:for_16px')}", "quant.method=float"])
    with pytest.raises(InputError) as info:
        build_model_for(cfg, load_dataset("digits"))  # 1 x 8 x 8 images
    message = str(info.value)
    assert "does not take the data's 1x8x8 images" in message and "`data.image_size`" in message, message
    assert "my_net.py" in message and "\n" not in message
    model = build_from_factory(f"{path}:for_16px", "", {}, 10, 1, 16)  # the size it was written for
    assert model.training, "the probe leaves the model in training mode"


@pytest.mark.parametrize("name", ["my_net.py:", ":build", "my_net.py:not-a-name", "no such:build"])
def test_malformed_factory_names_are_config_errors(name: str) -> None:
    with pytest.raises(ConfigError, match="model.name"):
        load_config([], [f"model.name={json.dumps(name)}"], record_hashes=False)


def test_registry_model_with_arguments_it_does_not_take(tmp_path: Path) -> None:
    from wcatsim.train.datasets import load_dataset
    from wcatsim.train.runs import build_model_for

    # the registry names the argument it does not take (models.args.check_args)
    with pytest.raises(InputError, match="nonsense"):
        build_model_for(load_config([], ["model.args.nonsense=3"]), load_dataset("digits"))
    with pytest.raises(ConfigError, match="factory models only"):
        load_config([], ["model.factory_sha256=" + "0" * 64])


def test_a_changed_model_file_is_refused_by_later_commands(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _net(tmp_path)
    common = ["--set", 'model.name="my_net.py:build"', "--set", "model.args.width=3"]
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", *common, "--set", "trainer.epochs=1", "--set",
                                      "trainer.steps_per_epoch=2", "--out", str(run), "--quiet",
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert 'name = "my_net.py:build"' in (run / "config.toml").read_text()
    ok = CliRunner().invoke(cli, ["eval", str(run), "--device", "cpu"])
    assert ok.exit_code == 0 and "my_net.py:build on digits" in ok.output
    (tmp_path / "my_net.py").write_text(NET.replace("width=4", "width=5"))
    flip = ["random-flip", "--run", str(run), "--ber", "1e-2", "--samples", "1"]
    for command in (["eval", str(run)], flip):
        refused = CliRunner().invoke(cli, [*command, "--device", "cpu"])
        assert refused.exit_code == 2, refused.output
        assert "my_net.py has changed since this run's config was resolved" in refused.output
        assert len(refused.output.strip().splitlines()) == 1, refused.output
    # the same layers now name another run directory (the new file's hash), which does not exist yet
    other = CliRunner().invoke(cli, ["eval", *common, "--device", "cpu"])
    assert other.exit_code == 2 and "train it first" in other.output


def test_a_user_model_trains_and_sweeps_on_an_imagefolder(tmp_path: Path, monkeypatch) -> None:
    from wcatsim.train.datasets.synthetic import write_image_folder

    monkeypatch.chdir(tmp_path)
    _net(tmp_path)
    root = write_image_folder(tmp_path / "data", classes=3, train_per_class=6, val_per_class=4, size=20)
    common = ["--set", 'model.name="my_net.py:build"', "--set", "data.name=imagefolder", "--set",
              f"data.root={json.dumps(str(root))}", "--set", "data.image_size=16", "--set", "data.resize=18",
              "--set", "data.workers=0"]
    train = CliRunner().invoke(cli, ["train", *common, "--set", "trainer.epochs=2", "--quiet", "--device",
                                     "cpu"])
    assert train.exit_code == 0, train.output
    run = train.output.strip().splitlines()[-1].split(": ", 1)[1]
    assert Path(run).name.startswith("my_net.build-imagefolder-")
    # two epochs on 18 images: the model may well be at chance, which is not what this test is about
    sweep = CliRunner().invoke(cli, ["random-flip", "--run", run, "--eval-images", "6", "--ber", "0,5e-2",
                                     "--samples", "2", "--device", "cpu", "--quiet", "--allow-degenerate"])
    assert sweep.exit_code == 0, sweep.output
    assert "subset of 6" in sweep.output
    sidecar = json.loads((Path(run) / "random_flip.json").read_text())
    assert sidecar["settings"]["eval_images"]["images"] == 6 and "held in memory" in sidecar["test_data"]
    assert torch.load(Path(run) / "checkpoint.pt", weights_only=True)["config"]["model"]["factory_sha256"]
