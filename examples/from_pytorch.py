"""A PyTorch program, unchanged but for its imports: pytorch/examples' MNIST CNN on the 8x8 digits.

The model, the training and test loops, Adadelta with StepLR, the DataLoader and
the checkpoint are written as in pytorch/examples ``mnist/main.py``; the data are
scikit-learn's 1797 handwritten digits (no download), a quarter held out.
Writes the trained weights to ``--out``/digits_cnn.pt.

Run: python examples/from_pytorch.py [--epochs N] [--seed S] [--out DIR]
"""
import argparse
import os

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

# The only lines that differ from the PyTorch program: replace these six imports with
#   import torch
#   import torch.nn as nn
#   import torch.nn.functional as F
#   import torch.optim as optim
#   from torch.optim.lr_scheduler import StepLR
#   from torch.utils.data import DataLoader, TensorDataset
# and the same file runs on PyTorch (tests/test_examples.py does exactly that).
import tinygrad_conv as torch
import tinygrad_conv.nn as nn
import tinygrad_conv.nn.functional as F
import tinygrad_conv.optim as optim
from tinygrad_conv.optim.lr_scheduler import StepLR
from tinygrad_conv.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)    # 8x8 -> 6x6
        self.conv2 = nn.Conv2d(32, 64, 3, 1)   # 6x6 -> 4x4
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(256, 128)         # 64 channels x 2x2 after pooling
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(model, device, train_loader, optimizer, epoch, log_interval=10):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()

    test_loss /= len(test_loader.dataset)
    print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.1f}%)\n'.format(
        test_loss, correct, len(test_loader.dataset),
        100. * correct / len(test_loader.dataset)))
    return correct / len(test_loader.dataset)


def digits_datasets(seed=0):
    """The digits as (N, 1, 8, 8) float32 tensors, normalised, and int64 labels; 25% held out."""
    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.images, digits.target, test_size=0.25, stratify=digits.target, random_state=seed)
    X_train = torch.tensor(X_train, dtype=torch.float32).unsqueeze(1) / 16.0  # pixels are 0..16
    X_test = torch.tensor(X_test, dtype=torch.float32).unsqueeze(1) / 16.0
    mean, std = X_train.mean(), X_train.std()  # as transforms.Normalize((0.1307,), (0.3081,)) on MNIST
    return (TensorDataset((X_train - mean) / std, torch.tensor(y_train)),
            TensorDataset((X_test - mean) / std, torch.tensor(y_test)))


def main(epochs=14, lr=1.0, gamma=0.7, batch_size=64, test_batch_size=1000, seed=1, out="out",
         save_model=True):
    """Train for ``epochs`` and return the final test accuracy (a fraction)."""
    torch.manual_seed(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    train_dataset, test_dataset = digits_datasets()
    train_loader = DataLoader(train_dataset, batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(test_dataset, batch_size=test_batch_size)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=lr)

    scheduler = StepLR(optimizer, step_size=1, gamma=gamma)
    for epoch in range(1, epochs + 1):
        train(model, device, train_loader, optimizer, epoch)
        accuracy = test(model, device, test_loader)
        scheduler.step()

    if save_model:
        os.makedirs(out, exist_ok=True)
        torch.save(model.state_dict(), os.path.join(out, "digits_cnn.pt"))
    return accuracy


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--epochs', type=int, default=14, help='number of epochs to train (default: 14)')
    parser.add_argument('--lr', type=float, default=1.0, help='learning rate (default: 1.0)')
    parser.add_argument('--gamma', type=float, default=0.7, help='learning rate step gamma (default: 0.7)')
    parser.add_argument('--seed', type=int, default=1, help='random seed (default: 1)')
    parser.add_argument('--out', default='out', help='folder for the checkpoint (default: out)')
    parser.add_argument('--no-save-model', action='store_true', help='do not save the trained weights')
    args = parser.parse_args()
    main(epochs=args.epochs, lr=args.lr, gamma=args.gamma, seed=args.seed, out=args.out,
         save_model=not args.no_save_model)
