"""PyTorch's tutorial "Training a classifier" (CIFAR-10), unchanged but for its imports, the data
and the loaders' ``num_workers`` (the two lines marked ``# EDIT``).

There is no download here: instead of torchvision's CIFAR10 the images are synthetic 3x32x32
ones normalised to [-1, 1] as ``transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))`` does,
one colour pattern per class plus noise. Sizes are small (2000 images, not 50000) so the run takes seconds.
"""
import os

import numpy as np

import tinygrad_conv as torch
import tinygrad_conv.nn as nn
import tinygrad_conv.nn.functional as F
import tinygrad_conv.optim as optim
from tinygrad_conv.utils.data import DataLoader, TensorDataset

classes = ('plane', 'car', 'bird', 'cat',
           'deer', 'dog', 'frog', 'horse', 'ship', 'truck')


def synthetic_cifar(n, seed):
    """``n`` images in [-1, 1] (float32, NCHW) and int64 labels: each class a fixed random
    low-resolution colour pattern (the same for every seed), plus noise drawn from ``seed``."""
    patterns = np.random.default_rng(1234).uniform(0, 1, (10, 3, 4, 4)).repeat(8, 2).repeat(8, 3)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = np.clip(patterns[labels] + rng.normal(0, 0.3, (n, 3, 32, 32)), 0, 1)
    return TensorDataset(torch.tensor((images - 0.5) / 0.5, dtype=torch.float32), torch.tensor(labels))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def main(epochs=2, n_train=2000, n_test=500, batch_size=4, shuffle=True, state_dict=None, out=".",
         print_every=100):
    """Train, save, reload and test as the tutorial does. ``state_dict`` (optional) gives the
    initial weights. Returns the running losses, the accuracy and the per-class accuracies."""
    torch.manual_seed(0)
    trainset = synthetic_cifar(n_train, seed=0)
    trainloader = DataLoader(trainset, batch_size=batch_size,
                             shuffle=shuffle, num_workers=0)  # EDIT: num_workers=2; worker processes are refused here
    testset = synthetic_cifar(n_test, seed=1)
    testloader = DataLoader(testset, batch_size=batch_size,
                            shuffle=False, num_workers=0)  # EDIT: num_workers=2, as above

    device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')
    net = Net()
    if state_dict is not None:
        net.load_state_dict(state_dict)
    net.to(device)

    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

    losses = []
    for epoch in range(epochs):  # loop over the dataset multiple times

        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            # get the inputs; data is a list of [inputs, labels]
            inputs, labels = data[0].to(device), data[1].to(device)

            # zero the parameter gradients
            optimizer.zero_grad()

            # forward + backward + optimize
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()

            # print statistics
            running_loss += loss.item()
            if i % print_every == print_every - 1:    # print every print_every mini-batches
                print(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / print_every:.3f}')
                losses.append(running_loss / print_every)
                running_loss = 0.0

    print('Finished Training')

    PATH = os.path.join(out, 'cifar_net.pth')
    torch.save(net.state_dict(), PATH)

    dataiter = iter(testloader)
    images, labels = next(dataiter)
    print('GroundTruth: ', ' '.join(f'{classes[labels[j]]:5s}' for j in range(4)))

    net = Net()
    net.load_state_dict(torch.load(PATH, weights_only=True))
    outputs = net(images)
    _, predicted = torch.max(outputs, 1)
    print('Predicted: ', ' '.join(f'{classes[predicted[j]]:5s}' for j in range(4)))

    correct = 0
    total = 0
    # since we're not training, we don't need to calculate the gradients for our outputs
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            # calculate outputs by running images through the network
            outputs = net(images)
            # the class with the highest energy is what we choose as prediction
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()

    print(f'Accuracy of the network on the {total} test images: {100 * correct // total} %')

    # prepare to count predictions for each class
    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}

    # again no gradients needed
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predictions = torch.max(outputs, 1)
            # collect the correct predictions for each class
            for label, prediction in zip(labels, predictions):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1

    # print accuracy for each class
    class_accuracy = {}
    for classname, correct_count in correct_pred.items():
        accuracy = 100 * float(correct_count) / total_pred[classname]
        print(f'Accuracy for class: {classname:5s} is {accuracy:.1f} %')
        class_accuracy[classname] = accuracy
    return {"losses": losses, "accuracy": correct / total, "class_accuracy": class_accuracy}


if __name__ == "__main__":
    main()
