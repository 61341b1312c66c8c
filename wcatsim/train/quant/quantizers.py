"""Weight quantizers (nn.Modules): each turns a float weight tensor into its fake-quantized copy.

Common interface:
- ``forward(w)``: ``codes * step`` with gradients (the training forward);
- ``step(w)``: the 0-dim float32 step in use, detached (the very tensor the forward multiplies by);
- ``codes(w)``: the integer codes as a float tensor, no flips, no graph;
- ``range_parameter()``: the learned range parameter (wcat alpha, lsq step) or None;
- ``range_at_floor(w)``: True when a learned range is held at its floor (a collapsed range);
- ``init_range(w)``: (re)initialise the learned range from weights.
The clipping range of every quantizer is ``step * 2^(N-1)`` (for maxabs that is max|w|).

Each method registers itself in :data:`wcatsim.config.registries.QUANTIZERS` under its ``quant.method``
name; the registered object is a class whose ``from_config(cfg, weight)`` builds the quantizer of one
layer (:func:`wcatsim.train.quant.quantize` dispatches through the registry).  ``"float"`` is registered
as :class:`FloatWeights`, whose ``from_config`` returns None: the layer stays float.
"""

from __future__ import annotations

import torch
from torch import nn

from wcatsim.config.quant import QuantConfig
from wcatsim.config.registries import QUANTIZERS

from .autograd import ClampRoundSTE, LsqFakeQuant, PositiveRange, WcatFakeQuant
from .functions import grid_bounds, half_levels, quantize_to_grid
from .range_init import MIN_RANGE_FRACTION, initial_range, lsq_initial_step, max_abs_range

# A learned range (wcat alpha; lsq step * 2^(N-1)) is never used below this share of the layer's largest
# weight: the same lower end as the range initialisers search (range_init.MIN_RANGE_FRACTION, 1e-3).  A range
# that small clips every weight to +-range; reaching it means the optimiser drove the range through zero,
# which the trainer's health check reports (quant.collapsed_ranges).
RANGE_FLOOR_FRACTION = MIN_RANGE_FRACTION
# ... and never below this in weight units (an all-zero layer keeps a positive step)
MIN_LEARNED_RANGE = 1e-8
# plclip: a layer's share of the largest layer max|w| is never taken below this floor (kmchiti/WCAT
# src/models/base_model.py, _set_plclip_values: max(0.2, kl)), so that layers with small weights keep a
# usable range
PLCLIP_FLOOR = 0.2


def range_floor(w: torch.Tensor) -> torch.Tensor:
    """The lowest clipping range a learned quantizer uses for weights ``w``: RANGE_FLOOR_FRACTION * max|w|
    (at least MIN_LEARNED_RANGE), a detached 0-dim float32 tensor on w's device."""
    top = w.detach().abs().max() if w.numel() else torch.zeros((), device=w.device)
    return torch.clamp_min(top.to(torch.float32) * RANGE_FLOOR_FRACTION, MIN_LEARNED_RANGE)


@QUANTIZERS.register("float")
class FloatWeights:
    """float: no quantizer, the weights stay float (the unquantized reference)."""

    method = "float"
    quantizes = False  # conformance tests and quantize() skip it: there is no integer image

    @classmethod
    def from_config(cls, cfg: QuantConfig, weight: torch.Tensor) -> None:
        """No quantizer for any layer.

        Parameters
        ----------
        cfg : QuantConfig
            The quantization settings (unused).
        weight : torch.Tensor
            The layer's float weight (unused).

        Returns
        -------
        None
        """
        return None


class WeightQuantizer(nn.Module):
    """Base: N bits and the bit-error-aware training rate (flips only in training mode)."""

    method = "base"
    quantizes = True

    @classmethod
    def from_config(cls, cfg: QuantConfig, weight: torch.Tensor) -> WeightQuantizer:
        """The quantizer of one layer for ``cfg`` (learned ranges initialised from ``weight``).

        Parameters
        ----------
        cfg : QuantConfig
            The quantization settings (``cfg.method`` names this class in QUANTIZERS).
        weight : torch.Tensor
            The layer's current float weight.

        Returns
        -------
        WeightQuantizer
        """
        raise NotImplementedError  # pragma: no cover - every registered subclass defines it

    @classmethod
    def link_layers(cls, layers: list[nn.Module]) -> None:
        """Called once with every layer of a model that :func:`quantize` gave this method (default:
        nothing; plclip ranges are shares of the group's largest weight)."""

    def __init__(self, bits: int, train_ber: float = 0.0) -> None:
        super().__init__()
        self.bits = bits
        self.train_ber = train_ber

    def _ber(self) -> float:
        return self.train_ber if self.training else 0.0

    def step(self, w: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def codes(self, w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            r = self.step(w) * half_levels(self.bits)
            return quantize_to_grid(torch.clamp(w, -r, r), self.step(w), self.bits)

    def range_parameter(self) -> nn.Parameter | None:
        return None

    def range_at_floor(self, w: torch.Tensor) -> bool:
        """Only learned ranges have a floor they can fall to."""
        return False

    def init_range(self, w: torch.Tensor) -> None:
        """Nothing to initialise by default."""

    def extra_repr(self) -> str:
        return f"bits={self.bits}, train_ber={self.train_ber}"


@QUANTIZERS.register("maxabs")
class MaxAbsQuantizer(WeightQuantizer):
    """step = max|w| / 2^(N-1), recomputed every forward, nothing learned (the WCAT/BFA code's "normal").

    The largest weight lands on 2^(N-1) and is clamped to the grid's top code 2^(N-1)-1.
    """

    method = "maxabs"

    @classmethod
    def from_config(cls, cfg: QuantConfig, weight: torch.Tensor) -> MaxAbsQuantizer:
        return cls(cfg.bits, cfg.train_ber)

    def _range(self, w: torch.Tensor) -> torch.Tensor:
        top = w.detach().abs().max()
        return torch.where(top > 0, top, torch.ones_like(top))

    def step(self, w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self._range(w) / half_levels(self.bits)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return ClampRoundSTE.apply(w, self._range(w), self.bits, self._ber())


@QUANTIZERS.register("lsq")
class LsqQuantizer(WeightQuantizer):
    """LSQ: a learned step (parameter ``step_size``), initialised to 2 E|w| / sqrt(Qp).

    The step in use is ``max(|step_size|, floor / 2^(N-1))`` (:class:`PositiveRange`, the same floor on the
    range as WCAT's), so it stays positive and recoverable.  ``gradient`` picks the step's gradient:
    ``"paper"`` (Esser et al.) or ``"wcat_code"`` (kmchiti/WCAT), see :class:`LsqFakeQuant`.
    """

    method = "lsq"

    @classmethod
    def from_config(cls, cfg: QuantConfig, weight: torch.Tensor) -> LsqQuantizer:
        quantizer = cls(cfg.bits, cfg.train_ber, cfg.lsq_gradient)
        quantizer.init_range(weight)
        return quantizer

    def __init__(self, bits: int, train_ber: float = 0.0, gradient: str = "paper") -> None:
        super().__init__(bits, train_ber)
        self.gradient = gradient
        self.step_size = nn.Parameter(torch.tensor(1.0))

    def _floor(self, w: torch.Tensor) -> torch.Tensor:
        return range_floor(w).to(self.step_size.device) / half_levels(self.bits)

    def _step(self, w: torch.Tensor) -> torch.Tensor:
        return PositiveRange.apply(self.step_size, self._floor(w))

    def step(self, w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self._step(w)

    def codes(self, w: torch.Tensor) -> torch.Tensor:
        qmin, qmax = grid_bounds(self.bits)
        with torch.no_grad():
            return torch.round(torch.clamp(w / self._step(w), qmin, qmax))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return LsqFakeQuant.apply(w, self._step(w), self.bits, self._ber(), self.gradient)

    def range_parameter(self) -> nn.Parameter:
        return self.step_size

    def range_at_floor(self, w: torch.Tensor) -> bool:
        with torch.no_grad():
            return bool(self.step_size.abs() <= self._floor(w))

    def init_range(self, w: torch.Tensor) -> None:
        with torch.no_grad():
            self.step_size.fill_(lsq_initial_step(w, self.bits))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, gradient={self.gradient}"


@QUANTIZERS.register("wcat")
class WcatQuantizer(WeightQuantizer):
    """WCAT: a learned clipping range per layer (parameter ``alpha``); see :class:`WcatFakeQuant` for the
    gradients.

    The range in use is ``max(|alpha|, floor)`` with floor = :func:`range_floor` (1e-3 max|w|), with a
    straight-through gradient (:class:`PositiveRange`): for alpha above the floor it is alpha itself, bit
    for bit; an optimiser step that overshoots zero lands on |alpha| instead of trapping the range, and a
    range at the floor still gets the loss's pull.  WCAT's range decay (``trainer.range_decay``, the
    optimiser's L2 weight decay on the range group) acts on alpha itself: it adds lambda * alpha to alpha's
    gradient, a pull of lambda * alpha^2 / 2 = lambda * range^2 / 2 towards a range of 0, as in the paper
    and its code (it is not a decay on a log-range, which would pull the range towards 1).
    """

    method = "wcat"

    @classmethod
    def from_config(cls, cfg: QuantConfig, weight: torch.Tensor) -> WcatQuantizer:
        quantizer = cls(cfg.bits, cfg.clamp_grad, cfg.range_init, cfg.range_init_ber, cfg.train_ber)
        quantizer.init_range(weight)
        return quantizer

    def __init__(
        self, bits: int, clamp_grad: str = "ste", range_init: str = "mse", range_init_ber: float = 1e-3,
        train_ber: float = 0.0,
    ) -> None:
        super().__init__(bits, train_ber)
        self.clamp_grad = clamp_grad
        self.range_init = range_init
        self.range_init_ber = range_init_ber
        self.alpha = nn.Parameter(torch.tensor(1.0))

    def _range(self, w: torch.Tensor) -> torch.Tensor:
        return PositiveRange.apply(self.alpha, range_floor(w).to(self.alpha.device))

    def step(self, w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self._range(w) / half_levels(self.bits)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return WcatFakeQuant.apply(w, self._range(w), self.bits, self.clamp_grad, self._ber())

    def range_parameter(self) -> nn.Parameter:
        return self.alpha

    def range_at_floor(self, w: torch.Tensor) -> bool:
        with torch.no_grad():
            return bool(self.alpha.abs() <= range_floor(w).to(self.alpha.device))

    def init_range(self, w: torch.Tensor) -> None:
        value = initial_range(w, self.range_init, self.bits, self.range_init_ber)
        with torch.no_grad():
            self.alpha.fill_(value)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, clamp_grad={self.clamp_grad}, range_init={self.range_init}"


@QUANTIZERS.register("wclip")
class FixedRangeQuantizer(WeightQuantizer):
    """wclip (Stutz et al., MLSys 2021): one fixed clipping range ``w_max`` for every layer (buffer
    ``w_range``).  Weights outside get no gradient; :func:`wcatsim.train.quant.clip_weights_` also clips the
    stored weights after each optimiser step, as weight clipping does in Stutz et al."""

    method = "wclip"

    @classmethod
    def from_config(cls, cfg: QuantConfig, weight: torch.Tensor) -> FixedRangeQuantizer:
        return cls(cfg.bits, cfg.w_max, "wclip", cfg.train_ber)

    def __init__(self, bits: int, w_range: float, method: str = "wclip", train_ber: float = 0.0) -> None:
        super().__init__(bits, train_ber)
        self.method = method
        self.register_buffer("w_range", torch.tensor(float(w_range), dtype=torch.float32))

    def step(self, w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.w_range / half_levels(self.bits)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return ClampRoundSTE.apply(w, self.w_range, self.bits, self._ber())

    def set_range(self, value: float) -> None:
        self.w_range.fill_(float(value))


@QUANTIZERS.register("plclip")
class PlclipQuantizer(WeightQuantizer):
    """plclip, the per-layer clipping baseline of the WCAT paper, as its code computes it
    (kmchiti/WCAT src/models/base_model.py, ``_set_plclip_values``, run before every forward): the range
    of layer l is ``base * max(0.2, max|w_l| / the largest max|w| over the plclip layers)``, recomputed
    from the current weights in every forward (no gradient through it).  Weights outside the range get no
    gradient; the stored weights are never clipped.

    The layers of one model share a group (:meth:`set_group`, done by :func:`wcatsim.train.quant.quantize`);
    a quantizer without a group is its own largest layer (range = base).  Nothing is stored: the range
    follows the weights, also after a checkpoint is loaded.
    """

    method = "plclip"

    @classmethod
    def from_config(cls, cfg: QuantConfig, weight: torch.Tensor) -> PlclipQuantizer:
        return cls(cfg.bits, cfg.plclip_base, cfg.train_ber)

    @classmethod
    def link_layers(cls, layers: list[nn.Module]) -> None:
        for layer in layers:  # each range is a share of the largest max|w| of these layers
            layer.quantizer.set_group(layers)

    def __init__(self, bits: int, base: float, train_ber: float = 0.0) -> None:
        super().__init__(bits, train_ber)
        self.base = float(base)
        # the quantized layers of the group (a plain list: not submodules, not in the state dict)
        self._group: list[nn.Module] = []

    def set_group(self, layers: list[nn.Module]) -> None:
        self._group = list(layers)

    def _range(self, w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            top = w.detach().abs().max()
            largest = top
            for layer in self._group:
                largest = torch.maximum(largest, layer.weight.detach().abs().max().to(top.device))
            share = torch.where(largest > 0, top / largest, torch.ones_like(top))
            return torch.clamp_min(share, PLCLIP_FLOOR) * self.base

    def step(self, w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self._range(w) / half_levels(self.bits)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return ClampRoundSTE.apply(w, self._range(w), self.bits, self._ber())

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, base={self.base}"


__all__ = [
    "FloatWeights",
    "WeightQuantizer", "MaxAbsQuantizer", "FixedRangeQuantizer", "PlclipQuantizer", "WcatQuantizer",
    "LsqQuantizer", "max_abs_range", "range_floor", "RANGE_FLOOR_FRACTION", "PLCLIP_FLOOR",
]
