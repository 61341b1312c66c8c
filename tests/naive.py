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


# ---------------------------------------------------------------- wcatsim.train.quant: quantizers


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
    weights: list[float], step: float, upstream: list[float], bits: int, gradient: str = "paper"
) -> tuple[list[float], float]:
    """LSQ backward by hand, v = w/s, g = 1/sqrt(Qp * n); d out/d w = 1 inside the grid, 0 outside.

    paper (Esser et al. 2020, eq. 3): d out/d s = g * (round(v) - v) inside, g * (-Qn) below, g * Qp above.
    wcat_code: out = round(clamp(w / s_g)) * s where s_g carries the gradient scale g and s does not, so
    by the product rule d out/d s = round(v) + s * (-w / s^2) * g = round(v) - g * v inside, and -Qn or Qp
    outside (the clamp passes nothing there), unscaled."""
    qn, qp = 2 ** (bits - 1), 2 ** (bits - 1) - 1
    g_scale = 1.0 / np.sqrt(qp * len(weights))
    grad_step = 0.0
    grad_w = []
    for w, g in zip(weights, upstream, strict=True):
        v = w / step
        if v < -qn:
            local, pass_w = -qn * (g_scale if gradient == "paper" else 1.0), 0.0
        elif v > qp:
            local, pass_w = qp * (g_scale if gradient == "paper" else 1.0), 0.0
        elif gradient == "paper":
            local, pass_w = g_scale * (naive_round_half_even(v) - v), g
        else:
            local, pass_w = naive_round_half_even(v) - g_scale * v, g
        grad_step += g * local
        grad_w.append(pass_w)
    return grad_w, grad_step


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


# ---------------------------------------------------------------- wcatsim.memory.evaluator / montecarlo


def mean_ci_reference(values, confidence=0.95):
    """Mean, sample std and Student-t CI of the mean, written out term by term."""
    from scipy.stats import t

    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    std = var**0.5
    q = t.ppf(1 - (1 - confidence) / 2, n - 1)
    return {"mean": mean, "std": std, "ci_low": mean - q * std / n**0.5, "ci_high": mean + q * std / n**0.5}


def naive_float_copy(model):
    """A plain-torch float twin of a quantized model: a deep copy in which every quantized Conv2d/Linear
    (a module with a ``quantizer``) is replaced by a fresh ``nn.Conv2d``/``nn.Linear`` of the same shape
    and settings holding the same weight and bias.  Returns (twin in eval mode, {name: its new layer})."""
    import copy

    import torch
    from torch import nn

    twin = copy.deepcopy(model)
    replaced = {}
    for name, module in list(twin.named_modules()):
        if not hasattr(module, "quantizer"):
            continue
        if isinstance(module, nn.Conv2d):
            plain = nn.Conv2d(
                module.in_channels, module.out_channels, module.kernel_size, stride=module.stride,
                padding=module.padding, dilation=module.dilation, groups=module.groups,
                bias=module.bias is not None, padding_mode=module.padding_mode,
            )
        else:
            plain = nn.Linear(module.in_features, module.out_features, bias=module.bias is not None)
        with torch.no_grad():
            plain.weight.copy_(module.weight)
            if module.bias is not None:
                plain.bias.copy_(module.bias)
        parent_name, _, child = name.rpartition(".")
        setattr(twin.get_submodule(parent_name) if parent_name else twin, child, plain)
        replaced[name] = plain
    return twin.eval(), replaced


def naive_steps(model) -> dict:
    """Each quantized layer's step (float32, as a Python float) by the formula of its method, read from
    the stored parameters (ranges in weight units, N bits, half = 2^(N-1), float32 arithmetic):
    maxabs max|w| / half; wclip w_max / half; plclip base * max(0.2, max|w_l| / the largest max|w| of the
    plclip layers) / half (kmchiti/WCAT _set_plclip_values); wcat max(|alpha|, 1e-3 max|w|) / half;
    lsq max(|s|, 1e-3 max|w| / half)."""
    f32 = np.float32
    layers = {n: m for n, m in model.named_modules() if hasattr(m, "quantizer")}
    tops = {n: f32(np.abs(m.weight.detach().cpu().numpy()).max()) for n, m in layers.items()}
    plclip_top = max([tops[n] for n, m in layers.items() if m.quantizer.method == "plclip"], default=f32(1))
    steps = {}
    for name, layer in layers.items():
        q, top = layer.quantizer, tops[name]
        half = f32(2 ** (q.bits - 1))
        floor = max(top * f32(1e-3), f32(1e-8))
        if q.method == "maxabs":
            step = (top if top > 0 else f32(1)) / half
        elif q.method == "wclip":
            step = f32(float(q.w_range)) / half
        elif q.method == "plclip":
            step = max(top / plclip_top, f32(0.2)) * f32(q.base) / half
        elif q.method == "wcat":
            step = max(abs(f32(float(q.alpha.detach()))), floor) / half
        elif q.method == "lsq":
            step = max(abs(f32(float(q.step_size.detach()))), floor / half)
        else:
            raise ValueError(f"no naive step for {q.method!r}")
        steps[name] = float(f32(step))
    return steps


def naive_clean_codes(model, steps: dict) -> dict:
    """The integer codes of every quantized layer, written out: clamp w to [-range, range], divide by the
    step, round half to even, clamp to [-2^(N-1), 2^(N-1)-1] (lsq: round(clamp(w / s, qmin, qmax)))."""
    import torch

    out = {}
    for name, layer in model.named_modules():
        if not hasattr(layer, "quantizer"):
            continue
        bits = layer.quantizer.bits
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        w = layer.weight.detach().cpu().to(torch.float32)
        step = torch.tensor(steps[name], dtype=torch.float32)
        if layer.quantizer.method == "lsq":
            codes = torch.round(torch.clamp(w / step, lo, hi))
        else:
            r = step * 2 ** (bits - 1)
            codes = torch.clamp(torch.round(torch.clamp(w, -r, r) / step), lo, hi)
        out[name] = codes.to(torch.int64)
    return out


def naive_load_codes(replaced: dict, codes: dict, steps: dict) -> None:
    """Write codes * step (float32) into the plain layers' weights."""
    import torch

    with torch.no_grad():
        for name, layer_codes in codes.items():
            values = torch.as_tensor(np.asarray(layer_codes), dtype=torch.float32)
            replaced[name].weight.copy_(values * torch.tensor(steps[name], dtype=torch.float32))


def naive_corrupted_accuracy(model, codes, x, y, batch_size=256):
    """Accuracy from faulty codes the way the original WCAT code gets it, in plain torch: a float copy of
    the model whose weights are the dequantized faulty codes (the clean codes for layers not given),
    evaluated at batch 256 without autograd.  Works for every quantizer (steps from naive_steps)."""
    import torch

    steps = naive_steps(model)
    twin, replaced = naive_float_copy(model)
    naive_load_codes(replaced, {**naive_clean_codes(model, steps), **codes}, steps)
    correct = 0
    with torch.no_grad():
        for start in range(0, len(y), batch_size):
            out = twin(x[start : start + batch_size])
            correct += int((out.argmax(dim=1) == y[start : start + batch_size]).sum())
    return 100.0 * correct / len(y)


def changed_bits_reference(clean, read, bits):
    """Bits whose read value differs from the stored one, weight by weight, bit by bit."""
    total = 0
    for a, b in zip(np.asarray(clean).ravel().tolist(), np.asarray(read).ravel().tolist(), strict=True):
        for k in range(bits):
            total += ((a >> k) & 1) != ((b >> k) & 1)
    return total


# ------------------------------------------------------------ wcatsim.experiments.attacks: bit-flip search


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


def naive_attack_loss(model, codes, x, y, steps=None) -> float:
    """Attack-batch cross-entropy of the plain float copy holding codes * step."""
    import torch
    import torch.nn.functional as F

    steps = steps or naive_steps(model)
    twin, replaced = naive_float_copy(model)
    naive_load_codes(replaced, {**naive_clean_codes(model, steps), **codes}, steps)
    with torch.no_grad():
        return float(F.cross_entropy(twin(x), y))


def naive_weight_gradients(model, codes, x, y, steps=None):
    """(loss, {layer: dL/dw as a flat list of floats}) at the dequantized image weights: plain autograd
    through the float copy holding codes * step."""
    import torch
    import torch.nn.functional as F

    steps = steps or naive_steps(model)
    twin, replaced = naive_float_copy(model)
    naive_load_codes(replaced, {**naive_clean_codes(model, steps), **codes}, steps)
    with torch.enable_grad():
        loss = F.cross_entropy(twin(x), y)
        grads = torch.autograd.grad(loss, [replaced[n].weight for n in codes])
    out = {name: [float(v) for v in g.reshape(-1).tolist()] for name, g in zip(codes, grads, strict=True)}
    return float(loss.detach()), out


def naive_bfa_step(model, codes, steps, bits, x, y, k_top):
    """One progressive-bit-search iteration written out with loops (issue 5, steps 1-5).

    Returns (flips, loss_before, loss_after) with flips a list of
    (layer, weight index, bit, code before, code after); ``codes`` (name -> int tensor) is not changed.
    Tie rules: larger |gradient| first, then lower index (then lower bit); the earlier layer wins a tie
    in loss.  Only bits whose flip raises the loss to first order are candidates.
    """
    loss, grads = naive_weight_gradients(model, codes, x, y, steps)
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
                trial_loss = naive_attack_loss(model, trial, x, y, steps)
                if trial_loss > best_loss:
                    best_name, best_loss, best_flips = name, trial_loss, flips
            if best_name is not None:
                return best_flips, loss, best_loss
        if all(k >= codes[name].numel() for name in names):
            return [], loss, loss
        k = 2 * k




# ---------------------------------------------------------------- wcatsim.analysis.pareto: Pareto front


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


NAIVE_PROTECTED_SCHEMES = ("none", "secded", "secded-zero", "parity-zero", "bit-mask", "msb-8t")
"""the schemes :func:`naive_protected_read` knows (the conformance tests require a twin for each)"""


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

# ---------------------------------------------------------------- wcatsim.experiments.plan: voltage plans


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


def naive_km_median_ci(
    flips: list[int], broken: list[bool], confidence: float = 0.95
) -> tuple[int | None, int | None, int | None]:
    """(median, CI low, CI high) of the Kaplan–Meier flips to break, by hand: at each distinct count t
    in order, n = trials with count >= t (censored at t still at risk), d = breaks at t; S *= 1 - d/n;
    Greenwood's sum += d / (n (n - d)); band S ± z S sqrt(sum), clipped to [0, 1] (S itself where
    n = d).  Median: first t with S <= 0.5; CI: first t where the band's lower, then upper, edge is."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    s, greenwood = 1.0, 0.0
    median = low = high = None
    for t in sorted(set(flips)):
        n = sum(1 for f in flips if f >= t)
        d = sum(1 for f, b in zip(flips, broken, strict=True) if b and f == t)
        s *= 1 - d / n
        if d < n:
            greenwood += d / (n * (n - d))
            half = z * s * math.sqrt(greenwood)
            up, lo = min(1.0, s + half), max(0.0, s - half)
        else:
            up = lo = s
        if median is None and s <= 0.5 + 1e-12:
            median = t
        if low is None and lo <= 0.5 + 1e-12:
            low = t
        if high is None and up <= 0.5 + 1e-12:
            high = t
    return median, low, high


def naive_lower_tail(accuracies: list[float], clean: float, points: float = 10.0) -> tuple[float, float]:
    """(5th percentile by linear interpolation between order statistics at rank 0.05 (n - 1), counted
    from 0; share of values strictly below clean - points), from a sorted list."""
    xs = sorted(float(a) for a in accuracies)
    rank = 0.05 * (len(xs) - 1)
    lo = int(math.floor(rank))
    hi = min(lo + 1, len(xs) - 1)
    p05 = xs[lo] + (rank - lo) * (xs[hi] - xs[lo])
    return p05, sum(1 for a in xs if a < clean - points) / len(xs)


# ------------------------------------------------------------ bootstrap of the iso-accuracy saving


def naive_bootstrap_savings(acc, voltages, energy, clean, budget, resamples, seed):
    """Bootstrap draws of the seed-mean iso-accuracy saving, by loops: ``acc[m][s]`` is model m, seed s,
    a list of chips, each a list of accuracies per voltage (ascending voltages, the last nominal);
    ``energy[v]`` ascending in v (so the cheapest qualifying voltage is the lowest).  Per resample:
    ``rng.integers(0, seeds, size=seeds)``, then per drawn seed ``rng.integers(0, chips, size=chips)``;
    the same indices for every model.  Saving = 1 - energy at the lowest voltage reached scanning down
    from nominal while the chip mean stays >= clean - budget (nominal's energy when none)."""
    rng = np.random.default_rng(seed)
    models, seeds, chips = len(acc), len(acc[0]), len(acc[0][0])
    out = [[] for _ in range(models)]
    for _ in range(resamples):
        seed_idx = list(rng.integers(0, seeds, size=seeds))
        chip_idx = [list(rng.integers(0, chips, size=chips)) for _ in seed_idx]
        for m in range(models):
            total = 0.0
            for s, cs in zip(seed_idx, chip_idx, strict=True):
                means = [sum(acc[m][s][c][k] for c in cs) / len(cs) for k in range(len(voltages))]
                v = naive_iso_voltage(voltages, means, clean[m], budget, voltages[-1])
                total += 1.0 - (energy[voltages.index(v)] if v is not None else energy[-1])
            out[m].append(total / seeds)
    return out


# ------------------------------------------------------------ nested Monte Carlo (realisations x images)


def naive_stratified_estimate(correct, labels_subset, labels_all):
    """Stratified accuracy estimate (percent) and its sampling variance (percent^2), term by term.

    Cochran (1977) eq. 5.6: sum_c W_c^2 (1 - n_c/N_c) s_c^2 / n_c, s_c^2 with ddof = 1.
    """
    classes = sorted(set(int(v) for v in labels_all))
    total = len(labels_all)
    acc = 0.0
    var = 0.0
    for c in classes:
        big_n = sum(1 for v in labels_all if int(v) == c)
        member = [float(k) for k, v in zip(correct, labels_subset, strict=True) if int(v) == c]
        n_c = len(member)
        w = big_n / total
        mean = sum(member) / n_c
        acc += w * mean
        s2 = sum((m - mean) ** 2 for m in member) / (n_c - 1) if n_c > 1 else 0.0
        var += w * w * (1 - n_c / big_n) * s2 / n_c
    return 100 * acc, 100 * 100 * var


def naive_std_between(accuracies, within):
    """sqrt(max(0, sample variance of the accuracies - mean image-sampling variance))."""
    n = len(accuracies)
    mean = sum(accuracies) / n
    total = sum((a - mean) ** 2 for a in accuracies) / (n - 1)
    return max(0.0, total - sum(within) / n) ** 0.5


def naive_least_cost_design(half_width, between, within, ratio, n_min, n_total, r_min, r_max):
    """(n, R, cost) of the cheapest design, by trying every n: the least R in [r_min, r_max] whose
    Student-t half-width t(0.975, R-1) sqrt((between + within (1/n - 1/N)) / R) is <= half_width, at
    cost R (ratio + n).  None where no (n, R) reaches the half-width."""
    from scipy.stats import t as student_t

    counts = np.arange(r_min, r_max + 1)
    tq2 = student_t.ppf(0.975, counts - 1) ** 2
    best = None
    for n in range(n_min, n_total + 1):
        var = between + within * (1.0 / n - 1.0 / n_total)
        ok = np.flatnonzero(tq2 * var / counts <= half_width**2)
        if ok.size == 0:
            continue
        r = int(counts[ok[0]])
        cost = r * (ratio + n)
        if best is None or cost < best[2]:
            best = (n, r, cost)
    return best


# ---------------------------------------------------------------- wcatsim.memory.activations: the buffer


def naive_act_range(low: float, high: float, bits: int) -> tuple[float, bool]:
    """(step, unsigned) of a range: max/(2^b - 1) unsigned when low >= 0, else max|x|/(2^(b-1) - 1)."""
    if low >= 0:
        return high / (2**bits - 1), True
    return max(-low, high) / (2 ** (bits - 1) - 1), False


def naive_act_store(x, step: float, unsigned: bool, bits: int):
    """Stored two's-complement codes (int64 tensor) of float tensor ``x``, written out case by case."""
    import torch

    q = torch.round(x / step)
    if unsigned:
        return q.clamp(0, 2**bits - 1).to(torch.int64) - 2 ** (bits - 1)
    return q.clamp(-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1).to(torch.int64)


def naive_act_value(codes, step: float, unsigned: bool, bits: int, dtype):
    """The values stored codes stand for: (code + 2^(b-1)) x step unsigned, code x step signed."""
    return ((codes.to(dtype) + (2 ** (bits - 1) if unsigned else 0)) * step).to(dtype)
