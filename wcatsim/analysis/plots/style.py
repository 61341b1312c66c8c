"""One look for every figure: readable at a paper's column width, saved as PNG and PDF.

Every plotting module calls :func:`new_figure` and :func:`save_figure`; nothing
else sets sizes, fonts or the backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# A single-column figure in a two-column paper is about 3.5 in wide; 3.5 x 2.6 in
# at 8-9 pt text stays legible when printed at that size.
COLUMN_WIDTH_IN = 3.5
DOUBLE_WIDTH_IN = 7.0
DPI = 200
# Height of one legend line at the house legend size (7 pt text, 1.2 line spacing), inches: figures
# whose legend sits outside the axes grow by this per line, so their axes keep their size.
LEGEND_LINE_IN = 0.16

# Colour-blind-safe palette (Okabe & Ito, 2008), one fixed colour per quantizer so a
# quantizer looks the same in every figure of a report.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
QUANTIZER_COLORS = {
    "wcat": "#0072B2",
    "maxabs": "#D55E00",
    "lsq": "#009E73",
    "wclip": "#CC79A7",
    "plclip": "#E69F00",
    "float": "#000000",
}

_RC = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.3,
    "lines.markersize": 3.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,  # TrueType in PDFs: editable text, accepted by IEEE/ACM checkers
}


def pyplot() -> Any:
    """matplotlib.pyplot on the headless Agg backend with the house style applied."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update(_RC)
    return plt


def color_for(name: str, index: int = 0) -> str:
    """The fixed colour of a quantizer, else a palette colour by index."""
    for key, colour in QUANTIZER_COLORS.items():
        if key == name or name.startswith(key):
            return colour
    return PALETTE[index % len(PALETTE)]


def new_figure(
    width: float = COLUMN_WIDTH_IN, height: float = 2.6, ncols: int = 1, nrows: int = 1,
    height_ratios: list[float] | None = None, sharex: bool = False,
) -> tuple:  # fmt: skip
    """A figure and its axes in the house style (``height_ratios`` of the rows, ``sharex`` their x axis)."""
    plt = pyplot()
    grid = {"height_ratios": height_ratios} if height_ratios is not None else None
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), constrained_layout=True,
                             gridspec_kw=grid, sharex=sharex)  # fmt: skip
    return fig, axes


# The lower tail beside every mean (issue 17 §6, wcatsim.stats.tails): the 5th percentile of the draws
# as a thin dotted line with down-triangles, the share of collapsed draws in a panel of its own.
P05_STYLE = {"linestyle": (0, (1, 1.5)), "linewidth": 0.9, "marker": "v", "markersize": 2.5}
COLLAPSED_LABEL = "collapsed (%)"
COLLAPSED_TITLE = "share of draws more than 10 points below clean"


def save_figure(fig: Any, path: str | Path, pdf: bool = True) -> list[Path]:
    """Save ``fig`` to ``path`` (PNG) and, by default, a PDF beside it; close it; return the paths.

    Written atomically: a half-written figure never replaces a good one.
    """
    import io

    from wcatsim.store.atomic import atomic_write_bytes

    path = Path(path)
    if path.suffix.lower() not in (".png", ".pdf", ".svg"):
        path = path.with_suffix(".png")
    written = []
    targets = [path] + ([path.with_suffix(".pdf")] if pdf and path.suffix.lower() != ".pdf" else [])
    for target in targets:
        buf = io.BytesIO()
        fig.savefig(buf, format=target.suffix.lstrip(".").lower(), dpi=DPI)
        atomic_write_bytes(target, buf.getvalue())
        written.append(target)
    pyplot().close(fig)
    return written
