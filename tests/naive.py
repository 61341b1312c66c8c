"""Slow, obvious reference implementations: every fast kernel is tested against one.

Written for clarity, not speed: plain Python/NumPy loops that anyone can check
by reading.  One section per area; each section is owned by the area's module.
"""

from __future__ import annotations

import math

import numpy as np  # noqa: F401

# ---------------------------------------------------------------- sram_models: packing, faults, ECC, energy
# Words are Python ints: bit b of a word is (word >> b) & 1.  Layout as in sram_models.layout:
# weight s of a word at bits [s*bits, (s+1)*bits), then the Hamming check bits, then the parity bit.


def naive_pack(codes: list[int], bits: int, word_bits: int) -> list[int]:
    """Two's-complement codes, word_bits // bits per word, in order; the last word zero-padded."""
    per_word = word_bits // bits
    n_words = max(1, -(-len(codes) // per_word))
    words = [0] * n_words
    for i, code in enumerate(codes):
        value = code % (1 << bits)  # two's complement in `bits` bits
        words[i // per_word] |= value << ((i % per_word) * bits)
    return words


def naive_unpack(words: list[int], bits: int, word_bits: int, n: int) -> list[int]:
    per_word = word_bits // bits
    out = []
    for i in range(n):
        value = (words[i // per_word] >> ((i % per_word) * bits)) % (1 << bits)
        out.append(value - (1 << bits) if value >= 1 << (bits - 1) else value)
    return out


def naive_image_words(words_array: np.ndarray) -> list[int]:
    """The uint64 lanes of each word of a MemoryImage as one Python int per word."""
    return [sum(int(lane) << (64 * j) for j, lane in enumerate(row)) for row in words_array]


def _hamming_positions(data_bits: int) -> list[int]:
    """Textbook Hamming: data bits take the positions 1, 2, 3, ... that are not powers of two."""
    positions, p = [], 1
    while len(positions) < data_bits:
        if p & (p - 1):
            positions.append(p)
        p += 1
    return positions


def naive_secded_encode(data: int, data_bits: int) -> int:
    """Extended Hamming codeword: data bits, then check bits c_j (parity of the positions with bit j
    set), then an overall parity bit making the whole word even."""
    positions = _hamming_positions(data_bits)
    r = 1
    while (1 << r) < data_bits + r + 1:
        r += 1
    word = data
    for j in range(r):
        c = 0
        for b, pos in enumerate(positions):
            if pos >> j & 1:
                c ^= (data >> b) & 1
        word |= c << (data_bits + j)
    parity = bin(word).count("1") % 2
    return word | (parity << (data_bits + r))


def naive_secded_decode(word: int, data_bits: int) -> tuple[int, str]:
    """(data, status) with status clean / corrected / detected, by trying every single flip."""
    r = 1
    while (1 << r) < data_bits + r + 1:
        r += 1
    n = data_bits + r + 1
    mask = (1 << data_bits) - 1
    if naive_secded_encode(word & mask, data_bits) == word:
        return word & mask, "clean"
    for b in range(n):  # the unique codeword at distance one, if any
        candidate = word ^ (1 << b)
        if naive_secded_encode(candidate & mask, data_bits) == candidate:
            return candidate & mask, "corrected"
    return word & mask, "detected"


def naive_transient(n_cells: int, ber: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of flipped cells: one uniform draw per cell, flipped when below ber."""
    return np.flatnonzero(rng.random(n_cells) < ber)


def naive_chip_faulty(n_cells: int, threshold: float, rng: np.random.Generator) -> np.ndarray:
    """A chip: one uniform draw per cell; faulty where the draw is below BER(V)."""
    return np.flatnonzero(rng.random(n_cells) < threshold)


def naive_access_time(v_volts: float, v_nominal_volts: float, vth: float, n: float, share: float,
                      t_nominal: float) -> float:
    """Access time: the periphery part (1 - share) of t_nominal fixed, the array part scaled by
    C V / I with the EKV on-current I = ln(1 + exp((V - Vth) / (2 n kT/q)))^2 at 300 K."""
    phi_t = 1.380649e-23 * 300.0 / 1.602176634e-19

    def delay(v: float) -> float:
        return v / math.log(1.0 + math.exp((v - vth) / (2.0 * n * phi_t))) ** 2

    return t_nominal * ((1.0 - share) + share * delay(v_volts) / delay(v_nominal_volts))


def naive_bank_cycles(n_words: int, rows: int, banks: int) -> int:
    """Cycles to read n_words one-word rows: place each row in its array, arrays round-robin in banks,
    one row per bank per cycle; the busiest bank's row count."""
    per_bank = [0] * banks
    for w in range(n_words):
        array = w // rows
        per_bank[array % banks] += 1
    return max(per_bank)


def naive_inference_energy(
    domains: list[tuple[int, int, float, float, float]], rows: int, banks: int, access_bits: int,
    leakage_bits: int, inference_time_ns: float | None = None,
) -> tuple[float, float, float]:
    """(dynamic pJ, leakage pJ, inference time ns) of domains read one after the other.

    ``domains``: (n_words, bits per word incl. check bits, read energy pJ per access, leakage mW of
    the reference array, access time ns) each, one word per row.  Every word's read is summed one by
    one; each domain's cells are its whole arrays; all of them leak for the whole inference (the
    given time, or the reads' time when longer)."""
    dynamic, read_time, leak_power = 0.0, 0.0, 0.0
    for n_words, bits, read_pj, leak_mw, access_ns in domains:
        for _ in range(n_words):
            dynamic += read_pj * bits / access_bits
        read_time += naive_bank_cycles(n_words, rows, banks) * access_ns
        arrays = -(-n_words // rows)
        leak_power += leak_mw * arrays * rows * bits / leakage_bits
    time_ns = read_time if inference_time_ns is None else max(read_time, inference_time_ns)
    return dynamic, leak_power * time_ns, time_ns


# ---------------------------------------------------------------- wcatsim.quant: quantizers


def naive_round_half_even(v: float) -> int:
    """Round to the nearest integer, ties to the even one (what torch.round does)."""
    low = int(np.floor(v))
    if v - low > 0.5:
        return low + 1
    if v - low < 0.5:
        return low
    return low if low % 2 == 0 else low + 1


def naive_codes(weights: list[float], w_range: float, bits: int) -> list[int]:
    """Clamp each weight to [-r, r], divide by step = r / 2^(N-1), round, clamp to the grid."""
    step = w_range / 2 ** (bits - 1)
    out = []
    for w in weights:
        c = min(max(w, -w_range), w_range)
        out.append(min(max(naive_round_half_even(c / step), -(2 ** (bits - 1))), 2 ** (bits - 1) - 1))
    return out


def naive_wcat_grads(
    weights: list[float], alpha: float, upstream: list[float], clamp_grad: str
) -> tuple[list[float], float]:
    """WCAT backward by hand: d out_i / d alpha = +1 if w_i > alpha, -1 if w_i < -alpha, else 0, the sum
    scaled by 1/sqrt(n); d out_i / d w_i = 1 inside, and outside 1 (ste), 0 (pwl) or alpha/|w_i| (mad)."""
    n = len(weights)
    grad_alpha = 0.0
    grad_w = []
    for w, g in zip(weights, upstream, strict=True):
        if w > alpha:
            grad_alpha += g
        elif w < -alpha:
            grad_alpha -= g
        outside = abs(w) > alpha
        if not outside or clamp_grad == "ste":
            grad_w.append(g)
        elif clamp_grad == "pwl":
            grad_w.append(0.0)
        else:
            grad_w.append(g * alpha / abs(w))
    return grad_w, grad_alpha / np.sqrt(n)


def naive_lsq_grads(
    weights: list[float], step: float, upstream: list[float], bits: int
) -> tuple[list[float], float]:
    """LSQ backward by hand (Esser et al. 2020, eq. 3): v = w/s; d out/d s = round(v) - v inside the
    grid, -Qn below, Qp above, the sum scaled by 1/sqrt(Qp * n); d out/d w = 1 inside, 0 outside."""
    qn, qp = 2 ** (bits - 1), 2 ** (bits - 1) - 1
    grad_step = 0.0
    grad_w = []
    for w, g in zip(weights, upstream, strict=True):
        v = w / step
        if v < -qn:
            grad_step += g * (-qn)
            grad_w.append(0.0)
        elif v > qp:
            grad_step += g * qp
            grad_w.append(0.0)
        else:
            grad_step += g * (naive_round_half_even(v) - v)
            grad_w.append(g)
    return grad_w, grad_step / np.sqrt(qp * len(weights))


def naive_twos_complement_read(code: int, error_mask: int, bits: int) -> int:
    """Store code in N-bit two's complement, XOR the error mask, read it back as a signed integer."""
    stored = [(code >> b) & 1 for b in range(bits)]  # Python's >> on negatives is arithmetic: two's compl.
    read = [stored[b] ^ ((error_mask >> b) & 1) for b in range(bits)]
    value = sum(read[b] << b for b in range(bits - 1)) - (read[bits - 1] << (bits - 1))
    return value


def naive_expected_noisy_mse(weights: list[float], w_range: float, bits: int, p: float) -> float:
    """Mean over weights of the expected squared error of the read-back weight when every stored bit
    flips with probability p: enumerate every one of the 2^N error patterns of every weight."""
    step = w_range / 2 ** (bits - 1)
    total = 0.0
    for w, code in zip(weights, naive_codes(weights, w_range, bits), strict=True):
        for mask in range(2**bits):
            flips = bin(mask).count("1")
            prob = p**flips * (1 - p) ** (bits - flips)
            total += prob * (naive_twos_complement_read(code, mask, bits) * step - w) ** 2
    return total / len(weights)


# ---------------------------------------------------------------- wcatsim.faults / montecarlo


def mean_ci_reference(values, confidence=0.95):
    """Mean, sample std and Student-t CI of the mean, written out term by term."""
    from scipy.stats import t

    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    std = var**0.5
    q = t.ppf(1 - (1 - confidence) / 2, n - 1)
    return {"mean": mean, "std": std, "ci_low": mean - q * std / n**0.5, "ci_high": mean + q * std / n**0.5}


def naive_corrupted_accuracy(model, codes, x, y, batch_size=256):
    """Accuracy from faulty codes the way the original WCAT code gets it: deep-copy the model, write
    the dequantized faulty weights as floats into its parameters, evaluate at batch 256 (no autograd).

    The copy's quantizers re-quantize those floats in the forward pass; for a learned range (wcat)
    codes*step round-trips to the same codes, so the result equals the image path exactly."""
    import copy

    import torch

    from wcatsim.quant import weight_image

    steps = {name: li.step for name, li in weight_image(model).items()}
    faulty = copy.deepcopy(model)
    modules = dict(faulty.named_modules())
    correct = 0
    with torch.no_grad():
        for name, layer_codes in codes.items():
            values = torch.as_tensor(np.asarray(layer_codes), dtype=torch.float32) * torch.tensor(
                steps[name], dtype=torch.float32
            )
            modules[name].weight.copy_(values)
        faulty.eval()
        for start in range(0, len(y), batch_size):
            out = faulty(x[start : start + batch_size])
            correct += int((out.argmax(dim=1) == y[start : start + batch_size]).sum())
    return 100.0 * correct / len(y)


def changed_bits_reference(clean, read, bits):
    """Bits whose read value differs from the stored one, weight by weight, bit by bit."""
    total = 0
    for a, b in zip(np.asarray(clean).ravel().tolist(), np.asarray(read).ravel().tolist(), strict=True):
        for k in range(bits):
            total += ((a >> k) & 1) != ((b >> k) & 1)
    return total


# ---------------------------------------------------------------- wcatsim.attacks: bit-flip attack search


def naive_bit_value(bit: int, bits: int) -> int:
    """Two's-complement weight of bit ``bit`` of an N-bit code: 2^bit, or -2^(N-1) for the sign bit."""
    if bit == bits - 1:
        return -(2 ** (bits - 1))
    return 2**bit


def naive_code_to_bits(code: int, bits: int) -> list[int]:
    """The N stored bits of a code, LSB first, by repeated halving of code mod 2^N."""
    pattern = code % (2**bits)
    out = []
    for _ in range(bits):
        out.append(pattern % 2)
        pattern //= 2
    return out


def naive_bits_to_code(stored: list[int], bits: int) -> int:
    return sum(b * naive_bit_value(i, bits) for i, b in enumerate(stored))


def naive_flip(code: int, bit: int, bits: int) -> int:
    stored = naive_code_to_bits(code, bits)
    stored[bit] = 1 - stored[bit]
    return naive_bits_to_code(stored, bits)


def naive_attack_loss(model, codes, x, y) -> float:
    """Attack-batch cross-entropy with a full forward from the integer image."""
    import torch
    import torch.nn.functional as F

    from wcatsim.quant import run_from_image

    with torch.no_grad(), run_from_image(model, codes):
        return float(F.cross_entropy(model(x), y))


def naive_weight_gradients(model, codes, x, y):
    """(loss, {layer: dL/dw as a flat list of floats}) at the dequantized image weights."""
    import torch
    import torch.nn.functional as F

    from wcatsim.quant import quantized_layers, run_from_image

    layers = quantized_layers(model)
    with run_from_image(model, codes):
        for layer in layers.values():
            layer._image_weight.requires_grad_(True)
        with torch.enable_grad():
            loss = F.cross_entropy(model(x), y)
            weights = [layer._image_weight for layer in layers.values()]
            grads = torch.autograd.grad(loss, weights, allow_unused=True)
        for layer in layers.values():
            layer._image_weight.requires_grad_(False)
    out = {}
    for name, layer, g in zip(layers, layers.values(), grads, strict=True):
        out[name] = [0.0] * layer.weight.numel() if g is None else [float(v) for v in g.reshape(-1).tolist()]
    return float(loss.detach()), out


def naive_bfa_step(model, codes, steps, bits, x, y, k_top):
    """One progressive-bit-search iteration written out with loops (issue 5, steps 1-5).

    Returns (flips, loss_before, loss_after) with flips a list of
    (layer, weight index, bit, code before, code after); ``codes`` (name -> int tensor) is not changed.
    Tie rules: larger |gradient| first, then lower index (then lower bit); the earlier layer wins a tie
    in loss.  Only bits whose flip raises the loss to first order are candidates.
    """
    loss, grads = naive_weight_gradients(model, codes, x, y)
    names = list(codes)
    k = k_top
    while True:
        candidates = {}
        for name in names:
            g = grads[name]
            flat_codes = [int(c) for c in codes[name].reshape(-1).tolist()]
            order = sorted(range(len(g)), key=lambda i: (-abs(g[i]), i))[: min(k, len(g))]
            scored = []
            for i in order:
                stored = naive_code_to_bits(flat_codes[i], bits[name])
                for b in range(bits[name]):
                    bit_grad = g[i] * steps[name] * naive_bit_value(b, bits[name])
                    raises = (stored[b] == 0 and bit_grad > 0) or (stored[b] == 1 and bit_grad < 0)
                    if raises:
                        scored.append((-abs(bit_grad), i, b))
            scored.sort()
            candidates[name] = [(i, b) for _, i, b in scored]
        most = max(len(c) for c in candidates.values())
        for n in range(1, most + 1):
            best_name, best_loss, best_flips = None, loss, None
            for name in names:
                chosen = candidates[name][:n]
                if not chosen:
                    continue
                flat_codes = [int(c) for c in codes[name].reshape(-1).tolist()]
                flips = []
                for i, b in chosen:
                    before = flat_codes[i]
                    flat_codes[i] = naive_flip(before, b, bits[name])
                    flips.append((name, i, b, before, flat_codes[i]))
                trial = dict(codes)
                trial[name] = codes[name].new_tensor(flat_codes).reshape(codes[name].shape)
                trial_loss = naive_attack_loss(model, trial, x, y)
                if trial_loss > best_loss:
                    best_name, best_loss, best_flips = name, trial_loss, flips
            if best_name is not None:
                return best_flips, loss, best_loss
        if all(k >= codes[name].numel() for name in names):
            return [], loss, loss
        k = 2 * k




# ---------------------------------------------------------------- wcatsim.pareto: Pareto front


def naive_pareto_front(points):
    """O(n^2) Pareto mask, the definition read literally: (energy, accuracy), low energy and high
    accuracy better; a point is off the front when another has energy <= and accuracy >= with at
    least one strictly better."""
    pts = [(float(e), float(a)) for e, a in points]
    mask = []
    for i, (ei, ai) in enumerate(pts):
        dominated = False
        for j, (ej, aj) in enumerate(pts):
            if j != i and ej <= ei and aj >= ai and (ej < ei or aj > ai):
                dominated = True
                break
        mask.append(not dominated)
    return np.array(mask, dtype=bool)


def naive_iso_voltage(voltages, values, clean_acc, budget, v_nominal):
    """Lowest swept voltage v <= v_nominal such that v and every swept voltage in (v, v_nominal]
    have values >= clean_acc - budget; None when none does (not even nominal)."""
    best = None
    for v in voltages:
        if v > v_nominal:
            continue
        ok = all(
            val >= clean_acc - budget - 1e-9
            for u, val in zip(voltages, values, strict=True)
            if v <= u <= v_nominal
        )
        if ok and (best is None or v < best):
            best = v
    return best


# ---------------------------------------------------------------- sram_models.protection: what a read returns
# (h7; words as Python ints as in the sram_models section above; SECDED decoded by brute force)


def _naive_weights(data: int, bits: int, n_used: int) -> list[int]:
    out = []
    for s in range(n_used):
        value = (data >> (s * bits)) % (1 << bits)
        out.append(value - (1 << bits) if value >= 1 << (bits - 1) else value)
    return out


def naive_protected_read(
    raw: int, clean: int, scheme: str, bits: int, word_bits: int, n_used: int
) -> tuple[list[int], str]:
    """(weights the word reads as, status clean / corrected / detected) for one physical word.

    ``raw`` is the word's cells as they read, ``clean`` as written; ``n_used`` weights in the word.
    secded*: nearest codeword by trying every single flip (naive_secded_decode); parity-zero: count
    the ones of the whole word; bit-mask: every weight bit that reads differently from ``clean`` is
    flagged, then replaced by the weight's sign bit, or the weight is 0 if its sign bit is flagged.
    """
    data_mask = (1 << word_bits) - 1
    status = "clean"
    if scheme in ("secded", "secded-zero"):
        data, status = naive_secded_decode(raw, word_bits)
        if status == "detected" and scheme == "secded-zero":
            data = 0
    elif scheme == "parity-zero":
        data = raw & data_mask
        if bin(raw).count("1") % 2 == 1:
            data, status = 0, "detected"
    elif scheme == "bit-mask":
        data = raw & data_mask
        weights = []
        for s in range(n_used):
            stored = [(clean >> (s * bits + b)) & 1 for b in range(bits)]
            read = [(raw >> (s * bits + b)) & 1 for b in range(bits)]
            flagged = [stored[b] != read[b] for b in range(bits)]
            if any(flagged):
                status = "detected"
            if flagged[bits - 1]:
                read = [0] * bits
            else:
                read = [read[bits - 1] if flagged[b] else read[b] for b in range(bits)]
            value = sum(read[b] << b for b in range(bits))
            weights.append(value - (1 << bits) if read[bits - 1] else value)
        return weights, status
    else:  # none, msb-8t
        data = raw & data_mask
    return _naive_weights(data, bits, n_used), status


def naive_protected_counts(
    raw_words: list[int], clean_words: list[int], scheme: str, bits: int, word_bits: int, n_weights: int
) -> dict[str, int]:
    """Word by word: corrected (weights right after a correction), detected (flagged), miscorrected
    (weights wrong, nothing flagged) and the weight bits read wrong, against the clean words."""
    per_word = word_bits // bits
    out = {"corrected": 0, "detected": 0, "miscorrected": 0, "bits_changed": 0, "codes": []}
    for w, (raw, clean) in enumerate(zip(raw_words, clean_words, strict=True)):
        n_used = max(0, min(per_word, n_weights - w * per_word))
        weights, status = naive_protected_read(raw, clean, scheme, bits, word_bits, n_used)
        stored = _naive_weights(clean, bits, n_used)
        wrong = sum(bin((a ^ b) % (1 << bits)).count("1") for a, b in zip(weights, stored, strict=True))
        out["bits_changed"] += wrong
        out["codes"].extend(weights)
        if scheme == "none":
            continue
        if status == "detected":
            out["detected"] += 1
        elif wrong:
            out["miscorrected"] += 1
        elif status == "corrected":
            out["corrected"] += 1
    return out


def naive_measured_stuck(
    n_words: int, phys_bits: int, interleave: int, n_chip_cells: int, tile_offset: int,
    stuck: dict[int, int],
) -> dict[int, int]:
    """{image cell position: stuck value}: every image cell, placed row-major on the measured chip.

    Cell (word, bit) sits in image row word // interleave, column bit * interleave + word % interleave
    (MemoryImage.physical_location); its linear index L = row * phys_bits * interleave + column reads
    measured cell (L mod N + (L // N) * tile_offset) mod N; ``stuck`` maps measured cells to values."""
    out = {}
    width = phys_bits * interleave
    for word in range(n_words):
        for bit in range(phys_bits):
            linear = (word // interleave) * width + bit * interleave + word % interleave
            tile = linear // n_chip_cells
            cell = (linear % n_chip_cells + tile * tile_offset) % n_chip_cells
            if cell in stuck:
                out[word * phys_bits + bit] = stuck[cell]
    return out

# ---------------------------------------------------------------- wcatsim.planning: voltage plans


def naive_best_plan(loss, energy, budget):
    """Every assignment of one step per domain; the least summed energy whose summed loss <= budget.

    ``loss[d][j]``, ``energy[d][j]``: nested lists (inf loss = not allowed).  Returns (energy, steps) or
    None when nothing fits.
    """
    import itertools
    import math

    best = None
    n_steps = [len(row) for row in loss]
    for steps in itertools.product(*(range(n) for n in n_steps)):
        total_loss = sum(loss[d][j] for d, j in enumerate(steps))
        if math.isinf(total_loss) or total_loss > budget + 1e-9:
            continue
        total_energy = sum(energy[d][j] for d, j in enumerate(steps))
        if best is None or total_energy < best[0] - 1e-12:
            best = (total_energy, steps)
    return best


def naive_mixed_voltage_energy(domains, v_nominal, read_norm):
    """Dynamic-only energy of weights in domains: sum over domains of words x read_norm(V), over the whole
    image's words at nominal.  ``domains``: (weights, weights per word, voltage) per domain, each domain
    starting a fresh word; the reference packs every weight together."""
    reference = -(-sum(n for n, _, _ in domains) // domains[0][1])
    total = 0.0
    for n, per_word, v in domains:
        words = -(-n // per_word)
        total += words * read_norm(v)
    return total / (reference * read_norm(v_nominal))


def naive_domains_energy_pj(domain_words, volts, read_pj, leak_mw, access_ns, access_bits, leakage_bits,
                            word_bits=64, rows=512, banks=32):
    """(total pJ) of 64-bit words in domains of their own arrays: every word read once at its domain's
    voltage; arrays of ``rows`` words dealt round-robin to ``banks`` banks read in parallel, one row per
    bank per cycle, domains one after the other; every array's cells (padding included) leak for the
    whole inference.  ``read_pj(v)`` per ``access_bits`` bits, ``leak_mw(v)`` per ``leakage_bits`` cells,
    ``access_ns(v)`` one cycle."""
    time_ns = 0.0
    dynamic = 0.0
    arrays_of = []
    for words, v in zip(domain_words, volts, strict=True):
        sizes = [rows] * (words // rows) + ([words % rows] if words % rows else [])
        per_bank = [0] * banks
        for k, size in enumerate(sizes):
            per_bank[k % banks] += size
        time_ns += max(per_bank) * access_ns(v)
        dynamic += words * word_bits * read_pj(v) / access_bits
        arrays_of.append(len(sizes))
    leakage = 0.0
    for arrays, v in zip(arrays_of, volts, strict=True):
        cells = arrays * rows * word_bits
        leakage += leak_mw(v) * cells / leakage_bits * time_ns
    return dynamic + leakage
