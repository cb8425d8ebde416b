"""float16 wherever it is accepted: every registered op, on the inputs of the registry walk
in tests/test_nonfinite.py (finite values in [-2, 2] here), keeps float16 in its output and
gradients and agrees with PyTorch's float16 CPU result, or with PyTorch's float32 result
rounded once to float16, within float16's tolerance. Where PyTorch refuses float16, this
library may refuse it too, with a TypeError, or agree with the float32 result."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import functional as F, testing
from test_nonfinite import EXEMPT, OPS, WALK, WALK_SETTINGS, Draw, Lib

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log of a negative drawn value: NaN

# float16 has 11 significant bits (eps 9.8e-4); a result rounded once is within half of that,
# one computed in float16 steps (as PyTorch's CPU float16 kernels often are) within a few eps
# of the size of its terms.
RTOL, ATOL = 1e-2, 1e-2
GRAD = st.floats(-2, 2).filter(lambda v: abs(v) > 0.1)


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _run(m, fn, arrays, grad, dtype):
    """Output and input gradients (NumPy) of ``fn`` on ``arrays`` cast to ``dtype``."""
    inputs = [m.t.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    out = fn(m, *inputs)
    to_np = (lambda t: None if t is None else np.asarray(t.detach().numpy() if hasattr(t, "detach") else t))
    if out.dtype in (np.float16, np.float32) or str(out.dtype).startswith("torch.float"):
        out.backward(m.t.tensor(grad.astype(dtype)))
        return to_np(out), [to_np(t.grad) for t in inputs]
    return to_np(out), [None] * len(inputs)


def _close(ours, expected):
    """Same NaN/inf positions, finite values within float16's tolerance (relative to the scale)."""
    expected = np.asarray(expected, np.float64)
    ours = np.asarray(ours, np.float64)
    if ours.shape != expected.shape:
        return False
    if not (np.isnan(ours) == np.isnan(expected)).all():
        return False
    scale = max(1.0, float(np.abs(expected[np.isfinite(expected)]).max(initial=0)))
    return np.allclose(ours, expected, rtol=RTOL, atol=ATOL * scale, equal_nan=True)


def _agrees(name, ours, half, single):
    """``ours`` (output then gradients) against PyTorch's float16 results, else its float32 ones."""
    for i, a in enumerate(ours):
        what = f"{name}: {'out' if i == 0 else f'grad of input {i - 1}'}"
        h, s = (half[i] if half else None), single[i]
        if s is None:  # no gradient in PyTorch
            assert a is None or np.size(a) == 0 or not np.any(a), what
            continue
        assert a is not None, f"{what}: missing"
        dtype = h.dtype if h is not None else np.float16 if s.dtype.kind == "f" else s.dtype
        assert a.dtype == dtype, f"{what}: dtype {a.dtype}, expected {dtype}"
        rounded = s.astype(dtype)
        assert (h is not None and _close(a, h)) or _close(a, rounded), (
            f"{what}: {a} vs PyTorch float16 {h} / float32 rounded {rounded}")


WALKED = [name for name in OPS if name not in EXEMPT]


@pytest.mark.parametrize("name", WALKED)
@settings(max_examples=2, **WALK_SETTINGS)
@given(data=st.data())
def test_op_in_float16_matches_torch(torch, name, data):
    d = Draw(data)
    shapes, fn = WALK[name](d)
    arrays = [np.asarray(data.draw(testing.arrays(s)), np.float64) for s in shapes]
    # PyTorch first (float32 then float16), so the drawn upstream gradient is the same for all
    t_single = _run_drawn(torch, fn, arrays, np.float32, data)
    grad = t_single[2]
    try:
        t_half = _run(Lib(torch, torch.nn.functional), fn, arrays, grad, np.float16)
    except (RuntimeError, TypeError, NotImplementedError):  # PyTorch refuses float16 here
        t_half = None
    single = [t_single[0]] + t_single[1]
    half = None if t_half is None else [t_half[0]] + t_half[1]
    if half is None:
        try:
            ours = _run(Lib(tc, F), fn, arrays, grad, np.float16)
        except TypeError:
            return  # refused by both
    else:
        ours = _run(Lib(tc, F), fn, arrays, grad, np.float16)
    _agrees(name, [ours[0]] + ours[1], half, single)


def _run_drawn(torch, fn, arrays, dtype, data):
    """PyTorch's float32 run, drawing the upstream gradient for its output shape."""
    inputs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    out = fn(Lib(torch, torch.nn.functional), *inputs)
    # no upstream gradient that rounds to 0: NaN * 0 is a question for the NaN walk, not this one
    grad = np.asarray(data.draw(testing.arrays(tuple(out.shape), elements=GRAD)), np.float64)
    if out.dtype.is_floating_point:
        out.backward(torch.tensor(grad.astype(dtype)))
        grads = [None if t.grad is None else t.grad.numpy() for t in inputs]
    else:
        grads = [None] * len(inputs)
    return out.detach().numpy(), grads, grad


@pytest.mark.parametrize("name", ["layer_norm", "group_norm", "instance_norm", "batch_norm"])
def test_norms_in_float16_compute_in_float32_as_torch(torch, name):
    """Values of a few hundred: float16 sums of squares overflowed 65504 (var inf, out 0); a
    constant channel: the gradient's x * a - g * b + c cancelled to +-1 ulp * 1/sqrt(eps)."""
    rng = np.random.default_rng(0)
    x = (300 + 50 * rng.standard_normal((2, 4, 3, 3))).astype(np.float16)
    x[:, 1] = 0.25  # a constant channel: its variance is 0
    grad = rng.standard_normal(x.shape).astype(np.float16)
    grad[:, 1] = 1.3  # constant over the constant channel: its dx is exactly 0 (was +-0.125)
    weight, bias = rng.standard_normal(4).astype(np.float16), rng.standard_normal(4).astype(np.float16)
    weight[1] = -0.51
    call = {"layer_norm": lambda m, x, w, b: m.F.layer_norm(x, x.shape[1:]),
            "group_norm": lambda m, x, w, b: m.F.group_norm(x, 2, w, b),
            "instance_norm": lambda m, x, w, b: m.F.instance_norm(x, weight=w, bias=b),
            "batch_norm": lambda m, x, w, b: m.F.batch_norm(x, None, None, w, b, training=True)}[name]
    results = []
    for m in (Lib(tc, F), Lib(torch, torch.nn.functional)):
        ts = [m.t.tensor(a, requires_grad=True) for a in (x, weight, bias)]
        out = call(m, *ts)
        out.backward(m.t.tensor(grad))
        to_np = (lambda t: np.asarray(t.detach().numpy() if hasattr(t, "detach") else t.numpy()))
        results.append([to_np(out)] + [to_np(t.grad) if t.grad is not None else None for t in ts])
    for what, a, b in zip(("out", "dx", "dweight", "dbias"), *results):
        if b is None:
            continue
        assert a.dtype == np.float16, f"{name} {what}: {a.dtype}"
        assert np.isfinite(a).all(), f"{name} {what}"
        scale = max(1.0, float(np.abs(b.astype(np.float64)).max()))
        np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=RTOL, atol=ATOL * scale,
                                   err_msg=f"{name} {what}")
        if what == "dx" and name in ("batch_norm", "instance_norm"):  # channel 1 is its own group
            assert np.abs(a[:, 1]).max() <= np.abs(b[:, 1]).max() + ATOL, f"{name}: {a[:, 1]} vs {b[:, 1]}"
