"""Transient bit-error injection speed (issue 2, "Speed").

11,000,000 4-bit weights (a ResNet-18-sized image) packed into 64-bit words,
transient model at BER 1e-4 and 1e-2, measured side by side in this run:

- naive: what the original WCAT code does -- a float32 uniform tensor of shape
  (weights, bits) compared with the BER, cast to int32, multiplied by powers of
  two, summed per weight, XORed into the int16 codes (torch, its default threads);
- sram_models: ``Transient(ber).corrupt(image, seed)`` -- copy of the packed words
  plus sparse XOR (geometric skips, work ∝ flips) and the read statistics.  It
  does NOT unpack: the unpack into int16 codes (``result.codes``) is timed on its
  own line, and the "+ unpack" line gives the end-to-end figure comparable with
  the naive method's output;
- copy: ``image.words.copy()``, the physical floor of any injection that leaves
  the clean image untouched.

Each time is the minimum over repeats.  The last line is
``inject: naive_ratio_1e-4=X naive_ratio_1e-2=Y copy_ratio_1e-4=Z`` where the
naive ratios are naive time / injection time and copy_ratio is injection time /
copy time (goals: >= 1000, >= 50, <= 3).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

N_WEIGHTS = 11_000_000
BITS = 4
BERS = (1e-4, 1e-2)


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def naive_inject(codes, ber: float, generator):
    """The original WCAT injection (torch), exactly as issue 2 describes it."""
    import torch

    flips = (torch.rand(codes.numel(), BITS, generator=generator) < ber).to(torch.int32)
    powers = 2 ** torch.arange(BITS, dtype=torch.int32)
    mask = (flips * powers).sum(dim=1).to(torch.int16)
    return codes ^ mask


def main() -> None:
    import torch

    from sram_models import MemoryImage, Transient, WordLayout

    rng = np.random.default_rng(0)
    codes = rng.integers(-(1 << (BITS - 1)), 1 << (BITS - 1), size=N_WEIGHTS, dtype=np.int16)
    image = MemoryImage.pack({"weights": codes}, WordLayout(bits=BITS, word_bits=64))
    codes_t = torch.from_numpy(codes)
    gen = torch.Generator().manual_seed(0)
    print(
        f"{N_WEIGHTS:,} {BITS}-bit weights in {image.n_words:,} 64-bit words "
        f"({image.words.nbytes / 1e6:.1f} MB); torch threads: {torch.get_num_threads()}"
    )

    # warm up: numba compile/cache load, first-touch allocations
    _ = Transient(1e-3).corrupt(image, seed=0).codes
    copy_s = best_time(lambda: image.words.copy(), 50)

    rows, ratios = [], {}
    for ber in BERS:
        model = Transient(ber)
        seeds = iter(range(1, 10_000))
        naive_s = best_time(lambda: naive_inject(codes_t, ber, gen), 3)  # noqa: B023
        inject_s = best_time(lambda: model.corrupt(image, seed=next(seeds)), 50)  # noqa: B023
        result = model.corrupt(image, seed=12345)
        unpack_s = best_time(lambda: result.image.unpack(), 5)  # noqa: B023
        flips = result.faulty_cells
        rows += [
            (ber, "naive (torch, rand (weights, bits) < ber, XOR codes)", naive_s, "int16 codes"),
            (ber, "sram_models corrupt: copy + sparse XOR (no unpack)", inject_s, f"packed, {flips} flips"),
            (ber, "sram_models unpack (result.codes)", unpack_s, "int16 codes"),
            (ber, "sram_models corrupt + unpack", inject_s + unpack_s, "int16 codes"),
            (ber, "copy of the packed image (floor)", copy_s, "packed image"),
        ]
        ratios[ber] = (naive_s / inject_s, inject_s / copy_s, naive_s / (inject_s + unpack_s))

    print(f"\n{'ber':>7}  {'method':<55} {'ms':>9}  {'naive/this':>10}  output")
    for ber, name, seconds, output in rows:
        naive_s = next(s for b, n, s, _ in rows if b == ber and n.startswith("naive"))
        print(f"{ber:>7.0e}  {name:<55} {seconds * 1e3:9.3f}  {naive_s / seconds:10.1f}  {output}")
    print(
        f"\nend to end (corrupt + unpack into codes): {ratios[1e-4][2]:.0f}x naive at 1e-4, "
        f"{ratios[1e-2][2]:.0f}x at 1e-2"
    )
    print(
        f"inject: naive_ratio_1e-4={ratios[1e-4][0]:.0f} naive_ratio_1e-2={ratios[1e-2][0]:.0f} "
        f"copy_ratio_1e-4={ratios[1e-4][1]:.2f}"
    )


if __name__ == "__main__":
    main()
