"""A pretrained state dict, quantized and swept across SRAM supply voltages without training.

    python examples/pretrained_sweep.py --weights net.pt   # your state dict of the network below
    python examples/pretrained_sweep.py --tiny             # seconds: makes a stand-in file first
"""

import argparse
import os
import tempfile

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import wcatsim


def network() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 8 * 8, 10))


def stand_in_weights(path: str, data: DataLoader) -> None:
    """Only for this demonstration: a float network fitted briefly and saved, as a pretrained file is."""
    torch.manual_seed(0)
    net = network()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for x, y in data:
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()
    torch.save(net.state_dict(), path)


parser = argparse.ArgumentParser()
parser.add_argument("--weights", help="a state dict (torch.save) of network()")
parser.add_argument("--tiny", action="store_true", default=os.environ.get("WCATSIM_EXAMPLES_TINY") == "1")
args = parser.parse_args()
digits = wcatsim.load_dataset("digits")  # stands in for your test data
test = DataLoader(TensorDataset(*digits.test_tensors()), batch_size=256)

with tempfile.TemporaryDirectory() as folder:
    weights = args.weights or os.path.join(folder, "stand_in.pt")
    if args.weights is None:
        stand_in_weights(weights, DataLoader(TensorDataset(*digits.train_tensors()), batch_size=32))
    model = network()
    model.load_state_dict(torch.load(weights, weights_only=True))  # a file is read as data, never run

# post-training quantization: each layer's range from its weights (max |w|), no image involved
model = wcatsim.quantize(model, wcatsim.QuantConfig(method="maxabs", bits=8))
df = wcatsim.sweep_voltage(model, test, "chandramoorthy14", voltages=[1.0, 0.9, 0.85, 0.8, 0.75],
                           chips=3 if args.tiny else 20, name="pretrained_cnn")
print(f"{df.attrs['model']} on {df.attrs['settings']['preset']}: clean accuracy {df['clean_acc'][0]:.2f}%")
columns = ["voltage_norm", "voltage_v", "ber", "energy_norm", "acc_mean_pct", "ci_low_pct"]
print(df[columns].to_string(index=False))
