"""Every new architecture at a tiny width: fake-quant equals the run from the integer image bit for bit,
a fault point runs through ModelMemory / FaultEvaluator (channels-last inputs), a Bit-Flip Attack trial
runs (capped at two iterations) and finds the same flips with and without the shared-prefix replay, and
the batch-norm-free DeiT trains its learned ranges."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from wcatsim.experiments.attacks.bfa import run_trial
from wcatsim.experiments.attacks.evaluation import StopEvaluator
from wcatsim.experiments.attacks.problem import ImageAttackProblem
from wcatsim.image import run_from_image, weight_image
from wcatsim.memory.evaluator import FaultEvaluator, ModelMemory, make_flip_model
from wcatsim.train.health import chance_threshold
from wcatsim.train.models import build_model
from wcatsim.train.quant import QuantConfig, quantize, quantized_layers, range_parameters

CLASSES = 5
# (id, model, image size, tiny arguments): every new architecture and the CIFAR forms
TINY = [
    ("resnet18", "resnet18", 16, {"width": 4}),
    ("resnet34", "resnet34", 16, {"width": 2}),
    ("resnet50", "resnet50", 16, {"width": 2}),
    ("vgg11_bn-cifar", "vgg11_bn", 32, {"width": 2}),
    ("vgg16_bn-cifar", "vgg16_bn", 32, {"width": 2}),
    ("vgg11_bn-imagenet", "vgg11_bn", 64, {"width": 2, "hidden": 16}),
    ("mobilenet_v2", "mobilenet_v2", 32, {"width_mult": 0.25, "last_channel": 32}),
    ("deit_tiny", "deit_tiny", 32, {"embed_dim": 16, "depth": 2, "num_heads": 2}),
    ("deit_small", "deit_small", 16, {"embed_dim": 12, "depth": 1, "num_heads": 3, "patch_size": 8}),
]
IDS = [case[0] for case in TINY]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: these models are far too small to gain from a second, and on a shared 2-core
    machine two threads waiting on each other made single tests up to 20x slower (measured)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_quantized(name: str, size: int, args: dict, method: str = "wcat", seed: int = 0):
    torch.manual_seed(seed)
    model = quantize(build_model(name, CLASSES, 3, size, **args), QuantConfig(method=method, bits=4))
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, size, size))  # batch-norm statistics move away from their initial values
    return model.eval()


def own_codes(model) -> dict[str, torch.Tensor]:
    return {name: img.codes for name, img in weight_image(model).items()}


@pytest.mark.parametrize("method", ["maxabs", "wcat"])
@pytest.mark.parametrize("case", TINY, ids=IDS)
def test_fake_quant_equals_the_run_from_the_integer_image(case, method: str) -> None:
    _, name, size, args = case
    model = tiny_quantized(name, size, args, method)
    x = torch.randn(6, 3, size, size)
    for layout in (torch.contiguous_format, torch.channels_last):
        xs = x.contiguous(memory_format=layout)
        with torch.inference_mode():
            fake = model(xs)
            with run_from_image(model, own_codes(model)):
                from_image = model(xs)
        assert torch.equal(fake, from_image), f"{name} {method} {layout}"
    # the two memory formats run different kernels, so they agree to rounding only
    with torch.inference_mode():
        assert torch.allclose(model(x), model(x.contiguous(memory_format=torch.channels_last)), atol=1e-5)


@pytest.mark.parametrize("case", TINY, ids=IDS)
def test_one_fault_point_through_model_memory_and_the_evaluator(case) -> None:
    _, name, size, args = case
    model = tiny_quantized(name, size, args)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(1)
    x = torch.randn(40, 3, size, size)
    memory = ModelMemory(model)
    assert memory.layers == list(quantized_layers(model))
    assert memory.n_weights == sum(m.weight.numel() for m in quantized_layers(model).values())
    xcl = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), memory.loaded() as clean_model:
        y = clean_model(xcl).argmax(dim=1)  # labels = the clean answers: clean accuracy is exactly 100 %
    evaluator = FaultEvaluator(memory, x, y, device="cpu")
    assert evaluator.x.is_contiguous(memory_format=torch.channels_last)
    assert evaluator.clean_acc == 100.0
    result = memory.corrupt(make_flip_model("transient", 2e-2), seed=3)
    acc, changed, images = evaluator.evaluate(result.codes)
    assert changed == memory.changed_bits(result.codes) and changed > 0
    assert images == 40 and 0.0 <= acc <= 100.0
    with torch.inference_mode(), memory.loaded(result.codes) as faulty:
        want = 100.0 * float((faulty(xcl).argmax(dim=1) == y).sum()) / 40
    assert acc == want
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "the clean model is never modified"


@pytest.mark.parametrize("case", TINY, ids=IDS)
def test_a_bfa_trial_runs_and_the_prefix_replay_changes_nothing(case) -> None:
    _, name, size, args = case
    model = tiny_quantized(name, size, args, method="maxabs")
    torch.manual_seed(2)
    x_test, x_attack = torch.randn(48, 3, size, size), torch.randn(16, 3, size, size)
    image = weight_image(model)
    clean = {n: img.codes.clone() for n, img in image.items()}
    steps = {n: img.step for n, img in image.items()}
    bits = {n: img.bits for n, img in image.items()}
    with torch.no_grad(), run_from_image(model, clean):
        y_test = model(x_test.contiguous(memory_format=torch.channels_last)).argmax(dim=1)
        y_attack = model(x_attack.contiguous(memory_format=torch.channels_last)).argmax(dim=1)
    # the labels are the clean answers of an untrained model (mostly one class), so the chance threshold
    # would count it broken before any flip; at a threshold below 0 % only the iteration budget stops it
    assert chance_threshold(y_test, CLASSES) > 0
    threshold = -1.0
    trials = []
    for share in (True, False):
        problem = ImageAttackProblem(model, x_attack, y_attack, steps, bits, share_prefix=share)
        clean_loss = problem.loss_and_gradients(clean)[0]
        evaluator = StopEvaluator(model, x_test, y_test, threshold, subset=32, seed=0, share_prefix=share)
        trial = run_trial(0, problem, evaluator, clean, evaluator.check(clean), k_top=4, max_flips=50,
                          max_iterations=2, baseline_seed=[0, 0, 1])
        trials.append(trial)
    shared, plain = trials
    assert shared.rows == plain.rows and shared.final_acc == plain.final_acc
    assert not shared.stalled and shared.iterations == 2 and shared.flips >= 2
    assert shared.rows[0]["loss"] > clean_loss, "the first flip raises the attack loss"
    codes = {n: c.clone() for n, c in clean.items()}
    for row in shared.rows:  # the log replays onto the clean image
        flat = codes[row["layer"]].view(-1)
        assert int(flat[row["index"]]) == row["code_before"]
        assert (row["code_before"] ^ row["code_after"]) & 0xF == 1 << row["bit"]
        flat[row["index"]] = row["code_after"]
    assert torch.equal(clean[shared.rows[0]["layer"]], image[shared.rows[0]["layer"]].codes), "clean kept"


def test_deit_without_batch_norm_trains_weights_and_learned_ranges() -> None:
    torch.manual_seed(0)
    model = quantize(build_model("deit_tiny", CLASSES, 3, 16, embed_dim=16, depth=2, num_heads=2),
                     QuantConfig(method="wcat", bits=4, range_init="mse"))
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    x, y = torch.randn(32, 3, 16, 16), torch.randint(0, CLASSES, (32,))
    alphas = range_parameters(model)
    assert len(alphas) == len(quantized_layers(model)) == 1 + 4 * 2 + 1
    # WCAT's range gradient comes from the clipped weights: the MSE init clips the bell-shaped Linear
    # weights (the patch conv's uniform default init is not clipped: its MSE range is its max)
    clipping = [m.quantizer.alpha for m in quantized_layers(model).values()
                if m.quantizer.alpha.item() < m.weight.abs().max().item()]
    assert len(clipping) >= 9
    start = [a.item() for a in clipping]
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    losses = []
    for _ in range(30):
        optimiser.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        if not losses:
            assert model.pos_embed.grad is not None and model.cls_token.grad.abs().sum() > 0
            assert all(a.grad is not None and a.grad.abs() > 0 for a in clipping), "no range gradient"
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], f"memorising 32 images: loss {losses[0]:.3f} -> {losses[-1]:.3f}"
    assert all(a.item() != s for a, s in zip(clipping, start, strict=True)), "the ranges moved"
    model.eval()
    with torch.inference_mode():
        fake = model(x)
        with run_from_image(model, own_codes(model)):
            assert torch.equal(fake, model(x))


FULL = [("resnet18", 224), ("resnet34", 224), ("resnet50", 224), ("vgg11_bn", 224), ("vgg16_bn", 224),
        ("mobilenet_v2", 224), ("deit_tiny", 224), ("deit_small", 224), ("vgg11_bn", 32), ("vgg16_bn", 32),
        ("deit_tiny", 32), ("deit_small", 32)]


@pytest.mark.slow
@pytest.mark.parametrize("name,size", FULL, ids=[f"{n}-{s}" for n, s in FULL])
def test_full_size_models_run_from_their_image_exactly(name: str, size: int) -> None:
    """The real shapes: 1000 (or 10) classes at 224 (or 32) pixels, 4-bit, packed into the SRAM image."""
    classes = 1000 if size == 224 else 10
    torch.manual_seed(0)
    model = quantize(build_model(name, classes, 3, size), QuantConfig(method="maxabs", bits=4)).eval()
    x = torch.randn(2, 3, size, size).contiguous(memory_format=torch.channels_last)
    memory = ModelMemory(model)
    assert memory.n_weights == sum(m.weight.numel() for m in quantized_layers(model).values())
    with torch.inference_mode():
        fake = model(x)
        with memory.loaded():
            from_image = model(x)
    assert fake.shape == (2, classes) and torch.isfinite(fake).all()
    assert torch.equal(fake, from_image)
