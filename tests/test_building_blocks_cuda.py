"""The issue-11 building blocks on CUDA give what they give on the CPU (skipped without a GPU).

Each case runs a function on CPU Tensors and on the same data moved to
"cuda", forward and backward, and compares values, dtypes and devices.
"""
import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor, nn, optim
from tinygrad_conv import functional as F

pytestmark = pytest.mark.skipif(not tc.cuda.is_available(), reason="needs CuPy and a GPU")

rng = np.random.default_rng(0)
X = rng.standard_normal((4, 3, 5, 6)).astype(np.float32)
Y = rng.standard_normal((4, 3, 5, 6)).astype(np.float32)
Y[0, 0, 0, :2] = X[0, 0, 0, :2]  # ties for maximum/minimum

CASES = {
    "cat": lambda x, y: tc.cat([x, y], axis=1),
    "stack": lambda x, y: tc.stack([x, y], axis=-1),
    "split": lambda x, y: tc.cat([p * (i + 1) for i, p in enumerate(x.split([2, 3, 1], axis=3))], axis=3) + y,
    "abs_sqrt_clip": lambda x, y: x.abs().sqrt() + y.clip(-0.5, 0.5),
    "var_min": lambda x, y: x.var(axis=(0, 2)) + y.amin(axis=(0, 2)),
    "mask": lambda x, y: x[x > 0] * 2,
    "where_max_min": lambda x, y: tc.where(x > y, x, y * 3) + tc.maximum(x, y) + tc.minimum(x, 0.1),
    "pad": lambda x, y: F.pad(x, (1, 2, 3, 1), "reflect") + F.pad(y, (1, 2, 3, 1), "replicate")
    + F.pad(x, (1, 2, 3, 1), value=0.5),
    "activations": lambda x, y: F.leaky_relu(x) + F.elu(y) + F.silu(x) + F.gelu(y) + F.gelu(x, "tanh"),
    "batch_norm": lambda x, y: F.batch_norm(x, None, None, y[0, :, 0, 0], y[0, :, 0, 1], training=True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_matches_cpu(name):
    results = []
    for device in ("cpu", "cuda"):
        x, y = (Tensor(a, requires_grad=True, device=device) for a in (X, Y))
        out = CASES[name](x, y)
        g = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
        out.backward(Tensor(g, device=out.device))
        assert out.device.startswith(device) and out.dtype == np.float32
        results.append([out.numpy()] + [np.zeros_like(X) if t.grad is None else t.grad.numpy() for t in (x, y)])
    for cpu, gpu in zip(*results):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-5)


def test_argmax_and_comparisons_stay_on_the_gpu():
    x = Tensor(X, device="cuda")
    assert x.argmax(axis=1).is_cuda and (x > 0).is_cuda
    assert x.argmax(axis=1).dtype == np.int64 and (x > 0).dtype == np.bool_
    np.testing.assert_array_equal(x.argmax(axis=1).numpy(), X.argmax(axis=1))


def test_modules_buffers_dropout_and_optimizers_on_the_gpu():
    def run(device):
        tc.manual_seed(0)
        # no conv bias before batch norm: its true gradient is 0, and Adam would amplify the
        # rounding noise that stands in for it differently on each device
        model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.GELU(), nn.Dropout2d(0.3),
                              nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * 5 * 6, 2)).to(device)
        assert all(b.device.startswith(device) for b in model.buffers())
        opt = optim.AdamW([{"params": list(model.parameters())[:3]}, {"params": list(model.parameters())[3:], "lr": 0.01}])
        sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=5)
        for _ in range(3):
            loss = F.cross_entropy(model(Tensor(X, device=device)), np.array([0, 1, 1, 0]))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            opt.step()
            sched.step()
        rms = optim.RMSprop(model.parameters(), momentum=0.9, centered=True)
        loss = F.cross_entropy(model(Tensor(X, device=device)), np.array([0, 1, 1, 0]))
        loss.backward()
        rms.step()
        return model.state_dict()

    cpu, gpu = run("cpu"), run("cuda")
    assert list(cpu) == list(gpu)
    for key in cpu:
        np.testing.assert_allclose(gpu[key].numpy(), cpu[key].numpy(), rtol=1e-3, atol=1e-4, err_msg=key)
