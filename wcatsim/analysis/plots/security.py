"""The security–energy front: flips to break each defended model against its energy per inference."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sram_models.errors import InputError
from wcatsim.analysis.plots.style import COLUMN_WIDTH_IN, LEGEND_LINE_IN, color_for, new_figure, save_figure
from wcatsim.analysis.security import SecurityPoint, security_front

# one marker per defence, in the registry's order; a colour per quantizer (the house colours)
_MARKERS = {"none": "o", "checksum": "s", "secded": "^", "secded-zero": "v", "parity-zero": "D"}


def plot_security(points: Sequence[SecurityPoint], path: str | Path, title: str | None = None) -> list[Path]:
    """Draw every point (median flips to break with its 95% CI against energy per inference) and the
    front through them; save PNG + PDF; return the paths.

    A point without a median (half the trials or more unbroken) sits at its lower bound with an arrow
    up; a CI open above is drawn to the top of the axes.  Quantizers sharing an energy are drawn 1% of
    the energy range apart (the front line uses the exact energies).  The y axis is logarithmic: flips
    to break range from tens (undefended) to the budget (a defence the attack could not break).
    """
    if not points:
        raise InputError("plot_security: no points to draw")
    labels = sorted({p.label for p in points})
    quantizers = sorted({p.quantizer for p in points})
    defences = list(dict.fromkeys(p.defence for p in points))
    fig, ax = new_figure(width=COLUMN_WIDTH_IN, height=2.8 + LEGEND_LINE_IN * (len(labels) + len(defences)))
    top = max(max(p.flips, p.ci_high or 0) for p in points) * 2.0
    energies = [p.energy for p in points]
    # models at one energy (the same defence on several quantizers) would hide each other: each
    # quantizer's markers and CIs are drawn a little sideways (1% of the energy range apart); the
    # front and the table keep the exact energies
    spread = 0.01 * max(max(energies) - min(energies), 0.01)
    for p in points:
        k = quantizers.index(p.quantizer)
        colour = color_for(p.quantizer, k)
        marker = _MARKERS.get(p.defence, "P")
        x = p.energy + (k - (len(quantizers) - 1) / 2) * spread
        low = p.ci_low if p.ci_low is not None else p.flips
        high = p.ci_high if p.ci_high is not None else (top if p.ci_low is not None else p.flips)
        ax.plot([x, x], [low, high], color=colour, linewidth=0.8, alpha=0.7)
        ax.plot(x, p.flips, marker=marker, color=colour, markersize=5,
                markerfacecolor=colour if p.median is not None else "white", linestyle="none")
        if p.median is None:  # a lower bound: the model survives at least this many flips
            ax.annotate("", xy=(x, p.flips * 1.6), xytext=(x, p.flips),
                        arrowprops={"arrowstyle": "->", "color": colour, "linewidth": 0.8})
    front = security_front(points)
    on = sorted((p.energy, p.flips) for p, keep in zip(points, front, strict=True) if keep)
    # the front as steps: between two of its points the cheaper one's flips hold
    xs, ys = [], []
    for e, f in on:
        if xs:
            xs.append(e)
            ys.append(ys[-1])
        xs.append(e)
        ys.append(f)
    ax.plot(xs, ys, color="0.5", linewidth=0.8, linestyle="--", zorder=0, label="front")
    for q in quantizers:
        ax.plot([], [], color=color_for(q, quantizers.index(q)), linewidth=2, label=q)
    for d in defences:
        ax.plot([], [], marker=_MARKERS.get(d, "P"), color="0.3", linestyle="none", label=d)
    ax.set_yscale("log")
    ax.set_ylim(top=top)
    ax.set_xlabel("energy per inference (× undefended weights at nominal)")
    ax.set_ylabel("flips to break (KM median, 95% CI)")
    voltages = {p.voltage for p in points}
    swept = sorted(v for v in voltages if v is not None)
    at = "nominal" if not swept else ", ".join(f"{v:g}" for v in swept)
    # one objective (security_points checks), its arrow drawn as one
    attack = ", ".join(sorted({p.objective for p in points})).replace("->", "→")
    ax.set_title(title or f"security against energy ({attack} BFA), weight memory at V = {at}",
                 fontsize="small")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, fontsize="x-small", frameon=False)
    return save_figure(fig, path)


__all__ = ["plot_security"]
