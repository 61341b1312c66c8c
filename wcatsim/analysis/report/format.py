"""Formatting primitives of the reports (a leaf: imports nothing of wcatsim)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """A GitHub-flavoured Markdown table; ``align`` is one of l/r/c per column (default: first left)."""
    align = align or ("l" + "r" * (len(columns) - 1))
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(str(c) for c in columns) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def figure(path: str | Path, caption: str, relative_to: Path) -> str:
    """A Markdown image line (path relative to the report) followed by its caption."""
    rel = os.path.relpath(Path(path), relative_to).replace(os.sep, "/")
    return f"![{caption}]({rel})\n\n*{caption}*"


def fmt_acc(value: Any, digits: int = 2) -> str:
    """An accuracy in percent, or an em dash when absent or not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—"
    return f"{number:.{digits}f}" if math.isfinite(number) else "—"


def fmt_ber(value: Any) -> str:
    v = float(value)
    return "0" if v == 0 else f"{v:.0e}".replace("e-0", "e-")


def voltage_label(unit: str | None) -> str:
    """How a voltage in a preset's unit reads: "V", or "× Vmin" for presets normalised to Vmin."""
    return "V" if unit in (None, "", "V") else f"× {unit}"


def cell(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v).replace("|", "\\|")
