"""The Python API (wcatsim.api): a model and its data in, a DataFrame out, the run-directory numbers exactly.

The model path must run the experiments' own code: the same model and test set, given as an
``nn.Module`` and tensors or a DataLoader, give exactly the rows the run-directory functions give; it
writes nothing without a path; its summaries and attrs name the user's model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import wcatsim
from sram_models.errors import InputError
from wcatsim.api import bit_flip_attack, model_run, random_flip, sweep_voltage, voltage_plan
from wcatsim.store.columns import IDENTITY_COLUMNS
from wcatsim.train.runs import load_run


class TinyNet(nn.Module):
    """A user's own network: not a registered model, so no default name can stand in for it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))


@pytest.fixture(scope="module")
def wcat_run(digits_runs: dict):
    return load_run(digits_runs["wcat"], device="cpu")


@pytest.fixture()
def tiny() -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """An untrained 4-bit WCAT TinyNet, 60 test images and 80 attack images of the digits."""
    torch.manual_seed(0)
    model = wcatsim.quantize(TinyNet(), wcatsim.QuantConfig(method="wcat", bits=4))
    data = wcatsim.load_dataset("digits")
    x, y = data.test_tensors()
    xa, ya = data.train_tensors()
    return model, (x[:60], y[:60]), (xa[:80], ya[:80])


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_random_flip_on_a_model_equals_the_run_directory_sweep(wcat_run, tmp_path: Path, monkeypatch) -> None:
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep

    bers = [0.0, 1e-2, 3e-2]
    reference = random_flip_sweep(wcat_run, bers, samples=4, seed=3, out=tmp_path / "ref" / "rf.csv")
    monkeypatch.chdir(tmp_path)
    before = _files(tmp_path)
    x, y = wcat_run.data.test_tensors()
    loader = DataLoader(TensorDataset(x, y), batch_size=100)  # read once, in order
    df = random_flip(wcat_run.model, loader, bers, samples=4, seed=3)
    assert _files(tmp_path) == before, "a call without a path wrote files"
    # the same numbers; the identity columns name each its own model (issue 19 section 3)
    same = [c for c in df.columns if c not in IDENTITY_COLUMNS]
    assert df[same].to_dict("records") == [{c: row[c] for c in same} for row in reference]
    assert list(df.columns) == list(reference[0])
    assert df[["model", "quantizer", "bits", "dataset"]].iloc[0].tolist() == [
        "SmallCNN", "wcat", 4, "TensorDataset"] and df["run"].isna().all()  # fmt: skip
    assert reference[0]["run"] == wcat_run.dir.name and reference[0]["model"] == "small_cnn"
    assert df.attrs["fingerprint"] == reference.fingerprint  # same model, data, faults: same table
    assert df.attrs["settings"] == reference.settings
    assert df.attrs["path"] is None and df.attrs["run_dir"] is None
    assert df.attrs["model"] == type(wcat_run.model).__name__
    assert df.attrs["dataset"] == "TensorDataset"
    assert (df.attrs["quant_method"], df.attrs["bits"]) == ("wcat", 4)
    assert df["realisations"].dtype == "int64" and df["acc_mean"].dtype == "float64"


def test_the_model_path_writes_the_commands_table_only_where_given_a_path(tiny, tmp_path: Path) -> None:
    import pandas as pd

    model, test, _ = tiny
    out = tmp_path / "results" / "flips.csv"
    out.parent.mkdir()
    df = random_flip(model, test, [0.0, 5e-2], samples=3, path=out, per_realisation=True, name="mine")
    assert sorted(p.name for p in out.parent.iterdir()) == ["flips.csv", "flips.json",
                                                            "flips_realisations.csv"]  # fmt: skip
    written = pd.read_csv(out.with_name("flips_realisations.csv"))
    assert written[["ber", "realisation", "seed", "accuracy", "bits_changed"]].to_dict("records") == df[
        ["ber", "realisation", "seed", "accuracy", "bits_changed"]].to_dict("records")  # fmt: skip
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["model"] == "mine" and sidecar["run_dir"] is None and sidecar["config"] is None
    assert sidecar["fingerprint"] == df.attrs["fingerprint"]
    # a second call with the same settings resumes the table: every row is read back, nothing recomputed
    again = random_flip(model, test, [0.0, 5e-2], samples=3, path=out, name="mine")
    assert again["acc_mean"].tolist() == pd.read_csv(out)["acc_mean"].tolist()


def test_per_realisation_rows_average_to_the_points(tiny) -> None:
    model, test, _ = tiny
    points = random_flip(model, test, [1e-2, 4e-2], samples=5, seed=7)
    rows = random_flip(model, test, [1e-2, 4e-2], samples=5, seed=7, per_realisation=True)
    assert rows.attrs["rows"] == "realisations" and len(rows) == 10
    assert rows["realisation"].tolist() == [0, 1, 2, 3, 4] * 2
    means = rows.groupby("ber")["accuracy"].mean()
    for ber, mean in zip(points["ber"], points["acc_mean"], strict=True):
        assert means[ber] == pytest.approx(mean, abs=1e-9)
    bits = rows.groupby("ber")["bits_changed"].mean()
    assert bits.tolist() == pytest.approx(points["bits_changed_mean"].tolist(), abs=1e-9)


def test_summaries_name_the_users_model_never_the_default(tiny, tmp_path: Path) -> None:
    model, test, attack = tiny
    df = bit_flip_attack(model, test, attack, trials=2, max_flips=3, k_top=5, attack_batch=16,
                         path=tmp_path, data_name="my_digits")  # fmt: skip
    summary = json.loads((tmp_path / "bfa_summary.json").read_text())
    assert (summary["model"], summary["dataset"], summary["run"]) == ("TinyNet", "my_digits", None)
    assert (summary["quant_method"], summary["bits"]) == ("wcat", [4])
    assert df.attrs["summary"]["model"] == "TinyNet" and df.attrs["model"] == "TinyNet"
    assert df["trial"].tolist() == [0, 1]
    assert df["flips_to_break"].tolist() == summary["flips_to_break"]
    assert df["final_acc"].tolist() == summary["final_acc"]
    named = bit_flip_attack(model, test, attack, trials=1, max_flips=2, k_top=5, attack_batch=16,
                            name="resnet_mine", per_flip=True)  # fmt: skip
    assert named.attrs["summary"]["model"] == "resnet_mine"
    assert named.attrs["rows"] == "flips" and named.attrs["path"] is None
    assert named["flip"].tolist() == list(range(1, len(named) + 1))


def test_the_activation_buffer_on_a_model_equals_the_run_directory_sweep(wcat_run, tmp_path: Path) -> None:
    # the run directory calibrates the buffer on its training split (500 seeded, stratified images);
    # handed the same images as calibration_data, a model given in Python reads the same table
    from wcatsim.config import ActivationSpec
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep
    from wcatsim.memory.activations import calibration_images

    spec = ActivationSpec(target="both")
    bers = [0.0, 1e-2]
    reference = random_flip_sweep(wcat_run, bers, samples=3, seed=3, activations=spec,
                                  out=tmp_path / "ref" / "rf.csv")  # fmt: skip
    images = calibration_images(wcat_run, spec.calibration_images, int(wcat_run.config.data.seed))
    calibration = (images, torch.zeros(len(images), dtype=torch.int64))
    df = random_flip(wcat_run.model, wcat_run.data.test_tensors(), bers, samples=3, seed=3, activations=spec,
                     calibration_data=calibration, progress=False)  # fmt: skip
    same = [c for c in df.columns if c not in IDENTITY_COLUMNS]
    assert df[same].to_dict("records") == [{c: row[c] for c in same} for row in reference]
    # without calibration images: one line naming the fix, for every experiment that stores activations
    x, y = wcat_run.data.test_tensors()
    for call in (lambda: random_flip(wcat_run.model, (x, y), bers, samples=1, activations=spec),
                 lambda: sweep_voltage(wcat_run.model, (x, y), voltages=[1.0], chips=1, activations=spec),
                 lambda: voltage_plan(wcat_run.model, (x, y), voltages=[1.0, 0.9], planning_chips=1,
                                      verification_chips=1, max_verification_sets=1, activations=spec)):
        with pytest.raises(InputError, match=r"has none: give them as calibration_data="):
            call()


def test_a_plan_over_both_memories_from_python(tiny) -> None:
    from wcatsim.config import ActivationSpec

    model, test, attack = tiny
    plan = voltage_plan(model, test, voltages=[1.0, 0.9], planning_chips=2, verification_chips=2,
                        max_verification_sets=1, activations=ActivationSpec(target="both"),
                        calibration_data=attack, progress=False)  # fmt: skip
    assert plan["name"].tolist() == ["conv", "fc", "activations"]  # the buffer is a domain of its own
    assert plan.attrs["plan"]["target"] == "both"


def test_the_attack_needs_images_other_than_the_test_set(tiny) -> None:
    model, test, _ = tiny
    with pytest.raises(InputError, match="attack_data"):
        bit_flip_attack(model, test, trials=1)


def test_voltage_sweep_and_plan_write_nothing_without_a_path(tiny, tmp_path: Path, monkeypatch) -> None:
    model, test, _ = tiny
    monkeypatch.chdir(tmp_path)
    df = sweep_voltage(model, test, voltages=[0.8, 1.0, 0.9], chips=2)
    assert df["voltage"].tolist() == [1.0, 0.9, 0.8]  # highest first, as the command's table
    assert df["realisations"].tolist() == [2, 2, 2]
    assert df.attrs["kind"] == "sweep_voltage" and df.attrs["settings"]["preset"] == "chandramoorthy14"
    plan = voltage_plan(model, test, voltages=[1.0, 0.9], planning_chips=2, verification_chips=2,
                        max_verification_sets=1)  # fmt: skip
    assert plan["name"].tolist() == ["conv", "fc"]  # one domain per quantized layer
    assert set(plan["voltage"]) <= {1.0, 0.9}
    assert plan.attrs["plan"]["run_dir"] is None and plan.attrs["model"] == "TinyNet"
    curves = voltage_plan(model, test, voltages=[1.0, 0.9], planning_chips=2, verification_chips=2,
                          max_verification_sets=1, sensitivity=True)  # fmt: skip
    assert set(curves["domain"]) == {"conv", "fc"} and (curves["chips"] == 2).all()
    assert _files(tmp_path) == []


def test_the_models_training_mode_is_given_back(tiny) -> None:
    model, test, _ = tiny
    model.train()
    random_flip(model, test, [0.0], samples=1)
    assert model.training
    model.eval()
    random_flip(model, test, [0.0], samples=1)
    assert not model.training


def test_a_float_model_is_refused_with_the_fix(tiny) -> None:
    _, test, _ = tiny
    with pytest.raises(InputError, match=r"TinyNet is not quantized: quantize it first"):
        random_flip(TinyNet(), test, [0.0], samples=1)


def test_labels_outside_the_models_classes_are_refused(tiny) -> None:
    model, (x, y), _ = tiny
    with pytest.raises(InputError, match="labels must be class indices 0..9"):
        model_run(model, (x, y + 5))


def test_workers_cannot_rebuild_a_model_given_in_python(tiny) -> None:
    from wcatsim.experiments.montecarlo.executors import make_executor

    model, test, _ = tiny
    executor = make_executor("processes", workers=1)  # its worker would rebuild the model from a run dir
    try:
        with pytest.raises(InputError, match="local executor"):
            random_flip(model, test, [0.0], samples=1, executor=executor)
    finally:
        executor.close()


def test_a_run_directory_goes_through_the_same_functions(digits_runs: dict, tmp_path: Path) -> None:
    run_dir = Path(digits_runs["maxabs"])
    before = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}
    df = random_flip(run_dir, bers=[0.0, 1e-2], samples=2, device="cpu")
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()} == before  # no path: the run untouched
    assert df.attrs["model"] == "small_cnn" and df.attrs["run_dir"] == str(run_dir)
    # read, not written, yet its rows are named by the run they came from
    assert (df["run"] == run_dir.name).all() and (df["quantizer"] == "maxabs").all()
    with pytest.raises(InputError, match="brings its own data"):
        random_flip(run_dir, (torch.zeros(1, 1, 8, 8), torch.zeros(1, dtype=torch.int64)), [0.0])


def test_param_groups_are_the_trainers(tiny) -> None:
    from wcatsim.config import load_config
    from wcatsim.train import trainer
    from wcatsim.train.quant import range_parameters

    model, _, _ = tiny
    groups = wcatsim.param_groups(model, 0.1, weight_decay=5e-4, range_decay=0.01, range_lr=0.02)
    ranges = {id(p) for p in range_parameters(model)}
    assert [g["name"] for g in groups] == ["weights", "ranges"]
    assert {id(p) for p in groups[1]["params"]} == ranges and len(ranges) == 2  # one alpha per layer
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in model.parameters()} - ranges
    assert (groups[0]["weight_decay"], groups[1]["weight_decay"]) == (5e-4, 0.01)
    assert (groups[0]["lr"], groups[1]["lr"]) == (0.1, 0.02)
    cfg = load_config([], ["trainer.lr=0.1", "trainer.weight_decay=5e-4", "trainer.range_decay=0.01",
                           "trainer.range_lr=0.02", "trainer.optimizer=sgd"])  # fmt: skip
    built = trainer._make_optimizer(model, cfg).param_groups
    for ours, theirs in zip(groups, built, strict=True):
        assert [id(p) for p in ours["params"]] == [id(p) for p in theirs["params"]]
        assert {k: ours[k] for k in ("name", "weight_decay", "lr", "lr_scale")} == {
            k: theirs[k] for k in ("name", "weight_decay", "lr", "lr_scale")}  # fmt: skip
    # LSQ's step keeps the weights' decay (as LSQ and the WCAT code do); a float model has no range group
    lsq = wcatsim.quantize(TinyNet(), wcatsim.QuantConfig(method="lsq", bits=4))
    assert wcatsim.param_groups(lsq, 0.1, weight_decay=5e-4, range_decay=0.01)[1]["weight_decay"] == 5e-4
    assert [g["name"] for g in wcatsim.param_groups(TinyNet(), 0.1)] == ["weights"]


def test_data_is_read_once_from_a_loader_a_dataset_or_tensors(tiny) -> None:
    model, (x, y), _ = tiny
    from_tensors = model_run(model, (x, y)).data.test
    from_dataset = model_run(model, TensorDataset(x, y)).data.test
    assert torch.equal(from_dataset.x, from_tensors.x) and torch.equal(from_dataset.y, from_tensors.y)
    torch.manual_seed(1)
    shuffled = model_run(model, DataLoader(TensorDataset(x, y), batch_size=7, shuffle=True)).data.test
    order = torch.argsort(shuffled.y, stable=True)
    assert not torch.equal(shuffled.y, y)  # the loader's order, read once
    assert torch.equal(shuffled.y[order], y[torch.argsort(y, stable=True)])
    assert sorted(map(tuple, shuffled.x.flatten(1).tolist())) == sorted(map(tuple, x.flatten(1).tolist()))
    with pytest.raises(InputError, match=r"data: a batch must be \(x, y\)"):
        model_run(model, DataLoader(x, batch_size=8))
    with pytest.raises(InputError, match="holds no images"):
        model_run(model, (x[:0], y[:0]))
