"""Per-layer weight histograms: float weights with the clipping range in use, and the integer codes.

This is the mechanism of WCAT made visible: a learned range (solid lines) well inside
the layer's largest weight (dotted lines) spreads the weights over more of the grid's
codes and leaves the large-magnitude codes, whose bit flips do the most damage, rare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wcatsim.analysis.plots.style import COLUMN_WIDTH_IN, color_for, new_figure, save_figure

# More panels than this become unreadable at column width; larger models (ResNet-20 has
# 21 weight layers) show this many, evenly spread from first to last, and say so.
MAX_LAYERS = 10


def plot_weight_histograms(
    model: Any,
    path: str | Path,
    title: str | None = None,
    quantizer: str | None = None,
    max_layers: int = MAX_LAYERS,
) -> list[Path]:
    """One row per quantized layer: float-weight histogram with ±range and ±max|w|, and code histogram.

    ``model`` is a quantized model (``wcatsim.train.quant.quantize``); ``quantizer`` picks the
    colour (defaults to the model's quantization method). Saves PNG + PDF; returns the paths.
    """
    import torch

    from wcatsim.train.quant import layer_stats, quant_config_of, quantized_layers

    layers = quantized_layers(model)
    if not layers:
        from sram_models.errors import InputError

        raise InputError("plot_weight_histograms: the model has no quantized layers (a float model?)")
    if quantizer is None:
        cfg = quant_config_of(model)
        quantizer = getattr(cfg, "method", None) or "model"
    stats = layer_stats(model)
    names = list(layers)
    shown = names
    if len(names) > max_layers:
        picks = np.unique(np.linspace(0, len(names) - 1, max_layers).round().astype(int))
        shown = [names[i] for i in picks]
    colour = color_for(quantizer)
    fig, axes = new_figure(width=COLUMN_WIDTH_IN, height=0.55 + 0.95 * len(shown), nrows=len(shown), ncols=2)
    axes = np.atleast_2d(axes)
    for row, name in enumerate(shown):
        st = stats[name]
        with torch.no_grad():
            w = layers[name].weight.detach().float().cpu().numpy().ravel()
        ax_w, ax_c = axes[row]
        w_range, top = st["range"], st["max_abs_weight"]
        lim = max(w_range, top) * 1.08
        ax_w.hist(w, bins=60, range=(-lim, lim), color=colour, alpha=0.75)
        for sign in (-1, 1):
            ax_w.axvline(sign * w_range, color="black", linewidth=1.0)
            ax_w.axvline(sign * top, color="grey", linewidth=0.9, linestyle=":")
        ax_w.set_ylabel("count", fontsize=6)
        ax_w.set_title(
            f"{name}: range {w_range:.3g}, max|w| {top:.3g}, clipped {100 * st['clipped_fraction']:.1f}%",
            fontsize=6,
            loc="left",
        )
        counts = np.asarray(st["code_histogram"], dtype=float)
        codes = np.arange(st["code_min"], st["code_min"] + len(counts))
        ax_c.bar(codes, 100 * counts / max(counts.sum(), 1.0), width=0.8, color=colour, alpha=0.85)
        ax_c.set_ylabel("share (%)", fontsize=6)
        ax_c.tick_params(labelsize=6)
        ax_w.tick_params(labelsize=6)
        if len(codes) <= 16:
            ax_c.set_xticks(codes[:: 2 if len(codes) > 8 else 1])
        if row == len(shown) - 1:
            ax_w.set_xlabel("Weight value (weight units)", fontsize=6.5)
            ax_c.set_xlabel(f"Integer code ({st['bits']}-bit)", fontsize=6.5)
    note = "" if shown == names else f" ({len(shown)} of {len(names)} layers)"
    fig.suptitle(
        (title or f"{quantizer}: weights per layer (solid: ±range in use, dotted: ±max|w|) and codes") + note,
        fontsize=7,
    )
    return save_figure(fig, path)
