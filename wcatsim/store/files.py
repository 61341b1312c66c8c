"""Which files a run directory holds, which command writes which, and the guards on output paths.

A run directory is shared by every command that works on the model in it: ``wcatsim train`` writes
:data:`RUN_FILES`; each later command writes its own results under the names of :data:`OUTPUTS`.  An
``--out`` or ``--plot`` path that would replace one of those files (the checkpoint, the config, another
command's table or its sidecar) is refused before anything is computed, and so is a path no file can be
written to (a read-only folder, a folder that is a regular file).  Nothing here imports torch.

A command that adds an output file adds its name here (its family's tuple, or a new family).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from sram_models.errors import InputError

# What a trained run needs; names as in wcatsim.train.runs and wcatsim.train.checkpoints (a test checks
# they agree).
RUN_FILES: dict[str, str] = {
    "config.toml": "the run's resolved config",
    "checkpoint.pt": "the trained model",
    "last.pt": "the resumable last epoch",
    "summary.json": "the training summary",
    "metrics.csv": "the per-epoch training metrics",
    "train.log": "the training log",
}

# The Bit-Flip Attack's defences and objectives, by name (the registries sit above the store, so the
# names are repeated here; tests/experiments check that they agree with DEFENCES and ATTACK_OBJECTIVES).
BFA_DEFENCES = ("none", "checksum", "checksum-reload", "secded", "secded-zero", "parity-zero")
BFA_OBJECTIVES = ("untargeted", "targeted")


def bfa_family(defence: str | None, objective: str | None = "untargeted") -> str:
    """The output family of a Bit-Flip Attack with ``objective`` against ``defence``: ``bfa`` (untargeted,
    undefended: ``none`` or None), ``bfa_checksum`` (untargeted against checksum), ``bfa_targeted`` and
    ``bfa_targeted_checksum`` (T-BFA).  Its files: ``FAMILY_flips.csv``, ``FAMILY_summary.json``,
    ``FAMILY.png`` (``bfa_flips.csv``, ``bfa_targeted_checksum_summary.json``, ...), so that one run
    directory holds the attacks of every objective under every defence side by side (a targeted attack's
    target and source classes are in its summary; another target class keeps the earlier one aside)."""
    parts = ["bfa"]
    if objective not in (None, "untargeted"):
        parts.append(objective)
    if defence not in (None, "none"):
        parts.append(defence)
    return "_".join(parts)


# Per command family: the file names it writes into a run directory (its table first).
OUTPUTS: dict[str, tuple[str, ...]] = {
    "random_flip": (
        "random_flip.csv", "random_flip.json", "random_flip_realisations.csv",
        "random_flip.png", "random_flip.pdf",
    ),
    "sweep_voltage": (
        "sweep_voltage.csv", "sweep_voltage.json", "sweep_voltage_realisations.csv",
        "sweep_voltage.png", "sweep_voltage.pdf",
    ),
    # bfa (bfa_flips.csv, bfa_summary.json, bfa.png, bfa.pdf) and, per --objective and --defence NAME
    # (issue 20), a family of its own, so the attacks of one model under every objective and defence sit
    # side by side (`wcatsim security` reads them)
    **{bfa_family(defence, objective): tuple(f"{bfa_family(defence, objective)}{end}" for end in (
        "_flips.csv", "_summary.json", ".png", ".pdf"))
       for objective in BFA_OBJECTIVES for defence in BFA_DEFENCES},
    # --target activations / both (issue 20): tables of their own, so a weights table stays where the
    # analysis reads it
    **{f"{family}_{target}": tuple(f"{family}_{target}{end}" for end in (
        ".csv", ".json", "_realisations.csv", ".png", ".pdf"))
       for family in ("random_flip", "sweep_voltage") for target in ("activations", "both")},
    "plan_voltage": (
        "plan_voltage.json", "plan_voltage.csv", "plan_voltage_sensitivity.csv",
        "plan_voltage_sensitivity.json", "plan_voltage.png", "plan_voltage.pdf",
        "plan_voltage_pareto.png", "plan_voltage_pareto.pdf",
    ),
}  # fmt: skip

FIGURE_SUFFIXES = (".png", ".pdf", ".svg")  # what wcatsim.analysis.plots.style.save_figure writes


def default_table(family: str) -> str:
    """The table a family writes into a run directory (``random_flip`` -> ``random_flip.csv``)."""
    return OUTPUTS[family][0]


def target_family(family: str, target: str | None) -> str:
    """The family of a sweep's table for a fault target: ``random_flip`` for weights (or None),
    ``random_flip_activations`` / ``random_flip_both`` for the activation buffer."""
    return family if target in (None, "weights") else f"{family}_{target}"


def table_files(path: str | os.PathLike) -> list[Path]:
    """Every file a result table at ``path`` may come with (see :mod:`wcatsim.store.results`)."""
    path = Path(path)
    return [
        path,
        path.with_suffix(".json"),
        path.with_name(path.stem + "_realisations.csv"),
        path.with_suffix(".png"),
        path.with_suffix(".pdf"),
    ]


def figure_files(path: str | os.PathLike) -> list[Path]:
    """What :func:`wcatsim.analysis.plots.style.save_figure` writes for ``path`` (PNG, a PDF beside it)."""
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        path = path.with_suffix(".png")
    return [path] if path.suffix.lower() == ".pdf" else [path, path.with_suffix(".pdf")]


def _owner(name: str) -> str | None:
    """Who needs the file called ``name`` in a run directory (None: nobody)."""
    if name in RUN_FILES:
        return f"{RUN_FILES[name]} ({name})"
    for family, names in OUTPUTS.items():
        if name in names:
            command = family.replace("_", "-")
            if family.startswith("bfa_"):  # an attack against a defence (issue 20)
                command = f"bfa --defence {family.removeprefix('bfa_')}"
            for target in ("activations", "both"):  # a sweep's buffer tables (issue 20)
                if family.endswith(f"_{target}"):
                    command = f"{family.removesuffix(f'_{target}').replace('_', '-')} --target {target}"
            return f"`wcatsim {command}`'s {name}"
    return None


def check_not_reserved(
    path: str | os.PathLike, written: Iterable[Path], allowed: Iterable[str], option: str,
    suffix: str = ".csv",
) -> None:
    """Refuse ``path`` when it, or a file it comes with (``written``), is a file a run needs or another
    command's output; names in ``allowed`` (a command's own files, rewritten by a rerun) pass."""
    path = Path(path)
    allowed = set(allowed)
    for target in [path, *written]:
        owner = None if target.name in allowed else _owner(target.name)
        if owner is None:
            continue
        if target == path:
            raise InputError(
                f"{option} {path}: that is the name of {owner}; write elsewhere, e.g. {option} "
                f"{path.with_name('my_' + path.stem + suffix)}"
            )
        raise InputError(
            f"{option} {path}: it would also write {target.name}, the name of {owner}; choose another name"
        )


def check_table_path(path: str | os.PathLike, family: str | None, option: str = "`option.out`") -> None:
    """A result table of ``family`` (with its sidecar, realisations and figure) can be written at ``path``;
    ``option`` names the argument in errors (a key: the CLI prints its flag, sram_models.errors)."""
    path = Path(path)
    own = default_table(family) if family in OUTPUTS else None
    allowed = {p.name for p in table_files(own)} if path.name == own else set()
    check_not_reserved(path, table_files(path), allowed, option)
    check_writable(path, option)


def check_figure_path(path: str | os.PathLike, family: str | None, option: str = "`option.plot`") -> None:
    """A figure (PNG + PDF) of ``family`` can be written at ``path`` without replacing a file a run needs."""
    path = Path(path)
    files = figure_files(path)
    own = {n for n in OUTPUTS.get(family, ()) if Path(n).suffix in FIGURE_SUFFIXES} if family else set()
    allowed = own if files[0].name in own else set()
    check_not_reserved(path, files, allowed, option, suffix=".png")
    check_writable(path, option)


def check_writable(path: str | os.PathLike, option: str, folder: bool = False) -> None:
    """``path`` (a file, or with ``folder`` a directory) can be created: its nearest existing ancestor
    is a folder this process can write into.  Probed by creating (and removing) a file there, which
    also catches read-only file systems and root on them, where ``os.access`` says yes."""
    path = Path(path)
    if path.is_dir() and not folder:
        raise InputError(f"{option} {path} is a folder: give a file name inside it")
    if path.exists() and not path.is_dir() and folder:
        raise InputError(f"{option} {path} is a file, not a folder: give a folder")
    anchor = path if (folder and path.is_dir()) else path.parent
    while not anchor.exists() and anchor != anchor.parent:
        if anchor.is_symlink():  # a dangling link: creating the folder would fail
            break
        anchor = anchor.parent
    if anchor.exists() and not anchor.is_dir():
        raise InputError(f"{option} {path}: {anchor} is a file, not a folder: choose a path in a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".wcatsim-probe-", dir=anchor)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(
            f"{option} {path}: cannot write in {anchor} ({reason}): choose a writable folder"
        ) from None
    os.close(fd)
    os.unlink(probe)


def is_run_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds a trained run (its config or its checkpoint)."""
    path = Path(path)
    return (path / "config.toml").is_file() or (path / "checkpoint.pt").is_file()


__all__ = [
    "FIGURE_SUFFIXES",
    "OUTPUTS",
    "RUN_FILES",
    "BFA_DEFENCES",
    "BFA_OBJECTIVES",
    "bfa_family",
    "check_figure_path",
    "check_not_reserved",
    "check_table_path",
    "check_writable",
    "default_table",
    "figure_files",
    "is_run_dir",
    "table_files",
]
