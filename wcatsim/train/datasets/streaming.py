"""The images an evaluation runs on, always in the same order: held in memory, or streamed.

An :class:`EvalImages` is a split (or a fixed subset of it) in a fixed order. When its float tensor fits
in :data:`STREAM_ABOVE_BYTES` it is held in memory and evaluated by slicing, as every in-memory dataset
always was; a larger one is streamed through a ``torch.utils.data.DataLoader`` whose worker processes
decode the files, batch by batch, in the same order on every pass. So the clean pass and every faulty
realisation see exactly the same images in the same batches (common random numbers hold), and peak
memory no longer grows with the number of images. ``data.stream = true | false`` forces one path.

:class:`LazyImages` is the tensor-like view for code written against in-memory tensors (the Bit-Flip
Attack's evaluator): slicing it decodes those images; indexing it with an index list gives another lazy
view (or, when the selection fits in memory, the decoded tensor).
"""

from __future__ import annotations

import gc
import hashlib
import math
import multiprocessing
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from sram_models.errors import InputError

# Largest split (as float32 pixels) held in memory: 1 GiB, about 1,780 images of 3 x 224 x 224; every
# CIFAR, MNIST and digits split fits (CIFAR-10's test set is 123 MB), ImageNet's validation set (50,000
# images, 30 GB) is streamed.
STREAM_ABOVE_BYTES = 1 << 30
# Images per streamed batch: the scale benchmark's 64 (issue 11). The loader's per-batch overhead (one
# message per batch from a worker) is small against decoding 64 images, and a batch of 64 224-pixel
# images keeps a CPU forward's activations within a few hundred MB.
STREAM_BATCH = 64
# Batches each worker decodes ahead: 1 keeps at most workers + 1 batches in flight (memory), enough to
# keep a CPU forward, which is far slower than decoding, busy.
PREFETCH = 1


def image_shape(dataset: Dataset) -> tuple[int, ...]:
    """(C, H, W) of one item of an image dataset (in-memory or file-backed)."""
    if hasattr(dataset, "image_shape"):
        return tuple(dataset.image_shape)
    if hasattr(dataset, "x"):
        return tuple(dataset.x.shape[1:])
    return tuple(dataset[0][0].shape)


def labels_of(dataset: Dataset) -> torch.Tensor:
    """All labels of a dataset (int64, CPU) without decoding an image."""
    for name in ("y", "labels"):
        if hasattr(dataset, name):
            return getattr(dataset, name).to(torch.int64).cpu()
    return torch.as_tensor([int(dataset[i][1]) for i in range(len(dataset))], dtype=torch.int64)


def held_in_memory(dataset: Dataset) -> bool:
    """True for datasets whose images already are one tensor (``x``)."""
    return hasattr(dataset, "x") and isinstance(dataset.x, torch.Tensor)


def loader_workers(requested: int) -> int:
    """``requested`` worker processes, or 0 inside a daemonic process (which may not have children)."""
    return 0 if multiprocessing.current_process().daemon else max(0, int(requested))


class _IndexList(Sampler):
    """The indices of the next pass; the loader asks for them in the main process, so they can change
    between passes while the workers stay alive."""

    def __init__(self) -> None:
        self.indices: list[Any] = []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _new_batch(shape: tuple[int, ...], shared: bool) -> torch.Tensor:
    """An uninitialised float32 (B, C, H, W) batch in the channels-last layout the CPU convolutions
    prefer; in shared memory inside a loader worker, so that handing it to the main process copies
    nothing (what torch's default collate does for its own batches)."""
    b, c, h, w = shape
    strides = (c * h * w, 1, w * c, c)
    if not shared:
        return torch.empty(shape).contiguous(memory_format=torch.channels_last)
    storage = torch.empty(0)._typed_storage()._new_shared(b * c * h * w)
    return torch.empty(0).new(storage).as_strided(shape, strides)


class _BatchDecoder(Dataset):
    """A file dataset read a batch at a time: each image is decoded straight into its row of one batch
    tensor, so a loader worker never holds a list of single images beside the batch, and the batch
    arrives channels-last (no layout copy before the forward)."""

    def __init__(self, files: Dataset) -> None:
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Any:
        return self.files[index]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        from torch.utils.data import get_worker_info

        x = _new_batch((len(indices), *image_shape(self.files)), shared=get_worker_info() is not None)
        for row, index in enumerate(indices):
            x[row] = self.files[index][0]
        return x, labels_of(self.files)[torch.as_tensor(indices, dtype=torch.int64)]


def _collate(data: Any) -> Any:
    if isinstance(data, tuple):  # a batch _BatchDecoder made already
        return data
    from torch.utils.data import default_collate

    return default_collate(data)


class Streamer:
    """A DataLoader over ``dataset`` with persistent workers, in the order of the indices it is given."""

    def __init__(self, dataset: Dataset, batch_size: int = STREAM_BATCH, workers: int = 2) -> None:
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.workers = loader_workers(workers)
        self._sampler = _IndexList()
        self._started = False
        options: dict[str, Any] = {}
        if self.workers:
            options = {"persistent_workers": True, "prefetch_factor": PREFETCH}
        keep_heap_small()
        source = _BatchDecoder(dataset) if hasattr(dataset, "image_shape") else dataset
        self.loader = DataLoader(
            source, batch_size=self.batch_size, sampler=self._sampler, num_workers=self.workers,
            collate_fn=_collate, **options,
        )  # fmt: skip

    def __call__(self, indices: Sequence[int]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches (x, y) of ``indices``, in that order."""
        self._sampler.indices = [int(i) for i in indices]
        if not self._sampler.indices:
            return
        try:
            yield from self._iterate()
        except InputError as exc:  # a worker's error arrives with its traceback in the message: keep its line
            raise type(exc)(_last_line(str(exc))) from None

    def start(self) -> None:
        """Fork the loader workers now (a no-op without workers or once started). Call it before
        allocating memory that is freed later: a forked worker keeps its own copy of every page the
        parent frees or rewrites after the fork, so workers forked while a pass's dequantized weights
        were alive held ~45 MiB each of them (ResNet-18) for good."""
        if not self.workers or self._started:
            return
        self._sampler.indices = []
        self._iterate()

    def _iterate(self) -> Any:
        if not self.workers or self._started:
            return iter(self.loader)
        # The persistent workers are forked now. Frozen objects are left alone by the garbage collector
        # (in the workers too), whose passes would otherwise write to every object a worker inherited and
        # so copy those pages of the parent's Python heap into each worker.
        gc.collect()
        gc.freeze()
        try:
            iterator = iter(self.loader)
        finally:
            gc.unfreeze()
        self._started = True
        return iterator

    def describe(self) -> str:
        where = f"{self.workers} loader workers" if self.workers else "decoded in the main process"
        return f"streamed through a DataLoader ({where}, batch {self.batch_size})"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else text
    return last.split("Error: ", 1)[1] if "Error: " in last else last


_LIBC: Any = None
# glibc's mallopt parameter number of M_MMAP_THRESHOLD (malloc.h).
_M_MMAP_THRESHOLD = -3
# Blocks from 1 MiB up are mapped and unmapped on their own (see keep_heap_small).
MMAP_THRESHOLD_BYTES = 1 << 20


def _glibc() -> Any:
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 - present on glibc only
            _LIBC.mallopt  # noqa: B018
        except (OSError, AttributeError):
            _LIBC = False
    return _LIBC


def release_free_memory() -> None:
    """Give the C allocator's free heap memory back to the system (glibc ``malloc_trim``; a no-op
    elsewhere). A streamed pass frees hundreds of MB of activations of every size; glibc keeps much of it
    in its heap afterwards, and the next pass's peak then sits on top of that (measured on a ResNet-18
    at 224 pixels, batch 64: 170 MB kept after a pass, and a 90 MB lower peak on the next pass with it
    returned). Costs milliseconds, against seconds for the pass."""
    libc = _glibc()
    if libc:
        libc.malloc_trim(0)


def keep_heap_small() -> None:
    """Fix glibc's mmap threshold at :data:`MMAP_THRESHOLD_BYTES` for this process (and the loader workers
    it forks later); a no-op elsewhere. glibc raises the threshold up to 32 MB as large blocks are freed,
    after which a forward's activation-sized blocks come from the heap, fragment it and are kept: on a
    ResNet-18 at 224 pixels, batch 64, with two loader workers, the memory between batches grew from 100 to
    230 MB over 24 batches, and stayed at 80 MB with the threshold fixed, for about 5% more CPU time (the
    kernel zeroes each new mapping; measured side by side on the shared 2-core machine). Called when a
    :class:`Streamer` is made (streamed evaluation, and the one-off decoding of a small image folder into
    memory); tensor datasets evaluated in memory keep glibc's default."""
    libc = _glibc()
    if libc:
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def stratified_subset(labels: np.ndarray | torch.Tensor, k: int, seed: int) -> np.ndarray:
    """A fixed, class-stratified, seeded subset of ``k`` of the positions of ``labels`` (sorted).

    Class c of n_c images gets k * n_c / N images, rounded by the largest-remainder rule (ties to the
    lower class index) so that the counts add up to exactly ``k``; its images are drawn without
    replacement by a NumPy generator seeded with (seed, c). ``k == N`` gives every position; ``k > N`` is
    refused (:class:`InputError`), since a sidecar recording N images under a request for k would not say
    what was asked.
    """
    labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels, dtype=np.int64)
    n = len(labels)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"`memory.eval_images` must be a positive number of test images, got {k!r}")
    if k > n:  # refused rather than quietly all of them: the command said "a subset of k" already
        raise InputError(
            f"`memory.eval_images` {k}: the test split has only {n} images; drop `memory.eval_images` to "
            f"evaluate all {n}, or give at most {n}"
        )
    if k == n:
        return np.arange(n, dtype=np.int64)
    classes, counts = np.unique(labels, return_counts=True)
    quota = k * counts / n
    take = np.floor(quota).astype(np.int64)
    remainder = quota - take
    order = np.lexsort((np.arange(len(classes)), -remainder))  # largest remainder first, then class order
    take[order[: k - int(take.sum())]] += 1
    chosen = []
    for c, label in enumerate(classes):
        members = np.flatnonzero(labels == label)
        rng = np.random.default_rng([int(seed), int(label)])
        chosen.append(rng.choice(members, size=int(take[c]), replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def subset_record(indices: np.ndarray, n_total: int, seed: int) -> dict[str, Any]:
    """What a sidecar records about an ``--eval-images`` subset (the indices themselves included)."""
    indices = np.asarray(indices, dtype=np.int64)
    return {
        "images": int(len(indices)),
        "of": int(n_total),
        "seed": int(seed),
        "rule": "class-stratified (largest remainder), seeded; positions in the test split's sorted order",
        "indices_sha256": hashlib.sha256(indices.tobytes()).hexdigest(),
        "indices": indices.tolist(),
        "note": "confidence intervals are over fault realisations on this fixed subset of test images",
    }


class EvalImages:
    """A split (or the subset ``indices`` of it) in a fixed order, held in memory or streamed.

    ``stream``: True / False force a path; "auto" holds it in memory when its float32 tensor takes at
    most :data:`STREAM_ABOVE_BYTES`. ``x`` / ``y`` are the tensors of the in-memory path (``x`` is None
    when streamed); :meth:`batches` yields the same (x, y) batches on every call.
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray | None = None, *,
                 stream: bool | str = "auto", workers: int = 2, batch_size: int | None = None) -> None:
        self.dataset = dataset
        self.indices = None if indices is None else np.asarray(indices, dtype=np.int64)
        all_labels = labels_of(dataset)
        self.y = all_labels if self.indices is None else all_labels[torch.from_numpy(self.indices)]
        self.n_images = int(self.y.shape[0])
        self.shape = image_shape(dataset) if len(dataset) else ()
        self.nbytes = 4 * self.n_images * math.prod(self.shape)
        if stream not in (True, False, "auto"):
            raise InputError(f"data.stream must be true, false or \"auto\", got {stream!r}")
        self.in_memory = (self.nbytes <= STREAM_ABOVE_BYTES) if stream == "auto" else not stream
        self.batch_size = int(batch_size or STREAM_BATCH)
        self.workers = workers
        self._streamer: Streamer | None = None
        self.x: torch.Tensor | None = self._materialise() if self.in_memory else None

    def _positions(self) -> np.ndarray:
        return np.arange(len(self.dataset), dtype=np.int64) if self.indices is None else self.indices

    def streamer(self) -> Streamer:
        if self._streamer is None:
            self._streamer = Streamer(self.dataset, self.batch_size, self.workers)
        return self._streamer

    def start(self) -> None:
        """Start a streamed set's loader workers now (see :meth:`Streamer.start`); held sets: no-op."""
        if self.x is None:
            self.streamer().start()

    def _materialise(self) -> torch.Tensor:
        if held_in_memory(self.dataset):
            x = self.dataset.x
            return x if self.indices is None else x[torch.from_numpy(self.indices)]
        return decode_all(self.streamer(), self._positions(), self.shape)

    def batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(x, y) batches in the fixed order (slices of ``x`` in memory; decoded batches when streamed)."""
        if self.x is not None:
            for start in range(0, self.n_images, self.batch_size):
                yield self.x[start : start + self.batch_size], self.y[start : start + self.batch_size]
            return
        yield from self.streamer()(self._positions())

    @property
    def description(self) -> str:
        shape = "x".join(map(str, self.shape))
        size = f"{self.n_images} images of {shape} ({self.nbytes / 2**20:.0f} MiB as float)"
        if self.in_memory:
            return f"{size}, held in memory"
        return f"{size}, {self.streamer().describe()}"

    def identity(self) -> bytes:
        """Bytes that identify these images and labels (for fingerprints): the pixels of in-memory data;
        each file's path, size, time and label, and the preprocessing, for files."""
        if held_in_memory(self.dataset):
            x = self.x if self.x is not None else self._materialise()
            return x.cpu().contiguous().numpy().tobytes() + self.y.cpu().contiguous().numpy().tobytes()
        return self.dataset.identity(self.indices)

    def tensors(self) -> tuple[Any, torch.Tensor]:
        """(x, y): the tensors when in memory, else a :class:`LazyImages` view and the labels."""
        if self.x is not None:
            return self.x, self.y
        return LazyImages(self.dataset, self._positions(), self.streamer), self.y

    def close(self) -> None:
        """Stop the loader's worker processes (they also end with the process)."""
        self._streamer = None


def decode_all(streamer: Streamer, positions: np.ndarray, shape: Sequence[int]) -> torch.Tensor:
    """The images at ``positions`` decoded into one preallocated (N, *shape) tensor."""
    x = torch.empty((len(positions), *shape), dtype=torch.float32)
    at = 0
    for xb, _ in streamer(positions):
        x[at : at + len(xb)] = xb
        at += len(xb)
    return x


class LazyImages:
    """Images of a file dataset at ``positions``, decoded when sliced (a stand-in for an (N, C, H, W) tensor).

    ``x[a:b]`` and ``x[i]`` decode; ``x[index_list]`` gives a lazy view in that order, or the decoded tensor
    when the selection fits in :data:`STREAM_ABOVE_BYTES`. ``contiguous`` returns the view itself (a decoded
    slice is an ordinary tensor the caller may lay out as it likes).
    """

    def __init__(self, dataset: Dataset, positions: np.ndarray, streamer: Any) -> None:
        self.dataset = dataset
        self.positions = np.asarray(positions, dtype=np.int64)
        self._streamer = streamer  # a Streamer, or a callable returning one (created on first use)
        self.shape = torch.Size((len(self.positions), *image_shape(dataset)))

    def _stream(self) -> Streamer:
        if not isinstance(self._streamer, Streamer):
            self._streamer = self._streamer()
        return self._streamer

    def __len__(self) -> int:
        return int(self.shape[0])

    def dim(self) -> int:
        return len(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def contiguous(self, memory_format: Any = None) -> LazyImages:
        return self

    def cpu(self) -> LazyImages:
        return self

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            return decode_all(self._stream(), self.positions[key], self.shape[1:])
        if isinstance(key, (int, np.integer)):
            return decode_all(self._stream(), self.positions[[int(key)]], self.shape[1:])[0]
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        chosen = self.positions[np.asarray(key)]
        if 4 * len(chosen) * math.prod(self.shape[1:]) <= STREAM_ABOVE_BYTES:
            return decode_all(self._stream(), chosen, self.shape[1:])
        return LazyImages(self.dataset, chosen, self._stream)


__all__ = [
    "EvalImages",
    "LazyImages",
    "STREAM_ABOVE_BYTES",
    "STREAM_BATCH",
    "Streamer",
    "decode_all",
    "stratified_subset",
    "subset_record",
]
