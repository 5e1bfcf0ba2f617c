"""A small PyTorch MLP on the scikit-learn digits (64 pixels, 10 classes).

Run: python train.py [--epochs N] [--lr LR] [--hidden UNITS] [--batch-size N]
Prints "val_accuracy: 0.xx" after every epoch. The defaults are deliberately weak (a tiny
learning rate for a few epochs), so there is something to tune: --lr 0.01 --epochs 20 gets ~0.97.
"""

import argparse

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="passes over the training set")
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate")
    parser.add_argument("--hidden", type=int, default=16, help="units of the hidden layer")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per step")
    return parser.parse_args()


def load_data(batch_size):
    x, y = load_digits(return_X_y=True)
    x = x / 16.0  # pixels are 0..16
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y
    )
    train = TensorDataset(torch.tensor(x_train, dtype=torch.float32), torch.tensor(y_train))
    val = TensorDataset(torch.tensor(x_val, dtype=torch.float32), torch.tensor(y_val))
    return DataLoader(train, batch_size=batch_size, shuffle=True), DataLoader(val, batch_size=256)


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(dim=1) == y).sum().item()
            total += len(y)
    return correct / total


def main():
    args = parse_args()
    torch.set_num_threads(1)  # the model is tiny: extra threads only add overhead
    train_loader, val_loader = load_data(args.batch_size)
    model = nn.Sequential(nn.Linear(64, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, args.epochs + 1):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch}/{args.epochs} loss: {loss.item():.4f}")
        print(f"val_accuracy: {evaluate(model, val_loader):.4f}")


if __name__ == "__main__":
    main()
