"""LeNet-5 (LeCun et al. 1998) as commonly trained on MNIST: conv5(6) -> pool -> conv5(16) -> pool ->
120 -> 84 -> classes, ReLU and max-pooling.  On 28x28 inputs the first conv pads by 2 (as on the 32x32
original); for images smaller than 12 pixels the second conv pads by 2 as well so that any size >= 4
works."""

from __future__ import annotations

from torch import nn

from sram_models.errors import InputError

from .args import register_model


@register_model("lenet5")
class LeNet5(nn.Module):
    """LeNet-5: two 5x5 convs with max-pooling, then 120 -> 84 -> classes."""

    def __init__(self, num_classes: int, in_channels: int, image_size: int) -> None:
        super().__init__()
        if image_size < 4:
            raise InputError(f"lenet5 needs images of at least 4x4 pixels, got {image_size}")
        size = image_size // 2  # conv1 (5x5, pad 2) keeps the size, pool halves it
        pad2 = 0 if size >= 6 else 2
        size = (size - 4 + 2 * pad2) // 2
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5, padding=pad2)
        self.pool = nn.MaxPool2d(2)
        self.relu = nn.ReLU()
        self.fc1 = nn.Linear(16 * size * size, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = x.flatten(1)
        return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x)))))
