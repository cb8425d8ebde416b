"""End to end: a small CNN built from nn learns the seed notebook's lines
through loss.backward() and opt.step() alone, and a training loop does not
leak Tensors."""
import gc
import time
import tracemalloc

import numpy as np

import tinygrad_conv as tc
from tinygrad_conv import Tensor, nn, optim
from tinygrad_conv.data import batches, make_lines


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1),
        nn.ReLU(),
        nn.GlobalAvgPool2d(),
        nn.Linear(8, 2),
    )


def accuracy(model, X, y):
    with tc.no_grad():
        logits = model(Tensor(X))
    return (logits.argmax(dim=1) == Tensor(y)).float().mean().item()  # bool Tensor -> float for the mean, as in torch


def test_small_cnn_learns_the_lines():
    # Five times the seed notebook's noise (0.1), so that there is something to learn.
    tc.manual_seed(0)
    X_train, y_train = make_lines(512, noise=0.5, seed=1)
    X_test, y_test = make_lines(256, noise=0.5, seed=2)
    model = small_cnn()
    opt = optim.Adam(model.parameters(), lr=0.02)
    loss_fn = nn.CrossEntropyLoss()
    assert accuracy(model, X_test, y_test) < 0.7  # chance level before training

    start = time.perf_counter()
    for epoch in range(10):
        for xb, yb in batches(X_train, y_train, 32, seed=epoch):
            opt.zero_grad()
            loss = loss_fn(model(Tensor(xb)), yb)
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start

    acc = accuracy(model, X_test, y_test)
    print(f"held-out accuracy {acc:.3f} after {seconds:.2f} s of training")
    assert acc >= 0.95
    assert all(p.dtype == np.float32 for p in model.parameters())


def _live_tensors():
    gc.collect()
    # type(), not isinstance(): isinstance reads __class__, which some objects
    # (lazy modules of other libraries) answer with warnings.
    return sum(issubclass(type(o), Tensor) for o in gc.get_objects())


def test_live_tensor_count_sees_new_tensors():
    before = _live_tensors()
    kept = [Tensor([1.0]) for _ in range(10)]
    assert _live_tensors() == before + len(kept)


def test_training_does_not_leak_tensors():
    tc.manual_seed(0)
    X, y = make_lines(64, size=8, seed=0)
    model = small_cnn()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def train_steps(n):
        for _ in range(n):
            for xb, yb in batches(X, y, 16):
                opt.zero_grad()
                loss_fn(model(Tensor(xb)), yb).backward()
                opt.step()

    train_steps(3)
    before = _live_tensors()
    train_steps(30)
    assert _live_tensors() <= before

    # Nor does memory grow (saved arrays, optimizer state): NumPy reports its
    # allocations to tracemalloc.
    tracemalloc.start()
    try:
        train_steps(3)
        gc.collect()
        start, _ = tracemalloc.get_traced_memory()
        train_steps(30)
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end - start < 64 * 1024, f"memory grew by {end - start} bytes over 120 steps"
