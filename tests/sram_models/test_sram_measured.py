"""Measured fault maps: the .npz format, the NeuralFuse importer, the mapping onto an image (known
stuck cells give exactly the known changed weights), and `wcatsim sram import-map`."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from sram_models import ChipMeasurement, InputError, MeasuredFaultMap, MemoryImage, WordLayout, import_listing
from sram_models.measured import map_onto_image
from tests.naive import naive_measured_stuck


def _chip(rows=4, cols=16, banks=1, voltages=(0.9,), stuck0=((),), stuck1=((),), unit="V"):
    return ChipMeasurement(rows, cols, banks, tuple(voltages), tuple(np.asarray(a, np.int64) for a in stuck0),
                           tuple(np.asarray(b, np.int64) for b in stuck1), voltage_unit=unit)  # fmt: skip


def test_known_stuck_cells_change_exactly_the_known_weights() -> None:
    # 32 zero weights of 4 bits in 16-bit words: 8 words = 128 cells on a 4 x 16 = 64-cell chip: 2 tiles.
    image = MemoryImage.pack({"w": np.zeros(32, int)}, WordLayout(bits=4, word_bits=16))
    # measured cell 5 (row 0, col 5) stuck at 1: image cell 5 = word 0 bit 5 = weight 1 bit 1 -> 2, and in
    # the second tile cell 64 + 5 = word 4 bit 5 = weight 17 bit 1 -> 2.  Cell 7 stuck at 0 stores 0:
    # no change.
    chip = _chip(stuck0=([7],), stuck1=([5],))
    result = MeasuredFaultMap(chip=chip).corrupt(image, voltage=0.9)
    want = np.zeros(32, int)
    want[[1, 17]] = 2
    np.testing.assert_array_equal(result.codes["w"], want)
    assert (result.faulty_cells, result.cells_changed, result.bits_changed) == (4, 2, 2)
    # the conventions of every stuck model: rate = faulty cells / cells, bit error rate = half of it
    measured = MeasuredFaultMap(chip=chip)
    assert measured.rate(0.9) == 2 / 64 and measured.bit_error_rate(0.9) == 1 / 64
    # with a tile offset of 3 the second tile reads measured cell (L mod 64 + 3) mod 64: cell 5 is read by
    # L = 64 + 2 = word 4 bit 2 = weight 16 bit 2 -> 4
    shifted = MeasuredFaultMap(chip=chip, tile_offset=3).corrupt(image, voltage=0.9)
    want = np.zeros(32, int)
    want[1], want[16] = 2, 4
    np.testing.assert_array_equal(shifted.codes["w"], want)


def test_stuck_at_zero_changes_only_stored_ones_and_sign_bits_flip_sign() -> None:
    image = MemoryImage.pack({"w": np.array([-1, 7, 0, 0])}, WordLayout(bits=4, word_bits=16))
    # -1 = 1111: cell 3 (its sign) stuck at 0 -> 0111 = 7; 7 = 0111: cell 4 (its bit 0) stuck at 0 -> 6;
    # cell 11 (sign of weight 2, stores 0) stuck at 1 -> 1000 = -8
    chip = _chip(rows=1, cols=16, stuck0=([3, 4],), stuck1=([11],))
    result = MeasuredFaultMap(chip=chip).corrupt(image, voltage=0.9)
    assert result.codes["w"].tolist() == [7, 6, -8, 0]
    layout = WordLayout(bits=4, word_bits=16, protect="msb-8t")
    protected = MemoryImage.pack({"w": np.array([-1, 7, 0, 0])}, layout)
    assert MeasuredFaultMap(chip=chip).corrupt(protected, voltage=0.9).codes["w"].tolist() == [-1, 6, 0, 0]


@pytest.mark.parametrize("interleave,offset", [(1, 0), (2, 0), (3, 5), (1, 37)])
def test_mapping_matches_the_naive_cell_by_cell_placement(interleave: int, offset: int) -> None:
    rng = np.random.default_rng(interleave + offset)
    layout = WordLayout(bits=4, word_bits=16, ecc="secded", rows=8, interleave=interleave)
    image = MemoryImage.pack({"w": rng.integers(-8, 8, size=4 * 61)}, layout)  # 61 words of 22 cells
    n_chip = 3 * 5 * 7  # a chip smaller than the image: several tiles, none aligned to rows
    faulty = rng.choice(n_chip, size=20, replace=False)
    values = rng.integers(0, 2, size=20)
    positions, which = map_onto_image(faulty, n_chip, image, offset)
    got = dict(zip(positions.tolist(), values[which].tolist(), strict=True))
    want = naive_measured_stuck(image.n_words, layout.phys_bits, interleave, n_chip, offset,
                                dict(zip(faulty.tolist(), values.tolist(), strict=True)))  # fmt: skip
    assert got == want and len(positions) == len(set(positions.tolist()))
    # physical_location agrees with the placement: the column and row the image gives each cell
    loc = image.physical_location(positions)
    linear = (loc["array"] * layout.rows + loc["row"]) * layout.phys_bits * interleave + loc["column"]
    np.testing.assert_array_equal((linear % n_chip + (linear // n_chip) * offset) % n_chip, faulty[which])


def _write_dense(folder, name, bitmap) -> None:
    (folder / name).write_text("\n".join(",".join(str(int(x)) for x in row) for row in bitmap) + "\n")


def test_import_neuralfuse_listing_save_load_and_nesting(tmp_path) -> None:
    rng = np.random.default_rng(0)
    big = (10, 20)  # larger than the kept 8 x 16: the importer keeps the top-left corner, as NeuralFuse does
    weak = rng.random(big)
    one = rng.random(big) < 0.5
    for v, rate in ((0.9, 0.02), (0.8, 0.1)):
        faulty = weak < rate  # nested: the 0.9 V faulty set lies inside the 0.8 V one
        _write_dense(tmp_path, f"fmap_sa0_v_{v}.txt", faulty & ~one)
        _write_dense(tmp_path, f"fmap_sa1_v_{v}.txt", faulty & one)
    # 0.7 V as an address list that drops one 0.8 V faulty cell: not nested
    keep = np.argwhere((weak < 0.1)[:8, :16])[1:]
    lines = ["# row,col,stuck"] + [f"{r},{c},{int(one[r, c])}" for r, c in keep] + ["7 15 1"]
    (tmp_path / "faults_v_0.7.txt").write_text("\n".join(lines) + "\n")
    chip = import_listing(tmp_path, 8, 16)
    assert chip.voltages == (0.9, 0.8, 0.7) and chip.n_cells == 128
    for v, rate in ((0.9, 0.02), (0.8, 0.1)):
        faulty = (weak < rate)[:8, :16]
        assert chip.faulty_rate(v) == faulty.sum() / 128
        assert chip.share_stuck0(v) == (faulty & ~one[:8, :16]).sum() / faulty.sum()
        stuck1 = np.flatnonzero((faulty & one[:8, :16]).ravel())
        np.testing.assert_array_equal(chip.stuck1[chip.index(v)], stuck1)
    assert [ok for _, _, ok in chip.nested()] == [True, False]
    path = chip.save(tmp_path / "chip.npz")
    back = ChipMeasurement.load(path)
    assert back.fingerprint() == chip.fingerprint() and back.voltages == chip.voltages
    swapped = import_listing(tmp_path, 8, 16, swap_polarity=True)
    np.testing.assert_array_equal(swapped.stuck0[0], chip.stuck1[0])


def test_bad_maps_are_one_line_errors(tmp_path) -> None:
    with pytest.raises(InputError, match="stuck at 0 and at 1"):
        _chip(stuck0=([3],), stuck1=([3],))
    with pytest.raises(InputError, match="outside 0..63"):
        _chip(stuck1=([64],))
    with pytest.raises(InputError, match="holds no measurement at 0.5 V; it holds 0.9"):
        _chip().index(0.5)
    _write_dense(tmp_path, "fmap_sa0_v_0.9.txt", np.zeros((4, 4)))
    with pytest.raises(InputError, match="no partner"):
        import_listing(tmp_path, 4, 4)
    _write_dense(tmp_path, "fmap_sa1_v_0.9.txt", np.full((4, 4), 2))
    with pytest.raises(InputError, match="only 0 and 1"):
        import_listing(tmp_path, 4, 4)
    with pytest.raises(InputError, match="smaller than `option.rows` 8"):
        import_listing(tmp_path, 8, 4)
    with pytest.raises(InputError, match="is not a .npz fault map"):
        ChipMeasurement.load(tmp_path / "fmap_sa0_v_0.9.txt")


def test_import_map_command_prints_rates_and_nesting(tmp_path) -> None:
    from wcatsim.cli.sram import sram

    listing = tmp_path / "chip_n"
    listing.mkdir()
    a = np.zeros((4, 8), int)
    a[0, 1] = 1
    b = np.zeros((4, 8), int)
    b[2, 3] = b[3, 7] = 1
    _write_dense(listing, "fmap_sa0_v_0.8.txt", a)
    _write_dense(listing, "fmap_sa1_v_0.8.txt", b)
    _write_dense(listing, "fmap_sa0_v_0.9.txt", np.zeros((4, 8), int))
    _write_dense(listing, "fmap_sa1_v_0.9.txt", b * 0 + (np.arange(32).reshape(4, 8) == 31))
    out = tmp_path / "map.npz"
    args = ["import-map", str(listing), "--rows", "4", "--cols", "8", "--out", str(out)]
    result = CliRunner().invoke(sram, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("chip_n: 1 bank(s) x 4 x 8 cells, 2 voltages (V)")
    assert lines[2].split() == ["0.9", "1", "0.03125", "0.000", "-"]
    assert lines[3].split() == ["0.8", "3", "0.09375", "0.333", "yes"]  # cell 31 = (3, 7) is faulty at both
    assert "nested: yes" in result.output and out.exists()
    again = CliRunner().invoke(sram, args)
    assert again.exit_code == 2 and "exists" in again.output
