"""Every bad input, over every command: one line on stderr, exit code 2, no traceback, nothing touched.

The table ``CASES`` holds one row per bad input: a command line (as typed after ``wcatsim``, with
placeholders for the files of the workspace below) and a fragment the one error line must contain.
Each row runs in-process through the real ``wcatsim`` group (click's CliRunner) and asserts: exit code 2;
exactly one line on stderr, starting ``error: `` and containing the fragment; no traceback anywhere;
torch's advice to load with ``weights_only=False`` never repeated; and every file and folder of the
workspace, the trained run with its finished tables included, byte for byte as before.

**Adding a row** for a new option: append ``Case("command --new-option BAD", "fragment")`` in the
section of its command (the id is the command line; give ``name=`` when two rows would share one).
Placeholders (see :func:`workspace`):

====================  ==========================================================================
``{run}``             a trained 4-bit WCAT digits run (a copy) with finished random_flip.csv and
                      sweep_voltage.csv: what every fault command works on
``{float}``           a trained float run (no integer weights)
``{wrong_model}``     a run directory whose checkpoint.pt is another run's (maxabs in a wcat run)
``{wrong_bits}``      a run directory whose checkpoint says 8-bit, its config.toml 4-bit
``{garbage_ckpt}``    a run directory whose checkpoint.pt is not a checkpoint
``{pickle_ckpt}``     a run directory whose checkpoint.pt holds a pickled Python object
``{empty}``           an empty folder; ``{missing}`` a path that does not exist
``{new}``             a folder that does not exist and must not exist afterwards
``{file}``            a regular (text) file; ``{ro}`` a folder nobody can write into
``{mnist_labels}``    MNIST IDX files whose labels reach 12; ``{mnist_truncated}``: a cut .gz
``{bad_acc}`` ...     broken sweep tables for pareto (see ``_write_sweeps``)
====================  ==========================================================================

A few paths need a real process (signals, the exit path of the installed entry point, a truncated
download that click once reported as a bare "Aborted!"): those are the tests at the end.
"""

from __future__ import annotations

import gzip
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.processes import interruptible

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    argv: str  # after `wcatsim`, with {placeholders}
    expect: str  # a fragment of the one error line (compared case-insensitively)
    name: str | None = None

    @property
    def id(self) -> str:
        return self.name or self.argv


CASES = [
    # ---------------------------------------------------------------- any command: click's own errors
    Case("no-such-command", "no such command"),
    Case("random-flip --sampels 3", "no such option"),
    Case("sram no-such-subcommand", "no such command"),
    Case("pareto", "missing argument"),
    Case("eval --device tpu", "is not one of"),
    # ---------------------------------------------------------------- train
    Case("train --set trainer.epochs=0", "trainer.epochs"),
    Case("train --set trainer.lr=-1", "trainer.lr"),
    Case("train --set trainer.batch_size=0", "trainer.batch_size"),
    Case("train --set trainer.batch_size=-1", "trainer.batch_size"),
    Case("train --set trainer.seed=-1", "trainer.seed"),
    Case("train --set trainer.epoch=5", "did you mean"),
    Case("train --set nosection.key=1", "unknown section"),
    Case("train --set trainer.epochs", "key=value"),
    Case("train --set model.name=no_such_net", "unknown model"),
    Case("train --set quant.method=no_such_quantizer", "quant.method"),
    Case("train --set quant.bits=1", "quant.bits"),
    Case("train --set data.name=no_such_data", "unknown dataset"),
    Case("train --set data.val_fraction=0.7", "data.val_fraction"),
    Case("train -c {missing}.toml", "the shipped layers are in"),
    Case("train -c configs/quantization/no_such_layer.toml", "the shipped layers are in"),
    Case("train -c {file}", "not valid toml"),
    Case("train --out {ro}/run", "cannot write"),
    Case("train --out {file}/run", "is a file, not a folder"),
    Case("train --out {file}", "is a file"),
    Case("train --out {run} --set trainer.epochs=3", "another config"),
    Case("train --out {new} --init-from {missing}.pt", "does not exist"),
    Case("train --out {new} --init-from {garbage_ckpt}/checkpoint.pt", "not a readable wcatsim checkpoint"),
    Case("train --out {new} --set data.name=mnist --set data.root={missing}", "does not exist"),
    Case("train --out {new} --set data.name=mnist --set data.root={mnist_labels}", "label is 12"),
    Case("train --out {new} --set data.name=mnist --set data.root={mnist_truncated}", "truncated"),
    Case("train --device tpu", "is not one of"),
    Case("train --out {new} --set data.name=imagefolder --set data.root={corrupt_jpeg} "
         "--set data.image_size=8 --set data.resize=8", "corrupt_jpeg/train/a/3.jpg"),
    Case("train --out {new} --set data.name=imagefolder --set data.root={val_only} "
         "--set data.image_size=8 --set data.resize=8", "val_only/train holds no image"),
    # ---------------------------------------------------------------- eval
    Case("eval {missing}", "does not exist"),
    Case("eval {empty}", "no checkpoint.pt"),
    Case("eval {run} --set quant.bits=8", "fixes the trained model"),
    Case("eval {run} --set model.name=lenet5", "fixes the trained model"),
    Case("eval {run} --set trainer.epochs=3", "fixes the trained model"),
    Case("eval {run} --set data.seed=3", "fixes the trained model"),
    Case("eval {run} -c configs/quantization/4bit_maxabs.toml", "changes the model"),
    Case("eval {run} --run {float}", "two runs"),
    Case("eval {wrong_model}", "belongs to another run"),
    Case("eval {wrong_bits}", "belongs to another run"),
    Case("eval {garbage_ckpt}", "not a readable wcatsim checkpoint"),
    Case("eval {pickle_ckpt}", "never runs code from a file"),
    Case("eval --run {file}", "is a file"),
    # ---------------------------------------------------------------- random-flip
    Case("random-flip --run {run} --ber 0,1.5", "outside [0, 1]"),
    Case("random-flip --run {run} --ber -1e-3", "outside [0, 1]"),
    Case("random-flip --run {run} --ber 0,abc", "not a number"),
    Case("random-flip --run {run} --ber nan", "not a finite number"),
    Case("random-flip --run {run} --ber 0,inf", "not a finite number"),
    Case("random-flip --run {run} --ber ,", "the list is empty"),
    Case("random-flip --run {run} --seed -1", "--seed"),
    Case("random-flip --run {run} --batch-size -1", "--batch-size"),
    Case("random-flip --run {run} --batch-size 0", "--batch-size"),
    Case("random-flip --run {run} --samples 0", "--samples"),
    Case("random-flip --run {run} --samples 5 --ci-half-width 0.5", "give one of them"),
    Case("random-flip --run {run} --min-samples 5", "adaptive stopping, which is off"),
    Case("random-flip --run {run} --max-samples 100", "adaptive stopping, which is off"),
    Case("random-flip --run {run} --ci-half-width -1", "--ci-half-width"),
    Case("random-flip --run {run} --ci-half-width nan", "not a finite number"),
    Case("random-flip --run {run} --ci-half-width 0.5 --min-samples 1", "(the pilot) must be >= 2"),
    Case("random-flip --run {run} --ci-half-width 0.5 --min-samples 20 --max-samples 10", "max_samples"),
    Case("random-flip --run {run} --protect-msb 2", "--protect-msb"),
    Case("random-flip --run {run} --protect hamming", "hamming"),
    Case("random-flip --run {run} --ecc secded --protect parity-zero", "parity-zero"),
    Case("random-flip --run {run} --protect msb-8t --protect-msb 0.5", "msb-8t"),
    Case("random-flip --run {run} --fault chip --ber 0.7", "0.5"),
    Case("random-flip --run {run} --protect-msb -0.1", "--protect-msb"),
    Case("random-flip --run {run} --fault cosmic", "unknown fault model"),
    Case("random-flip --run {run} --word-bits 0", "--word-bits"),
    Case("random-flip --run {run} --workers 2", "--workers only applies"),
    Case("random-flip --run {run} --executor processes --workers 0", "--workers"),
    Case("random-flip --run {run} --executor dask", "--scheduler"),
    Case("random-flip --run {run} --scheduler tcp://127.0.0.1:1", "--scheduler only applies"),
    Case("random-flip --run {run} --executor dask --scheduler {missing}.toml", "no scheduler description at"),
    Case("random-flip --run {run} --executor dask --scheduler {bad_toml}", "not valid TOML"),
    Case("sweep-voltage --run {run} --executor dask --scheduler {file}", "file.txt is not valid TOML"),
    Case("random-flip --run {run} --layers no_such_layer", "not quantized layers"),
    Case("random-flip --run {run} --out {run}/checkpoint.pt", "the trained model"),
    Case("random-flip --run {run} --out {run}/last.pt", "resumable last epoch"),
    Case("random-flip --run {run} --out {run}/config.toml", "resolved config"),
    Case("random-flip --run {run} --out {run}/summary.json", "training summary"),
    Case("random-flip --run {run} --out {run}/summary.csv", "would also write summary.json"),
    Case("random-flip --run {run} --out {run}/sweep_voltage.csv", "wcatsim sweep-voltage"),
    Case("random-flip --run {run} --out {run}/bfa_flips.csv", "wcatsim bfa"),
    Case("random-flip --run {run} --out {run}/random_flip_realisations.csv", "random_flip_realisations"),
    Case("random-flip --run {run} --out {ro}/rf.csv", "cannot write"),
    Case("random-flip --run {run} --out {file}/rf.csv", "is a file, not a folder"),
    Case("random-flip --run {run} --out {empty}", "is a directory"),
    Case("random-flip --run {run} --plot {ro}/rf.png", "cannot write"),
    Case("random-flip --run {run} --plot {run}/checkpoint.pt", "the trained model"),
    Case("random-flip --run {run} --plot {run}/sweep_voltage.png", "wcatsim sweep-voltage"),
    Case("random-flip --run {empty}", "no checkpoint.pt"),
    Case("random-flip --run {missing}", "does not exist"),
    Case("random-flip --run {run} --set quant.method=maxabs", "fixes the trained model"),
    Case("random-flip --run {run} --set trainer.lr=0.5", "fixes the trained model"),
    Case("random-flip --run {run} --set data.val_fraction=0.2", "fixes the trained model"),
    Case("random-flip --run {run} -c configs/quantization/4bit_maxabs.toml", "changes the model"),
    Case("random-flip --run {wrong_model} --ber 0", "belongs to another run"),
    Case("random-flip --run {run} --set attack.random_flip.samples=0", "attack.random_flip.samples"),
    Case("random-flip --run {run} --set attack.random_flip.bers=[2.0]", "attack.random_flip.bers"),
    # ---------------------------------------------------------------- sweep-voltage
    Case("sweep-voltage --run {run} --voltages 0.8:0.9:inf", "nan or infinite"),
    Case("sweep-voltage --run {run} --voltages nan:1.0:0.1", "nan or infinite"),
    Case("sweep-voltage --run {run} --voltages 0.8,nan", "not a finite number"),
    Case("sweep-voltage --run {run} --voltages 0.75:1.0:1e-12", "at most 10,000"),
    Case("sweep-voltage --run {run} --voltages 0.75:1.0:0", "step must be positive"),
    Case("sweep-voltage --run {run} --voltages 0.75:1.0", "is not a:b:step"),
    Case("sweep-voltage --run {run} --voltages 0.1:0.2:0.1", "outside"),
    Case("sweep-voltage --run {run} --voltages ,", "the list is empty"),
    Case("sweep-voltage --run {run} --preset no_such_preset", "unknown SRAM preset 'no_such_preset'"),
    Case("sweep-voltage --run {run} --chips 0", "--chips"),
    Case("sweep-voltage --run {run} --seed -1", "--seed"),
    Case("sweep-voltage --run {run} --batch-size 0", "--batch-size"),
    Case("sweep-voltage --run {run} --word-bits 0", "--word-bits"),
    Case("sweep-voltage --run {run} --fault cosmic", "is not one of"),
    Case("random-flip --run {run} --protocol fast", "unknown protocol 'fast'"),
    Case("random-flip --run {run} --protocol paper --samples 10", "protocol 'paper' is 50 realisations"),
    Case("random-flip --run {run} --images -1", "--images"),
    Case("sweep-voltage --run {run} --images -5", "--images"),
    Case("random-flip --run {run} --images many", "'all' or 'auto'"),
    Case("random-flip --run {run} --images auto --samples 5", "give one of them"),
    Case("sweep-voltage --run {run} --ecc hamming", "is not one of"),
    Case("sweep-voltage --run {run} --out {run}/random_flip.csv", "wcatsim random-flip"),
    Case("sweep-voltage --run {run} --out {run}/checkpoint.pt", "the trained model"),
    Case("sweep-voltage --run {run} --out {ro}/sv.csv", "cannot write"),
    Case("sweep-voltage --run {run} --plot {ro}/sv.png", "cannot write"),
    Case("sweep-voltage --run {run} --set model.name=lenet5", "fixes the trained model"),
    Case("sweep-voltage --run {run} --set attack.sweep.chips=0", "attack.sweep.chips"),
    Case("sweep-voltage --run {run} --protect hamming", "hamming"),
    Case("sweep-voltage --run {run} --ecc secded --protect parity-zero", "parity-zero"),
    Case("sweep-voltage --run {run} --banks 0", "--banks"),
    Case("sweep-voltage --run {run} --inference-time-ns -5", "--inference-time-ns"),
    Case("sweep-voltage --run {run} --inference-time-ns nan", "not a finite number"),
    Case("sweep-voltage --run {run} --tile-offset 64", "--tile-offset applies to --fault-map only"),
    Case("sweep-voltage --run {run} --fault-map {missing}", "no fault map at"),
    Case("sweep-voltage --run {run} --fault-map {file}", "is not a .npz fault map"),
    Case("sweep-voltage --run {run} --fault-map {file} --chips 3", "--chips has no meaning"),
    Case("sweep-voltage --run {run} --fault-map {npz_truncated}", "truncated or corrupt .npz fault map"),
    Case("sweep-voltage --run {run} --fault-map {npz_zlib}", "truncated or corrupt .npz fault map"),
    Case("random-flip --run {run} --eval-images 100000", "the test split has only 539 images"),
    # ---------------------------------------------------------------- plan-voltage
    Case("plan-voltage --run {run} --eval-images -1", "--eval-images"),
    Case("random-flip --run {run} --eval-images -3", "--eval-images"),
    Case("bfa --run {run} --eval-images -3", "--eval-images"),
    Case("plan-voltage --run {run} --budget -1", "--budget"),
    Case("plan-voltage --run {run} --inference-time-ns -5", "--inference-time-ns"),
    Case("plan-voltage --run {run} --budget nan", "not a finite number"),
    Case("plan-voltage --run {run} --metric median", "is not one of"),
    Case("plan-voltage --run {run} --chips 0", "--chips"),
    Case("plan-voltage --run {run} --verify-chips 0", "--verify-chips"),
    Case("plan-voltage --run {run} --max-sets 0", "--max-sets"),
    Case("plan-voltage --run {run} --metric ci_low --chips 1", "at least 2 chips"),
    Case("plan-voltage --run {run} --voltages 0.1:0.2:0.1", "outside"),
    Case("plan-voltage --run {run} --voltages 0.75:1.0:0", "step must be positive"),
    Case("plan-voltage --run {run} --preset no_such_preset", "unknown SRAM preset 'no_such_preset'"),
    Case("plan-voltage --run {run} --protect hamming", "unknown protection scheme"),
    Case("plan-voltage --run {run} --protect secdd", "--protect: unknown protection scheme 'secdd'"),
    Case("plan-voltage --run {run} --set plan.protect=secdd", "plan.protect: unknown protection scheme"),
    Case("plan-voltage --run {run} --set plan.metric=median", "expected one of: mean, ci_low"),
    Case("plan-voltage --run {run} --set plan.budgt=2", "did you mean 'budget'"),
    Case("plan-voltage --run {run} --banks 0", "--banks"),
    Case("plan-voltage --run {run} --seed -1", "--seed"),
    Case("plan-voltage --run {run} --word-bits 1000", "word width"),
    Case("plan-voltage --run {run} --domains {missing}", "no such file"),
    Case("plan-voltage --run {run} --domains {bad_toml}", "not valid toml"),
    Case("plan-voltage --run {run} --target activations --domains {missing}", "with the default domains"),
    Case("plan-voltage --run {run} --target weigths", "is not one of"),
    Case("plan-voltage --run {run} --target both --set attack.activations.voltage=0.9",
         "`attack.activations.voltage`: a plan chooses the buffer's voltage"),
    Case("plan-voltage --run {run} --target both --act-protect secdd", "--act-protect"),
    Case("plan-voltage --run {run} --out {file}", "is a file"),
    Case("plan-voltage --run {run} --out {ro}", "cannot write"),
    Case("plan-voltage --run {run} --plot {run}/sweep_voltage.png", "wcatsim sweep-voltage"),
    Case("plan-voltage --run {empty}", "no checkpoint.pt"),
    Case("plan-voltage --run {run} --set quant.bits=8", "fixes the trained model"),
    # ---------------------------------------------------------------- bfa
    Case("bfa --run {run} --trials 0", "--trials"),
    Case("bfa --run {run} --k-top 0", "--k-top"),
    Case("bfa --run {run} --k-top 1000000", "larger than layer"),
    Case("bfa --run {run} --max-flips 0", "--max-flips"),
    Case("bfa --run {run} --max-iterations 0", "--max-iterations"),
    Case("bfa --run {run} --attack-batch 0", "--attack-batch"),
    Case("bfa --run {run} --eval-subset -1", "--eval-subset"),
    Case("bfa --run {run} --threshold 150", "--threshold"),
    Case("bfa --run {run} --threshold nan", "not a finite number"),
    Case("bfa --run {run} --seed -1", "--seed"),
    Case("bfa --run {run} --plot {ro}/b.png", "cannot write"),
    Case("bfa --run {run} --plot {run}/checkpoint.pt", "the trained model"),
    Case("bfa --run {run} --plot {run}/random_flip.png", "wcatsim random-flip"),
    Case("bfa --run {float}", "not quantized"),
    Case("bfa --run {run} --set quant.bits=8", "fixes the trained model"),
    Case("bfa --run {empty}", "no checkpoint.pt"),
    Case("bfa --compare {run} {empty} --plot {new}/c.png", "no bit-flip attack results"),
    Case("bfa --compare {run} {run} --plot {ro}/c.png", "cannot write"),
    # ---------------------------------------------------------------- pareto
    Case("pareto {missing}", "does not exist"),
    Case("pareto {empty}", "no voltage sweep"),
    Case("pareto {bad_acc}", "not a percentage"),
    Case("pareto {neg_energy}", "not positive"),
    Case("pareto {nan_acc}", "rerun the sweep"),
    Case("pareto {no_column}", "no number in column"),
    Case("pareto {dup_voltage}", "appears twice"),
    Case("pareto {header_only}", "has no rows"),
    Case("pareto {two_models}", "clean_acc differs"),
    Case("pareto {run} --metric median", "is not one of"),
    Case("pareto {run} --out {ro}/p.png", "cannot write"),
    Case("pareto {run} --out {file}/p.png", "is a file, not a folder"),
    Case("pareto {run} --out {run}/sweep_voltage.png", "wcatsim sweep-voltage"),
    # ---------------------------------------------------------------- sram
    Case("sram show no_such_preset", "unknown sram preset"),
    Case("sram show {file}", "use a .toml or .csv file"),
    Case("sram show {bad_toml}", "not valid toml"),
    Case("sram show chandramoorthy14 --voltages 0.1:0.2:0.1", "outside"),
    Case("sram show chandramoorthy14 --voltages nan", "not a finite number"),
    Case("sram show chandramoorthy14 --voltages 0:1:1e-12", "at most 10,000"),
    Case("sram show chandramoorthy14 --plot {ro}/t.png", "cannot write"),
    Case("sram show chandramoorthy14 --plot {file}/t.png", "is a file, not a folder"),
    Case("sram import-map {missing} --rows 8 --cols 8 --out {new}/m.npz", "is not a directory of fault-map"),
    Case("sram import-map {empty} --rows 8 --cols 8 --out {new}/m.npz", "holds no fmap_sa0"),
    Case("sram import-map {empty} --rows 0 --cols 8 --out {new}/m.npz", "--rows"),
    Case("sram import-map {empty} --rows 8 --cols 8 --out {file}", "exists"),
    # ---------------------------------------------------------------- demo
    Case("demo --out {ro}/d", "cannot write"),
    Case("demo --out {file}/d", "is a file, not a folder"),
    Case("demo --out {file}", "is a file"),
    Case("demo --out {run}", "trained run's directory"),
    Case("demo --device tpu", "is not one of"),
]


class _Opaque:
    """A Python object in a checkpoint: a safe load must refuse it."""


def _idx(path: Path, array: np.ndarray, magic: int, compress: bool = False) -> None:
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        data = gzip.compress(data)
        path = path.with_name(path.name + ".gz")
    path.write_bytes(data)


def _write_mnist(folder: Path, labels_top: int = 9, truncate: bool = False) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("t10k", 20)):
        images = rng.integers(0, 256, size=(n, 28, 28))
        labels = np.arange(n) % (labels_top + 1)
        _idx(folder / f"{split}-images-idx3-ubyte", images, 2051, compress=truncate)
        _idx(folder / f"{split}-labels-idx1-ubyte", labels, 2049)
    if truncate:
        gz = folder / "train-images-idx3-ubyte.gz"
        gz.write_bytes(gz.read_bytes()[: len(gz.read_bytes()) // 2])
    return folder


_SWEEP_HEADER = "voltage,ber,bits_changed_mean,energy_per_inference_pj,energy_norm,realisations,acc_mean," \
    "acc_std,ci_low,ci_high,clean_acc\n"  # fmt: skip


def _write_sweeps(root: Path) -> dict[str, str]:
    def row(v, e, acc, clean=97.0, ci=None):
        ci = acc if ci is None else ci
        return f"{v},1e-5,1.0,,{e},2,{acc},0.1,{ci},{acc},{clean}\n"

    tables = {
        "bad_acc": row(1.0, 1.0, 97.0) + row(0.9, 0.8, 150.0),
        "neg_energy": row(1.0, 1.0, 97.0) + row(0.9, -0.2, 96.5),
        "nan_acc": row(1.0, 1.0, 97.0) + row(0.9, 0.8, "nan"),
        "dup_voltage": row(1.0, 1.0, 97.0) + row(1.0, 0.8, 96.0),
        "header_only": "",
        "two_models": row(1.0, 1.0, 97.0) + row(0.9, 0.8, 96.0, clean=95.0),
    }
    out = {}
    for name, body in tables.items():
        path = root / f"{name}.csv"
        path.write_text(_SWEEP_HEADER + body)
        out[name] = str(path)
    (root / "no_column.csv").write_text("voltage,acc_mean\n1.0,97.0\n")
    out["no_column"] = str(root / "no_column.csv")
    return out


def _write_bad_fault_maps(root: Path) -> dict[str, str]:
    """A fault map cut in half (zipfile.BadZipFile) and one whose compressed array is damaged (zlib.error)."""
    import zipfile

    from sram_models.faults.measured import ChipMeasurement

    good = root / "map.npz"
    ChipMeasurement(rows=64, cols=64, banks=1, voltages=(0.9, 1.0),
                    stuck0=(np.arange(50) * 7, np.arange(5) * 2),
                    stuck1=(np.arange(40) * 7 + 1, np.arange(4) * 2 + 1)).save(good)  # fmt: skip
    data = good.read_bytes()
    (root / "map_truncated.npz").write_bytes(data[: len(data) // 2])
    with zipfile.ZipFile(good) as archive:
        member = archive.getinfo("sa0_0.npy")
    start = member.header_offset + 30 + len(member.filename) + len(member.extra)  # the deflated bytes
    damaged = bytearray(data)
    for i in range(start + 10, start + member.compress_size - 2):
        damaged[i] ^= 0x5A
    (root / "map_zlib.npz").write_bytes(bytes(damaged))
    good.unlink()
    return {"npz_truncated": str(root / "map_truncated.npz"), "npz_zlib": str(root / "map_zlib.npz")}


def _write_image_folders(root: Path) -> dict[str, str]:
    """An image folder with one JPEG that is not a JPEG inside; one with only val/ (no training images)."""
    from PIL import Image

    for name, splits in (("corrupt_jpeg", ("train", "val")), ("val_only", ("val",))):
        for split in splits:
            for label in "ab":
                folder = root / name / split / label
                folder.mkdir(parents=True)
                for i in range(6):
                    Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(folder / f"{i}.jpg")
    (root / "corrupt_jpeg" / "train" / "a" / "3.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"garbage" * 10)
    return {"corrupt_jpeg": str(root / "corrupt_jpeg"), "val_only": str(root / "val_only")}


def _read_only_folder(root: Path) -> Path:
    """A folder this process cannot write into: a chmod-ed one, or (as root, who ignores modes) /sys."""
    if os.geteuid() != 0:
        folder = root / "read_only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    return Path("/sys")  # sysfs refuses new files even to root


@pytest.fixture(scope="module")
def workspace(digits_runs, tmp_path_factory):
    """The files the cases name (see the module docstring), built once for the whole table."""
    import torch

    from wcatsim.config import load_config
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep, voltage_sweep
    from wcatsim.train.trainer import train

    root = tmp_path_factory.mktemp("bad_inputs")
    run = root / "run"
    shutil.copytree(digits_runs["wcat"], run)
    random_flip_sweep(str(run), [0.0, 1e-2], samples=2, device="cpu")  # finished tables to keep
    voltage_sweep(str(run), "chandramoorthy14", [1.0, 0.9], chips=1, device="cpu")
    cfg = load_config([], ["quant.method=float", "trainer.epochs=1", "trainer.steps_per_epoch=2"])
    float_run = train(cfg, out_dir=root / "float", device="cpu", progress=False).run_dir

    def copy(name: str) -> Path:
        return Path(shutil.copytree(digits_runs["wcat"], root / name))

    wrong_model = copy("wrong_model")
    shutil.copy(Path(digits_runs["maxabs"]) / "checkpoint.pt", wrong_model / "checkpoint.pt")
    wrong_bits = copy("wrong_bits")
    payload = torch.load(wrong_bits / "checkpoint.pt", weights_only=True)
    payload["config"]["quant"]["bits"] = 8
    torch.save(payload, wrong_bits / "checkpoint.pt")
    garbage = copy("garbage_ckpt")
    (garbage / "checkpoint.pt").write_bytes(b"\x00" * 64)
    pickled = copy("pickle_ckpt")
    torch.save({"model": {}, "extra": _Opaque()}, pickled / "checkpoint.pt")
    (root / "empty").mkdir()
    (root / "file.txt").write_text("hello world\n")
    (root / "bad.toml").write_text("x = [\n")
    cwd = root / "cwd"
    cwd.mkdir()
    places = {
        "run": str(run), "float": str(float_run), "wrong_model": str(wrong_model),
        "wrong_bits": str(wrong_bits), "garbage_ckpt": str(garbage), "pickle_ckpt": str(pickled),
        "empty": str(root / "empty"), "missing": str(root / "missing"), "new": str(root / "new"),
        "file": str(root / "file.txt"), "bad_toml": str(root / "bad.toml"),
        "ro": str(_read_only_folder(root)),
        "mnist_labels": str(_write_mnist(root / "mnist_labels", labels_top=12)),
        "mnist_truncated": str(_write_mnist(root / "mnist_truncated", truncate=True)),
        **_write_bad_fault_maps(root), **_write_image_folders(root),
        **_write_sweeps(root),
    }  # fmt: skip
    yield root, cwd, places
    if os.geteuid() != 0:
        (root / "read_only").chmod(0o755)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under ``root``."""
    out: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_dir():
            out[rel + "/"] = None
        elif path.is_file():
            out[rel] = path.read_bytes()
    return out


def test_the_table_is_large_and_distinct() -> None:
    ids = [c.id for c in CASES]
    assert len(set(ids)) == len(ids), "two rows share an id: give one of them name="
    assert len(CASES) >= 80
    commands = {c.argv.split()[0] for c in CASES}
    assert {"train", "eval", "random-flip", "sweep-voltage", "bfa", "pareto", "sram", "demo"} <= commands


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, workspace, monkeypatch) -> None:
    from wcatsim.cli.main import cli

    root, cwd, places = workspace
    monkeypatch.chdir(cwd)
    argv = shlex.split(case.argv.format(**places))
    before = snapshot(root)
    result = CliRunner().invoke(cli, argv)
    after = snapshot(root)
    trace = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else ""
    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.output}\n{trace}"
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    lines = result.stderr.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert case.expect.lower() in lines[0].lower(), f"{case.expect!r} not in: {lines[0]}"
    assert "weights_only=False" not in lines[0] and "weights_only` set to `False" not in lines[0]
    changed = sorted(k for k in set(before) | set(after) if before.get(k, b"?") != after.get(k, b"?"))
    assert not changed, f"the command touched {changed}"


# ------------------------------------------------------------------------------ real processes


def _wcatsim(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "wcatsim.cli.main", *args], capture_output=True, text=True, env=env, **kwargs
    )


def test_a_truncated_gz_download_is_one_line_not_aborted(tmp_path) -> None:
    # gzip raises EOFError on a cut file, which click's standalone mode turned into a bare "Aborted!"
    folder = _write_mnist(tmp_path / "mnist", truncate=True)
    result = _wcatsim("train", "--set", "data.name=mnist", "--set", f"data.root={folder}",
                      "--out", str(tmp_path / "run"), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Aborted" not in result.stderr and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "truncated" in line, line
    assert not (tmp_path / "run").exists(), "a failed train --out left its directory behind"


def test_usage_errors_of_the_entry_point_are_one_line(tmp_path) -> None:
    result = _wcatsim("random-flip", "--seed", "-1", cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "--seed" in line and "wcatsim random-flip --help" in line, line


def test_ctrl_c_keeps_the_points_finished_and_says_so_in_one_line(digits_runs, tmp_path) -> None:
    run = tmp_path / "run"
    shutil.copytree(digits_runs["wcat"], run)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wcatsim.cli.main", "random-flip", "--run", str(run),
         "--ber", "0,1e-2,2e-2,3e-2,5e-2", "--samples", "40", "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
        preexec_fn=interruptible,
    )  # fmt: skip
    table = run / "random_flip.csv"
    deadline = time.monotonic() + 120
    while not table.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, err)
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("interrupted: results written so far are kept"), line
    assert table.read_text().count("\n") >= 2, "the finished point was lost"
    assert not (run / "random_flip.csv.lock").exists() and not (run / "random_flip.csv.lock.json").exists()


def _assert_interrupted(command, capsys) -> None:
    """``command`` (wrapped by handles_errors) exits 130 with the one "interrupted" line on stderr."""
    with pytest.raises(SystemExit) as exit_info:
        command()
    assert exit_info.value.code == 130
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("interrupted: results written so far are kept"), line


def test_ctrl_c_inside_a_numba_kernel_is_an_interrupt_too(capsys) -> None:
    # numba's dispatcher reports a KeyboardInterrupt raised while a kernel ran as a SystemError
    # ("returned a result with an exception set") whose context is the interrupt.
    from wcatsim.cli._common import handles_errors

    @handles_errors
    def kernel_interrupted() -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise SystemError("CPUDispatcher(...) returned a result with an exception set") from None

    _assert_interrupted(kernel_interrupted, capsys)

    @handles_errors
    def real_bug() -> None:
        raise SystemError("a bug, not an interrupt")

    with pytest.raises(SystemError, match="a bug"):
        real_bug()


def test_an_error_raised_while_ctrl_c_unwinds_is_an_interrupt(capsys) -> None:
    # tqdm's write lock, interrupted while being created, fails in its own `finally` with an
    # AttributeError whose context is the KeyboardInterrupt (seen once in CI): one line, exit 130
    from wcatsim.cli._common import handles_errors

    class Bars:
        pass

    @handles_errors
    def interrupted_in_a_finally() -> None:
        try:
            raise KeyboardInterrupt
        finally:
            Bars._lock.release()  # type: ignore[attr-defined]

    _assert_interrupted(interrupted_in_a_finally, capsys)

    @handles_errors
    def attribute_bug() -> None:
        Bars._lock.release()  # type: ignore[attr-defined]

    with pytest.raises(AttributeError, match="_lock"):
        attribute_bug()
