"""The bridge between a quantized model and a simulated SRAM: extract, corrupt, evaluate.

A quantized model's integer weights (``wcatsim.image.weight_image``) are packed
into a :class:`sram_models.MemoryImage` (default: the model's bit width in
64-bit words); a fault model corrupts a *copy* of that image; the model then
runs from the codes the faulty memory returns (``wcatsim.image.run_from_image``)
while its own parameters stay untouched.  Nothing is deep-copied per
realisation: a realisation costs one fault pass over the packed words, one
unpack and one pass over the test set.

Which layers sit in the faulty memory is selectable (default all); the others
keep their clean weights, as if held in a protected memory.  Biases and
batch-norm parameters are never in the image (issue 3: assumed protected).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np

from sram_models.errors import InputError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from sram_models import FaultResult, MemoryImage, WordLayout


DEFAULT_WORD_BITS = 64  # a 64-bit SRAM word: the width of the 512x64 arrays measured by Chandramoorthy et al.


def changed_bits(clean: Mapping[str, np.ndarray], read: Mapping[str, np.ndarray], bits: int) -> int:
    """Weight bits whose read value differs from the stored one (exact popcount of N-bit patterns)."""
    mask = np.int32((1 << bits) - 1)
    total = 0
    for name, stored in clean.items():
        diff = (stored.astype(np.int32) ^ np.asarray(read[name]).astype(np.int32)) & mask
        total += int(np.bitwise_count(diff).sum())
    return total


def make_flip_model(name: str, ber: float, protect_msb: float = 0.0) -> Any:
    """A fault model of sram_models by name at a fixed rate (``sram_models.make_fault_model``).

    ``protect_msb``: fraction of the weights whose sign bit never fails (sram_models
    spreads the protected weights evenly through memory, the same in every realisation).
    """
    from sram_models import make_fault_model

    options = {"protect_msb": float(protect_msb)} if protect_msb else {}
    return make_fault_model(name, ber=float(ber), **options)


class ModelMemory:
    """A quantized model's weights held in a simulated SRAM.

    ``layers``: qualified layer names to place in the faulty memory (default:
    every quantized layer, in module order, which is also the memory order).
    ``layout``: a full :class:`sram_models.WordLayout`; otherwise one is built
    from the model's bit width, ``word_bits``, ``ecc`` and ``protect`` (a protection
    scheme of :mod:`sram_models.protection`; ``ecc="secded"`` is ``protect="secded"``).
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[str] | None = None,
        word_bits: int = DEFAULT_WORD_BITS,
        ecc: str | None = None,
        layout: WordLayout | None = None,
        protect: str | None = None,
    ) -> None:
        from sram_models import MemoryImage, WordLayout
        from wcatsim.image import weight_image

        image = weight_image(model)
        if layers is not None:
            layers = list(layers)
            unknown = [name for name in layers if name not in image]
            if unknown:
                raise InputError(
                    f"layers {', '.join(map(repr, unknown))} are not quantized layers of the model; "
                    f"choose from: {', '.join(image)}"
                )
            if not layers:
                raise InputError("the list of layers in the faulty memory is empty; name at least one")
            image = {name: image[name] for name in image if name in layers}  # memory order = module order
        bit_widths = sorted({li.bits for li in image.values()})
        if len(bit_widths) != 1:
            raise InputError(
                f"the selected layers mix bit widths {bit_widths}; one memory holds one width: "
                "select layers of one width with layers=[...]"
            )
        self.model = model
        self.bits = bit_widths[0]
        self.steps = {name: li.step for name, li in image.items()}
        self.clean_codes: dict[str, np.ndarray] = {name: li.codes.numpy() for name, li in image.items()}
        if layout is None:
            layout = WordLayout(bits=self.bits, word_bits=word_bits, ecc=ecc, protect=protect)
        elif layout.bits != self.bits:
            raise InputError(f"layout.bits={layout.bits} but the model's weights have {self.bits} bits")
        self.layout = layout
        self.image: MemoryImage = MemoryImage.pack(self.clean_codes, layout)

    @property
    def layers(self) -> list[str]:
        return list(self.clean_codes)

    @property
    def n_weights(self) -> int:
        return self.image.n_weights

    def corrupt(self, fault_model: Any, seed: int, **kwargs: Any) -> FaultResult:
        """One realisation: ``fault_model.corrupt`` on the clean image (which it never modifies)."""
        return fault_model.corrupt(self.image, seed=seed, **kwargs)

    def changed_bits(self, codes: Mapping[str, np.ndarray]) -> int:
        """Weight bits of ``codes`` that differ from the stored codes."""
        return changed_bits(self.clean_codes, codes, self.bits)

    @contextmanager
    def loaded(self, codes: Mapping[str, np.ndarray] | None = None) -> Iterator[nn.Module]:
        """The model computing with ``codes`` (default: the clean codes) in the selected layers."""
        from wcatsim.image import run_from_image

        with run_from_image(self.model, self.clean_codes if codes is None else codes) as model:
            yield model


def torch_channels_last() -> Any:
    import torch

    return torch.channels_last


# Pixels per CPU batch: 64 CIFAR images (64 x 32 x 32), the batch wcatsim.train.evaluate measured fastest for
# ResNet-20.  Small images need far larger batches to amortise per-call overhead: on the embedded
# 8x8 digits the whole 539-image test set in one batch ran ~10x faster than batches of 64 (measured
# on this project's 2-core machine).  A fixed rule, not a timing-based tuner, so that the batch size
# (and with it every floating-point sum) is the same on every run and every worker.
CPU_BATCH_PIXELS = 64 * 32 * 32


def default_batch_size(x: torch.Tensor, device: Any = None) -> int | None:
    """Images per batch for evaluating ``x``: about CPU_BATCH_PIXELS pixels per batch on CPU.

    None (wcatsim.train.evaluate's own default) on a GPU or for inputs that are not images.
    """
    if (device is not None and getattr(device, "type", "cpu") != "cpu") or x.dim() != 4:
        return None
    pixels = int(x.shape[-1]) * int(x.shape[-2])
    return max(1, CPU_BATCH_PIXELS // max(1, pixels))


class FaultEvaluator:
    """Accuracy of a model reading its weights from a faulty memory, on a test set in a fixed order.

    The test set is either tensors ``x``, ``y`` held in memory, or an
    :class:`wcatsim.train.datasets.streaming.EvalImages` (pass it as ``x``, no ``y``), which is held in memory
    or streamed through a DataLoader batch by batch, in the same order on every pass. Every accuracy,
    the clean one included, goes through the same path (``run_from_image`` + ``wcatsim.train.evaluate``), so
    a realisation that changes no bit gives exactly ``clean_acc``; such a realisation is not
    re-evaluated (the deterministic forward would return the same number).
    """

    def __init__(
        self,
        memory: ModelMemory,
        x: Any,
        y: torch.Tensor | None = None,
        device: torch.device | str | None = None,
        batch_size: int | None = None,
        subset: Mapping[str, Any] | None = None,
        activations: Any = None,
    ) -> None:
        from wcatsim.train.datasets.streaming import EvalImages
        from wcatsim.train.evaluate import resolve_device

        self.memory = memory
        # an ActivationBuffer (wcatsim.memory.activations): every forward reads the quantized layers'
        # inputs through it, so clean_acc is that of the stored (quantized) activations; None: float
        self.activations = activations
        self.device = resolve_device(device) if device is not None else None
        self.subset = dict(subset) if subset is not None else None  # the --eval-images record, if any
        self.images: EvalImages | None = None
        self._prefix: Any = None  # a CleanPrefix inside sharing_clean_prefix()
        self._subset_prefixes: dict[Any, Any] = {}  # a CleanPrefix per image subset (correct_replayed)
        self._compiled: Any = None  # torch.compile of the model, after compile_forward()
        if isinstance(x, EvalImages):
            if x.x is None:  # streamed: batches are decoded, moved and laid out as each pass reads them
                self.images = x
                self.x, self.y = None, x.y
                self.batch_size = batch_size or x.batch_size
                self.n_images = x.n_images
                x.start()  # the workers fork before any pass allocates weights (Streamer.start says why)
                self.clean_acc = self._accuracy(None)
                return
            self.images = x
            x, y = x.x, x.y
        # Held once, where the model runs, in the memory format the conv kernels prefer (NHWC on CPU):
        # per-batch slices of it are then already in that format and nothing is copied per realisation.
        if self.device is not None:
            x = x.to(self.device)
        if x.dim() == 4:
            x = x.contiguous(memory_format=torch_channels_last())
        self.x = x
        self.y = y.to(x.device)
        self.batch_size = batch_size or default_batch_size(x, self.device)
        self.n_images = int(y.shape[0])
        self.clean_acc = self._accuracy(None)

    @property
    def streamed(self) -> bool:
        return self.x is None

    @property
    def device_type(self) -> str:
        """Where the forward runs ("cpu", "cuda"): part of a table's fingerprint, since the numbers differ."""
        if self.x is not None:
            return str(self.x.device.type)
        return str(self.device.type) if self.device is not None else "cpu"

    @property
    def data_description(self) -> str:
        """Which path the test images take (in memory or streamed), for logs and sidecars."""
        if self.images is not None:
            return self.images.description
        return f"{self.n_images} images held in memory"

    @classmethod
    def for_run(
        cls,
        run: Any,
        layers: Sequence[str] | None = None,
        word_bits: int = DEFAULT_WORD_BITS,
        ecc: str | None = None,
        batch_size: int | None = None,
        protect: str | None = None,
        eval_images: int = 0,
        activations: Any = None,
    ) -> FaultEvaluator:
        """The evaluator of a :class:`wcatsim.train.runs.LoadedRun` on its test split.

        With ``eval_images`` K > 0, on a fixed, class-stratified subset of K test images (seeded with
        ``data.seed``).  ``activations``: an :class:`wcatsim.config.ActivationSpec` whose target holds
        activations: the activations then sit in its buffer (:mod:`wcatsim.memory.activations`).
        """
        from wcatsim.train.datasets.streaming import labels_of, stratified_subset, subset_record

        memory = ModelMemory(run.model, layers=layers, word_bits=word_bits, ecc=ecc, protect=protect)
        indices = record = None
        if eval_images:
            seed = int(run.config.data.seed)
            indices = stratified_subset(labels_of(run.data.test), eval_images, seed)
            record = subset_record(indices, len(run.data.test), seed)
        images = run.data.eval_images("test", indices, batch_size=batch_size)
        buffer = None
        if activations is not None and activations.target != "weights":
            from wcatsim.memory.activations import buffer_for_run

            buffer = buffer_for_run(run, activations)
        return cls(memory, images, device=run.device, batch_size=batch_size, subset=record,
                   activations=buffer)

    def data_identity(self) -> bytes:
        """Bytes identifying the test images and labels (fingerprints): tensor pixels, or file identities."""
        if self.images is not None:  # files: the same identity streamed or held
            return self.images.identity()
        return self.x.cpu().contiguous().numpy().tobytes() + self.y.cpu().contiguous().numpy().tobytes()

    @contextmanager
    def sharing_clean_prefix(self, memory_bytes: int | None = None) -> Iterator[None]:
        """Inside this block, a read replays the clean activations before its first faulty layer.

        For faults confined to later layers (one domain at a time): the activations before them are
        computed once per test batch and kept (at most ``memory_bytes``, default
        :data:`wcatsim.memory.prefix.PREFIX_MEMORY`), with accuracies identical to the plain path
        (:mod:`wcatsim.memory.prefix`).  A streamed test set is evaluated whole, as outside the block.
        With an activation buffer, the reads with the buffer clean replay (the prefix recorded through
        its clean hooks); a read of a faulty buffer changes every layer's input and runs whole.
        """
        from wcatsim.memory.prefix import PREFIX_MEMORY, CleanPrefix
        from wcatsim.train.quant import quantized_layers

        if self.x is not None:
            layers = quantized_layers(self.memory.model)
            self._prefix = CleanPrefix(layers, PREFIX_MEMORY if memory_bytes is None else memory_bytes)
        try:
            yield
        finally:
            self._prefix = None
            self._subset_prefixes = {}

    def _changed_layers(self, codes: Mapping[str, np.ndarray]) -> list[str]:
        """The layers whose read codes differ from the stored ones (where a read's faults start)."""
        return [name for name, clean in self.memory.clean_codes.items()
                if not np.array_equal(clean, np.asarray(codes[name]))]  # fmt: skip

    def _prefix_accuracy(self, codes: Mapping[str, np.ndarray]) -> float:
        """:meth:`_accuracy` of a read through the clean-prefix records: the batches of
        ``wcatsim.train.evaluate.predict`` (size, device, memory format) and :func:`accuracy`'s division."""
        changed = self._changed_layers(codes)
        with self.memory.loaded(codes) as model, self.reading(model, None):  # a buffer, if any: read clean
            predicted = self._prefix.predict(model, list(self._held_batches(self.x)), changed)
        return 100.0 * int((predicted == self.y.cpu()).sum()) / int(self.y.shape[0])

    def correct_replayed(
        self, codes: Mapping[str, np.ndarray], indices: np.ndarray, key: Any, share: int = 1
    ) -> np.ndarray:
        """:meth:`correct` of ``codes`` on ``indices``, replaying the clean prefix recorded for ``key``.

        For a subset read at many points with faults confined to later layers (a plan's planning chip on
        its own images, at every voltage of every domain's curve): inside :meth:`sharing_clean_prefix`
        the subset's clean activations are recorded once per batch and replayed, as for the whole set
        (identical answers, :mod:`wcatsim.memory.prefix`).  ``key`` names the subset (the same
        ``indices`` at every call with it); ``share``: how many subsets split the records' memory.
        Outside the block, or with an activation buffer, it is :meth:`correct`.
        """
        if self._prefix is None or self.activations is not None or self.x is None:
            return self.correct(codes, indices)
        from wcatsim.memory.prefix import CleanPrefix

        prefix = self._subset_prefixes.get(key)
        if prefix is None:
            prefix = CleanPrefix(self._prefix.layers, self._prefix.memory_bytes // max(1, int(share)))
            self._subset_prefixes[key] = prefix
        index = _torch_index(indices, self.x.device)
        changed = self._changed_layers(codes)
        with self.memory.loaded(codes) as model:
            predicted = prefix.predict(model, list(self._held_batches(self.x[index])), changed)
        return (predicted == self.y[index].cpu()).numpy()

    def _held_batches(self, x: torch.Tensor, images_dim: int = 0) -> Iterator[torch.Tensor]:
        """The batches ``wcatsim.train.evaluate.predict`` feeds the model (size, device, memory format)
        from the held tensor ``x``, whose images run along ``images_dim`` (1: ``[B, n, ...]``, per read)."""
        import torch

        from wcatsim.train.evaluate import CPU_BATCH, GPU_BATCH

        target = self._device_of_model()
        size = self.batch_size or (GPU_BATCH if target.type == "cuda" else CPU_BATCH)
        channels_last = x.dim() - images_dim == 4 and self._has_conv
        for start in range(0, x.shape[images_dim], size):
            batch = x.narrow(images_dim, start, min(size, x.shape[images_dim] - start))
            batch = batch.to(target, non_blocking=True)
            if channels_last and images_dim == 0:
                batch = batch.contiguous(memory_format=torch.channels_last)
            yield batch

    @property
    def _has_conv(self) -> bool:
        import torch

        return any(isinstance(m, torch.nn.Conv2d) for m in self.memory.model.modules())

    def reading(self, model: nn.Module, act: Any = None) -> Any:
        """The context a forward runs in: the activation buffer's hooks (read ``act``), or nothing."""
        if self.activations is None:
            if act is not None:
                raise InputError("activation faults need an evaluator with an activation buffer")
            return nullcontext()
        return self.activations.reading(model, act)

    def _accuracy(self, codes: Mapping[str, np.ndarray] | None, act: Any = None) -> float:
        from wcatsim.train.evaluate import accuracy, accuracy_on

        # the clean prefix replays the clean activations: without a buffer, or with the buffer read clean
        # (its hooks, pure functions of a layer's input, ran in the recorded forward as in this one)
        if self._prefix is not None and codes is not None and act is None:
            return self._prefix_accuracy(codes)

        kwargs: dict[str, Any] = {}
        if self.batch_size:
            kwargs["batch_size"] = self.batch_size
        if self.device is not None:
            kwargs["device"] = self.device
        with self.memory.loaded(codes) as model, self.reading(model, act):
            model = self._forward_module(model)
            if self.x is None:
                return float(accuracy_on(model, self.images, **kwargs))
            return float(accuracy(model, self.x, self.y, **kwargs))

    @property
    def compiled(self) -> bool:
        """Whether faulty reads go through ``torch.compile`` of the model (:meth:`compile_forward`)."""
        return self._compiled is not None

    def _forward_module(self, model: nn.Module) -> Any:
        """The module a read's forward runs: the compiled one where :meth:`compile_forward` was called
        (it reads ``_image_weight`` as an input: no recompile per read), except through a buffer's hooks."""
        return self._compiled if self._compiled is not None and self.activations is None else model

    def compile_forward(self) -> None:
        """Evaluate faulty reads through ``torch.compile`` of the model (inductor) from now on.

        The compiled forward reads each realisation's weights as inputs (no recompile per read); its
        logits differ from eager ones by float rounding only (within :data:`wcatsim.memory.batched.LOGIT_ATOL`
        + ``LOGIT_RTOL`` x max|logit| in ``benchmarks/forward.py``).  Worth it for long sweeps of small
        models only: the first evaluation compiles (ResNet-20 on 2 busy cores: 39-84 s, then 2.6-3.1x
        faster per realisation; ResNet-18 at 224 px: 87 s for 1.14x; docs/performance.md).  ``clean_acc``
        stays the eager one (computed before); :meth:`correct` (the nested design's subsets) runs
        compiled too; :meth:`evaluate_many`, :meth:`correct_many` and reads through an activation buffer
        run eager.
        """
        import torch

        self._compiled = torch.compile(self.memory.model)

    def evaluate(self, codes: Mapping[str, np.ndarray], act: Any = None) -> tuple[float, int, int]:
        """(accuracy in percent, weight bits changed, test images evaluated) for the read ``codes``.

        ``act``: the activation buffer's read (:class:`wcatsim.memory.activations.ActivationRead`);
        None = activations stored without faults (or not stored at all, without a buffer).
        """
        n_changed = self.memory.changed_bits(codes)
        if n_changed == 0 and act is None:
            return self.clean_acc, 0, 0
        return self._accuracy(codes, act), n_changed, self.n_images


    def evaluate_many(self, reads: Sequence[Mapping[str, np.ndarray]]) -> list[tuple[float, int, int]]:
        """:meth:`evaluate` of each read in ``reads``, those that change a bit in one batched forward.

        The reads share one pass over the test images: realisations folded into the batch, each faulty
        layer a grouped convolution or batched product (:mod:`wcatsim.memory.batched`); memory grows with
        ``len(reads)``.  Accuracies equal one-by-one :meth:`evaluate` up to the kernels' float rounding
        (exactly equal in this project's CPU tests).  Inside :meth:`sharing_clean_prefix`, with an
        activation buffer, or for a single faulty read, the reads go one by one.
        """
        from wcatsim.memory.batched import predict_batched, stacked_weights

        counts = [self.memory.changed_bits(codes) for codes in reads]
        faulty = [i for i, n in enumerate(counts) if n]
        out = [(self.clean_acc, 0, 0) if n == 0 else None for n in counts]
        if len(faulty) < 2 or self._prefix is not None or self.activations is not None:
            return [found or self.evaluate(codes) for found, codes in zip(out, reads, strict=True)]
        weights = stacked_weights(self.memory, [reads[i] for i in faulty])
        if self.x is not None:
            batches: Any = self._held_batches(self.x)
        else:  # streamed: one decode of each batch serves every read
            batches = (xb.to(self._device_of_model()) for xb, _ in self.images.batches())
        predicted = predict_batched(self.memory.model, weights, batches, channels_last=self._has_conv)
        if self.x is None:
            from wcatsim.train.datasets.streaming import release_free_memory

            release_free_memory()  # as wcatsim.train.evaluate.accuracy_on after a streamed pass
        labels = self.y.cpu()
        for row, i in zip(predicted, faulty, strict=True):
            # the same expression as wcatsim.train.evaluate.accuracy: the same float for the same answers
            out[i] = (100.0 * int((row == labels).sum()) / int(labels.shape[0]), counts[i], self.n_images)
        return out

    def correct_many(self, reads: Sequence[Mapping[str, np.ndarray] | None],
                     indices: Sequence[np.ndarray]) -> list[np.ndarray]:
        """:meth:`correct` of each read on its own images (subsets of one size), in one batched forward."""
        import torch

        from wcatsim.memory.batched import predict_batched, stacked_weights

        sizes = {int(np.asarray(chosen).size) for chosen in indices}
        if (len(reads) < 2 or len(sizes) != 1 or any(codes is None for codes in reads) or self.x is None
                or self.activations is not None):
            return [self.correct(codes, chosen) for codes, chosen in zip(reads, indices, strict=True)]
        index = torch.stack([_torch_index(chosen, self.x.device) for chosen in indices])  # [B, n]
        weights = stacked_weights(self.memory, reads)
        images = self.x[index]  # [B, n, ...]: realisation b's subset in row b
        predicted = predict_batched(self.memory.model, weights, self._held_batches(images, images_dim=1),
                                    shared=False, channels_last=self._has_conv)
        return list((predicted == self.y.cpu()[index.cpu()]).numpy())

    def _device_of_model(self) -> Any:
        return self.device if self.device is not None else next(self.memory.model.parameters()).device

    @property
    def labels(self) -> np.ndarray:
        """The test labels (int64, in the evaluation order): the class sizes of a stratified subset."""
        return self.y.cpu().numpy().astype(np.int64)

    def correct(
        self, codes: Mapping[str, np.ndarray] | None, indices: np.ndarray, act: Any = None
    ) -> np.ndarray:
        """Per-image correctness (bool) of the model reading ``codes`` on the test images ``indices``.

        The images a nested Monte Carlo realisation is evaluated on (its own random subset); the forward
        is the one :meth:`evaluate` runs (same batch size and device), on ``x[indices]``.  Held-in-memory
        test sets only: a streamed set would decode every image to pick a few.
        """
        from wcatsim.train.evaluate import predict

        if self.x is None:
            raise InputError(
                "images per realisation needs the test set held in memory; this one is streamed "
                "(drop `images`, or set `data.stream` false where it fits)"
            )
        index = _torch_index(indices, self.x.device)
        kwargs: dict[str, Any] = {}
        if self.device is not None:
            kwargs["device"] = self.device
        with self.memory.loaded(codes) as model, self.reading(model, act):
            model = self._forward_module(model)
            predicted = predict(model, self.x[index], self.batch_size, **kwargs)
        return (predicted == self.y[index].cpu()).numpy()


def _torch_index(indices: np.ndarray, device: Any) -> torch.Tensor:
    """``indices`` as an int64 tensor on ``device`` (for indexing the held test tensors)."""
    import torch

    return torch.as_tensor(np.asarray(indices, dtype=np.int64), device=device)


def model_fingerprint(evaluator: Any) -> str:
    """SHA-256 of everything the accuracy depends on: every model tensor and the test set."""
    digest = hashlib.sha256()
    for name, tensor in sorted(evaluator.memory.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    digest.update(evaluator.data_identity())  # the test tensors' bytes; file identities when streamed
    return digest.hexdigest()


__all__ = [
    "DEFAULT_WORD_BITS",
    "FaultEvaluator",
    "ModelMemory",
    "changed_bits",
    "make_flip_model",
    "model_fingerprint",
]
