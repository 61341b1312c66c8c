"""Bit-Flip Attack speed: wcatsim's search against a naive one that works as the original code does.

Setting (issue 5, "Speed"): a 4-bit maxabs ResNet-20, 2,000 CIFAR-shaped test images, an attack batch
of 64.  The images are the synthetic CIFAR-shaped set's (``load_dataset("synthetic_cifar")``: its
training and test images make the 2,000 "test" images, its validation split the attack pool).  The
convolutions are untrained (training ResNet-20 is not what is measured): batch norm is calibrated on
training images and the classifier is a least-squares readout fitted on the random features (seconds
instead of a training run; about 50% clean accuracy, and it takes many flips to break); the stop
threshold is the balanced 10-class rule, 10.1%.

Naive, as the original BFA/WCAT code: the gradient through the fake-quant forward of the float
weights; for every candidate layer the flipped codes are written back into the float weights and
re-quantized by the model's own forward (a full forward per candidate); the whole test set is
evaluated after every iteration.

wcatsim: the same search on the integer image
(:func:`wcatsim.experiments.attacks.search.search_step`), candidate forwards sharing the unchanged
layers below the candidate (:mod:`wcatsim.memory.replay`), per-iteration accuracy on
a fixed subset (``--eval-subset``) and the stop decision exact on the whole
test set (:class:`wcatsim.experiments.attacks.evaluation.StopEvaluator`).

Both run the same number of iterations, side by side in this process; the last line is
``bfa: flips_per_s=X ratio_vs_naive=Y``.

Before it, the line ``resnet18: s_per_iteration=S`` gives wcatsim's seconds per search iteration on a
ResNet-18 in its ImageNet layout (4-bit maxabs, untrained: the cost of an iteration does not depend on
the weights' values, only on the shapes), attack batch 64 of 224 px random images, 1000 classes: one
forward and backward plus the candidate forwards (``search_step``); the test-set check after an
iteration is not included (it scales with the test set, not the attack).  ``--resnet18-iterations 0``
skips it; ``--resnet18-size`` / ``--resnet18-batch`` shrink it for a smoke run.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from collections.abc import Iterator

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from wcatsim.experiments.attacks.bits import bit_values, code_bits, flip_bit  # noqa: E402
from wcatsim.experiments.attacks.evaluation import StopEvaluator  # noqa: E402
from wcatsim.experiments.attacks.problem import ImageAttackProblem  # noqa: E402
from wcatsim.experiments.attacks.search import commit, search_step  # noqa: E402
from wcatsim.image import weight_image
from wcatsim.train.datasets import load_dataset  # noqa: E402
from wcatsim.train.evaluate import accuracy  # noqa: E402
from wcatsim.train.models import build_model  # noqa: E402
from wcatsim.train.quant import QuantConfig, quantize, quantized_layers

TEST_IMAGES = 2000
ATTACK_BATCH = 64
K_TOP = 100
THRESHOLD = 10.1  # the balanced 10-class stop rule, 100/C + 1/C


def calibrate_batch_norm(model: torch.nn.Module, x: torch.Tensor) -> None:
    """Set every batch-norm layer's running statistics to those of ``x`` (an untrained network's default
    statistics let activations grow block after block, and one flip then breaks it)."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the batches below
    model.train()
    with torch.no_grad():
        for start in range(0, len(x), 128):
            model(x[start : start + 128])
    model.eval()


def fit_readout(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, ridge: float = 1e-2) -> None:
    """Give the untrained network a working classifier cheaply: least-squares fit of the last layer on the
    random features of the training images (one-hot targets, ridge ``ridge``).  Training ResNet-20 is not
    what this benchmark measures; a model that classifies well is what the attack needs."""
    features = []
    handle = model.fc.register_forward_hook(lambda m, inp, out: features.append(inp[0].detach()))
    with torch.no_grad():
        for start in range(0, len(x), 256):
            model(x[start : start + 256])
    handle.remove()
    f = torch.cat(features).double()
    f = torch.cat([f, torch.ones(len(f), 1, dtype=f.dtype)], dim=1)
    target = F.one_hot(y, 10).double()
    gram = f.T @ f + ridge * len(f) * torch.eye(f.shape[1], dtype=f.dtype)
    solution = torch.linalg.solve(gram, f.T @ target)
    with torch.no_grad():
        model.fc.weight.copy_(solution[:-1].T.float())
        model.fc.bias.copy_(solution[-1].float())


def setup(seed: int, test_images: int = TEST_IMAGES) -> tuple:
    torch.manual_seed(seed)
    model = quantize(build_model("resnet20", 10, 3, 32), QuantConfig(method="maxabs", bits=4)).eval()
    data = load_dataset("synthetic_cifar", seed=seed)
    x_train, y_train = data.train_tensors()
    x_test = torch.cat([x_train, data.test_tensors()[0]])[:test_images].contiguous()
    y_test = torch.cat([y_train, data.test_tensors()[1]])[:test_images].contiguous()
    calibrate_batch_norm(model, x_train[:512])
    fit_readout(model, x_train, y_train)
    x_pool, y_pool = data.val_tensors()
    rng = np.random.default_rng(seed)
    index = torch.from_numpy(np.sort(rng.choice(len(x_pool), ATTACK_BATCH, replace=False)))
    return model, x_test, y_test, x_pool[index].contiguous(), y_pool[index].contiguous()


def naive_attack(model: torch.nn.Module, xb, yb, x_test, y_test) -> Iterator[tuple[int, float]]:
    """The original's loop (float round trip, full forwards, whole test set per iteration); yields
    (flips, accuracy) after every iteration.  Changes ``model``'s float weights: give it a copy."""
    layers = quantized_layers(model)
    while True:
        model.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        loss = float(loss.detach())
        with torch.no_grad():
            n, chosen = 0, None
            while chosen is None:
                n += 1
                best, best_loss = None, loss
                for name, layer in layers.items():
                    w = layer.weight.data
                    bits = layer.bits
                    step = float(layer.quantizer.step(w))
                    codes = layer.quantizer.codes(w).reshape(-1).to(torch.int16)
                    g = layer.weight.grad.reshape(-1)
                    top = g.abs().topk(min(K_TOP, g.numel())).indices
                    bgrad = (g[top].double() * step).unsqueeze(1) * bit_values(bits).double()
                    states = code_bits(codes[top], bits)
                    harmful = ((states == 0) & (bgrad > 0)) | ((states == 1) & (bgrad < 0))
                    masked = torch.where(harmful, bgrad, 0.0)
                    order = masked.abs().reshape(-1).topk(min(n, masked.numel())).indices
                    order = order[masked.abs().reshape(-1)[order] > 0]
                    if order.numel() == 0:
                        continue
                    new = codes.clone()
                    for pos in order.tolist():
                        i = int(top[pos // bits])
                        new[i] = flip_bit(new[i : i + 1], pos % bits, bits)[0]
                    # written back as floats; the model's forward re-quantizes them
                    layer.weight.data = (new.float() * step).reshape(w.shape)
                    trial_loss = float(F.cross_entropy(model(xb), yb))
                    layer.weight.data = w
                    if trial_loss > best_loss:
                        best, best_loss = (name, new.float() * step, len(order)), trial_loss
                if best is not None:
                    chosen = best
                elif n > K_TOP * 8:
                    break
            if chosen is None:
                return
            name, weights, count = chosen
            layers[name].weight.data = weights.reshape(layers[name].weight.shape)
            acc = accuracy(model, x_test, y_test)  # the whole test set after every iteration
        yield count, acc
        if acc <= THRESHOLD:
            break


def fast_attack(model, xb, yb, x_test, y_test, eval_subset: int, counted: list[int]) -> Iterator[tuple]:
    """wcatsim's search; yields (flips, logged accuracy) after every iteration; test images counted so far
    in ``counted[0]``."""
    image = weight_image(model)
    codes = {name: img.codes.clone() for name, img in image.items()}
    steps = {name: img.step for name, img in image.items()}
    bits = {name: img.bits for name, img in image.items()}
    problem = ImageAttackProblem(model, xb, yb, steps, bits)
    evaluator = StopEvaluator(model, x_test, y_test, THRESHOLD, subset=eval_subset, seed=0)
    while True:
        step = search_step(problem, codes, K_TOP)
        if step.stalled:
            return
        commit(codes, step.flips)
        check = evaluator.check(codes)
        counted[0] = evaluator.images_counted
        yield len(step.flips), check.acc
        if check.broken:
            return


def resnet18_seconds_per_iteration(iterations: int, size: int, batch: int, seed: int) -> float:
    """Mean seconds of one wcatsim search iteration (``search_step`` + commit) on a 4-bit maxabs ResNet-18
    (ImageNet layout, 1000 classes) with an attack batch of ``batch`` random ``size``-px images."""
    torch.manual_seed(seed)
    model = quantize(build_model("resnet18", 1000, 3, size), QuantConfig(method="maxabs", bits=4)).eval()
    generator = torch.Generator().manual_seed(seed)
    xb = torch.randn(batch, 3, size, size, generator=generator)
    yb = torch.randint(0, 1000, (batch,), generator=generator)
    image = weight_image(model)
    codes = {name: img.codes.clone() for name, img in image.items()}
    steps = {name: img.step for name, img in image.items()}
    bits = {name: img.bits for name, img in image.items()}
    problem = ImageAttackProblem(model, xb, yb, steps, bits)
    seconds = []
    for _ in range(iterations):
        start = time.perf_counter()
        step = search_step(problem, codes, K_TOP)
        commit(codes, step.flips)
        seconds.append(time.perf_counter() - start)
        if step.stalled:
            break
    return float(np.mean(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=6, help="attack iterations timed per version")
    parser.add_argument("--eval-subset", type=int, default=512, help="per-iteration accuracy subset")
    parser.add_argument("--seed", type=int, default=0)
    # One thread by default: on a 2-core machine shared with other jobs, two OpenMP threads wait on each
    # other whenever one is descheduled, and every small op then costs milliseconds (seen here: 5 ms per
    # 64x64 linear layer), which swamps the comparison.  Both versions run with the same setting.
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both versions")
    parser.add_argument("--resnet18-iterations", type=int, default=2,
                        help="search iterations timed on ResNet-18 (0: skip)")
    parser.add_argument("--resnet18-size", type=int, default=224, help="ResNet-18 image size in pixels")
    parser.add_argument("--resnet18-batch", type=int, default=ATTACK_BATCH, help="ResNet-18 attack batch")
    parser.add_argument("--test-images", type=int, default=TEST_IMAGES,
                        help="test images of the ResNet-20 comparison (smaller only for a smoke run)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model, x_test, y_test, xb, yb = setup(args.seed, args.test_images)
    clean = accuracy(model, x_test, y_test)
    print(f"clean accuracy {clean:.1f}% (random features, calibrated batch norm, least-squares readout)")
    # Warm-up (one-off kernel set-up): not timed.
    with torch.no_grad():
        model(xb)
    accuracy(model, x_test[:256], y_test[:256])
    print(f"resnet20 4-bit maxabs, {len(y_test)} test images, attack batch {len(yb)}, k_top {K_TOP}, "
          f"{args.iterations} iterations each, {torch.get_num_threads()} thread(s), iterations interleaved")
    counted = [0]
    runs = {
        "naive": naive_attack(copy.deepcopy(model), xb, yb, x_test, y_test),
        "wcatsim": fast_attack(copy.deepcopy(model), xb, yb, x_test, y_test, args.eval_subset, counted),
    }
    totals = {name: [0, 0.0, 0] for name in runs}  # flips, seconds, iterations
    last_acc = dict.fromkeys(runs, clean)
    # One iteration of each in turn, so that the machine's load changes hit both alike.
    for _ in range(args.iterations):
        for name, attack in runs.items():
            start = time.perf_counter()
            result = next(attack, None)
            totals[name][1] += time.perf_counter() - start
            if result is not None:
                totals[name][0] += result[0]
                totals[name][2] += 1
                last_acc[name] = result[1]
    (n_flips, n_sec, n_it), (f_flips, f_sec, f_it) = totals["naive"], totals["wcatsim"]
    naive_fps, fast_fps = n_flips / n_sec, f_flips / f_sec
    print(f"naive:   {n_flips} flips in {n_it} iterations, {n_sec:.2f} s ({n_sec / max(n_it, 1):.2f} s/it), "
          f"accuracy after {last_acc['naive']:.1f}% (whole test set every iteration)")
    print(f"wcatsim: {f_flips} flips in {f_it} iterations, {f_sec:.2f} s ({f_sec / max(f_it, 1):.2f} s/it), "
          f"accuracy after {last_acc['wcatsim']:.1f}% on a subset of {args.eval_subset}; stop decision exact "
          f"on all {len(y_test)} ({counted[0]} test images counted)")
    if args.resnet18_iterations > 0:
        per_it = resnet18_seconds_per_iteration(
            args.resnet18_iterations, args.resnet18_size, args.resnet18_batch, args.seed
        )
        print(f"resnet18: s_per_iteration={per_it:.3g} (ImageNet layout, {args.resnet18_size} px, "
              f"attack batch {args.resnet18_batch}, 4-bit maxabs, k_top {K_TOP}, mean of "
              f"{args.resnet18_iterations} search iterations, {torch.get_num_threads()} thread(s); "
              "the test-set check not included)")
    print(f"bfa: flips_per_s={fast_fps:.3g} ratio_vs_naive={fast_fps / naive_fps:.2f}")


if __name__ == "__main__":
    main()
