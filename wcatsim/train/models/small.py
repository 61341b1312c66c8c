"""Small models sized for the embedded 8x8 digits (and any other small image)."""

from __future__ import annotations

from torch import nn

from .args import ModelArg, register_model


@register_model("mlp", args={"hidden": ModelArg(int, 128, "units of the two hidden layers", minimum=1)})
class MLP(nn.Module):
    """Flatten -> Linear(hidden) -> ReLU -> Linear(hidden) -> ReLU -> Linear(classes)."""

    def __init__(self, num_classes: int, in_channels: int, image_size: int, hidden: int = 128) -> None:
        super().__init__()
        self.features = nn.Flatten()
        self.fc1 = nn.Linear(in_channels * image_size * image_size, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, num_classes)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.relu(self.fc1(self.features(x)))
        return self.fc3(self.relu(self.fc2(x)))


@register_model(
    "small_cnn", args={"width": ModelArg(int, 16, "channels of the first conv (then 2x, 4x)", minimum=1)}
)
class SmallCNN(nn.Module):
    """Three 3x3 conv + batch-norm + ReLU blocks (16, 32, 64 channels; 2x2 max-pool after the second
    and third) and one linear classifier on a 2x2 adaptive average pool.  About 26k parameters; on the
    8x8 digits it reaches about 97-98% test accuracy in float."""

    def __init__(self, num_classes: int, in_channels: int, image_size: int, width: int = 16) -> None:
        super().__init__()
        c1, c2, c3 = width, 2 * width, 4 * width
        self.conv1 = nn.Conv2d(in_channels, c1, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c2)
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(c3)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2) if image_size >= 4 else nn.Identity()
        self.head_pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(c3 * 4, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.pool(self.relu(self.bn2(self.conv2(x))))
        x = self.relu(self.bn3(self.conv3(x)))
        return self.fc(self.head_pool(x).flatten(1))
