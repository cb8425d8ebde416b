"""The same code on either device.

Tests taking the ``device`` fixture (tests/conftest.py) run on the CPU always and
on CUDA when CuPy sees a GPU; ``requires_cuda`` tests compare the GPU with the
CPU: every registered op's forward and gradients (the registry-walking specs of
test_registry_gradcheck.py), conv2d against the loop reference, training runs,
checkpoints and GPU memory over a training loop. Without a GPU they are skipped
with a reason, and the CPU-side contract (errors, no CuPy import) is checked.
"""
import subprocess
import types
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference
import tinygrad_conv as tc
from conftest import CUDA, requires_cuda
from test_conv import conv_cases
from test_registry_gradcheck import BUILTIN, SPECS
from tinygrad_conv import Tensor, nn, optim
from tinygrad_conv import functional as F


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1, stride=2), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(8, 2),
    )


# ----- the contract without a GPU ------------------------------------------------------
def test_importing_the_library_does_not_import_cupy():
    code = "import sys, tinygrad_conv; assert 'cupy' not in sys.modules, 'cupy was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cpu_is_the_default_and_the_same_device_returns_the_tensor_itself():
    t = Tensor([1.0, 2.0])
    assert t.device == "cpu" and Tensor([1.0], device="cpu").device == "cpu"
    assert t.to("cpu") is t and t.to("CPU") is t and t.cpu() is t
    assert isinstance(t.numpy(), np.ndarray)


@pytest.mark.parametrize(
    "bad, error, match, to_match",
    [
        ("gpu", ValueError, "unknown device 'gpu'", "unknown device 'gpu'"),
        ("cuda:x", ValueError, "'cuda:x'", "'cuda:x'"),
        (1.5, TypeError, "string", "1.5 is not a dtype"),  # to() reads other kinds as a dtype
    ],
)
def test_bad_device_names_raise(bad, error, match, to_match):
    with pytest.raises(error, match=match):
        Tensor([1.0], device=bad)
    with pytest.raises(error, match=to_match):
        Tensor([1.0]).to(bad)
    with pytest.raises(error, match=match):
        Tensor([1.0]).to(device=bad)


@pytest.mark.skipif(CUDA, reason="checks the error raised where CUDA is missing")
def test_asking_for_cuda_without_cupy_says_how_to_install_it():
    assert not tc.cuda.is_available() and tc.cuda.device_count() == 0
    for attempt in (lambda: Tensor([1.0], device="cuda"), lambda: Tensor([1.0]).cuda(), lambda: small_cnn().to("cuda"),
                    lambda: Tensor([1.0]).to(0), lambda: Tensor([1.0], device=0)):  # an int is a GPU, as in PyTorch
        with pytest.raises(RuntimeError, match=r"pip install .*cuda1[23]"):
            attempt()


class _NoGpuRuntime:
    """CuPy's ``cuda.runtime`` on a machine whose driver is missing: counting GPUs fails."""

    class CUDARuntimeError(RuntimeError):
        pass

    @classmethod
    def getDeviceCount(cls):
        raise cls.CUDARuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")


@pytest.mark.parametrize("fake_cupy, expected, unexpected", [
    (None, r"CuPy is not installed; install CuPy .*pip install .*cuda1[23]", "driver"),
    (types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=_NoGpuRuntime)),
     r"CuPy is installed but cannot use a GPU: cudaErrorInsufficientDriver: .*insufficient\. .*driver", "pip install"),
    (types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 0))),
     r"CuPy is installed but cannot use a GPU: CuPy sees no GPU", "pip install"),
])
def test_the_cuda_error_says_what_is_wrong(monkeypatch, fake_cupy, expected, unexpected):
    # None in sys.modules makes `import cupy` fail as if it were not installed
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    monkeypatch.setattr(tc.backend, "_cupy", None)
    monkeypatch.setattr(tc.backend, "_cupy_error", None)
    assert not tc.cuda.is_available()
    with pytest.raises(tc.cuda.UnavailableError, match=expected) as info:
        Tensor([1.0], device="cuda")
    assert unexpected not in str(info.value) and isinstance(info.value, RuntimeError)  # as PyTorch's


# ----- the device API on every device ----------------------------------------------------
def test_to_is_recorded_in_the_graph_and_the_gradient_flows_back(device):
    x = Tensor([[1.0, -2.0, 3.0]], requires_grad=True)
    y = x.to(device)
    assert y.device.startswith(device) and y.to(device) is y
    ((y * y).sum() * 0.5).to("cpu").backward()
    assert isinstance(x.grad, Tensor) and x.grad.device == "cpu"
    np.testing.assert_array_equal(x.grad, x.numpy())


def test_numpy_and_item_give_host_values(device):
    t = Tensor([[1.5, 2.5]], device=device)
    assert isinstance(t.numpy(), np.ndarray) and t.numpy().tolist() == [[1.5, 2.5]]
    assert t.sum().item() == 4.0 and isinstance(t.sum().item(), float)
    assert (t * 2).device == t.device and (2 - t).device == t.device  # numbers follow the tensor
    assert (t + np.ones(2, np.float32)).device == t.device  # so do constant arrays


def test_module_to_moves_parameters_in_place_and_the_optimizer_follows(device):
    tc.manual_seed(0)
    model = small_cnn()
    params = list(model.parameters())
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    for step in range(2):  # one step on the CPU, then move: state made on the CPU follows
        loss = F.cross_entropy(model(Tensor(x, device=params[0].device)), np.array([0, 1]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step == 0:
            assert model.to(device) is model
    assert list(model.parameters()) == params  # the same objects
    for p, state in zip(params, opt.state):
        assert p.device.startswith(device) and p.grad is not None
        assert tc.backend.device_of(state["momentum_buffer"]) == p.device


def test_state_dicts_save_and_load_onto_each_parameters_device(device, tmp_path):
    tc.manual_seed(1)
    model = small_cnn().to(device)
    opt = optim.Adam(model.parameters(), lr=0.01)
    x = Tensor(np.random.default_rng(1).standard_normal((2, 1, 8, 8)), dtype=np.float32, device=device)
    F.cross_entropy(model(x), np.array([1, 0])).backward()
    opt.step()
    state, opt_state = model.state_dict(), opt.state_dict()
    assert set(opt_state) == {"state", "param_groups"}  # PyTorch's structure
    tc.save(state, tmp_path / "model.npz")  # host copies, whatever the device
    tc.save(opt_state, tmp_path / "opt.npz")  # nested: arrays plus a JSON description

    cpu_model = small_cnn()  # a checkpoint from either device loads on the other
    cpu_model.load_state_dict(tc.load(tmp_path / "model.npz"))
    again = small_cnn().to(device)
    again.load_state_dict(cpu_model.state_dict())
    assert all(p.device == q.device for p, q in zip(again.parameters(), model.parameters()))
    with tc.no_grad():
        np.testing.assert_array_equal(again(x).numpy(), model(x).numpy())
        np.testing.assert_allclose(cpu_model(x.cpu()).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    opt2 = optim.Adam(again.parameters(), lr=0.01)
    opt2.load_state_dict(tc.load(tmp_path / "opt.npz"))
    assert all(tc.backend.device_of(s["exp_avg"]) == p.device for s, p in zip(opt2.state, again.parameters()))


def test_manual_seed_gives_the_same_initial_weights_on_every_device(device):
    tc.manual_seed(7)
    cpu = small_cnn().state_dict()
    tc.manual_seed(7)
    moved = small_cnn().to(device).state_dict()
    for name in cpu:
        np.testing.assert_array_equal(cpu[name].numpy(), moved[name].numpy())


def test_small_cnn_learns_the_lines(device):
    tc.manual_seed(0)
    X, y = tc.data.make_lines(256, noise=0.5, seed=1)
    X_test, y_test = tc.data.make_lines(128, noise=0.5, seed=2)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.GlobalAvgPool2d(), nn.Linear(8, 2),
    ).to(device)
    opt = optim.Adam(model.parameters(), lr=0.02)
    for epoch in range(8):
        for xb, yb in tc.data.batches(X, y, 32, seed=epoch):
            loss = F.cross_entropy(model(Tensor(xb, device=device)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with tc.no_grad():
        predicted = model(Tensor(X_test, device=device)).numpy().argmax(axis=1)
    assert (predicted == y_test).mean() >= 0.95


# ----- CUDA against the CPU ----------------------------------------------------------------
def _run(fn, arrays, device, dtype):
    inputs = [Tensor(a.astype(dtype), requires_grad=True, device=device) for a in arrays]
    out = fn(*inputs)
    (out if out.numel() == 1 else out.sum()).backward()
    return out, inputs


@requires_cuda
def test_mixed_devices_raise_naming_both():
    a, b = Tensor([1.0, 2.0], device="cuda"), Tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"cuda:0.*cpu|cpu.*cuda:0"):
        a + b
    x, w = Tensor(np.ones((1, 1, 4, 4)), device="cuda"), Tensor(np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"conv2d: .*cuda:0.*cpu"):
        F.conv2d(x, w)


@requires_cuda
@settings(max_examples=15)
@pytest.mark.parametrize("name", BUILTIN)
@given(data=st.data())
def test_every_op_on_cuda_matches_the_cpu(name, data):
    fn, arrays = SPECS[name](data)
    cpu_out, cpu_inputs = _run(fn, arrays, "cpu", np.float64)
    gpu_out, gpu_inputs = _run(fn, arrays, "cuda", np.float64)
    assert gpu_out.dtype == np.float64
    np.testing.assert_allclose(gpu_out.numpy(), cpu_out.numpy(), rtol=1e-7, atol=1e-12)
    for c, g in zip(cpu_inputs, gpu_inputs):
        assert (c.grad is None) == (g.grad is None)
        if g.grad is not None:
            assert isinstance(g.grad, Tensor) and g.grad.dtype == np.float64 and g.grad.device == g.device
            np.testing.assert_allclose(g.grad.numpy(), c.grad.numpy(), rtol=1e-7, atol=1e-12)
    out32, inputs32 = _run(fn, arrays, "cuda", np.float32)  # float32 stays float32
    assert out32.dtype == np.float32 and all(t.grad is None or t.grad.dtype == np.float32 for t in inputs32)


@requires_cuda
@settings(max_examples=40)
@given(case=conv_cases(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_on_cuda_matches_the_loop_reference(case, seed):
    x_shape, w_shape, has_bias, params = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    b = b if has_bias else None
    expected = reference.conv2d(x, w, b, **params)
    g = rng.standard_normal(expected.shape)
    tensors = [Tensor(a, requires_grad=True, device="cuda") for a in (x, w) + ((b,) if has_bias else ())]
    y = F.conv2d(*tensors[:2], tensors[2] if has_bias else None, **params)
    y.backward(Tensor(g, dtype=np.float64, device="cuda"))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-9, atol=1e-9)
    dx, dw, db = reference.conv2d_backward(x, w, g, **params)
    for t, want in zip(tensors, (dx, dw, db)):
        np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-9, atol=1e-9)


@requires_cuda
@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3),
    lambda ps: optim.Adam(ps, lr=0.01, weight_decay=1e-3),
], ids=["sgd", "adam"])
def test_training_on_cuda_ends_with_the_cpu_parameters(make_opt):
    X, y = tc.data.make_lines(64, size=8, noise=0.5, seed=3)
    models = {}
    for device in ("cpu", "cuda"):
        tc.manual_seed(3)
        model = small_cnn()
        for p in model.parameters():  # float64, so the comparison can be tight
            p.data = p.data.double()
        model.to(device)
        opt = make_opt(model.parameters())
        for xb, yb in tc.data.batches(X, y, 16, seed=0):
            loss = F.cross_entropy(model(Tensor(xb, dtype=np.float64, device=device)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        models[device] = model.state_dict()
    for name, value in models["cpu"].items():
        np.testing.assert_allclose(models["cuda"][name].numpy(), value.numpy(), rtol=1e-7, atol=1e-10, err_msg=name)


@requires_cuda
def test_cuda_memory_in_use_does_not_grow_over_training():
    pool = tc.backend.cupy().get_default_memory_pool()
    tc.manual_seed(0)
    model = small_cnn().to("cuda")
    opt = optim.Adam(model.parameters(), lr=0.01)
    X, y = tc.data.make_lines(64, size=8, noise=0.5, seed=0)
    used = []
    for step in range(200):
        xb, yb = X[step % 4 * 16:][:16], y[step % 4 * 16:][:16]
        loss = F.cross_entropy(model(Tensor(xb, device="cuda")), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        del loss
        used.append(pool.used_bytes())
    assert used[-1] <= used[20], f"pool in use grew from {used[20]} to {used[-1]} bytes"


@requires_cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [(), (1,), (3,)])
@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True), (True, True)])
def test_backend_matmul_calls_cublas_with_the_right_layouts(dtype, batch, ta, tb):
    cp = tc.backend.cupy()
    rng = np.random.default_rng(0)
    m, k, n = 5, 7, 3
    a = rng.standard_normal(batch + ((k, m) if ta else (m, k))).astype(dtype)
    b = rng.standard_normal(batch + ((n, k) if tb else (k, n))).astype(dtype)
    a, b = (np.swapaxes(a, -1, -2) if ta else a), (np.swapaxes(b, -1, -2) if tb else b)
    da, db = (cp.asarray(np.ascontiguousarray(np.swapaxes(v, -1, -2))).swapaxes(-1, -2) if t else cp.asarray(v)
              for v, t in ((a, ta), (b, tb)))
    expected = a @ b
    got = tc.backend.matmul(da, db)
    np.testing.assert_allclose(got.get(), expected, rtol=1e-5 if dtype == np.float32 else 1e-12)
    out = cp.empty(expected.shape, dtype)
    assert tc.backend.matmul(da, db, out=out) is out
    np.testing.assert_allclose(out.get(), expected, rtol=1e-5 if dtype == np.float32 else 1e-12)


@requires_cuda
@pytest.mark.parametrize("op", [F.max_pool2d, F.avg_pool2d])
def test_pooling_on_cuda_matches_the_cpu_with_ties_and_overlaps(op):
    x = np.random.default_rng(0).integers(-2, 3, (2, 3, 7, 6)).astype(np.float64)  # many ties
    for params in [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=(3, 2), stride=(2, 1))]:
        results, g = [], None
        for device in ("cpu", "cuda"):
            t = Tensor(x, requires_grad=True, device=device)
            y = op(t, **params)
            g = np.random.default_rng(1).standard_normal(y.shape) if g is None else g
            y.backward(Tensor(g, dtype=np.float64, device=device))
            results.append((y.numpy(), t.grad.numpy()))
        np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12, atol=1e-12)


@requires_cuda
def test_gradcheck_runs_on_cuda_tensors():
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 5, 5)), requires_grad=True, device="cuda")
    w = Tensor(np.random.default_rng(1).standard_normal((3, 1, 3, 3)), requires_grad=True, device="cuda")
    assert tc.gradcheck(lambda a, b: F.max_pool2d(F.conv2d(a, b, padding=1).tanh(), 2), [x, w])


@requires_cuda
def test_batch_norm_running_statistics_must_share_the_inputs_device():
    x = Tensor(np.ones((4, 3)), device="cuda")
    with pytest.raises(ValueError, match="input is on cuda:0 but running_mean on cpu"):
        F.batch_norm(x, np.zeros(3), np.ones(3), training=True)
    bn = nn.BatchNorm1d(3).to("cuda")  # buffers move with the module
    bn(Tensor(np.random.default_rng(0).standard_normal((4, 3)), dtype=np.float32, device="cuda"))
    assert int(bn.num_batches_tracked) == 1 and bn.running_mean.is_cuda  # (buffers are Tensors)
