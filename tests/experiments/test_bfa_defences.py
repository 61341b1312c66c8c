"""RADAR-style checksums (Li et al., DATE 2021): signatures against a hand computation, every flip of
the two most significant bits detected in exactly its group, the keyed grouping a balanced partition,
two same-signed top-bit flips in one group seen by the third signature bit, flagged groups zeroed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sram_models.errors import InputError
from wcatsim.experiments.attacks.defences import DEFENCES, Checksum, ChecksumReload

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
    codes = _codes()
    for grouping, sig_bits in (("interleaved", 2), ("keyed", 3)):
        defence = Checksum(group_size=8, seed=3, min_groups=1, signature_bits=sig_bits, grouping=grouping)
        sig = defence.signatures(codes, {"a": BITS, "b": BITS})
        for name, c in codes.items():
            flat = [int(v) for v in c.reshape(-1)]
            key = [int(k) for k in defence.key(name, len(flat))]
            groups = -(-len(flat) // 8)
            index = ([i % groups for i in range(len(flat))] if grouping == "interleaved"
                     else defence.group_index(name, len(flat)).tolist())  # fmt: skip
            assert sig[name].shape == (groups, sig_bits)
            for g in range(groups):
                s = sum(key[i] * flat[i] for i in range(len(flat)) if index[i] == g)
                kept = [BITS, BITS - 1, BITS - 2][-sig_bits:]
                expected = [(s >> b) & 1 for b in kept]  # Python's >> floors negatives too
                assert sig[name][g].tolist() == expected, (grouping, name, g, s)


def test_groups_follow_the_size_and_minimum_rule_and_the_keyed_grouping_is_a_balanced_partition() -> None:
    defence = Checksum(group_size=16, min_groups=64)
    # max(ceil(n/16), min(n, 64)): by hand
    assert [defence.groups(n) for n in (1, 10, 64, 144, 1024, 1040, 4608)] == [1, 10, 64, 64, 64, 65, 288]
    for n in (10, 144, 1040):
        g = defence.groups(n)
        index = defence.group_index("conv", n).tolist()
        sizes = [index.count(j) for j in range(g)]
        assert max(sizes) - min(sizes) <= 1 and sum(sizes) == n, (n, sizes)
        assert index != [i % g for i in range(n)], "the keyed grouping is the plain interleaving"
        assert defence.group_index("conv", n).tolist() == index, "the grouping is not reproducible"
        assert Checksum(seed=1, min_groups=64).group_index("conv", n).tolist() != index, "the seed is unused"


def test_two_same_signed_top_bit_flips_in_one_group_need_the_third_signature_bit() -> None:
    # one group of two weights, both keys read by hand; flips that move k*c by +8 each: S changes by 16
    codes = {"w": torch.tensor([1, 2], dtype=torch.int8)}
    bits = {"w": BITS}
    for sig_bits, seen in ((2, False), (3, True)):
        defence = Checksum(group_size=2, min_groups=1, signature_bits=sig_bits)
        key = [int(k) for k in defence.key("w", 2)]
        # bit 3 of a non-negative 4-bit code: c -> c - 8, so k*c changes by -8k; pick the second flip's
        # sign to match the first by flipping a negative code (c -> c + 8) where the keys differ
        attacked = [_flip(1, BITS - 1), _flip(2, BITS - 1)] if key[0] == key[1] else None
        if attacked is None:
            codes = {"w": torch.tensor([1, -6], dtype=torch.int8)}
            attacked = [_flip(1, BITS - 1), _flip(-6, BITS - 1)]
        change = sum(k * (a - int(c)) for k, a, c in zip(key, attacked, codes["w"], strict=True))
        assert abs(change) == 16, change
        ref = defence.reference(codes, bits)
        flagged = defence.flagged(ref, {"w": torch.tensor(attacked, dtype=torch.int8)}, bits)
        assert bool(flagged["w"][0]) is seen, (sig_bits, key, attacked)


@pytest.mark.parametrize("bit", [BITS - 1, BITS - 2])
def test_every_single_msb_flip_is_flagged_in_exactly_its_group(bit: int) -> None:
    defence, codes = Checksum(group_size=8, min_groups=4), _codes()
    bits = {"a": BITS, "b": BITS}
    ref = defence.reference(codes, bits)
    assert not any(f.any() for f in defence.flagged(ref, codes, bits).values()), "clean image flagged"
    for name, c in codes.items():
        for i in range(c.numel()):
            attacked = {k: v.clone() for k, v in codes.items()}
            flat = attacked[name].view(-1)
            flat[i] = _flip(int(flat[i]), bit)
            flagged = defence.flagged(ref, attacked, bits)
            group = int(defence.group_index(name, c.numel())[i])
            assert flagged[name].nonzero().flatten().tolist() == [group], (name, i, bit)
            assert not any(f.any() for k, f in flagged.items() if k != name)
            assert defence.detected([(name, i)], flagged, {k: v.numel() for k, v in codes.items()}) == 1


def test_repair_zeroes_exactly_the_flagged_groups() -> None:
    defence, codes = Checksum(group_size=8, min_groups=1), _codes()
    flagged = {"a": torch.zeros(7, dtype=torch.bool), "b": torch.zeros(5, dtype=torch.bool)}
    flagged["a"][2] = True
    flagged["b"][4] = True
    out = defence.repair(codes, flagged)
    for name, c in codes.items():
        index = defence.group_index(name, c.numel())
        for i, (before, after) in enumerate(zip(c.reshape(-1).tolist(), out[name].reshape(-1).tolist(),
                                                strict=True)):
            assert after == (0 if flagged[name][index[i]] else before), (name, i)
        assert out[name].shape == c.shape and out[name].dtype == c.dtype


def test_reload_rewrites_exactly_the_flagged_groups_from_the_clean_codes() -> None:
    defence, clean = ChecksumReload(group_size=8, min_groups=1), _codes()
    reference = defence.reference(clean, {"a": BITS, "b": BITS})
    attacked = {name: c.clone() for name, c in clean.items()}
    attacked["a"].view(-1)[3] = _flip(int(clean["a"].view(-1)[3]), BITS - 1)  # a top-bit flip: detected
    attacked["b"].view(-1)[10] = _flip(int(clean["b"].view(-1)[10]), 0)  # bit 0: below the signature
    flagged = defence.flagged(reference, attacked, {"a": BITS, "b": BITS})
    out = defence.recover(reference, attacked, flagged)
    for name, c in attacked.items():
        index = defence.group_index(name, c.numel())
        for i, (now, before, after) in enumerate(zip(c.reshape(-1).tolist(), clean[name].reshape(-1).tolist(),
                                                     out[name].reshape(-1).tolist(), strict=True)):
            assert after == (before if flagged[name][index[i]] else now), (name, i)
    assert out["a"].view(-1)[3] == clean["a"].view(-1)[3]  # the detected flip undone
    assert out["b"].view(-1)[10] != clean["b"].view(-1)[10]  # the undetected one stays
    # the golden copy is a copy: the attack on the stored codes cannot reach it
    attacked["a"].view(-1)[0] += 1
    assert torch.equal(reference["golden"]["a"], clean["a"])
    # zeroing (checksum) and reloading flag the same groups
    assert all(torch.equal(flagged[n], f) for n, f in Checksum(group_size=8, min_groups=1).flagged(
        Checksum(group_size=8, min_groups=1).reference(clean, {"a": BITS, "b": BITS}), attacked,
        {"a": BITS, "b": BITS}).items())


def test_bfa_with_reload_undoes_the_detected_flips_and_prices_the_reload(digits_runs, tmp_path) -> None:
    from wcatsim.experiments.attacks.bfa import run_bfa
    from wcatsim.experiments.attacks.defences import BIT_READ_PJ, DRAM_BIT_PJ
    from wcatsim.image import run_from_image, weight_image
    from wcatsim.train.runs import load_run

    run = load_run(digits_runs["maxabs"], device="cpu")
    result = run_bfa(run, trials=1, seed=0, write=False, defence="checksum-reload")
    s = result.summary
    zeroing = run_bfa(run, trials=1, seed=0, write=False, defence="checksum").summary
    flips = s["flips_to_break"][0]
    assert s["defence"] == "checksum-reload" and s["detected_flips"] == zeroing["detected_flips"]
    assert s["flagged_groups"] == zeroing["flagged_groups"]
    # the image the model reads, built by hand: a flipped weight keeps its attacked code only where its
    # group was not flagged (the flags of the checksum's signatures, tested against a hand computation
    # above); every other weight is the clean one
    image = weight_image(run.model)
    defence = ChecksumReload()
    clean = {name: img.codes.reshape(-1).tolist() for name, img in image.items()}
    attacked = {name: list(v) for name, v in clean.items()}
    rows = [r for r in result.trials[0].rows if int(r["flip"]) <= flips]
    for r in rows:
        attacked[r["layer"]][int(r["index"])] = int(r["code_after"])
    bits = {name: img.bits for name, img in image.items()}
    as_tensors = {name: torch.tensor(v, dtype=image[name].codes.dtype).reshape(image[name].codes.shape)
                  for name, v in attacked.items()}  # fmt: skip
    reference = defence.reference({n: img.codes for n, img in image.items()}, bits)
    flagged = defence.flagged(reference, as_tensors, bits)
    index = {name: defence.group_index(name, len(v)).tolist() for name, v in clean.items()}
    read = {name: [clean[name][i] if bool(flagged[name][index[name][i]]) else attacked[name][i]
                   for i in range(len(v))] for name, v in clean.items()}  # fmt: skip
    undone = sum(read[r["layer"]][int(r["index"])] == clean[r["layer"]][int(r["index"])] for r in rows)
    assert undone == s["detected_flips"][0] > 0, (undone, s["detected_flips"])
    x, y = run.data.test_tensors()
    tensors = {name: torch.tensor(v, dtype=image[name].codes.dtype).reshape(image[name].codes.shape)
               for name, v in read.items()}  # fmt: skip
    with torch.no_grad(), run_from_image(run.model, tensors):
        correct = int((run.model(x).argmax(dim=1) == y).sum())
    assert s["defended_acc"][0] == pytest.approx(100.0 * correct / len(y)), (s["defended_acc"], correct)
    # the reload's price: every weight of a flagged group, N bits each, read off-chip and written back
    members = sum(sum(1 for g in index[name] if bool(flagged[name][g])) * bits[name] for name in clean)
    assert s["reloaded_bits"][0] == members
    assert s["reload_energy_pj"][0] == pytest.approx(members * (DRAM_BIT_PJ + BIT_READ_PJ))
    assert DRAM_BIT_PJ == pytest.approx(2600 / 64)  # Horowitz, ISSCC 2014: 2.6 nJ per 64-bit DRAM access


def test_every_defence_has_output_names_of_its_own() -> None:
    from wcatsim.experiments.attacks.objectives import ATTACK_OBJECTIVES
    from wcatsim.store.files import BFA_DEFENCES, BFA_OBJECTIVES, OUTPUTS, bfa_family

    # the store cannot import the registries (it sits below them): the names it reserves must agree
    assert set(BFA_DEFENCES) == set(DEFENCES.names())
    assert set(BFA_OBJECTIVES) == set(ATTACK_OBJECTIVES.names())
    families = {bfa_family(d, o) for d in DEFENCES.names() for o in ATTACK_OBJECTIVES.names()}
    assert {f for f in OUTPUTS if f.startswith("bfa")} == families
    names = [n for f in families for n in OUTPUTS[f]]
    assert len(names) == len(set(names)) == 4 * len(families)
    assert OUTPUTS[bfa_family("secded-zero")][:2] == ("bfa_secded-zero_flips.csv",
                                                      "bfa_secded-zero_summary.json")
    assert OUTPUTS[bfa_family("none")][:2] == ("bfa_flips.csv", "bfa_summary.json")  # as before issue 20
    assert OUTPUTS[bfa_family("checksum", "targeted")][:2] == ("bfa_targeted_checksum_flips.csv",
                                                               "bfa_targeted_checksum_summary.json")
    # another command's --out may not take a defended attack's name; the refusal names the attack
    from wcatsim.store.files import check_table_path

    with pytest.raises(InputError, match=r"`wcatsim bfa --defence checksum`'s bfa_checksum_flips.csv"):
        check_table_path(Path("bfa_checksum_flips.csv"), "random_flip")


def test_the_registry_has_none_checksum_and_the_memory_schemes() -> None:
    assert DEFENCES.names() == ("none", "checksum", "checksum-reload", "secded", "secded-zero", "parity-zero")
    codes = _codes()
    assert not any(f.any() for f in DEFENCES.get("none")().flagged(None, codes, {}).values())
    with pytest.raises(InputError, match="group_size"):
        Checksum(group_size=0)
    with pytest.raises(InputError, match="grouping"):
        Checksum(grouping="random")


def test_bfa_with_checksums_counts_the_detected_flips_as_a_hand_check_does(digits_runs, tmp_path) -> None:
    from wcatsim.experiments.attacks.bfa import run_bfa
    from wcatsim.image import run_from_image, weight_image
    from wcatsim.store.atomic import read_csv
    from wcatsim.train.runs import load_run

    run = load_run(digits_runs["maxabs"], device="cpu")
    s = run_bfa(run, trials=1, seed=0, out_dir=tmp_path, defence="checksum").summary
    assert s["defence"] == "checksum" and s["defence_group_size"] == 16 and s["defence_min_groups"] == 256
    flips = s["flips_to_break"][0]
    # an attack against a defence keeps its own files: the undefended attack's names stay free
    assert not (tmp_path / "bfa_flips.csv").exists() and not (tmp_path / "bfa_summary.json").exists()
    assert json.loads((tmp_path / "bfa_checksum_summary.json").read_text())["flips_to_break"] == [flips]
    rows = [r for r in read_csv(tmp_path / "bfa_checksum_flips.csv") if int(r["flip"]) <= flips]
    image = weight_image(run.model)
    clean = {name: [int(v) for v in img.codes.reshape(-1)] for name, img in image.items()}
    attacked = {name: list(values) for name, values in clean.items()}
    for r in rows:
        attacked[r["layer"]][int(r["index"])] = int(r["code_after"])
    defence = Checksum()

    index = {name: defence.group_index(name, len(values)).tolist() for name, values in clean.items()}

    def signature(values: list[int], key: list[int], members: list[int], n_bits: int) -> list[int]:
        total = sum(key[i] * values[i] for i in members)
        return [(total >> b) & 1 for b in (n_bits, n_bits - 1, n_bits - 2)]

    flagged: dict[tuple[str, int], bool] = {}
    for r in rows:
        layer, n = r["layer"], len(clean[r["layer"]])
        key = [int(k) for k in defence.key(layer, n)]
        g = index[layer][int(r["index"])]
        if (layer, g) not in flagged:
            bits, members = image[layer].bits, [i for i in range(n) if index[layer][i] == g]
            flagged[layer, g] = (signature(clean[layer], key, members, bits)
                                 != signature(attacked[layer], key, members, bits))  # fmt: skip
    expected = sum(flagged[r["layer"], index[r["layer"]][int(r["index"])]] for r in rows)
    assert s["detected_flips"] == [expected], (s["detected_flips"], expected, flips)
    assert 0 < s["flagged_groups"][0] <= flips
    sizes = {name: len(values) for name, values in clean.items()}
    stored = sum(4 * n for n in sizes.values())
    assert s["defence_area"] == pytest.approx(s["defence_signature_bits"] / stored)
    assert s["defence_signature_bits"] == sum(3 * defence.groups(n) for n in sizes.values())
    # accuracy after zeroing the flagged groups, recounted with the zeroed codes built by hand (a group
    # flagged only by a flip's group: other groups cannot change, so no other group can be flagged)
    zeroed = {}
    for name, values in attacked.items():
        out = [0 if flagged.get((name, index[name][i]), False) else v for i, v in enumerate(values)]
        zeroed[name] = torch.tensor(out, dtype=image[name].codes.dtype).reshape(image[name].codes.shape)
    x, y = run.data.test_tensors()
    with torch.no_grad(), run_from_image(run.model, zeroed):
        correct = int((run.model(x).argmax(dim=1) == y).sum())
    assert s["defended_acc"][0] == pytest.approx(100.0 * correct / len(y)), (s["defended_acc"], correct)


def test_the_checksum_price_is_its_signature_bits_adds_and_reads_by_hand() -> None:
    sizes, bits = {"a": 100, "b": 5000}, {"a": 4, "b": 8}
    cost = Checksum(group_size=16, min_groups=64, signature_bits=3).cost(sizes, bits)
    # a: max(ceil(100/16)=7, min(100, 64)=64) = 64 groups; b: max(313, 64) = 313 groups; 3 bits each
    signature = (64 + 313) * 3
    weight_bits = 100 * 4 + 5000 * 8
    assert cost["defence_signature_bits"] == signature == 1131
    assert cost["defence_area"] == pytest.approx(1131 / 40400)
    # Horowitz (ISSCC 2014): 0.03 pJ per 8-bit add, 10 pJ per 64-bit read
    energy = 5100 * 0.03 + 1131 * 10 / 64
    assert cost["defence_energy_adds"] == 5100 and cost["defence_energy_signature_reads"] == 1131
    assert cost["defence_energy_pj"] == pytest.approx(energy)
    assert cost["defence_energy_overhead"] == pytest.approx(energy / (weight_bits * 10 / 64))
    assert cost["defence_time_overhead"] == 0.01 and "RADAR" in cost["defence_time_source"]
    assert DEFENCES.get("none")().cost(sizes, bits)["defence_area"] == 0.0


def _word_codes() -> dict[str, torch.Tensor]:
    # 40 4-bit weights = words of 16 weights: 0..15, 16..31, 32..39 (+ padding)
    return {"a": torch.arange(40, dtype=torch.int8).remainder(16).sub(8).reshape(5, 8)}


@pytest.mark.parametrize(
    ("scheme", "flips", "read_zeroed_words", "read_as_attacked", "detected"),
    [
        ("secded", [(3, 3)], [], False, 1),  # one flip: corrected
        ("secded", [(3, 3), (20, 1)], [], False, 2),  # one per word: both corrected
        ("secded-zero", [(3, 3), (5, 2)], [0], False, 2),  # two in word 0: detected, word zeroed
        ("parity-zero", [(3, 3)], [0], False, 1),  # odd: word zeroed
        ("parity-zero", [(3, 3), (5, 2)], [], True, 0),  # even: parity blind, read as stored
    ],
)
def test_a_memory_scheme_reads_the_attacked_cells_as_its_policy_says(scheme, flips, read_zeroed_words,
                                                                     read_as_attacked, detected) -> None:
    defence = DEFENCES.get(scheme)()
    codes = _word_codes()
    bits = {"a": BITS}
    attacked = codes["a"].clone().reshape(-1)
    for index, bit in flips:
        attacked[index] = _flip(int(attacked[index]), bit)
    found, words, read, cells = defence.check(defence.reference(codes, bits), {"a": attacked.reshape(5, 8)},
                                              bits)  # fmt: skip
    assert sorted(cells) == sorted(("a", i, b) for i, b in flips)
    expected = (attacked if read_as_attacked else codes["a"].reshape(-1)).clone()
    for word in read_zeroed_words:
        expected[16 * word: 16 * word + 16] = 0
    assert read["a"].reshape(-1).tolist() == expected.tolist(), (scheme, flips)
    assert read["a"].shape == (5, 8) and read["a"].dtype == torch.int8
    assert found == detected, (scheme, found)
    assert words == (0 if read_as_attacked else len({i // 16 for i, _ in flips})), words


def test_a_memory_scheme_prices_its_check_bits_by_hand() -> None:
    sizes, bits = {"a": 100, "b": 60}, {"a": 4, "b": 4}
    # 160 weights, 16 per 64-bit word: 10 words; SECDED (72, 64): 8 check bits a word, parity 1
    assert DEFENCES.get("secded")().cost(sizes, bits)["defence_signature_bits"] == 80
    assert DEFENCES.get("secded")().cost(sizes, bits)["defence_area"] == pytest.approx(80 / 640)
    assert DEFENCES.get("parity-zero")().cost(sizes, bits)["defence_area"] == pytest.approx(10 / 640)
    with pytest.raises(InputError, match="one weight width"):
        DEFENCES.get("secded")().cost(sizes, {"a": 4, "b": 8})


def test_bfa_with_parity_zero_reads_what_a_hand_count_of_parities_gives(digits_runs, tmp_path) -> None:
    from wcatsim.experiments.attacks.bfa import run_bfa
    from wcatsim.image import run_from_image, weight_image
    from wcatsim.store.atomic import read_csv
    from wcatsim.train.runs import load_run

    run = load_run(digits_runs["maxabs"], device="cpu")
    s = run_bfa(run, trials=1, seed=0, out_dir=tmp_path, defence="parity-zero").summary
    assert s["defence"] == "parity-zero" and s["defence_time_overhead"] is None
    flips = s["flips_to_break"][0]
    image = weight_image(run.model)
    # the memory holds the layers in image order, 16 4-bit weights per 64-bit word
    clean = [int(v) for img in image.values() for v in img.codes.reshape(-1)]
    start, at = {}, 0
    for name, img in image.items():
        start[name], at = at, at + img.codes.numel()
    attacked = list(clean)
    for r in read_csv(tmp_path / "bfa_parity-zero_flips.csv"):
        if int(r["flip"]) <= flips:
            attacked[start[r["layer"]] + int(r["index"])] = int(r["code_after"])
    flipped_bits = [bin((a ^ c) & 0xF).count("1") for a, c in zip(attacked, clean, strict=True)]
    read = list(attacked)
    zeroed = 0
    for word in range(0, len(clean), 16):
        if sum(flipped_bits[word: word + 16]) % 2:
            read[word: word + 16] = [0] * len(read[word: word + 16])
            zeroed += 1
    assert s["flagged_groups"] == [zeroed]
    codes = {name: torch.tensor(read[start[name]: start[name] + img.codes.numel()], dtype=img.codes.dtype)
             .reshape(img.codes.shape) for name, img in image.items()}  # fmt: skip
    x, y = run.data.test_tensors()
    with torch.no_grad(), run_from_image(run.model, codes):
        correct = int((run.model(x).argmax(dim=1) == y).sum())
    assert s["defended_acc"][0] == pytest.approx(100.0 * correct / len(y)), (s["defended_acc"], correct)


def test_defended_stop_judges_the_image_as_read_through_the_defence() -> None:
    from wcatsim.experiments.attacks.defences import DefendedStop

    class Recorder:
        subset = 7

        def __init__(self) -> None:
            self.seen: list[dict[str, torch.Tensor]] = []

        def check(self, codes):
            self.seen.append(codes)
            return "checked"

        def accuracy(self, codes):
            self.seen.append(codes)
            return 1.0

    defence, codes = Checksum(group_size=8, min_groups=1), _codes()
    bits = {"a": BITS, "b": BITS}
    ref = defence.reference(codes, bits)
    attacked = {k: v.clone() for k, v in codes.items()}
    attacked["a"][3] = _flip(int(attacked["a"][3]), BITS - 1)
    inner = Recorder()
    judge = DefendedStop(inner, defence, ref, bits)
    assert judge.check(attacked) == "checked" and judge.accuracy(attacked) == 1.0 and judge.subset == 7
    group = defence.group_index("a", attacked["a"].numel())
    expected = torch.where(group == group[3], torch.zeros_like(attacked["a"]), attacked["a"])
    for seen in inner.seen:
        assert seen["a"].tolist() == expected.tolist() and seen["b"].tolist() == codes["b"].tolist()


def test_bfa_with_a_defended_break_records_it_and_needs_a_defence(digits_runs, tmp_path) -> None:
    from wcatsim.experiments.attacks.bfa import run_bfa
    from wcatsim.train.runs import load_run

    run = load_run(digits_runs["maxabs"], device="cpu")
    with pytest.raises(InputError, match="needs a defence"):
        run_bfa(run, trials=1, write=False, defended_break=True)
    plain = run_bfa(run, trials=1, seed=0, write=False, defence="checksum", max_flips=30).summary
    s = run_bfa(run, trials=1, seed=0, write=False, defence="checksum", max_flips=30,
                defended_break=True).summary  # fmt: skip
    assert s["defended_break"] is True and "defended_break" not in plain
    # the undefended model breaks within 30 flips; every one of those flips is caught, so the defended
    # model holds longer: it needs more flips than the undefended one, or survives the budget
    assert plain["broken"] == [True], plain["flips_to_break"]
    assert s["flips_to_break"][0] > plain["flips_to_break"][0] or not s["broken"][0], s["flips_to_break"]
