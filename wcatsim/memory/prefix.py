"""Faults confined to later layers reuse the clean prefix: per-batch records of the clean forward.

A read whose faults all lie in layers from ``l`` on (the plan's per-domain sensitivity curves: one
domain faulty at a time, at every voltage and on every planning chip) leaves every activation before
``l``'s first call unchanged.  :class:`CleanPrefix` keeps, per test batch, the unit outputs of the
forward up to there (:class:`wcatsim.memory.replay.PrefixReplay`, the record the Bit-Flip Attack's
candidates share) and replays them, computing only from ``l`` on.  A record holds the clean outputs
before the first faulty layer of the read that made it: a read whose faults start no later only
replays (nothing is stored or copied); one whose faults start later replays the record and extends it
up to its own first faulty layer (the outputs after that are never held).

Exact: the replayed tensors are the ones a full forward at the clean prefix computes, and everything
from ``l`` on runs the same code on the same inputs in the same batches as
:func:`wcatsim.train.evaluate.predict` (the tests compare the curves with ``torch.equal``).  Memory is
bounded: records are kept while they total at most ``memory_bytes``; a batch beyond that runs whole,
so an ImageNet network's test set is never held.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn

# Bytes the per-batch records may hold.  ResNet-20 keeps about 2.6 MB per 32x32 image for its whole
# forward (measured for the Bit-Flip Attack's records, wcatsim.experiments.attacks.evaluation), so 2 GiB
# hold the prefix of several hundred images; batches beyond it are evaluated whole (slower, not wrong).
PREFIX_MEMORY = 2 << 30


class CleanPrefix:
    """Per-batch records of a model's clean prefix, replayed for reads whose faults start later.

    Parameters
    ----------
    layers : mapping of str to nn.Module
        The model's quantized layers by qualified name (the units a fault can change).
    memory_bytes : int
        The most the records may hold together (default :data:`PREFIX_MEMORY`).
    """

    def __init__(self, layers: Mapping[str, nn.Module], memory_bytes: int = PREFIX_MEMORY) -> None:
        self.layers = dict(layers)
        self.memory_bytes = int(memory_bytes)
        self._replays: dict[int, object] = {}  # batch index -> PrefixReplay
        self._valid: dict[int, int] = {}  # batch index -> recorded calls that are the clean prefix
        self._bytes: dict[int, int] = {}
        self._mutated: set[int] = set()  # shared by every batch's record: found once
        self._whole: set[int] = set()  # batches evaluated without a record (over the memory budget)
        self._position: dict[str, int] | None = None  # each layer's first call in the forward
        self.replayed_calls = 0  # unit calls answered from a record (for the record)

    def start(self, changed: Sequence[str]) -> int:
        """The call position from which a read changing ``changed`` layers differs from the clean
        forward (0 until one full forward has been recorded)."""
        if self._position is None or not changed:
            return 0
        return min(self._position[name] for name in changed)

    def predict(
        self, model: nn.Module, batches: Sequence[torch.Tensor], changed: Sequence[str]
    ) -> torch.Tensor:
        """Predicted classes (int64, CPU) of ``model`` (already computing with the read's codes) on
        ``batches`` (the same batches, in the same order, at every call), where only the layers named in
        ``changed`` differ from the clean ones."""
        import torch

        from wcatsim.memory.replay import PrefixReplay

        out = []
        model.eval()
        with torch.no_grad():  # not inference_mode: the records need the version counters
            for b, batch in enumerate(batches):
                if b in self._whole:
                    out.append(model(batch).argmax(dim=1).cpu())
                    continue
                replay = self._replays.get(b)
                if replay is None:
                    replay = PrefixReplay(model, list(self.layers.values()), mutated=self._mutated)
                    self._replays[b] = replay
                start = self.start(changed)
                valid = self._valid.get(b, 0)
                if 0 < start <= valid:  # the record covers this read's clean prefix: replay only
                    with replay.replaying(start):
                        out.append(model(batch).argmax(dim=1).cpu())
                    self.replayed_calls += start
                    continue
                prefix = min(start, valid)
                # until the layers' positions are known, the whole forward is recorded once
                keep = start if self._position is not None else None
                with replay.run(prefix=prefix, record=True, keep=keep):
                    logits = model(batch)
                out.append(logits.argmax(dim=1).cpu())
                self.replayed_calls += prefix
                if not replay.recorded:  # in-place outputs found (now known): recorded next time
                    self._valid[b] = 0
                    continue
                if self._position is None and prefix == 0:
                    self._position = {name: replay.first_call(layer) for name, layer in self.layers.items()}
                    start = self.start(changed)
                replay.keep_prefix(start)  # from ``start`` on the record holds this read's faults
                self._valid[b] = start
                self._bytes[b] = replay.nbytes()
                if sum(self._bytes.values()) > self.memory_bytes:
                    del self._replays[b], self._valid[b], self._bytes[b]
                    self._whole.add(b)
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.int64)


__all__ = ["PREFIX_MEMORY", "CleanPrefix"]
