"""Your own model and your own training loop, to a random-flip sweep returned as a DataFrame.

    python examples/own_model_sweep.py           # 15 epochs, 50 realisations per BER
    python examples/own_model_sweep.py --tiny    # 1 epoch, 5 realisations: what the test run checks
"""

import os
import sys

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import wcatsim


class Net(nn.Module):  # any nn.Module: quantize() replaces its Conv2d and Linear layers
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))


tiny = "--tiny" in sys.argv or os.environ.get("WCATSIM_EXAMPLES_TINY") == "1"
torch.manual_seed(0)
digits = wcatsim.load_dataset("digits")  # stands in for your data: any DataLoader of (images, classes)
train = DataLoader(TensorDataset(*digits.train_tensors()), batch_size=64, shuffle=True)
test = DataLoader(TensorDataset(*digits.test_tensors()), batch_size=256)

model = wcatsim.quantize(Net(), wcatsim.QuantConfig(method="wcat", bits=4))
# WCAT's learned ranges need a group of their own, with their own decay: one group is another method
optimizer = torch.optim.Adam(wcatsim.param_groups(model, lr=1e-2, range_decay=0.1))
for _epoch in range(1 if tiny else 15):
    model.train()
    for x, y in train:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

df = wcatsim.random_flip(model, test, bers=[0, 1e-3, 1e-2, 3e-2], samples=5 if tiny else 50)
print(f"{df.attrs['model']} ({df.attrs['quant_method']}, {df.attrs['bits']}-bit), "
      f"clean accuracy {df['clean_acc'][0]:.2f}%")
print(df[["ber", "flip_frac", "acc_mean_pct", "ci_low_pct", "ci_high_pct"]].to_string(index=False))
