"""Defences against the Bit-Flip Attack, registered in :data:`DEFENCES` (issue 20 §3).

``checksum`` is RADAR-style run-time detection (Li, Rakin, He, Fan and Chakrabarti, DATE 2021): each
quantized layer's weights are split into ``G`` groups; each group keeps a short signature of a keyed sum of
its integer codes, ``S = sum_i k_i c_i`` with a secret ``k_i = ±1`` per weight (the key stops an attacker
from choosing flips whose changes cancel in a plain sum).  Flipping bit ``j`` of one code changes ``S`` by
``±2^j``, which toggles bit ``j`` of ``S``, so one flip of a bit the signature keeps is always detected.
RADAR keeps bits ``N-1`` and ``N-2`` of ``S`` (``N`` the weight's bits), interleaves the groups (weight
``i`` in group ``i mod G``) and zeroes a flagged group; it reports 9.6 of 10 flips detected on ResNet-18.

Three choices within that design, each measured on the digits CNN (docs/defences.md):

- the groups are dealt by a secret permutation instead of ``i mod G``: when ``G`` is a multiple of the
  filter size, ``i mod G`` puts the same weight position of several filters in one group, and the BFA
  flips exactly such weights together (two flips in one group can cancel);
- at least ``min_groups`` groups per layer: small layers (the first conv's 144 weights) take many flips and
  lose a large share of their weights when a group is zeroed;
- bit ``N`` of ``S`` beside ``N-1`` and ``N-2``: two top-bit flips of the same sign in one group change
  ``S`` by ``±2^N``, which bits ``N-1`` and ``N-2`` cannot see.

Flips of bits below ``N-2`` are not seen (the BFA flips almost only the two top bits); flips whose keyed
changes cancel in one group are not seen.  A flagged group is zeroed (RADAR's recovery); with
``checksum-reload`` it is rewritten from the golden off-chip copy instead (:class:`ChecksumReload`).

``secded``, ``secded-zero`` and ``parity-zero`` are the weight memory's protection schemes
(``sram_models.protection``) against the attack (:class:`ProtectedMemory`): the attacker's flips are
flips of stored data cells, and the model reads what the scheme's read policy returns.  Each defence
states its price (``cost``: area, energy per inference, time, with sources).

Here the attacker is *unaware* of the defence (as in RADAR's evaluation): the attack runs as without
it; the defence checks the attacked image afterwards, at the undefended break, or, with
:class:`DefendedStop` (``bfa --defended-break``), at every step until the model as read through the
defence breaks.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from sram_models.errors import InputError
from sram_models.registry import Registry

DEFENCES: Registry = Registry("defence", homes=(__name__,))

# Weights per group.  RADAR evaluates several group sizes; 16 is this project's choice (smaller groups
# detect more and zero less at once, at more signature bits: 2 bits per 16 N-bit weights).
GROUP_SIZE = 16
# Fewest groups per layer (capped at the layer's size).  The digits CNN's first layer has 144 weights
# (9 groups of 16) and takes about half of an attack's flips: with 9 groups, flips shared a group in
# every trial and a zeroed group removed a ninth of the layer (restored accuracy 21%, measured in
# docs/defences.md).  256 gives any layer of <= 256 weights one signature per weight and costs a layer at
# most 256 * SIGNATURE_BITS bits; layers above 4096 weights keep groups of 16.
MIN_GROUPS = 256
# Bit N of the keyed sum beside RADAR's N-1 and N-2: two top-bit flips of the same sign in one group
# change S by +-2^N, which bits N-1 and N-2 cannot see (measured: docs/defences.md).
SIGNATURE_BITS = 3


# Energy figures of one source and node, so that their ratio means something: M. Horowitz, "Computing's
# energy problem (and what we can do about it)", ISSCC 2014, 45 nm, 0.9 V: an 8-bit integer add 0.03 pJ;
# a 64-bit read of an 8 KB SRAM 10 pJ, i.e. 10/64 pJ per bit.  The group's accumulator is N + 5 bits wide
# (9 for 4-bit codes); the 8-bit add stands for it (a stated approximation: wider for N = 8).
ADD_PJ = 0.03
BIT_READ_PJ = 10.0 / 64
ENERGY_SOURCE = (
    "Horowitz, 'Computing's energy problem', ISSCC 2014, 45 nm: 8-bit integer add 0.03 pJ, 8 KB SRAM read "
    "10 pJ per 64 bits; the weights are read for inference anyway, the check adds one add per weight "
    "(keyed +-c into its group's sum) and one read of every signature bit per inference"
)
TIME_SOURCE = ("RADAR (Li et al., DATE 2021) reports < 1% extra inference time (gem5 system simulation, "
               "ResNet-18/ImageNet); not measured here")


def weight_bits(sizes: dict[str, int], bits: dict[str, int]) -> int:
    """Stored weight bits of a model: per layer, its weights times its N."""
    return sum(n * bits[name] for name, n in sizes.items())


@DEFENCES.register("none")
class NoDefence:
    """No defence: nothing is detected or repaired."""

    name = "none"
    detects = False

    def reference(self, codes: dict[str, torch.Tensor], bits: dict[str, int]) -> None:
        """Nothing is stored."""
        return None

    def cost(self, sizes: dict[str, int], bits: dict[str, int]) -> dict[str, Any]:
        """Nothing: no extra bit, energy or time."""
        return {"defence_area": 0.0, "defence_energy_overhead": 0.0, "defence_time_overhead": 0.0}

    def flagged(self, reference: None, codes: dict[str, torch.Tensor],
                bits: dict[str, int]) -> dict[str, torch.Tensor]:
        """No group is flagged (empty masks)."""
        return {name: torch.zeros(0, dtype=torch.bool) for name in codes}


@DEFENCES.register("checksum")
class Checksum:
    """RADAR-style signatures over secretly assigned weight groups; flagged groups are zeroed.

    Parameters
    ----------
    group_size : int
        Largest group (a layer of ``n`` weights has at least ``ceil(n / group_size)`` groups).
    seed : int
        Seed of the secret ±1 key and of the secret grouping.
    min_groups : int
        Fewest groups per layer (capped at ``n``): a small layer gets smaller groups, so that the many
        flips an attack puts into it rarely share a group and a zeroed group removes little of it.
    signature_bits : int
        Bits of the keyed sum kept per group, from bit ``N-2`` up: 2 is RADAR's (bits ``N-1``, ``N-2``),
        3 adds bit ``N``, which sees two same-signed flips of the top bit in one group (``S`` changes by
        ``±2^N``).
    grouping : {"keyed", "interleaved"}
        ``interleaved``: weight ``i`` in group ``i mod G`` (RADAR's); ``keyed``: a secret seeded
        permutation deals the weights into the groups, so that weights an attack flips together (the same
        kernel tap of several filters, ``G`` apart in memory when ``G`` divides the filter size) do not
        share a group.
    """

    name = "checksum"
    detects = True

    def __init__(self, group_size: int = GROUP_SIZE, seed: int = 0, min_groups: int = MIN_GROUPS,
                 signature_bits: int = SIGNATURE_BITS, grouping: str = "keyed") -> None:
        for label, value in (("group_size", group_size), ("min_groups", min_groups),
                             ("signature_bits", signature_bits)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{label} must be a positive integer, got {value!r}")
        if grouping not in ("keyed", "interleaved"):
            raise InputError(f"grouping must be 'keyed' or 'interleaved', got {grouping!r}")
        self.group_size = group_size
        self.seed = seed
        self.min_groups = min_groups
        self.signature_bits = signature_bits
        self.grouping = grouping

    def settings(self) -> dict[str, Any]:
        """What the attack's summary records of this defence."""
        return {
            "defence": self.name,
            "defence_group_size": self.group_size,
            "defence_min_groups": self.min_groups,
            "defence_signature_bits": self.signature_bits,
            "defence_grouping": self.grouping,
            "defence_rule": (
                "RADAR-style (Li et al., DATE 2021): per layer, max(ceil(n/defence_group_size), "
                "min(n, defence_min_groups)) groups of weights, dealt by a secret permutation (keyed) or "
                "weight i to group i mod G (interleaved); each group keeps defence_signature_bits bits of "
                "its keyed sum sum(k_i c_i), k_i = +-1 secret, from bit N-2 up; a group whose signature "
                "changed is zeroed; the attacker is unaware (the attack runs as undefended; the defence "
                "checks the image at the break)"
            ),
        }

    def groups(self, n: int) -> int:
        """Groups of a layer of ``n`` weights."""
        return max(1, math.ceil(n / self.group_size), min(n, self.min_groups))

    def cost(self, sizes: dict[str, int], bits: dict[str, int]) -> dict[str, Any]:
        """The defence's price for a model of ``sizes`` weights per layer (``bits``: each layer's N).

        Returns
        -------
        dict
            ``defence_signature_bits`` (bits kept beside the weights); ``defence_area`` (signature bits
            per stored weight bit); ``defence_energy_adds`` and ``defence_energy_signature_reads`` (per
            inference); ``defence_energy_pj`` (pJ per inference, :data:`ENERGY_SOURCE`);
            ``defence_energy_overhead`` (that energy over the weight bits' read energy, a fraction);
            ``defence_time_overhead`` (RADAR's reported bound, a fraction, :data:`TIME_SOURCE`) and the
            sources.
        """
        signature = sum(self.groups(n) * self.signature_bits for n in sizes.values())
        adds = sum(sizes.values())
        energy = adds * ADD_PJ + signature * BIT_READ_PJ
        return {
            "defence_signature_bits": signature,
            "defence_area": signature / weight_bits(sizes, bits),
            "defence_energy_adds": adds,
            "defence_energy_signature_reads": signature,
            "defence_energy_pj": energy,
            "defence_energy_overhead": energy / (weight_bits(sizes, bits) * BIT_READ_PJ),
            "defence_energy_source": ENERGY_SOURCE,
            "defence_time_overhead": 0.01,
            "defence_time_source": TIME_SOURCE,
            "defence_source": ("Li, Rakin, He, Fan and Chakrabarti, 'RADAR: run-time adversarial weight "
                               "attack detection and accuracy recovery', DATE 2021"),
        }

    def _rng(self, layer: str, purpose: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, purpose, *layer.encode()])

    def group_index(self, layer: str, n: int) -> torch.Tensor:
        """Group of each of a layer's ``n`` weights (int64)."""
        g = self.groups(n)
        if self.grouping == "interleaved":
            return torch.arange(n) % g
        # weight perm[j] goes to group j mod G: sizes as even as interleaving, membership secret
        perm = self._rng(layer, 1).permutation(n)
        index = np.empty(n, dtype=np.int64)
        index[perm] = np.arange(n) % g
        return torch.from_numpy(index)

    def key(self, layer: str, n: int) -> torch.Tensor:
        """The secret ±1 key of a layer's ``n`` weights (int64), seeded by ``seed`` and the layer's name."""
        salt = [self.seed, *layer.encode()]
        signs = np.random.default_rng(salt).integers(0, 2, size=n) * 2 - 1
        return torch.from_numpy(signs.astype(np.int64))

    def signature_bit_positions(self, n_bits: int) -> list[int]:
        """Bits of the keyed sum kept for ``n_bits``-bit codes, most significant first."""
        low = max(n_bits - 2, 0)
        return list(range(low + self.signature_bits - 1, low - 1, -1))

    def signatures(self, codes: dict[str, torch.Tensor], bits: dict[str, int]) -> dict[str, torch.Tensor]:
        """Per layer, a ``(G, signature_bits)`` int64 tensor: the kept bits of each group's keyed sum."""
        out = {}
        for name, c in codes.items():
            flat = c.reshape(-1).to(torch.int64)
            n = flat.numel()
            sums = torch.zeros(self.groups(n), dtype=torch.int64).index_add_(
                0, self.group_index(name, n), flat * self.key(name, n))
            # floor division and mod 2 on int64 give the two's-complement bits of S (negative S too)
            out[name] = torch.stack([torch.div(sums, 2 ** b, rounding_mode="floor") % 2
                                     for b in self.signature_bit_positions(bits[name])], dim=1)
        return out

    def reference(self, codes: dict[str, torch.Tensor], bits: dict[str, int]) -> dict[str, torch.Tensor]:
        """The signatures of the clean image (kept beside the weights)."""
        return self.signatures(codes, bits)

    def flagged(self, reference: dict[str, torch.Tensor], codes: dict[str, torch.Tensor],
                bits: dict[str, int]) -> dict[str, torch.Tensor]:
        """Per layer, a bool tensor over its groups: the signature differs from the reference."""
        now = self.signatures(codes, bits)
        return {name: (now[name] != reference[name]).any(dim=1) for name in codes}

    def repair(self, codes: dict[str, torch.Tensor],
               flagged: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A copy of ``codes`` with every weight of a flagged group set to 0."""
        out = {}
        for name, c in codes.items():
            zero = flagged[name][self.group_index(name, c.numel())].reshape(c.shape)
            out[name] = torch.where(zero, torch.zeros_like(c), c)
        return out

    def recover(self, reference: Any, codes: dict[str, torch.Tensor],
                flagged: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """What the model computes with once ``flagged`` groups are found: here they are zeroed (RADAR's)."""
        return self.repair(codes, flagged)

    def read(self, reference: Any, codes: dict[str, torch.Tensor],
             bits: dict[str, int]) -> dict[str, torch.Tensor]:
        """What the model computes with: ``codes`` with the groups whose signature changed recovered."""
        return self.recover(reference, codes, self.flagged(reference, codes, bits))

    def detected(self, flips: list[tuple[str, int]], flagged: dict[str, torch.Tensor],
                 sizes: dict[str, int]) -> int:
        """How many of the flipped weights ``(layer, flat index)`` lie in a flagged group."""
        index = {layer: self.group_index(layer, sizes[layer]) for layer in {f[0] for f in flips}}
        return sum(int(flagged[layer][index[layer][i]]) for layer, i in flips)


# A golden copy's read: M. Horowitz, ISSCC 2014 (the source of ADD_PJ and BIT_READ_PJ), 45 nm: a 64-bit
# DRAM access 1.3-2.6 nJ; the upper end, so that the reload is not priced below what it may cost.
DRAM_BIT_PJ = 2600.0 / 64


@DEFENCES.register("checksum-reload")
class ChecksumReload(Checksum):
    """``checksum``'s detection; a flagged group is reloaded from the golden copy of the weights.

    An accelerator loads its weights into the SRAM from an off-chip copy (DRAM or flash) that the attack
    on the on-chip memory does not reach; instead of zeroing a flagged group (RADAR's recovery, whose
    restored accuracy is bounded by what zeroing the flipped weights leaves: 92.0% against 98.14% clean
    on the digits maxabs model, docs/defences.md), the check rewrites the group from that copy (the
    idea of weight reconstruction, Li et al., DAC 2020, with the copy as the reference).  Every detected
    flip is then undone exactly; an undetected one stays.  Price: the signatures and checks of
    ``checksum`` per inference, plus, per detection, the flagged groups' bits read from DRAM
    (:data:`DRAM_BIT_PJ`) and written into the SRAM (``reload_energy_pj`` per trial); the golden copy
    itself is the off-chip image the accelerator loads from anyway (no on-chip area).
    """

    name = "checksum-reload"

    def settings(self) -> dict[str, Any]:
        """What the attack's summary records of this defence (``checksum``'s, with its recovery)."""
        out = super().settings()
        out["defence"] = self.name
        out["defence_rule"] = out["defence_rule"].replace(
            "a group whose signature changed is zeroed",
            "a group whose signature changed is rewritten from the golden (off-chip) copy")
        return out

    def cost(self, sizes: dict[str, int], bits: dict[str, int]) -> dict[str, Any]:
        """``checksum``'s price per inference, and the reload's price per flagged weight bit."""
        out = super().cost(sizes, bits)
        out["defence_reload_pj_per_bit"] = DRAM_BIT_PJ + BIT_READ_PJ  # read off-chip, write the SRAM word
        out["defence_reload_source"] = ("Horowitz, ISSCC 2014, 45 nm: 64-bit DRAM access 1.3-2.6 nJ (2.6 "
                                        "taken), the SRAM write priced as its read (10 pJ per 64 bits)")
        out["defence_source"] += "; recovery by reloading from the golden copy (cf. Li et al., DAC 2020)"
        return out

    def reference(self, codes: dict[str, torch.Tensor], bits: dict[str, int]) -> dict[str, Any]:
        """The clean image's signatures (on chip) and the clean codes (the off-chip golden copy)."""
        return {"signatures": super().reference(codes, bits),
                "golden": {name: c.clone() for name, c in codes.items()}}

    def flagged(self, reference: dict[str, Any], codes: dict[str, torch.Tensor],
                bits: dict[str, int]) -> dict[str, torch.Tensor]:
        """Per layer, the groups whose signature differs from the clean image's."""
        return super().flagged(reference["signatures"], codes, bits)

    def recover(self, reference: dict[str, Any], codes: dict[str, torch.Tensor],
                flagged: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A copy of ``codes`` with every weight of a flagged group rewritten from the golden copy."""
        out = {}
        for name, c in codes.items():
            reload = flagged[name][self.group_index(name, c.numel())].reshape(c.shape)
            out[name] = torch.where(reload, reference["golden"][name], c)
        return out


def codes_after(clean_codes: dict[str, torch.Tensor], rows: list[dict[str, Any]],
                flips: int) -> dict[str, torch.Tensor]:
    """The image after the first ``flips`` flips of a trial's log (``rows``), from a copy of the clean one."""
    codes = {name: c.clone() for name, c in clean_codes.items()}
    for row in rows:
        if row["flip"] <= flips:
            codes[row["layer"]].view(-1)[int(row["index"])] = int(row["code_after"])
    return codes


class ProtectedMemory:
    """A protection scheme of the weight memory (``sram_models.protection``) against the attack.

    The attacker's flips are flips of stored data cells (the attacker unaware of the check bits); the
    image is packed into 64-bit words with the scheme's check bits written from the clean weights, and
    what the model reads is what the scheme's read policy returns (a corrected word, a zeroed word, or
    the word as stored).  ``msb-8t`` and ``bit-mask`` are not registered: 8T cells resist low voltage,
    not a deliberate flip, and bit masking needs a detector of unstable cells, which a flipped healthy
    cell is not.

    Parameters
    ----------
    scheme : str
        The protection scheme (``secded``, ``secded-zero`` or ``parity-zero``).
    word_bits : int
        Data bits per word (64, the project's default memory word).
    """

    detects = True

    def __init__(self, scheme: str, word_bits: int = 64) -> None:
        self.name = scheme
        self.word_bits = word_bits

    def settings(self) -> dict[str, Any]:
        """What the attack's summary records of this defence."""
        return {
            "defence": self.name,
            "defence_word_bits": self.word_bits,
            "defence_rule": (
                f"the weights packed {self.word_bits} data bits a word with the {self.name} scheme's check "
                "bits written from the clean image; the attack's flips are flips of stored data cells; the "
                "model reads what the scheme's read policy returns; a flip is detected when the read "
                "changed its word; the attacker is unaware (the attack runs as undefended)"
            ),
        }

    def _layout(self, bits: dict[str, int]) -> Any:
        from sram_models.layout import WordLayout

        widths = set(bits.values())
        if len(widths) != 1:
            raise InputError(f"defence {self.name!r} packs one weight width per memory, got {sorted(widths)}")
        return WordLayout(bits=widths.pop(), word_bits=self.word_bits, protect=self.name)

    def reference(self, codes: dict[str, torch.Tensor], bits: dict[str, int]) -> Any:
        """The clean image packed with its check bits (a ``sram_models.layout.MemoryImage``)."""
        from sram_models.layout import MemoryImage

        return MemoryImage.pack({name: c.numpy() for name, c in codes.items()}, self._layout(bits))

    def check(self, reference: Any, codes: dict[str, torch.Tensor],
              bits: dict[str, int]) -> tuple[int, int, dict[str, torch.Tensor], list[tuple[str, int, int]]]:
        """Store the attacked ``codes`` over ``reference``'s cells and read them through the scheme.

        Returns
        -------
        tuple
            Flipped cells in a word the read changed, words the read changed, the codes read (per layer,
            the shape and dtype of ``codes``), and the flipped cells as ``(layer, index, bit)``.
        """
        image = reference
        n_bits = image.layout.bits
        words = image.words.copy()
        flipped, cells = [], []
        clean = {name: torch.from_numpy(values.astype(np.int64)) for name, values in image.unpack().items()}
        for name, c in codes.items():
            diff = (clean[name].reshape(-1) ^ c.reshape(-1).to(torch.int64)) & ((1 << n_bits) - 1)
            for index in diff.nonzero().flatten().tolist():
                for bit in range(n_bits):
                    if int(diff[index]) >> bit & 1:
                        flipped.append((name, index, bit))
                        cells.append(image.cell_positions(name, index, bit))
        for cell in cells:
            word, offset = divmod(cell, image.layout.phys_bits)
            words[word, offset // 64] ^= np.uint64(1) << np.uint64(offset % 64)
        attacked = image.with_words(words)
        read_words = attacked.read_words()
        changed = (read_words != words).any(axis=1)
        detected = sum(int(changed[cell // image.layout.phys_bits]) for cell in cells)
        read = {name: torch.from_numpy(values.astype(np.int64)).reshape(codes[name].shape)
                .to(codes[name].dtype) for name, values in attacked.unpack().items()}
        return detected, int(changed.sum()), read, flipped

    def read(self, reference: Any, codes: dict[str, torch.Tensor],
             bits: dict[str, int]) -> dict[str, torch.Tensor]:
        """What the model computes with: ``codes`` stored over the clean cells, read through the scheme."""
        return self.check(reference, codes, bits)[2]

    def cost(self, sizes: dict[str, int], bits: dict[str, int]) -> dict[str, Any]:
        """Check bits per weight bit (area) and their reads per inference (energy); the decoder's energy and
        time are not modelled (no figure here)."""
        layout = self._layout(bits)
        stored = weight_bits(sizes, bits)
        words = math.ceil(sum(sizes.values()) / layout.weights_per_word)
        check = words * layout.check_bits
        return {
            "defence_signature_bits": check,
            "defence_area": check / stored,
            "defence_energy_adds": 0,
            "defence_energy_signature_reads": check,
            "defence_energy_pj": check * BIT_READ_PJ,
            "defence_energy_overhead": check / stored,
            "defence_energy_source": (ENERGY_SOURCE.split(";")[0] + "; the check bits are read with their "
                                      "word; the decoder's logic is not counted"),
            "defence_time_overhead": None,
            "defence_time_source": "not modelled: the decoder sits in the read path (no figure here)",
            "defence_source": layout.scheme.source,
        }


for _scheme, _doc in (
    ("secded", "SECDED per 64-bit word: a read corrects one flipped bit per word"),
    ("secded-zero", "SECDED per 64-bit word: a word with a detected error reads as 0"),
    ("parity-zero", "one parity bit per 64-bit word: a word failing it reads as 0"),
):
    DEFENCES.register(_scheme, functools.partial(ProtectedMemory, _scheme), doc=_doc)


class DefendedStop:
    """A stop rule that judges the image the model reads through a defence (``bfa --defended-break``).

    The attacker stays unaware of the defence (its search sees the stored codes) but observes the
    defended model: it goes on flipping until the image as read through the defence breaks.  Every other
    attribute is the wrapped evaluator's.

    Parameters
    ----------
    evaluator : object
        The objective's stop rule (``check`` and ``accuracy`` of a code image).
    defence : Checksum or ProtectedMemory
        A detecting defence.
    reference : object
        ``defence.reference`` of the clean image.
    bits : dict
        Per layer, its N.
    """

    def __init__(self, evaluator: Any, defence: Any, reference: Any, bits: dict[str, int]) -> None:
        self._evaluator, self._defence, self._reference, self._bits = evaluator, defence, reference, bits

    def __getattr__(self, name: str) -> Any:
        return getattr(self._evaluator, name)

    def _read(self, codes: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self._defence.read(self._reference, codes, self._bits)

    def check(self, codes: dict[str, torch.Tensor]) -> Any:
        """The wrapped check of the image as read through the defence."""
        return self._evaluator.check(self._read(codes))

    def accuracy(self, codes: dict[str, torch.Tensor]) -> float:
        """The wrapped accuracy of the image as read through the defence."""
        return self._evaluator.accuracy(self._read(codes))


def defend_trial(defence: Any, reference: Any, clean_codes: dict[str, torch.Tensor],
                 rows: list[dict[str, Any]], flips: int, bits: dict[str, int],
                 accuracy: Callable[[dict[str, torch.Tensor]], float]) -> dict[str, Any]:
    """The defence's check of one trial's attacked image (the attacker unaware of it).

    Parameters
    ----------
    defence : Checksum or ProtectedMemory
        A detecting defence.
    reference : object
        ``defence.reference`` of the clean image.
    clean_codes : dict
        The clean image.
    rows : list of dict
        The trial's flip log (``layer``, ``index``, ``code_after``, ``flip``).
    flips : int
        Flips of the log the attacked image holds (those to the break).
    bits : dict
        Per layer, its N.
    accuracy : callable
        Whole-test-set accuracy (percent) of an image.

    Returns
    -------
    dict
        ``detected_flips`` (flipped weights in a flagged group; for a memory scheme, flipped cells in a
        word its read changed), ``flagged_groups`` (groups zeroed or reloaded, or words changed by the
        read, all layers) and ``defended_acc`` (percent, after the recovery or through the read);
        ``checksum-reload`` adds ``reloaded_bits`` and ``reload_energy_pj`` (the recovery's price).
    """
    codes = codes_after(clean_codes, rows, flips)
    if isinstance(defence, ProtectedMemory):
        detected, flagged_count, read, _ = defence.check(reference, codes, bits)
        return {"detected_flips": detected, "flagged_groups": flagged_count, "defended_acc": accuracy(read)}
    flagged = defence.flagged(reference, codes, bits)
    sizes = {name: c.numel() for name, c in codes.items()}
    flipped = [(row["layer"], int(row["index"])) for row in rows if row["flip"] <= flips]
    out = {
        "detected_flips": defence.detected(flipped, flagged, sizes),
        "flagged_groups": sum(int(f.sum()) for f in flagged.values()),
        "defended_acc": accuracy(defence.recover(reference, codes, flagged)),
    }
    if isinstance(defence, ChecksumReload):  # the flagged groups' bits, read off-chip and rewritten
        reloaded = sum(int(np.bincount(defence.group_index(name, sizes[name]).numpy(),
                                       minlength=f.numel())[f.numpy()].sum()) * bits[name]
                       for name, f in flagged.items())  # fmt: skip
        out["reloaded_bits"] = reloaded
        out["reload_energy_pj"] = reloaded * (DRAM_BIT_PJ + BIT_READ_PJ)
    return out


__all__ = [
    "ADD_PJ", "BIT_READ_PJ", "DEFENCES", "DRAM_BIT_PJ", "ENERGY_SOURCE", "GROUP_SIZE", "MIN_GROUPS",
    "SIGNATURE_BITS", "TIME_SOURCE", "Checksum", "ChecksumReload", "DefendedStop", "NoDefence",
    "ProtectedMemory", "codes_after", "defend_trial", "weight_bits",
]
