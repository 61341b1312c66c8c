"""DeiT-Tiny and DeiT-Small (Touvron et al., "Training data-efficient image transformers & distillation
through attention", ICML 2021, table 1): the ViT of Dosovitskiy et al. (ICLR 2021) with a class token,
in timm's module layout, so that timm's (and the DeiT release's) checkpoints load by name.

Keys: ``cls_token`` [1, 1, D], ``pos_embed`` [1, (S/P)^2 + 1, D], ``patch_embed.proj`` (a PxP conv
with stride P), ``blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}`` (pre-norm blocks,
LayerNorm eps 1e-6, qkv with bias, GELU MLP of ratio 4), ``norm``, ``head`` (on the class token).

Attention is written with plain ``nn.Linear`` layers (not ``nn.MultiheadAttention``, whose output
projection never calls its own forward), so that :func:`wcatsim.train.quant.quantize` quantizes every Linear:
the fused ``attn.qkv`` is one layer with one range, as in the WCAT code.  LayerNorm, biases, the
position and class embeddings stay float.

Patch size: 16 as in DeiT (224-pixel images, a 14x14 grid); images of 32 pixels or fewer take 4 (an
8x8 grid on CIFAR).  It must divide the image size; any other size is refused with the sizes that fit.
A checkpoint made at another image size has another ``pos_embed`` shape and does not load (timm
would resample it; wcatsim does not).
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from sram_models.errors import InputError

from .args import ModelArg, register_model

# (embed_dim, depth, num_heads): Touvron et al. 2021, table 1.
DEIT_SIZES: dict[str, tuple[int, int, int]] = {
    "deit_tiny": (192, 12, 3),
    "deit_small": (384, 12, 6),
}
DEIT_PATCH = 16  # DeiT's patch at 224 pixels
SMALL_IMAGE_PATCH = 4  # the patch for images of SMALL_IMAGE pixels or fewer (an 8x8 grid on CIFAR's 32)
SMALL_IMAGE = 32
LAYER_NORM_EPS = 1e-6  # timm's ViT/DeiT LayerNorm
POS_EMBED_STD = 0.02  # timm's truncated-normal init of pos_embed and of the Linear weights
CLS_TOKEN_STD = 1e-6  # timm's init of the class token


def deit_args(name: str) -> dict[str, ModelArg]:
    dim, depth, heads = DEIT_SIZES[name]
    return {
        "embed_dim": ModelArg(int, dim, "token width D (DeiT table 1)", minimum=1),
        "depth": ModelArg(int, depth, "transformer blocks (DeiT table 1)", minimum=1),
        "num_heads": ModelArg(int, heads, "attention heads; must divide embed_dim (DeiT table 1)", minimum=1),
        "mlp_ratio": ModelArg(float, 4.0, "MLP hidden width / embed_dim (4 in ViT and DeiT)", minimum=1e-3),
        "patch_size": ModelArg(int, None, f"patch side in pixels, must divide the image size (auto: "
                               f"{SMALL_IMAGE_PATCH} up to {SMALL_IMAGE} pixels, else {DEIT_PATCH})",
                               minimum=1),
        "drop_path_rate": ModelArg(float, 0.0, "stochastic depth rate of the last block, linear from 0 "
                                   "(timm's default 0; the DeiT recipe trains with 0.1)",
                                   minimum=0.0, below=1.0),
    }


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): in training, zero a residual branch per sample with
    probability ``rate`` and scale the kept ones by 1 / (1 - rate); the identity in eval mode."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


class PatchEmbed(nn.Module):
    """Non-overlapping PxP patches to D-dimensional tokens: (B, C, H, W) -> (B, H/P * W/P, D)."""

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with one fused qkv projection and an output projection."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    """ViT with a class token (DeiT without distillation token), timm's parameter names."""

    def __init__(self, num_classes: int, in_channels: int, image_size: int, patch_size: int, embed_dim: int,
                 depth: int, num_heads: int, mlp_ratio: float = 4.0, drop_path_rate: float = 0.0) -> None:
        super().__init__()
        tokens = (image_size // patch_size) ** 2
        self.patch_embed = PatchEmbed(in_channels, embed_dim, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens + 1, embed_dim))
        rates = [drop_path_rate * i / max(1, depth - 1) for i in range(depth)]
        self.blocks = nn.Sequential(*(Block(embed_dim, num_heads, mlp_ratio, r) for r in rates))
        self.norm = nn.LayerNorm(embed_dim, eps=LAYER_NORM_EPS)
        self.head = nn.Linear(embed_dim, num_classes)
        # timm's initialisation: truncated-normal position embedding and Linear weights, zero biases, a
        # near-zero class token; the patch convolution keeps PyTorch's default
        nn.init.trunc_normal_(self.pos_embed, std=POS_EMBED_STD)
        nn.init.normal_(self.cls_token, std=CLS_TOKEN_STD)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=POS_EMBED_STD)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def default_patch_size(image_size: int) -> int:
    return SMALL_IMAGE_PATCH if image_size <= SMALL_IMAGE else DEIT_PATCH


def build_deit(name: str, num_classes: int, in_channels: int, image_size: int, embed_dim: int, depth: int,
               num_heads: int, mlp_ratio: float, patch_size: int | None, drop_path_rate: float
               ) -> VisionTransformer:
    if embed_dim % num_heads:
        raise InputError(
            f"{name}: num_heads {num_heads} does not divide embed_dim {embed_dim}; choose them so that "
            "embed_dim / num_heads is a whole head width"
        )
    patch = default_patch_size(image_size) if patch_size is None else patch_size
    if image_size % patch:
        fits = [p for p in range(1, image_size + 1) if image_size % p == 0]
        raise InputError(
            f"{name}: patch size {patch} does not divide the image size {image_size}; set the model argument "
            f"patch_size to one of {', '.join(map(str, fits))}"
        )
    if int(embed_dim * mlp_ratio) < 1:
        raise InputError(f"{name}: mlp_ratio {mlp_ratio} leaves an empty MLP at embed_dim {embed_dim}")
    return VisionTransformer(num_classes, in_channels, image_size, patch, embed_dim, depth, num_heads,
                             mlp_ratio=mlp_ratio, drop_path_rate=drop_path_rate)


for _name in DEIT_SIZES:
    register_model(_name, partial(build_deit, _name), deit_args(_name))
