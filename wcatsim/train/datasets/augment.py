"""Training augmentation for CIFAR-style images, in torch (no torchvision): random crop from the image
padded by 4 pixels, and a horizontal flip with probability 1/2 (He et al. 2016, section 4.2)."""

from __future__ import annotations

import torch


class RandomCropFlip:
    """Applied to normalised batches (B, C, H, W); the padding holds the normalised value of a black
    pixel, ``-mean/std`` per channel, as padding the raw image with zeros before normalising would."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], padding: int = 4) -> None:
        self.padding = padding
        self.fill = torch.tensor([-m / s for m, s in zip(mean, std, strict=True)], dtype=torch.float32)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        b, c, h, w = x.shape
        p = self.padding
        padded = self.fill.to(x.device, x.dtype).view(1, c, 1, 1).expand(b, c, h + 2 * p, w + 2 * p).clone()
        padded[:, :, p : p + h, p : p + w] = x
        dy = torch.randint(0, 2 * p + 1, (b,), generator=generator)
        dx = torch.randint(0, 2 * p + 1, (b,), generator=generator)
        flip = torch.rand(b, generator=generator) < 0.5
        rows = (dy[:, None] + torch.arange(h)[None, :]).to(x.device)  # (B, H)
        cols = dx[:, None] + torch.arange(w)[None, :]  # (B, W)
        cols = torch.where(flip[:, None], cols.flip(1), cols).to(x.device)
        batch = torch.arange(b, device=x.device)[:, None, None]
        out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
        return out.permute(0, 3, 1, 2).contiguous()

    def __repr__(self) -> str:
        return f"RandomCropFlip(padding={self.padding})"
