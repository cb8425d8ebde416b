"""F.pad in every mode against np.pad (and torch), activations against their
formulas and torch, erf against math.erf, and the modules."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Tensor, nn
from tinygrad_conv import functional as F
from tinygrad_conv.ops.activation import erf


@given(data=st.data())
def test_pad_matches_numpy(data):
    mode = data.draw(st.sampled_from(["constant", "reflect", "replicate"]))
    h, w = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    x = np.random.default_rng(0).standard_normal((2, 3, h, w)).astype(np.float32)
    lim_h, lim_w = (h - 1, w - 1) if mode == "reflect" else (4, 4)
    pad = tuple(data.draw(st.integers(0, lim)) for lim in (lim_w, lim_w, lim_h, lim_h))
    value = 0.5 if mode == "constant" else None  # PyTorch refuses a value for the other modes
    out = F.pad(Tensor(x), pad, mode=mode, value=value)
    np_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}[mode]
    kwargs = {"constant_values": 0.5} if mode == "constant" else {}
    want = np.pad(x, ((0, 0), (0, 0), (pad[2], pad[3]), (pad[0], pad[1])), mode=np_mode, **kwargs)
    np.testing.assert_array_equal(out.data, want)
    assert out.dtype == np.float32
    out2 = F.pad(Tensor(x), pad[:2], mode=mode, value=value)  # last axis only
    assert out2.shape == (2, 3, h, w + pad[0] + pad[1])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate"])
def test_pad_matches_torch_forward_and_backward(mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5, 4))
    pad = (3, 1, 0, 4)
    ours = Tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out = F.pad(ours, pad, mode=mode)
    tout = torch.nn.functional.pad(theirs, pad, mode=mode)
    np.testing.assert_allclose(out.data, tout.detach().numpy())
    g = rng.standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "args, error, match",
    [
        (((2, 0), "reflect"), ValueError, "smaller than the axis"),
        (((0, 0, 0, 3), "reflect"), ValueError, "smaller than the axis"),
        (((1,), "constant"), ValueError, r"\(before, after\) pair per padded axis"),
        (((1,) * 10, "constant"), ValueError, "at most 4 pairs"),
        (((-3, 2), "constant"), ValueError, "crops more than the axis holds"),
        (((-2, 0), "replicate"), ValueError, "leaves an output length of 0"),
        (((3, 0), "circular"), ValueError, "wrap around only once"),
        (((1.5, 1), "constant"), TypeError, "pad"),
        (((1, 1), "bogus"), ValueError, "mode"),
        (((1, 1), "reflect", 2.0), ValueError, "takes no value"),
    ],
)
def test_bad_pad_raises(args, error, match):
    with pytest.raises(error, match=match):
        F.pad(Tensor(np.zeros((1, 1, 3, 2))), *args)


def test_erf_matches_math_erf_to_double_precision():
    x = np.concatenate([np.linspace(-9, 9, 20001), [0.0, 1.0, -1.0, 1e-300, 40.0, -np.inf, np.inf]])
    want = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf(x), want, rtol=1e-15, atol=5e-16)
    assert erf(x.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(erf(x.astype(np.float32)), want, atol=3e-7)


def test_activations_match_their_formulas():
    x = np.linspace(-4, 4, 81)
    t = Tensor(x)
    np.testing.assert_allclose(F.leaky_relu(t, 0.1).data, np.where(x > 0, x, 0.1 * x))
    np.testing.assert_allclose(F.elu(t, 2.0).data, np.where(x > 0, x, 2.0 * (np.exp(x) - 1)), rtol=1e-12)
    np.testing.assert_allclose(F.silu(t).data, x / (1 + np.exp(-x)), rtol=1e-12)
    cdf = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(F.gelu(t).data, x * cdf, rtol=1e-13, atol=1e-15)
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(F.gelu(t, approximate="tanh").data, tanh_form, rtol=1e-12)
    for fn in (F.leaky_relu, F.elu, F.silu, F.gelu):
        assert fn(Tensor(x.astype(np.float32))).dtype == np.float32
    assert F.elu(Tensor([-1000.0])).data.tolist() == [-1.0]  # no overflow


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "silu", "gelu:none", "gelu:tanh"])
def test_activations_match_torch(name):
    torch = pytest.importorskip("torch")
    fn, _, mode = name.partition(":")
    x = np.random.default_rng(2).standard_normal((4, 5)) * 3
    kwargs = {"approximate": mode} if mode else {}
    ours = Tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out = getattr(F, fn)(ours, **kwargs)
    tout = getattr(torch.nn.functional, fn)(theirs, **kwargs)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-15)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_modules_and_module_list():
    x = Tensor(np.linspace(-2, 2, 9))
    for module, fn in ((nn.LeakyReLU(0.3), lambda t: F.leaky_relu(t, 0.3)), (nn.ELU(0.5), lambda t: F.elu(t, 0.5)),
                       (nn.SiLU(), F.silu), (nn.GELU("tanh"), lambda t: F.gelu(t, "tanh")), (nn.Identity(), lambda t: t)):
        np.testing.assert_array_equal(module(x).data, fn(x).data)
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    layers = nn.ModuleList([nn.Linear(2, 3), nn.ReLU()])
    layers.append(nn.Linear(3, 1))
    assert len(layers) == 3 and isinstance(layers[-1], nn.Linear) and isinstance(layers[1:][0], nn.ReLU)
    assert [name for name, _ in layers.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList(nn.Linear(2, 2) for _ in range(2))

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    net = Net()
    assert len(list(net.parameters())) == 4 and net(Tensor(np.ones((1, 2), np.float32))).shape == (1, 2)
    with pytest.raises(TypeError, match="float64.*float32"):  # mixed float dtypes: PyTorch's TypeError
        net(Tensor(np.ones((1, 2))))
    with pytest.raises(TypeError, match="ModuleList"):
        nn.ModuleList([nn.ReLU(), 3])
    with pytest.raises(TypeError, match="ModuleList"):
        layers.append("relu")
    with pytest.raises(IndexError):
        layers[3]
