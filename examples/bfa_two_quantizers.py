"""The Bit-Flip Attack on one network quantized two ways (max-abs and WCAT, 4-bit), compared.

    python examples/bfa_two_quantizers.py          # 15 epochs each, 5 attack trials
    python examples/bfa_two_quantizers.py --tiny   # 1 epoch, 1 short trial: what the test run checks
"""

import os
import sys

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import wcatsim

tiny = "--tiny" in sys.argv or os.environ.get("WCATSIM_EXAMPLES_TINY") == "1"
digits = wcatsim.load_dataset("digits")  # stands in for your data
train_set = TensorDataset(*digits.train_tensors())
test = DataLoader(TensorDataset(*digits.test_tensors()), batch_size=256)


def trained(method: str) -> nn.Module:
    torch.manual_seed(0)  # the same initial weights and batches for both quantizers
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 8 * 8, 10))
    model = wcatsim.quantize(net, wcatsim.QuantConfig(method=method, bits=4))
    optimizer = torch.optim.Adam(wcatsim.param_groups(model, lr=1e-2))
    for _epoch in range(1 if tiny else 15):
        model.train()
        for x, y in DataLoader(train_set, batch_size=64, shuffle=True):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    return model


for method in ("maxabs", "wcat"):
    # attack batches come from the training images, never the test set
    budget = {"trials": 1, "max_flips": 10, "k_top": 10} if tiny else {"trials": 5}
    df = wcatsim.bit_flip_attack(trained(method), test, train_set, name=f"cnn_{method}", **budget)
    s = df.attrs["summary"]
    median = s["flips_to_break_median"]
    print(f"{s['model']}: clean {s['clean_acc']:.2f}%, flips to break per trial "
          f"{df['flips_to_break'].tolist()} ({df['status'].tolist()}), median "
          f"{median if median is not None else '>= ' + str(s['flips_to_break_median_lower_bound'])}")
