"""Weight quantizers (nn.Modules): each turns a float weight tensor into its fake-quantized copy.

Common interface:
- ``forward(w)``: ``codes * step`` with gradients (the training forward);
- ``step(w)``: the 0-dim float32 step in use, detached (the very tensor the forward multiplies by);
- ``codes(w)``: the integer codes as a float tensor, no flips, no graph;
- ``range_parameter()``: the learned range parameter (wcat alpha, lsq step) or None;
- ``init_range(w)``: (re)initialise the learned or per-layer range from weights.
The clipping range of every quantizer is ``step * 2^(N-1)`` (for maxabs that is max|w|).
"""

from __future__ import annotations

import torch
from torch import nn

from .autograd import ClampRoundSTE, LsqFakeQuant, WcatFakeQuant
from .functions import grid_bounds, half_levels, quantize_to_grid
from .range_init import initial_range, lsq_initial_step, max_abs_range

# a learned range is never used below this (weight units), so that the step stays positive if the
# range decay drives alpha through zero
MIN_LEARNED_RANGE = 1e-8


class WeightQuantizer(nn.Module):
    """Base: N bits and the bit-error-aware training rate (flips only in training mode)."""

    method = "base"

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

    def init_range(self, w: torch.Tensor) -> None:
        """Nothing to initialise by default."""

    def extra_repr(self) -> str:
        return f"bits={self.bits}, train_ber={self.train_ber}"


class MaxAbsQuantizer(WeightQuantizer):
    """step = max|w| / 2^(N-1), recomputed every forward, nothing learned (the WCAT/BFA code's "normal").

    The largest weight lands on 2^(N-1) and is clamped to the grid's top code 2^(N-1)-1.
    """

    method = "maxabs"

    def _range(self, w: torch.Tensor) -> torch.Tensor:
        top = w.detach().abs().max()
        return torch.where(top > 0, top, torch.ones_like(top))

    def step(self, w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self._range(w) / half_levels(self.bits)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return ClampRoundSTE.apply(w, self._range(w), self.bits, self._ber())


class FixedRangeQuantizer(WeightQuantizer):
    """A fixed clipping range per layer (buffer ``w_range``): wclip (Stutz et al., MLSys 2021: one w_max
    for all layers) and plclip (a per-layer share of a base range).  Weights outside get no gradient;
    :func:`wcatsim.quant.clip_weights_` also clips the stored weights after each optimiser step."""

    def __init__(self, bits: int, w_range: float, method: str, train_ber: float = 0.0) -> None:
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


class WcatQuantizer(WeightQuantizer):
    """WCAT: a learned range alpha (parameter ``alpha``); see :class:`WcatFakeQuant` for the gradients."""

    method = "wcat"

    def __init__(
        self, bits: int, clamp_grad: str = "ste", range_init: str = "max_abs", range_init_ber: float = 1e-3,
        train_ber: float = 0.0,
    ) -> None:
        super().__init__(bits, train_ber)
        self.clamp_grad = clamp_grad
        self.range_init = range_init
        self.range_init_ber = range_init_ber
        self.alpha = nn.Parameter(torch.tensor(1.0))

    def _alpha(self) -> torch.Tensor:
        return self.alpha.clamp_min(MIN_LEARNED_RANGE)

    def step(self, w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self._alpha() / half_levels(self.bits)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return WcatFakeQuant.apply(w, self._alpha(), self.bits, self.clamp_grad, self._ber())

    def range_parameter(self) -> nn.Parameter:
        return self.alpha

    def init_range(self, w: torch.Tensor) -> None:
        value = initial_range(w, self.range_init, self.bits, self.range_init_ber)
        with torch.no_grad():
            self.alpha.fill_(value)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, clamp_grad={self.clamp_grad}, range_init={self.range_init}"


class LsqQuantizer(WeightQuantizer):
    """LSQ: a learned step (parameter ``step_size``), initialised to 2 E|w| / sqrt(Qp)."""

    method = "lsq"

    def __init__(self, bits: int, train_ber: float = 0.0) -> None:
        super().__init__(bits, train_ber)
        self.step_size = nn.Parameter(torch.tensor(1.0))

    def _step(self) -> torch.Tensor:
        return self.step_size.clamp_min(MIN_LEARNED_RANGE / half_levels(self.bits))

    def step(self, w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self._step()

    def codes(self, w: torch.Tensor) -> torch.Tensor:
        qmin, qmax = grid_bounds(self.bits)
        with torch.no_grad():
            return torch.round(torch.clamp(w / self._step(), qmin, qmax))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return LsqFakeQuant.apply(w, self._step(), self.bits, self._ber())

    def range_parameter(self) -> nn.Parameter:
        return self.step_size

    def init_range(self, w: torch.Tensor) -> None:
        with torch.no_grad():
            self.step_size.fill_(lsq_initial_step(w, self.bits))


__all__ = [
    "WeightQuantizer", "MaxAbsQuantizer", "FixedRangeQuantizer", "WcatQuantizer", "LsqQuantizer",
    "max_abs_range",
]
