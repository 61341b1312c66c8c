"""Share the unchanged layers below a changed one across forwards: record once, replay the prefix.

Used by the Bit-Flip Attack's candidates (:mod:`wcatsim.experiments.attacks`) and by faults confined
to one domain (:mod:`wcatsim.memory.prefix`).  A candidate of the Bit-Flip Attack changes the weights
of one layer ``l``.  Every module that ran
*before* ``l`` in the forward cannot depend on ``l``'s output (data flows forward in execution
order), so its output is the same as in the last full forward at the current codes.  A
:class:`PrefixReplay` records the output of every *unit* (each quantized layer and every leaf module
outside one) in call order during a full forward; a replay from position ``p`` returns the recorded
outputs for the first ``p`` unit calls without computing them and computes the rest as usual.  This
is exact: the replayed tensors are the very tensors the full forward produced, and everything from
``l`` on is computed by the same code.  It works for any model whose forward calls the same modules
in the same order every time (all registry models; a mismatch is detected and raises).

Outputs that the model later modifies in place (``out += identity``, ``ReLU(inplace=True)``) are
found by their version counters after the recording forward: those are stored and returned as
copies, the rest are returned as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import torch
from torch import nn


def forward_units(model: nn.Module, layers: list[nn.Module]) -> list[nn.Module]:
    """The quantized ``layers`` and every leaf module that is not inside one, in module order."""
    layer_ids = {id(m) for m in layers}
    inside: set[int] = set()
    for layer in layers:
        inside.update(id(m) for m in layer.modules())
    units = []
    for module in model.modules():
        if id(module) in layer_ids:
            units.append(module)
        elif id(module) not in inside and next(module.children(), None) is None and module is not model:
            units.append(module)
    return units


class ReplayMismatch(RuntimeError):
    """The model called its modules in another order than when recorded (data-dependent control flow)."""


class PrefixReplay:
    """Records unit outputs of a forward and replays a prefix of them in later forwards."""

    def __init__(self, model: nn.Module, layers: list[nn.Module], mutated: set[int] | None = None) -> None:
        self.units = forward_units(model, layers)
        self._unit_index = {id(m): i for i, m in enumerate(self.units)}
        self._trace: list[tuple[int, Any]] = []  # (unit index, output) in call order
        # call positions whose output is modified in place later; records of the same model on other
        # inputs may share one set (``mutated``), so that each need not find them again
        self._mutated: set[int] = set() if mutated is None else mutated
        self._first_call: dict[int, int] = {}  # unit index -> first call position

    @property
    def recorded(self) -> bool:
        return bool(self._trace)

    def nbytes(self) -> int:
        """Memory held by the record."""
        return sum(out.nbytes for _, out in self._trace if isinstance(out, torch.Tensor))

    def calls(self) -> int:
        """Unit calls recorded (not ``__len__``: an empty record must not make the object falsy)."""
        return len(self._trace)

    def keep_prefix(self, calls: int) -> None:
        """Keep only the first ``calls`` recorded outputs (the rest will not be replayed: memory)."""
        self._trace = self._trace[:calls]
        self._first_call = {index: pos for index, pos in self._first_call.items() if pos < calls}

    def first_call(self, module: nn.Module) -> int:
        """The call position of ``module`` in the recorded forward (the replay prefix for a change there)."""
        return self._first_call[self._unit_index[id(module)]]

    def recording(self) -> AbstractContextManager[None]:
        """Record the unit outputs of the forward run inside this block (replacing the last record)."""
        return self.run(prefix=0, record=True)

    def replaying(self, prefix: int) -> AbstractContextManager[None]:
        """Inside this block, the first ``prefix`` unit calls return their recorded outputs."""
        return self.run(prefix=prefix, record=False)

    @contextmanager
    def run(self, prefix: int, record: bool, keep: int | None = None) -> Iterator[None]:
        """Replay the first ``prefix`` unit calls; compute the rest and, with ``record``, make the result
        the new record (the replayed part stays valid: it did not change).  ``keep``: record only the
        first ``keep`` calls (the rest runs as in a plain forward: nothing held, nothing copied)."""
        if prefix > 0 and not self._trace:
            raise RuntimeError("nothing recorded: run a recording forward first")
        old, mutated = self._trace, self._mutated
        new: list[tuple[int, Any, int]] = []
        counter = [0]

        def wrap(index: int, original: Any) -> Any:
            def forward(*args: Any, **kwargs: Any) -> Any:
                pos = counter[0]
                counter[0] += 1
                if pos < prefix:
                    if pos >= len(old) or old[pos][0] != index:
                        raise ReplayMismatch(
                            "the model called its modules in a different order than in the recorded forward"
                        )
                    out = old[pos][1]
                    if record:
                        new.append((index, out, -1))
                    return out.clone() if pos in mutated else out
                out = original(*args, **kwargs)
                if record and (keep is None or pos < keep):
                    if isinstance(out, torch.Tensor):
                        stored = out.detach().clone() if pos in mutated else out.detach()
                        new.append((index, stored, out._version))
                    else:
                        new.append((index, out, -1))
                return out

            return forward

        with _patched(self.units, wrap):
            yield
        if not record:
            return
        clean = True
        for pos, (_, stored, version) in enumerate(new):
            changed = isinstance(stored, torch.Tensor) and version >= 0 and stored._version != version
            if changed and pos not in mutated:
                # modified in place after it was stored: store a copy from now on
                mutated.add(pos)
                clean = False
        # A record whose outputs were changed after being stored is unusable; the next one clones them.
        self._trace = [(i, out) for i, out, _ in new] if clean else []
        self._first_call = {}
        for pos, (index, _) in enumerate(self._trace):
            self._first_call.setdefault(index, pos)


@contextmanager
def _patched(units: list[nn.Module], wrap: Any) -> Iterator[None]:
    """Temporarily replace each unit's ``forward`` (instance attribute) by ``wrap(index, old_forward)``."""
    saved = []
    try:
        for index, unit in enumerate(units):
            had_own = "forward" in unit.__dict__
            saved.append((unit, had_own, unit.__dict__.get("forward")))
            unit.forward = wrap(index, unit.forward)
        yield
    finally:
        for unit, had_own, own in reversed(saved):
            if had_own:
                unit.forward = own
            else:
                del unit.__dict__["forward"]
