"""Issue 19's activations against PyTorch: values and gradients over hypothesis-drawn
shapes and values (NaN and ±inf included), float32 and float64, and their modules."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_conv as tc
from tinygrad_conv import functional as F, nn

CASES = [  # (name, positional args)
    ("hardtanh", ()), ("hardtanh", (-2.0, 0.5)), ("relu6", ()), ("softplus", ()), ("softplus", (2.0, 3.0)),
    ("softplus", (-1.5, 20.0)), ("hardswish", ()), ("hardsigmoid", ()), ("mish", ()), ("selu", ()),
    ("celu", ()), ("celu", (0.4,)), ("logsigmoid", ()), ("softsign", ()),
]
specials = st.sampled_from([0.0, -3.0, 3.0, 6.0, -1.0, 1.0, 30.0, -30.0, 100.0, -100.0, np.inf, -np.inf, np.nan])
values = st.one_of(st.floats(-8, 8), specials)


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("name, args", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_activation_matches_torch(torch, name, args, dtype, data):
    x = data.draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), elements=values))
    g = data.draw(hnp.arrays(dtype, x.shape, elements=st.floats(-2, 2, width=32)))
    ours = tc.Tensor(x, requires_grad=True)
    with np.errstate(all="ignore"):
        out = getattr(F, name)(ours, *args)
        out.backward(g)
    theirs = torch.tensor(x, requires_grad=True)
    want = getattr(torch.nn.functional, name)(theirs, *args)
    want.backward(torch.tensor(g))
    assert out.dtype == dtype and ours.grad.dtype == dtype
    # float64 at 1e-6: PyTorch rounds scalar arguments (celu alpha, hardsigmoid 1/6) to float32
    tol = dict(rtol=1e-5 if dtype == np.float32 else 1e-6, atol=1e-30, equal_nan=True)
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), **tol)
    want_grad = theirs.grad.numpy()
    if name == "softsign":  # PyTorch composes x / (1 + |x|) and gets inf/inf = NaN at ±inf; the slope is 0
        want_grad = np.where(np.isinf(x), 0.0, want_grad)
    # at a NaN input PyTorch's gradient differs between its vectorised loop and its scalar tail
    # (hardtanh: 0 or 1, elu: NaN or grad): not compared there
    want_grad = np.where(np.isnan(x), ours.grad.numpy(), want_grad)
    np.testing.assert_allclose(ours.grad.numpy(), want_grad, **tol)


MODULES = [
    (nn.Hardtanh, dict(min_val=-0.5, max_val=2.0)), (nn.ReLU6, {}), (nn.Softplus, dict(beta=2.0, threshold=4.0)),
    (nn.Hardswish, {}), (nn.Hardsigmoid, {}), (nn.Mish, {}), (nn.SELU, {}), (nn.CELU, dict(alpha=0.5)),
    (nn.LogSigmoid, {}), (nn.Softsign, {}),
]


@pytest.mark.parametrize("cls, kwargs", MODULES)
def test_activation_modules_match_torch(torch, cls, kwargs):
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32) * 4
    ours, theirs = cls(**kwargs), getattr(torch.nn, cls.__name__)(**kwargs)
    assert repr(ours) == repr(theirs)
    np.testing.assert_allclose(ours(tc.Tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-6, atol=1e-7)
    if "inplace" in theirs.__dict__:  # in place: the input is overwritten, the gradient still right
        a = tc.Tensor(x, requires_grad=True)
        y = a * 1
        out = cls(**kwargs, inplace=True)(y)
        assert out is y
        out.sum().backward()
        t = torch.tensor(x, requires_grad=True)
        getattr(torch.nn, cls.__name__)(**kwargs)(t).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("call, error", [
    (lambda x: F.hardtanh(x, 2.0, 1.0), ValueError), (lambda x: F.celu(x, 0.0), ValueError),
    (lambda x: F.softplus(x, beta="2"), TypeError), (lambda x: F.mish(x.numpy()), TypeError),
    (lambda x: nn.Hardtanh(1.0, 0.0), ValueError), (lambda x: nn.ReLU6(inplace=1), TypeError),
])
def test_activation_argument_errors(call, error):
    with pytest.raises(error):
        call(tc.ones(3))
