"""The quantization settings of a model: :class:`QuantConfig`."""

from __future__ import annotations

import difflib

from pydantic import Field, field_validator

from sram_models.errors import InputError
from wcatsim.config.registries import QUANTIZERS
from wcatsim.config.settings import settings

# quant.bits bounds (the integer grid code in wcatsim.train.quant.functions uses these)
MIN_BITS = 2
MAX_BITS = 8

CLAMP_GRADS = ("ste", "pwl", "mad")
RANGE_INITS = ("max_abs", "sawb", "mse", "noisy_mse")
LSQ_GRADIENTS = ("paper", "wcat_code")


@settings("quant")
class QuantConfig:
    """How the weights of every Conv2d and Linear layer are quantized.

    Weights only: activations, biases and batch-norm parameters stay float and are assumed to live in
    protected memory.

    Quantization is per layer, signed and symmetric, on the N-bit two's complement grid
    ``[-2^(N-1), 2^(N-1)-1]``; the clipping range of a layer is ``step * 2^(N-1)``.
    """

    # float | maxabs | lsq | wcat | wclip | plclip.  "float" leaves the model unquantized (the reference).
    # maxabs: step = max|w| / 2^(N-1) every forward (the WCAT/BFA code's "normal");
    # lsq: learned step (Esser et al., ICLR 2020); wcat: learned range alpha (Chitsaz et al., TMLR 2023);
    # wclip: one fixed range w_max (Stutz et al., MLSys 2021); plclip: per-layer fixed range.
    method: str = Field(
        "wcat",
        description="float | maxabs | lsq | wcat | wclip | plclip (QUANTIZERS); float = the unquantized "
        "reference.",
    )
    # weight bits N, 2..8 (the paper uses 4 and 8)
    bits: int = Field(4, description="Weight bits N, 2..8 (the paper uses 4 and 8).")
    # wcat only: weight gradient through the clamp at +-alpha: ste (passes everything),
    # pwl (zero outside the range), mad (alpha/|w| outside)
    clamp_grad: str = Field(
        "ste", description="wcat only: weight gradient through the clamp at +-alpha: ste, pwl or mad."
    )
    # wcat only: how alpha starts: max_abs (max|w|), sawb (Choi et al. 2018; 2, 4, 8 bits only),
    # mse (minimises the quantization MSE), noisy_mse (minimises the expected MSE under bit flips).
    # mse by default: the paper's choice and that of its code's configs (kmchiti/WCAT
    # configs/quantization/4bit_wcat.jsonnet, init_method "MSE"), so the built-in default and
    # configs/quantization/4bit_wcat.toml are one recipe (the code's class default is max_abs, which no
    # shipped config of it uses).  The search is bounded to (1e-3 max|w|, max|w|] (range_init.py).
    range_init: str = Field(
        "mse", description="wcat only: how alpha starts: max_abs, sawb, mse or noisy_mse."
    )
    # noisy_mse only: probability that a stored bit flips, used when initialising alpha (1e-3 as in the
    # WCAT code's default noisy_mse_ber)
    range_init_ber: float = Field(
        1e-3, description="noisy_mse only: bit-flip probability used when initialising alpha."
    )
    # lsq only: the step's gradient.  paper: LSQ's (Esser et al., ICLR 2020, eq. 3, scaled by
    # g = 1/sqrt(Qp numel)); wcat_code: what kmchiti/WCAT computes (its codes are multiplied back by the
    # unscaled step, so the step gradient is about 1/g larger).  paper by default: the method as published;
    # wcat_code reproduces the paper's LSQ numbers as its code trained them.
    lsq_gradient: str = Field(
        "paper", description="lsq only: the step's gradient, paper (LSQ's) or wcat_code (kmchiti/WCAT's)."
    )
    # wclip only: the fixed clipping range of every layer, in weight units (Stutz et al. use 0.1 on CIFAR)
    w_max: float = Field(
        0.1, description="wclip only: the fixed clipping range of every layer, in weight units."
    )
    # plclip only: base range in weight units; a layer's range is base * max(0.2, its max|w| / the largest
    # layer max|w|), recomputed from the current weights in every forward (as kmchiti/WCAT does)
    plclip_base: float = Field(
        0.1, description="plclip only: base range in weight units, scaled per layer by its max|w|."
    )
    # qualified layer names (as in model.named_modules()) that stay float
    exclude: tuple[str, ...] = Field(
        (), description="Qualified layer names (as in model.named_modules()) that stay float."
    )
    # bit-error-aware training (RandBET-style): probability that a stored weight bit flips in each training
    # forward pass (straight-through backward); 0 = off.  Never applied in eval mode.
    train_ber: float = Field(
        0.0,
        description="Bit-error-aware training: per-bit flip probability in each training forward; 0 = off.",
    )

    def __post_init__(self) -> None:
        if self.method not in QUANTIZERS:  # the registry the quantizers fill, never a copy of its names
            names = QUANTIZERS.names()
            close = difflib.get_close_matches(str(self.method), names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(f"quant.method {self.method!r} is unknown: use one of {', '.join(names)}{hint}")
        integer_bits = isinstance(self.bits, int) and not isinstance(self.bits, bool)
        if not integer_bits or not MIN_BITS <= self.bits <= MAX_BITS:
            raise InputError(
                f"quant.bits {self.bits!r} is not supported: use an integer {MIN_BITS}..{MAX_BITS}"
            )
        if self.clamp_grad not in CLAMP_GRADS:
            raise InputError(
                f"quant.clamp_grad {self.clamp_grad!r} is unknown: use one of {', '.join(CLAMP_GRADS)}"
            )
        if self.range_init not in RANGE_INITS:
            raise InputError(
                f"quant.range_init {self.range_init!r} is unknown: use one of {', '.join(RANGE_INITS)}"
            )
        if self.lsq_gradient not in LSQ_GRADIENTS:
            raise InputError(
                f"quant.lsq_gradient {self.lsq_gradient!r} is unknown: use one of {', '.join(LSQ_GRADIENTS)}"
            )
        if self.method == "wcat" and self.range_init == "sawb" and self.bits not in (2, 4, 8):
            raise InputError(
                f"quant.range_init 'sawb' has coefficients for 2, 4 and 8 bits only (got {self.bits}): "
                "use range_init 'mse' or 'max_abs'"
            )
        if not 0.0 <= self.range_init_ber < 0.5:
            raise InputError(f"quant.range_init_ber {self.range_init_ber!r} must be in [0, 0.5)")
        if not self.w_max > 0:
            raise InputError(f"quant.w_max {self.w_max!r} must be a positive range in weight units, e.g. 0.1")
        if not self.plclip_base > 0:
            raise InputError(f"quant.plclip_base {self.plclip_base!r} must be positive, e.g. 0.1")
        if not 0.0 <= self.train_ber < 0.5:
            raise InputError(f"quant.train_ber {self.train_ber!r} must be in [0, 0.5) (0 = off)")

    @field_validator("exclude", mode="before")
    @classmethod
    def _layer_names(cls, value: object) -> tuple[str, ...]:
        # before pydantic's own tuple check, so the message says what the list holds
        names = value if isinstance(value, (list, tuple)) else None
        if names is None or not all(isinstance(n, str) for n in names):
            raise InputError(f"quant.exclude must be a list of layer names, got {value!r}")
        return tuple(names)

    @property
    def quantized(self) -> bool:
        """False for the float reference."""
        return self.method != "float"
