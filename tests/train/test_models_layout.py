"""ImageNet-class models: torchvision/timm key names and shapes, published parameter counts, strict
loading, the key lists of docs/models.md, the keyword arguments and their errors.

The expected layouts are written out here from the checkpoints' naming schemes (torchvision's ResNet,
VGG and MobileNetV2, timm's VisionTransformer), not read from the models under test.  Full-size
models are built on the meta device, which allocates nothing.
"""

from __future__ import annotations

import re
from itertools import product
from pathlib import Path

import pytest
import torch
from torch import nn

from sram_models.errors import InputError
from wcatsim.train.models import MODEL_NAMES, build_model
from wcatsim.train.models.registry import model_args
from wcatsim.train.quant import QuantConfig, quantize, quantized_layers

DOCS = Path(__file__).resolve().parents[2] / "docs" / "models.md"
NEW_MODELS = ("resnet18", "resnet34", "resnet50", "vgg11_bn", "vgg16_bn", "mobilenet_v2", "deit_tiny",
              "deit_small")

# ------------------------------------------------------------------ expected layouts, from the schemes

Layout = dict[str, tuple[int, ...]]


def bn(prefix: str, c: int) -> Layout:
    return {f"{prefix}.weight": (c,), f"{prefix}.bias": (c,), f"{prefix}.running_mean": (c,),
            f"{prefix}.running_var": (c,), f"{prefix}.num_batches_tracked": ()}


def resnet_layout(blocks: tuple[int, ...], bottleneck: bool, classes: int, c_in: int = 3,
                  w: int = 64) -> Layout:
    out: Layout = {"conv1.weight": (w, c_in, 7, 7), **bn("bn1", w)}
    expansion = 4 if bottleneck else 1
    channels = w
    for stage, n in enumerate(blocks, start=1):
        p = w * 2 ** (stage - 1)
        for b in range(n):
            key = f"layer{stage}.{b}"
            if bottleneck:
                out[f"{key}.conv1.weight"] = (p, channels, 1, 1)
                out[f"{key}.conv2.weight"] = (p, p, 3, 3)
                out[f"{key}.conv3.weight"] = (4 * p, p, 1, 1)
                out.update({**bn(f"{key}.bn1", p), **bn(f"{key}.bn2", p), **bn(f"{key}.bn3", 4 * p)})
            else:
                out[f"{key}.conv1.weight"] = (p, channels, 3, 3)
                out[f"{key}.conv2.weight"] = (p, p, 3, 3)
                out.update({**bn(f"{key}.bn1", p), **bn(f"{key}.bn2", p)})
            if b == 0 and (stage > 1 or channels != p * expansion):
                out[f"{key}.downsample.0.weight"] = (p * expansion, channels, 1, 1)
                out.update(bn(f"{key}.downsample.1", p * expansion))
            channels = p * expansion
    out.update({"fc.weight": (classes, channels), "fc.bias": (classes,)})
    return out


# torchvision's VGG feature indices of the convs and their channels (conv i, BN i+1, ReLU i+2; pools)
VGG_CONVS = {
    "vgg11_bn": [(0, 64), (4, 128), (8, 256), (11, 256), (15, 512), (18, 512), (22, 512), (25, 512)],
    "vgg16_bn": [(0, 64), (3, 64), (7, 128), (10, 128), (14, 256), (17, 256), (20, 256), (24, 512),
                 (27, 512), (30, 512), (34, 512), (37, 512), (40, 512)],
}


def vgg_layout(name: str, classes: int, cifar: bool, c_in: int = 3, scale: float = 1.0,
               hidden: int | None = None) -> Layout:
    out: Layout = {}
    channels = c_in
    for index, c in VGG_CONVS[name]:
        c = int(c * scale)
        out[f"features.{index}.weight"] = (c, channels, 3, 3)
        out[f"features.{index}.bias"] = (c,)
        out.update(bn(f"features.{index + 1}", c))
        channels = c
    if cifar:
        h = hidden or 512
        linears = {1: (h, channels), 4: (h, h), 6: (classes, h)}
    else:
        h = hidden or 4096
        linears = {0: (h, channels * 49), 3: (h, h), 6: (classes, h)}
    for index, shape in linears.items():
        out[f"classifier.{index}.weight"] = shape
        out[f"classifier.{index}.bias"] = (shape[0],)
    return out


# MobileNetV2 at width 1 (Sandler et al. table 2 expanded): (input channels, output channels) of
# features.2..17, all with expansion 6
MOBILENET_BLOCKS = [(16, 24), (24, 24), (24, 32), (32, 32), (32, 32), (32, 64), (64, 64), (64, 64), (64, 64),
                    (64, 96), (96, 96), (96, 96), (96, 160), (160, 160), (160, 160), (160, 320)]


def mobilenet_layout(classes: int, c_in: int = 3) -> Layout:
    out: Layout = {"features.0.0.weight": (32, c_in, 3, 3), **bn("features.0.1", 32),
                   "features.1.conv.0.0.weight": (32, 1, 3, 3), **bn("features.1.conv.0.1", 32),
                   "features.1.conv.1.weight": (16, 32, 1, 1), **bn("features.1.conv.2", 16)}
    for i, (cin, cout) in enumerate(MOBILENET_BLOCKS, start=2):
        h = 6 * cin
        key = f"features.{i}.conv"
        out.update({f"{key}.0.0.weight": (h, cin, 1, 1), **bn(f"{key}.0.1", h),
                    f"{key}.1.0.weight": (h, 1, 3, 3), **bn(f"{key}.1.1", h),
                    f"{key}.2.weight": (cout, h, 1, 1), **bn(f"{key}.3", cout)})
    out.update({"features.18.0.weight": (1280, 320, 1, 1), **bn("features.18.1", 1280),
                "classifier.1.weight": (classes, 1280), "classifier.1.bias": (classes,)})
    return out


def deit_layout(dim: int, depth: int, classes: int, tokens: int, patch: int, c_in: int = 3,
                mlp: int | None = None) -> Layout:
    mlp = mlp or 4 * dim
    out: Layout = {"cls_token": (1, 1, dim), "pos_embed": (1, tokens + 1, dim),
                   "patch_embed.proj.weight": (dim, c_in, patch, patch), "patch_embed.proj.bias": (dim,)}
    for b in range(depth):
        for name, shape in (("norm1", (dim,)), ("attn.qkv", (3 * dim, dim)), ("attn.proj", (dim, dim)),
                            ("norm2", (dim,)), ("mlp.fc1", (mlp, dim)), ("mlp.fc2", (dim, mlp))):
            out[f"blocks.{b}.{name}.weight"] = shape
            out[f"blocks.{b}.{name}.bias"] = (shape[0],)
    out.update({"norm.weight": (dim,), "norm.bias": (dim,), "head.weight": (classes, dim),
                "head.bias": (classes,)})
    return out


def n_parameters(layout: Layout) -> int:
    """Learned parameters: everything but batch-norm running statistics."""
    total = 0
    for key, shape in layout.items():
        if key.rsplit(".", 1)[-1] not in ("running_mean", "running_var", "num_batches_tracked"):
            total += int(torch.Size(shape).numel())
    return total


# (model, classes, image size, expected layout, published parameter count or None)
FULL_SIZE = [
    ("resnet18", 224, resnet_layout((2, 2, 2, 2), False, 1000), 11_689_512),  # torchvision ResNet18_Weights
    ("resnet34", 224, resnet_layout((3, 4, 6, 3), False, 1000), 21_797_672),  # torchvision ResNet34_Weights
    ("resnet50", 224, resnet_layout((3, 4, 6, 3), True, 1000), 25_557_032),  # torchvision ResNet50_Weights
    ("vgg11_bn", 224, vgg_layout("vgg11_bn", 1000, cifar=False), 132_868_840),  # torchvision VGG11_BN
    ("vgg16_bn", 224, vgg_layout("vgg16_bn", 1000, cifar=False), 138_365_992),  # torchvision VGG16_BN
    ("mobilenet_v2", 224, mobilenet_layout(1000), 3_504_872),  # torchvision MobileNet_V2_Weights
    ("deit_tiny", 224, deit_layout(192, 12, 1000, 196, 16), 5_717_416),  # timm card: 5.7 M
    ("deit_small", 224, deit_layout(384, 12, 1000, 196, 16), 22_050_664),  # timm card: 22.1 M
]
CIFAR_FORMS = [
    ("vgg11_bn", 32, vgg_layout("vgg11_bn", 10, cifar=True), None),
    ("vgg16_bn", 32, vgg_layout("vgg16_bn", 10, cifar=True), None),
    ("deit_tiny", 32, deit_layout(192, 12, 10, 64, 4), None),
    ("deit_small", 32, deit_layout(384, 12, 10, 64, 4), None),
]


def meta_model(name: str, classes: int, size: int, **args) -> nn.Module:
    with torch.device("meta"):
        return build_model(name, classes, 3, size, **args)


def meta_state(layout: Layout) -> dict[str, torch.Tensor]:
    return {key: torch.empty(shape, device="meta",
                             dtype=torch.int64 if key.endswith("num_batches_tracked") else torch.float32)
            for key, shape in layout.items()}


# ------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("name,size,layout,published", FULL_SIZE + CIFAR_FORMS,
                         ids=[f"{c[0]}-{c[1]}" for c in FULL_SIZE + CIFAR_FORMS])
def test_keys_and_shapes_are_the_checkpoints_and_load_strictly(name, size, layout, published) -> None:
    classes = 1000 if size == 224 else 10
    model = meta_model(name, classes, size)
    if published is not None:
        assert n_parameters(layout) == published, "the test's own layout must give the published count"
        assert sum(p.numel() for p in model.parameters()) == published
    got = {key: tuple(t.shape) for key, t in model.state_dict().items()}
    assert sorted(set(got) - set(layout)) == [] and sorted(set(layout) - set(got)) == []
    wrong = {key: (got[key], shape) for key, shape in layout.items() if got[key] != shape}
    assert wrong == {}
    result = model.load_state_dict(meta_state(layout), strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []


@pytest.mark.parametrize("name,size,args,layout", [
    ("resnet18", 16, {"width": 4}, resnet_layout((2, 2, 2, 2), False, 7, c_in=2, w=4)),
    ("resnet50", 16, {"width": 4}, resnet_layout((3, 4, 6, 3), True, 7, c_in=2, w=4)),
    ("vgg11_bn", 32, {"width": 4}, vgg_layout("vgg11_bn", 7, cifar=True, c_in=2, scale=1 / 16, hidden=32)),
    ("vgg16_bn", 64, {"width": 2, "hidden": 16},
     vgg_layout("vgg16_bn", 7, cifar=False, c_in=2, scale=1 / 32, hidden=16)),
    ("deit_tiny", 16, {"embed_dim": 8, "depth": 2, "num_heads": 2}, deit_layout(8, 2, 7, 16, 4, c_in=2)),
    ("deit_small", 48, {"embed_dim": 6, "depth": 1, "num_heads": 3, "mlp_ratio": 2.0, "patch_size": 12},
     deit_layout(6, 1, 7, 16, 12, c_in=2, mlp=12)),
], ids=["resnet18", "resnet50", "vgg11_cifar", "vgg16_imagenet", "deit_tiny", "deit_small"])
def test_a_state_dict_with_the_expected_names_loads_and_is_used(name, size, args, layout) -> None:
    torch.manual_seed(0)
    model = build_model(name, 7, 2, size, **args)
    state = {key: (torch.tensor(3) if key.endswith("num_batches_tracked") else torch.randn(shape))
             for key, shape in layout.items()}
    model.load_state_dict(state, strict=True)
    after = model.state_dict()
    assert all(torch.equal(after[key], value) for key, value in state.items())
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, 2, size, size)).shape == (2, 7)


def test_mobilenet_v2_width_multiplier_follows_the_rounding_rule() -> None:
    # width 0.5: channels c * 0.5 rounded to multiples of 8 (never 10% below): 16, 8, 16, 16, 32, 48,
    # 80, 160; the last conv keeps 1280 (max(1, width_mult))
    model = meta_model("mobilenet_v2", 1000, 224, width_mult=0.5)
    state = model.state_dict()
    assert state["features.0.0.weight"].shape == (16, 3, 3, 3)
    assert state["features.1.conv.1.weight"].shape == (8, 16, 1, 1)
    assert state["features.2.conv.2.weight"].shape == (16, 48, 1, 1), "24 * 0.5 = 12 rounds up to 16"
    assert state["features.17.conv.2.weight"].shape == (160, 480, 1, 1)
    assert state["features.18.0.weight"].shape == (1280, 160, 1, 1)


def expand_braces(pattern: str) -> list[str]:
    """``a{1..3}.{x,y}`` -> a1.x, a1.y, ..., a3.y; ``BN`` -> the five batch-norm entries."""
    pattern = pattern.replace(".BN", ".{weight,bias,running_mean,running_var,num_batches_tracked}")
    parts = re.split(r"(\{[^}]*\})", pattern)
    choices = []
    for part in parts:
        if part.startswith("{"):
            body = part[1:-1]
            if ".." in body:
                a, b = body.split("..")
                choices.append([str(i) for i in range(int(a), int(b) + 1)])
            else:
                choices.append(body.split(","))
        else:
            choices.append([part])
    return ["".join(p) for p in product(*choices)]


def documented_key_blocks() -> list[tuple[str, int, set[str]]]:
    """(model, image size, keys) for every ``<!-- keys: NAME [image_size=S] -->`` block of docs/models.md."""
    text = DOCS.read_text()
    blocks = []
    for match in re.finditer(r"((?:<!-- keys: [^>]+ -->\n)+)```text\n(.*?)```", text, re.S):
        keys: set[str] = set()
        for line in match.group(2).splitlines():
            pattern = line.split("#")[0].strip()
            if pattern:
                keys.update(expand_braces(pattern))
        for header in re.findall(r"<!-- keys: ([^>]+) -->", match.group(1)):
            name, *rest = header.split()
            size = int(rest[0].split("=")[1]) if rest else 224
            blocks.append((name, size, keys))
    return blocks


def test_docs_list_every_key_of_every_model_and_variant() -> None:
    blocks = documented_key_blocks()
    documented = {(name, size) for name, size, _ in blocks}
    wanted = {(name, 224) for name in NEW_MODELS} | {(n, 32) for n in ("vgg11_bn", "vgg16_bn", "deit_tiny",
                                                                        "deit_small")}
    assert wanted <= documented, f"docs/models.md lacks key lists of {sorted(wanted - documented)}"
    for name, size, keys in blocks:
        model_keys = set(meta_model(name, 10, size).state_dict())
        assert keys == model_keys, (
            f"{name} at {size} px: documented but absent {sorted(keys - model_keys)[:5]}, "
            f"present but undocumented {sorted(model_keys - keys)[:5]}"
        )


def test_docs_name_every_keyword_argument() -> None:
    text = DOCS.read_text()
    for name in MODEL_NAMES:
        for arg in model_args(name):
            assert f"`{arg}`" in text, f"docs/models.md does not describe {name}'s argument {arg}"


# quantized layers per architecture, counted from the papers' layer tables: convs (stem, block convs,
# projection shortcuts) and linear layers
QUANTIZED_COUNTS = {"resnet18": 1 + 16 + 3 + 1, "resnet34": 1 + 32 + 3 + 1, "resnet50": 1 + 48 + 4 + 1,
                    "vgg11_bn": 8 + 3, "vgg16_bn": 13 + 3, "mobilenet_v2": 1 + 2 + 16 * 3 + 1 + 1,
                    "deit_tiny": 1 + 4 * 12 + 1, "deit_small": 1 + 4 * 12 + 1}


@pytest.mark.parametrize("name", NEW_MODELS)
def test_every_conv_and_linear_is_quantized_and_nothing_else(name: str) -> None:
    model = quantize(meta_model(name, 1000, 224), QuantConfig(method="maxabs", bits=4))
    layers = quantized_layers(model)
    assert len(layers) == QUANTIZED_COUNTS[name]
    assert not any(type(m) in (nn.Conv2d, nn.Linear) for m in model.modules())


def test_deit_quantizes_fused_qkv_and_patch_conv_and_keeps_embeddings_float() -> None:
    model = quantize(meta_model("deit_tiny", 1000, 224), QuantConfig(method="maxabs", bits=4))
    names = list(quantized_layers(model))
    per_block = [f"blocks.0.{n}" for n in ("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2")]
    assert names[:5] == ["patch_embed.proj", *per_block] and names[-1] == "head"
    assert quantized_layers(model)["blocks.0.attn.qkv"].weight.shape == (576, 192), "qkv: one layer"
    # the quantized layers' weights are all that goes to the faulty memory: embeddings, norms and biases
    # are not in it
    in_memory = sum(m.weight.numel() for m in quantized_layers(model).values())
    biases = sum(m.bias.numel() for m in quantized_layers(model).values())
    float_kept = 1 * 1 * 192 + 197 * 192 + 2 * 192 * 25 + biases  # cls_token, pos_embed, 25 LayerNorms
    assert in_memory + float_kept == 5_717_416
    cfg = QuantConfig(method="maxabs", exclude=("patch_embed.proj", "head"))
    excluded = quantize(meta_model("deit_tiny", 10, 32), cfg)
    assert "patch_embed.proj" not in quantized_layers(excluded) and len(quantized_layers(excluded)) == 48


def test_old_models_are_unchanged() -> None:
    torch.manual_seed(0)
    def count(name: str, **args) -> int:
        return sum(p.numel() for p in build_model(name, 10, 1, 8, **args).parameters())

    assert count("small_cnn") == 25_978  # convs 144 + 4,608 + 18,432, batch norms 224, fc 2,570
    assert count("mlp") == 26_122  # 64*128+128 + 128*128+128 + 128*10+10
    assert count("small_cnn", width=4) < 25_978 and count("mlp", hidden=8) < 26_122


@pytest.mark.parametrize("name,size,args,message", [
    ("resnet18", 32, {"depth": 3}, r"no argument 'depth'; it accepts: width \(int >= 1, default 64\)"),
    ("resnet18", 32, {"width": 0}, r"width must be int >= 1, got 0"),
    ("resnet18", 32, {"width": 2.5}, r"width must be an integer"),
    ("resnet18", 32, {"width": True}, r"width must be a number"),
    ("lenet5", 28, {"width": 4}, r"no argument 'width'; it accepts: none"),
    ("vgg11_bn", 32, {"layout": "tiny"}, r"layout must be one of auto, imagenet, cifar"),
    ("vgg11_bn", 28, {}, r"at least 32x32 pixels"),
    ("vgg16_bn", 32, {"dropout": 1.0}, r"dropout must be float in \[0, 1\), got 1.0"),
    ("mobilenet_v2", 32, {"width_mult": 0}, r"width_mult must be float >= 0.001"),
    ("mobilenet_v2", 32, {"width_mult": float("nan")}, r"width_mult must be a finite number"),
    ("deit_tiny", 32, {"num_heads": 5}, r"num_heads 5 does not divide embed_dim 192"),
    ("deit_tiny", 30, {}, r"patch size 4 does not divide the image size 30; .* 1, 2, 3, 5, 6, 10, 15, 30"),
    ("deit_small", 224, {"patch_size": 15}, r"patch size 15 does not divide"),
    ("deit_small", 224, {"embed_dims": 64}, r"no argument 'embed_dims'; it accepts: embed_dim"),
])
def test_bad_arguments_are_one_line_input_errors(name, size, args, message) -> None:
    with pytest.raises(InputError, match=message) as info:
        meta_model(name, 10, size, **args)
    assert "\n" not in str(info.value)


def test_vgg_layout_choice_and_sizes() -> None:
    assert meta_model("vgg11_bn", 10, 32).layout == "cifar"
    assert meta_model("vgg11_bn", 10, 63).layout == "cifar"
    assert meta_model("vgg11_bn", 10, 64).layout == "imagenet"
    assert meta_model("vgg11_bn", 10, 32, layout="imagenet").layout == "imagenet"
    # the CIFAR form at larger images pools to 1x1 before the classifier
    torch.manual_seed(0)
    model = build_model("vgg11_bn", 10, 3, 96, width=2, layout="cifar").eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 96, 96)).shape == (2, 10)


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "mobilenet_v2"])
@pytest.mark.parametrize("size", [1, 7, 33])
def test_adaptive_pooling_takes_any_image_size(name: str, size: int) -> None:
    torch.manual_seed(0)
    args = {"width_mult": 0.25, "last_channel": 16} if name == "mobilenet_v2" else {"width": 2}
    model = build_model(name, 5, 3, size, **args).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, size, size)).shape == (2, 5)


def test_deit_patch_defaults() -> None:
    assert meta_model("deit_tiny", 10, 224).state_dict()["pos_embed"].shape == (1, 197, 192)
    assert meta_model("deit_tiny", 10, 32).state_dict()["patch_embed.proj.weight"].shape == (192, 3, 4, 4)
    assert meta_model("deit_tiny", 10, 28).state_dict()["pos_embed"].shape == (1, 50, 192)  # 7x7 + 1
    assert meta_model("deit_tiny", 10, 384).state_dict()["pos_embed"].shape == (1, 577, 192)  # 24x24 + 1
