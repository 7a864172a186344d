"""A plain, single-file MNIST training script: the yardstick for mnist_lib's speed.

    python benchmarks/reference.py data/                 # LeNet-5, 3 epochs
    python benchmarks/reference.py data/ --model mlp --epochs 15

Written as a newcomer who knows PyTorch would write it, without mnist_lib: read the four
IDX files with gzip and numpy, resize the whole training set (all 60,000 images) to 32x32
once, keep it as one float tensor, and train with Adam and a one-cycle schedule at batch
128, measuring the 10,000 test images after every epoch. Prints one JSON line per epoch:
the test accuracy, the seconds since this script started, and `time.time()` (so that a
parent process can measure from the moment it launched `python`).
"""

import argparse
import gzip
import json
import struct
import time
from pathlib import Path

START = time.time()  # before importing torch: its import is part of the cost

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402


def read_idx(path):
    """An IDX file (raw or .gz) as a numpy array: a big-endian header, then uint8 data."""
    path = Path(path)
    if not path.exists():
        path = path.with_name(path.name + ".gz")
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load(folder, prefix):
    """Images as normalized float [N, 1, 32, 32] and labels as int64 [N]."""
    images = torch.from_numpy(read_idx(Path(folder) / f"{prefix}-images-idx3-ubyte").copy())
    labels = torch.from_numpy(read_idx(Path(folder) / f"{prefix}-labels-idx1-ubyte").copy())
    x = images.unsqueeze(1).float() / 255.0
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    return (x - 0.1307) / 0.3081, labels.long()


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.output = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c3(x)), 2)
        x = F.relu(self.c5(x)).flatten(1)
        return self.output(F.relu(self.f6(x)))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(1024, 57), nn.ReLU(), nn.Linear(57, 48), nn.ReLU(), nn.Linear(48, 10)
        )

    def forward(self, x):
        return self.net(x)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="folder with the four MNIST IDX files (raw or .gz)")
    p.add_argument("--model", choices=["lenet5", "mlp"], default="lenet5")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-2, help="peak rate of the one-cycle schedule")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    x_train, y_train = load(args.data, "train")
    x_test, y_test = load(args.data, "t10k")
    x_train, y_train = x_train.to(device), y_train.to(device)
    x_test, y_test = x_test.to(device), y_test.to(device)

    model = (LeNet5() if args.model == "lenet5" else MLP()).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = (len(x_train) + args.batch_size - 1) // args.batch_size
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * steps
    )

    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(x_train), device=device)
        for i in range(0, len(x_train), args.batch_size):
            idx = order[i : i + args.batch_size]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()

        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(x_test), 1000):
                pred = model(x_test[i : i + 1000]).argmax(1)
                correct += (pred == y_test[i : i + 1000]).sum().item()
        now = time.time()
        print(
            json.dumps(
                {
                    "epoch": epoch,
                    "test_acc": 100.0 * correct / len(x_test),
                    "seconds": round(now - START, 3),
                    "time": now,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
