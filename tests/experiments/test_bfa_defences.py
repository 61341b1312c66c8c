"""RADAR-style checksums (Li et al., DATE 2021): signatures against a hand computation, every flip of
the two most significant bits detected in exactly its group, flagged groups zeroed."""

from __future__ import annotations

import pytest
import torch

from sram_models.errors import InputError
from wcatsim.experiments.attacks.defences import DEFENCES, Checksum

BITS = 4


def _codes(n: int = 50, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"a": torch.randint(-8, 8, (n,), generator=g, dtype=torch.int8),
            "b": torch.randint(-8, 8, (5, 7), generator=g, dtype=torch.int8)}


def _flip(code: int, bit: int) -> int:
    """Two's-complement N-bit flip by hand."""
    u = (code + (1 << BITS)) % (1 << BITS) ^ (1 << bit)
    return u - (1 << BITS) if u >= 1 << (BITS - 1) else u


def test_signatures_match_a_hand_computation() -> None:
    defence, codes = Checksum(group_size=8, seed=3), _codes()
    sig = defence.signatures(codes, {"a": BITS, "b": BITS})
    for name, c in codes.items():
        flat = [int(v) for v in c.reshape(-1)]
        key = [int(k) for k in defence.key(name, len(flat))]
        groups = -(-len(flat) // 8)
        assert sig[name].shape == (groups, 2)
        for g in range(groups):
            s = sum(key[i] * flat[i] for i in range(len(flat)) if i % groups == g)
            expected = [(s >> (BITS - 1)) & 1, (s >> (BITS - 2)) & 1]  # Python's >> floors negatives too
            assert sig[name][g].tolist() == expected, (name, g, s)


@pytest.mark.parametrize("bit", [BITS - 1, BITS - 2])
def test_every_single_msb_flip_is_flagged_in_exactly_its_group(bit: int) -> None:
    defence, codes = Checksum(group_size=8), _codes()
    bits = {"a": BITS, "b": BITS}
    ref = defence.reference(codes, bits)
    assert not any(f.any() for f in defence.flagged(ref, codes, bits).values()), "clean image flagged"
    for name, c in codes.items():
        for i in range(c.numel()):
            attacked = {k: v.clone() for k, v in codes.items()}
            flat = attacked[name].view(-1)
            flat[i] = _flip(int(flat[i]), bit)
            flagged = defence.flagged(ref, attacked, bits)
            groups = defence.groups(c.numel())
            assert flagged[name].nonzero().flatten().tolist() == [i % groups], (name, i, bit)
            assert not any(f.any() for k, f in flagged.items() if k != name)
            assert defence.detected([(name, i)], flagged, {k: v.numel() for k, v in codes.items()}) == 1


def test_repair_zeroes_exactly_the_flagged_groups() -> None:
    defence, codes = Checksum(group_size=8), _codes()
    flagged = {"a": torch.zeros(7, dtype=torch.bool), "b": torch.zeros(5, dtype=torch.bool)}
    flagged["a"][2] = True
    flagged["b"][4] = True
    out = defence.repair(codes, flagged)
    for name, c in codes.items():
        groups = defence.groups(c.numel())
        for i, (before, after) in enumerate(zip(c.reshape(-1).tolist(), out[name].reshape(-1).tolist(),
                                                strict=True)):
            assert after == (0 if flagged[name][i % groups] else before), (name, i)
        assert out[name].shape == c.shape and out[name].dtype == c.dtype


def test_the_registry_has_none_and_checksum() -> None:
    assert DEFENCES.names() == ("none", "checksum")
    codes = _codes()
    assert not any(f.any() for f in DEFENCES.get("none")().flagged(None, codes, {}).values())
    with pytest.raises(InputError, match="group_size"):
        Checksum(group_size=0)


def test_bfa_with_checksums_counts_the_detected_flips_as_a_hand_check_does(digits_runs, tmp_path) -> None:
    from wcatsim.experiments.attacks.bfa import run_bfa
    from wcatsim.image import run_from_image, weight_image
    from wcatsim.store.atomic import read_csv
    from wcatsim.train.runs import load_run

    run = load_run(digits_runs["maxabs"], device="cpu")
    s = run_bfa(run, trials=1, seed=0, out_dir=tmp_path, defence="checksum").summary
    assert s["defence"] == "checksum" and s["defence_group_size"] == 16
    flips = s["flips_to_break"][0]
    rows = [r for r in read_csv(tmp_path / "bfa_flips.csv") if int(r["flip"]) <= flips]
    image = weight_image(run.model)
    clean = {name: [int(v) for v in img.codes.reshape(-1)] for name, img in image.items()}
    attacked = {name: list(values) for name, values in clean.items()}
    for r in rows:
        attacked[r["layer"]][int(r["index"])] = int(r["code_after"])
    defence = Checksum()

    def signature(values: list[int], key: list[int], group: int, groups: int, n_bits: int) -> list[int]:
        total = sum(key[i] * values[i] for i in range(group, len(values), groups))
        return [(total >> (n_bits - 1)) & 1, (total >> (n_bits - 2)) & 1]

    flagged: dict[tuple[str, int], bool] = {}
    for r in rows:
        layer, n = r["layer"], len(clean[r["layer"]])
        groups, key = defence.groups(n), [int(k) for k in defence.key(layer, n)]
        g = int(r["index"]) % groups
        if (layer, g) not in flagged:
            bits = image[layer].bits
            flagged[layer, g] = (signature(clean[layer], key, g, groups, bits)
                                 != signature(attacked[layer], key, g, groups, bits))  # fmt: skip
    expected = sum(flagged[r["layer"], int(r["index"]) % defence.groups(len(clean[r["layer"]]))]
                   for r in rows)
    assert s["detected_flips"] == [expected], (s["detected_flips"], expected, flips)
    assert 0 < s["flagged_groups"][0] <= flips
    # accuracy after zeroing the flagged groups, recounted with the zeroed codes built by hand (a group
    # flagged only by a flip's group: other groups cannot change, so no other group can be flagged)
    zeroed = {}
    for name, values in attacked.items():
        groups = defence.groups(len(values))
        out = [0 if flagged.get((name, i % groups), False) else v for i, v in enumerate(values)]
        zeroed[name] = torch.tensor(out, dtype=image[name].codes.dtype).reshape(image[name].codes.shape)
    x, y = run.data.test_tensors()
    with torch.no_grad(), run_from_image(run.model, zeroed):
        correct = int((run.model(x).argmax(dim=1) == y).sum())
    assert s["defended_acc"][0] == pytest.approx(100.0 * correct / len(y)), (s["defended_acc"], correct)
