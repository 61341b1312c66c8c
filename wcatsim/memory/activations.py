"""Activations held in a global-buffer SRAM: quantized for storage, read through a fault model.

An accelerator writes each layer's input feature map into its global buffer and reads it back when
the layer runs.  :class:`ActivationBuffer` models that buffer for the quantized layers of a model:

- **Storage format.**  The input of every quantized layer (convolution or linear; the network's input
  image included) is quantized per layer to ``bits`` (default 8) with a range calibrated on training
  images: the **maximum** (and minimum) over the calibration images, as ``torch.ao``'s default
  ``MinMaxObserver`` takes it.  Why the maximum and not a percentile: no calibration activation is
  clipped, so with faults off every activation is within half a step of its float value, and the
  range still bounds what a flipped high bit can inject (a float exponent flip is unbounded).  A layer
  whose calibrated minimum is >= 0 (after a ReLU) is stored unsigned, ``u = round(x / s)`` in
  ``0..2^b - 1`` with ``s = max / (2^b - 1)``; the stored two's-complement code is ``u - 2^(b-1)``
  (the same bits as ``u`` with its top bit inverted).  Other layers are stored signed and symmetric,
  ``q = round(x / s)`` in ``-(2^(b-1) - 1)..2^(b-1) - 1`` with ``s = max|x| / (2^(b-1) - 1)``.  Either
  way a flip of stored bit k changes the element by exactly ``2^k x s`` (up or down).  No registered
  quantizer learns an activation range (wcat's alpha and lsq's step are weight ranges), so every
  range is calibrated.
- **The buffer.**  Codes are packed with :class:`sram_models.MemoryImage` in the buffer's own
  :class:`sram_models.WordLayout` (bits, word width, protection scheme); the buffer has its own
  technology and voltage (its fault model's).  Each image's feature map starts at the buffer's base
  address (word 0): the buffer is rewritten by every layer of every inference.
- **Faults.**  Any registered fault model (``sram_models.FAULT_MODELS``) reads the buffer.  A model
  of stuck cells (``chip``, ``stuck-at``, ``column``) is a chip: its faulty cells are drawn once per
  realisation over the buffer's addresses and every image of every batch and every layer reads
  through the same cells.  Any other model (``transient``, ...) draws afresh for every read: one draw
  per layer and per inference batch, from a seed derived from (realisation seed, layer, batch).

The model runs with forward pre-hooks on its quantized layers (:meth:`ActivationBuffer.reading`):
the hook replaces the layer's input by what the buffer returns.  Parameters are untouched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sram_models.errors import InputError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from sram_models import MemoryImage, WordLayout

# 8-bit activations: the width INT8 inference stores feature maps in (and the default).
DEFAULT_ACT_BITS = 8
# About 500 images: "Experiments indicate that about 500 images are sufficient for calibrating ImageNet
# classification networks" (NVIDIA TensorRT developer guide, INT8 calibration); fewer when the training
# set is smaller.
DEFAULT_CALIBRATION_IMAGES = 500


@dataclass(frozen=True)
class ActivationRange:
    """How one layer's input is stored: its step and whether the codes are offset (unsigned)."""

    step: float
    """value of one code step (the scale s)"""
    unsigned: bool
    """True: stored code = u - 2^(bits-1) for u in 0..2^bits-1 (a non-negative input)"""
    low: float
    """calibrated minimum (for the record)"""
    high: float
    """calibrated maximum (for the record)"""


@dataclass(frozen=True)
class ActivationRead:
    """One realisation's read of the buffer: a fault model of sram_models, its seed and voltage."""

    fault_model: Any
    """a :class:`sram_models.FaultModel` (or any object with its ``corrupt(image, seed, voltage)``)"""
    seed: int
    """the realisation's seed; each read's own seed is derived from it (:func:`read_seed`)"""
    voltage: float | None = None
    """the buffer's supply voltage (for a model that follows a technology)"""


@dataclass
class ReadStats:
    """What the buffer's reads did during one :meth:`ActivationBuffer.reading` block."""

    bits_read: int = 0
    """activation bits read (elements x bits; padding excluded)"""
    bits_changed: int = 0
    """activation bits whose read value differs from the stored one (after the protection scheme)"""
    faulty_cells: int = 0
    """cells faulty in the reads' draws (check bits included)"""
    reads: int = 0
    """layer reads (one per layer and batch)"""
    per_layer: dict[str, int] = field(default_factory=dict)
    """bits changed per layer"""

    @property
    def flip_rate(self) -> float:
        """bits_changed / bits_read (nan before any read)."""
        return self.bits_changed / self.bits_read if self.bits_read else float("nan")


# Domain tags: the buffer's streams stay apart from every other use of the same integers.
_READ_TAG = 0xAC7
_CHIP_TAG = 0xAC8


def _seed(entropy: list[int]) -> int:
    # A 63-bit integer from numpy's SeedSequence: the kernels take int64 seeds.
    state = np.random.SeedSequence(entropy).generate_state(1, np.uint64)
    return int(state[0]) & 0x7FFF_FFFF_FFFF_FFFF


def read_seed(seed: int, layer: int, batch: int) -> int:
    """Seed of the read of layer number ``layer`` in inference batch ``batch`` of a realisation ``seed``."""
    return _seed([int(seed), _READ_TAG, int(layer), int(batch)])


def chip_buffer_seed(seed: int) -> int:
    """Seed of the buffer's cells on chip ``seed``: another memory than the weights' on the same chip."""
    return _seed([int(seed), _CHIP_TAG])


def is_persistent(fault_model: Any) -> bool:
    """True for a model of stuck cells (faults are properties of cells, mapped onto the buffer).

    sram_models marks them with ``_stuck`` (their faulty-cell rate is 2 x the bit error probability).
    """
    return bool(getattr(fault_model, "_stuck", False))


def quantize(x: torch.Tensor, rng: ActivationRange, bits: int) -> torch.Tensor:
    """Stored two's-complement codes (int16) of ``x`` under ``rng``."""
    import torch

    half = 1 << (bits - 1)
    if rng.unsigned:
        u = torch.clamp(torch.round(x / rng.step), 0, (1 << bits) - 1)
        return (u - half).to(torch.int16)
    q = torch.clamp(torch.round(x / rng.step), -(half - 1), half - 1)
    return q.to(torch.int16)


def dequantize(codes: torch.Tensor, rng: ActivationRange, bits: int, dtype: Any) -> torch.Tensor:
    """The values stored ``codes`` stand for (``(code + offset) x step``) in ``dtype``."""
    offset = (1 << (bits - 1)) if rng.unsigned else 0
    return ((codes.to(dtype) + offset) * rng.step).to(dtype)


def _range_of(low: float, high: float, bits: int) -> ActivationRange:
    if low >= 0.0:
        step = high / ((1 << bits) - 1)
        unsigned = True
    else:
        step = max(abs(low), abs(high)) / ((1 << (bits - 1)) - 1)
        unsigned = False
    # an input that is 0 on every calibration image: any step stores it exactly (as code 0 / u = 0)
    return ActivationRange(float(step) if step > 0 else 1.0, unsigned, float(low), float(high))


def calibrate(
    model: nn.Module, images: torch.Tensor, layers: Sequence[str], bits: int, batch_size: int = 256
) -> dict[str, tuple[ActivationRange, tuple[int, ...]]]:
    """Per layer: the storage range from the min and max of its input over ``images``, and its shape.

    The model runs in eval mode under ``torch.inference_mode`` with its current weights; the shape is
    one image's input to the layer (its volume is what the buffer holds per inference).
    """
    import torch

    from wcatsim.train.quant import quantized_layers

    found = quantized_layers(model)
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []

    def observer(name: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            x = args[0]
            lows[name] = min(lows.get(name, float("inf")), float(x.min()))
            highs[name] = max(highs.get(name, float("-inf")), float(x.max()))
            shapes[name] = tuple(int(d) for d in x.shape[1:])

        return hook

    for name in layers:
        handles.append(found[name].register_forward_pre_hook(observer(name)))
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        with torch.inference_mode():
            for start in range(0, int(images.shape[0]), batch_size):
                model(images[start : start + batch_size].to(device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    missing = [name for name in layers if name not in shapes]
    if missing:
        raise InputError(f"layers {missing} were not run by the model's forward: they hold no activations")
    return {name: (_range_of(lows[name], highs[name], bits), shapes[name]) for name in layers}


class ActivationBuffer:
    """The inputs of a model's quantized layers held in a global-buffer SRAM.

    Parameters
    ----------
    model : nn.Module
        A quantized model (its quantized layers are hooked).
    calibration : torch.Tensor
        Training images the storage ranges are calibrated on (module docstring: the maximum).
    bits : int
        Bits per stored activation (default 8).
    word_bits : int
        Data bits per buffer word (default 64).
    protect : str, optional
        The buffer's protection scheme (``sram_models.PROTECTION_SCHEMES``); None = none.
    layers : sequence of str, optional
        Quantized layers whose inputs sit in the buffer (default: every one, in module order).
    """

    def __init__(
        self,
        model: nn.Module,
        calibration: torch.Tensor,
        bits: int = DEFAULT_ACT_BITS,
        word_bits: int = 64,
        protect: str | None = None,
        layers: Sequence[str] | None = None,
    ) -> None:
        from sram_models import WordLayout
        from wcatsim.train.quant import quantized_layers

        found = list(quantized_layers(model))
        chosen = found if layers is None else [name for name in found if name in set(layers)]
        unknown = sorted(set(layers or ()) - set(found))
        if unknown or not chosen:
            raise InputError(
                f"layers {unknown or 'none'} are not quantized layers of the model; "
                f"choose from: {', '.join(found)}"
            )
        self.model = model
        self.layout: WordLayout = WordLayout(bits=int(bits), word_bits=int(word_bits), protect=protect)
        self.bits = int(bits)
        calibrated = calibrate(model, calibration, chosen, self.bits)
        self.ranges: dict[str, ActivationRange] = {name: calibrated[name][0] for name in chosen}
        self.shapes: dict[str, tuple[int, ...]] = {name: calibrated[name][1] for name in chosen}
        self.calibration_images = int(calibration.shape[0])

    # ------------------------------------------------------------ sizes and records

    @property
    def layers(self) -> list[str]:
        """The hooked layers, in module order."""
        return list(self.ranges)

    def volume(self, layer: str) -> int:
        """Activations of ``layer``'s input per image."""
        return int(np.prod(self.shapes[layer]))

    @property
    def volume_per_inference(self) -> int:
        """Activations written and read per inference (one image): the sum of the layers' volumes."""
        return sum(self.volume(name) for name in self.ranges)

    def words_per_image(self, layer: str) -> int:
        """Buffer words one image's input to ``layer`` fills (from word 0)."""
        return -(-self.volume(layer) // self.layout.weights_per_word)

    @property
    def words_per_inference(self) -> int:
        """Buffer words one inference (one image) writes, and reads back once: every layer's input."""
        return sum(self.words_per_image(name) for name in self.ranges)

    @property
    def capacity_words(self) -> int:
        """Words the buffer needs: the largest layer input of one image."""
        return max(self.words_per_image(name) for name in self.ranges)

    def describe(self) -> dict[str, Any]:
        """The buffer as results record it (fingerprints): layout, calibration and every range."""
        return {
            "bits": self.bits, "word_bits": int(self.layout.word_bits), "protect": self.layout.protect,
            "calibration": "max", "calibration_images": self.calibration_images,
            "ranges": {name: [r.step, r.unsigned] for name, r in self.ranges.items()},
        }  # fmt: skip

    def cell(self, layer: str, image: int, element: int, bit: int) -> int:
        """Cell index, in one read's packed batch, of bit ``bit`` of element ``element`` of image ``image``.

        ``element`` indexes one image's input to ``layer`` flattened (C-order); images sit one after the
        other, each from a word boundary.
        """
        lay = self.layout
        if not 0 <= element < self.volume(layer) or not 0 <= bit < lay.bits:
            raise InputError(f"element {element}, bit {bit}: outside layer {layer!r}'s input")
        index = image * self.words_per_image(layer) * lay.weights_per_word + element
        word, slot = divmod(index, lay.weights_per_word)
        return word * lay.phys_bits + slot * lay.bits + bit

    # ------------------------------------------------------------ storing and reading

    def pack(self, layer: str, codes: np.ndarray) -> MemoryImage:
        """The buffer's words holding ``codes`` (images x volume), each image from a word boundary."""
        from sram_models import MemoryImage

        per_image = self.words_per_image(layer) * self.layout.weights_per_word
        padded = np.zeros((codes.shape[0], per_image), np.int16)
        padded[:, : codes.shape[1]] = codes
        return MemoryImage.pack({layer: padded}, self.layout)

    def stuck_masks(
        self, fault_model: Any, seed: int, voltage: float | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(stuck at 1, stuck at 0) cells of the buffer on chip ``seed``, as uint64 word masks.

        The fault model corrupts the buffer's cells once holding all zeros and once all ones (its
        faults do not depend on what is stored); a cell that reads 1 holding 0 is stuck at 1, one that
        reads 0 holding 1 stuck at 0.
        """
        from sram_models import MemoryImage

        n = self.capacity_words * self.layout.weights_per_word
        empty = MemoryImage.pack({"buffer": np.zeros(n, np.int16)}, self.layout)
        ones = np.full_like(empty.words, np.uint64(0xFFFF_FFFF_FFFF_FFFF))
        cells = chip_buffer_seed(seed)
        at_one = fault_model.corrupt(empty.with_words(np.zeros_like(empty.words)), cells, voltage=voltage)
        at_zero = fault_model.corrupt(empty.with_words(ones), cells, voltage=voltage)
        return at_one.image.words.copy(), ~at_zero.image.words

    def read_codes(
        self, layer: str, codes: np.ndarray, read: ActivationRead, batch: int,
        masks: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, Any]:
        """(codes as read, the sram_models.FaultResult) of storing ``codes`` (images x volume) once.

        ``masks``: a chip's stuck cells (:meth:`stuck_masks`), the same under every image; else a fresh
        draw of ``read.fault_model`` for this layer and batch.
        """
        from sram_models import read_back

        image = self.pack(layer, codes)
        if masks is None:
            seed = read_seed(read.seed, self.layers.index(layer), batch)
            result = read.fault_model.corrupt(image, seed, voltage=read.voltage)
        else:
            n_words = self.words_per_image(layer)
            images = codes.shape[0]
            at_one = np.tile(masks[0][:n_words], (images, 1))
            at_zero = np.tile(masks[1][:n_words], (images, 1))
            result = read_back(image, (image.words & ~at_zero) | at_one)
        out = result.codes[layer][:, : codes.shape[1]]
        return out, result

    @contextmanager
    def reading(self, model: nn.Module, read: ActivationRead | None = None) -> Iterator[ReadStats]:
        """Within the block, every hooked layer reads its input from the buffer (yields the read stats).

        ``read`` None: stored and read back without faults (the quantized activations only).
        """
        from wcatsim.train.quant import quantized_layers

        found = quantized_layers(model)
        stats = ReadStats()
        masks: dict[str, Any] = {}
        if read is not None and is_persistent(read.fault_model):
            masks["chip"] = self.stuck_masks(read.fault_model, read.seed, read.voltage)
        calls: dict[str, int] = {}
        handles = []

        def hook_for(name: str) -> Any:
            rng = self.ranges[name]

            def hook(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
                import torch

                x = args[0]
                codes = quantize(x, rng, self.bits)
                if read is not None:
                    batch = calls.get(name, 0)
                    calls[name] = batch + 1
                    flat = codes.reshape(codes.shape[0], -1).cpu().numpy()
                    got, result = self.read_codes(name, flat, read, batch, masks.get("chip"))
                    diff = (flat ^ got).astype(np.uint16) & ((1 << self.bits) - 1)
                    changed = int(np.bitwise_count(diff).sum())
                    stats.bits_read += flat.size * self.bits
                    stats.bits_changed += changed
                    stats.faulty_cells += int(result.faulty_cells)
                    stats.reads += 1
                    stats.per_layer[name] = stats.per_layer.get(name, 0) + changed
                    codes = torch.from_numpy(np.ascontiguousarray(got)).to(x.device).reshape(codes.shape)
                value = dequantize(codes, rng, self.bits, x.dtype)
                if x.is_contiguous(memory_format=torch.channels_last) and x.dim() == 4:
                    value = value.contiguous(memory_format=torch.channels_last)
                return (value, *args[1:])

            return hook

        for name in self.ranges:
            handles.append(found[name].register_forward_pre_hook(hook_for(name)))
        try:
            yield stats
        finally:
            for handle in handles:
                handle.remove()

    def energy(self, technology: Any, voltage: float, organisation: Any = None) -> Any:
        """Energy per inference of the buffer (:func:`sram_models.energy.inference_energy`).

        Every activation of one inference is written once and read once; a write is costed as a
        read (no shipped preset gives a write energy).  The buffer's leaking cells are its capacity
        (the largest layer input), so the image costed is the capacity and ``reads_per_weight`` carries
        the traffic: 2 x the words written per inference / the capacity's words.
        """
        from dataclasses import replace

        from sram_models import MemoryImage
        from sram_models.energy import MemoryOrganisation, inference_energy

        org = organisation if organisation is not None else MemoryOrganisation()
        traffic = self.words_per_inference
        n = self.capacity_words * self.layout.weights_per_word
        capacity = MemoryImage.pack({"buffer": np.zeros(n, np.int16)}, self.layout)
        org = replace(org, reads_per_weight=org.reads_per_weight * 2.0 * traffic / self.capacity_words)
        return inference_energy(capacity, technology, voltage, organisation=org)


def combined_energy(weights: Any, buffer: Any) -> dict[str, Any]:
    """Return the energy columns of both memories from their two :class:`sram_models.energy.EnergyReport`.

    Both reports must be in one unit (pJ, or one preset's relative units).
    """
    if weights.unit != buffer.unit:
        raise InputError(
            f"the weights' preset gives energy in {weights.unit} and the buffer's in {buffer.unit}: "
            "choose `attack.activations.preset` with the same kind of figures"
        )

    def reference(report: Any) -> float:
        return report.total / report.total_norm if report.total_norm else 0.0

    ref = reference(weights) + reference(buffer)

    def both(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a + b

    times = [t for t in (weights.inference_time_ns, buffer.inference_time_ns) if t is not None]
    total = weights.total + buffer.total
    return {
        "energy_per_inference_pj": both(weights.total_pj, buffer.total_pj),
        "energy_norm": total / ref,
        "dynamic_pj": both(weights.dynamic_pj, buffer.dynamic_pj),
        "leakage_pj": both(weights.leakage_pj, buffer.leakage_pj),
        "leakage_share": (weights.leakage + buffer.leakage) / total if total else 0.0,
        "inference_time_ns": max(times) if times else None,
        "weights_energy_norm": weights.total / ref,
        "act_energy_norm": buffer.total / ref,
    }


def calibration_images(run: Any, count: int, seed: int) -> torch.Tensor:
    """``count`` training images of ``run`` (class-stratified, seeded; all when fewer), unaugmented."""
    from wcatsim.train.datasets.streaming import labels_of, stratified_subset

    labels = labels_of(run.data.train)
    if not len(labels):  # a model given in Python brings no training split unless asked
        raise InputError(
            "the activation buffer's ranges are calibrated on training images and this model's data has "
            "none: give them as calibration_data= (x, y), a Dataset or a DataLoader (never the test set)"
        )
    n = min(int(count), int(len(labels)))
    indices = stratified_subset(labels, n, int(seed)) if n < len(labels) else None
    x, _ = run.data.eval_images("train", indices).tensors()
    return x


def buffer_for_run(run: Any, spec: Any) -> ActivationBuffer:
    """The activation buffer of a loaded run under ``spec`` (:class:`wcatsim.config.ActivationSpec`)."""
    images = calibration_images(run, spec.calibration_images, int(run.config.data.seed))
    return ActivationBuffer(run.model, images, bits=spec.bits, word_bits=spec.word_bits,
                            protect=None if spec.protect in (None, "none") else spec.protect)  # fmt: skip


def clean_read(memory: Any) -> Any:
    """A FaultResult of the weight memory read without faults (activations-only realisations)."""
    from sram_models import FaultResult

    return FaultResult(memory.image, 0, 0, 0, _codes=dict(memory.clean_codes))


def weight_read(memory: Any, spec: Any, make_model: Any, seed: int, voltage: float | None = None) -> Any:
    """The weight memory's read of one realisation: faulty when ``spec`` targets weights, else clean.

    ``spec``: an :class:`wcatsim.config.ActivationSpec` or None (weights, as before); ``make_model``
    builds the weights' fault model (called only when the weights are faulty).
    """
    if spec is None or spec.weights:
        return memory.corrupt(make_model(), seed, **({} if voltage is None else {"voltage": voltage}))
    return clean_read(memory)


def flip_read(spec: Any, fault: str, ber: float, seed: int) -> ActivationRead | None:
    """random-flip's read of the buffer at ``ber`` (``spec.ber`` instead for target both), or None.

    The buffer's fault model is ``spec.fault``, else the command's ``fault``.
    """
    if spec is None or not spec.activations:
        return None
    from sram_models import make_fault_model

    rate = spec.ber if spec.target == "both" and spec.ber is not None else ber
    return ActivationRead(make_fault_model(spec.fault or fault, ber=float(rate)), int(seed))


def voltage_read(
    spec: Any, fault: str, technology: Any, voltage: float, seed: int, stuck_at_one: float = 0.5
) -> ActivationRead | None:
    """sweep-voltage's read of the buffer (its technology; at ``spec.voltage`` for target both), or None."""
    if spec is None or not spec.activations:
        return None
    from sram_models import FAULT_MODELS, make_fault_model

    name = spec.fault or fault
    options = {"stuck_at_one": stuck_at_one} if "stuck_at_one" in FAULT_MODELS.get(name).options else {}
    at = spec.voltage if spec.target == "both" and spec.voltage is not None else voltage
    return ActivationRead(make_fault_model(name, technology=technology, **options), int(seed), float(at))


__all__ = [
    "DEFAULT_ACT_BITS",
    "DEFAULT_CALIBRATION_IMAGES",
    "ActivationBuffer",
    "ActivationRange",
    "ActivationRead",
    "ReadStats",
    "buffer_for_run",
    "calibrate",
    "calibration_images",
    "chip_buffer_seed",
    "clean_read",
    "combined_energy",
    "dequantize",
    "flip_read",
    "is_persistent",
    "quantize",
    "read_seed",
    "voltage_read",
    "weight_read",
]
