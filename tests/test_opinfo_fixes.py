"""Cases found by benchmarks/opinfo_sweep.py (PyTorch's OpInfo samples), compared with torch."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_conv as tc
import tinygrad_conv.nn.functional as F


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _pair(torch, array):
    """The same values as a torch leaf and a tinygrad_conv leaf, both requiring grad."""
    return torch.tensor(array, requires_grad=True), tc.tensor(array.copy(), requires_grad=True)


def _check(torch, t_out, o_out, leaves, rtol=1e-5, atol=1e-6):
    """Values, dtypes and the gradients of sum(out * cotangent) agree with torch's."""
    ours = np.asarray(o_out.numpy())
    assert ours.dtype == t_out.detach().numpy().dtype and ours.shape == tuple(t_out.shape)
    np.testing.assert_allclose(ours, t_out.detach().numpy(), rtol=rtol, atol=atol)
    ct = np.random.default_rng(1).standard_normal(ours.shape).astype(ours.dtype)
    t_grads = torch.autograd.grad((t_out * torch.from_numpy(ct)).sum(), [t for t, _ in leaves])
    (o_out * tc.tensor(ct)).sum().backward()
    for (_, o), g in zip(leaves, t_grads):
        np.testing.assert_allclose(o.grad.numpy(), g.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("stride", [1, (1, 2), 2])
def test_unfold_empty_batch(torch, stride):
    x = np.zeros((0, 2, 5, 5), np.float32)
    t, o = _pair(torch, x)
    _check(torch, torch.nn.functional.unfold(t, 2, stride=stride), F.unfold(o, 2, stride=stride), [(t, o)])


@pytest.mark.parametrize("shape, dim", [((0,), None), ((3, 0), 1), ((3, 0), 0), ((0, 2), None)])
def test_prod_empty(torch, shape, dim):
    t, o = _pair(torch, np.zeros(shape))
    args = () if dim is None else (dim,)
    _check(torch, t.prod(*args), o.prod(*args), [(t, o)])


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_keepdim_of_0d(torch, name):
    t, o = _pair(torch, np.array(2.5, np.float32))
    (tv, ti), (ov, oi) = getattr(t, name)(0, True), getattr(o, name)(0, True)
    assert ov.shape == () and oi.shape == () and oi.item() == ti.item()
    _check(torch, tv, ov, [(t, o)])


def test_normalize_p0_counts_nonzeros(torch):
    x = np.array([[0.0, 2.0, -3.0], [0.0, 0.0, 0.0]], np.float32)
    t, o = _pair(torch, x)
    _check(torch, torch.nn.functional.normalize(t, p=0.0, dim=-1), F.normalize(o, p=0.0, dim=-1), [(t, o)])


@pytest.mark.parametrize("padding", [(1,), [0]])
def test_one_tuple_sizes_repeat_over_axes(torch, padding):
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6)).astype(np.float32)
    t, o = _pair(torch, x)
    _check(torch, torch.nn.functional.avg_pool2d(t, (3,), [2], padding),
           F.avg_pool2d(o, (3,), [2], padding), [(t, o)])


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(["trunc", "floor"]), st.integers(0, 2**31 - 1))
def test_div_rounding_mode(mode, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-9, 9, (3, 4)), rng.uniform(-3, 3, (4,))
    (ta, oa), (tb, ob) = _pair(torch, a), _pair(torch, b)
    _check(torch, torch.div(ta, tb, rounding_mode=mode), tc.div(oa, ob, rounding_mode=mode), [(ta, oa), (tb, ob)])


def test_div_rounding_mode_integers_and_errors(torch):
    a = np.array([7, -7, 5, -5])
    for mode in ("trunc", "floor"):
        got = tc.tensor(a).div(2, rounding_mode=mode)
        want = torch.tensor(a).div(2, rounding_mode=mode)
        assert got.dtype == tc.int64 and np.array_equal(got.numpy(), want.numpy())
    with pytest.raises(ValueError, match="rounding_mode"):
        tc.tensor(a).div(2, rounding_mode="round")


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_method_dtype(torch, name):
    t, o = _pair(torch, np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32))
    _check(torch, getattr(t, name)(1, dtype=torch.float64), getattr(o, name)(1, dtype=tc.float64), [(t, o)])


ACTIVATIONS = {
    "softmin": ((), dict(dim=1)), "tanhshrink": ((), {}), "threshold": ((0.3, -2.0), {}),
    "hardshrink": ((), dict(lambd=0.7)), "softshrink": ((), dict(lambd=0.4)), "glu": ((), dict(dim=1)),
}


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(sorted(ACTIVATIONS)), st.sampled_from([np.float32, np.float64]), st.integers(0, 2**31 - 1))
def test_composed_activations(name, dtype, seed):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(seed).uniform(-2, 2, (3, 4, 2)).astype(dtype)
    args, kwargs = ACTIVATIONS[name]
    t, o = _pair(torch, x)
    _check(torch, getattr(torch.nn.functional, name)(t, *args, **kwargs), getattr(F, name)(o, *args, **kwargs), [(t, o)])


@pytest.mark.parametrize("shape, wshape", [((3, 4, 5), (4,)), ((3, 4), (1,)), ((5,), (1,)), ((2, 3, 2, 2), (3,))])
def test_prelu(torch, shape, wshape):
    rng = np.random.default_rng(0)
    (t, o), (tw, ow) = _pair(torch, rng.standard_normal(shape)), _pair(torch, rng.standard_normal(wshape))
    _check(torch, torch.nn.functional.prelu(t, tw), F.prelu(o, ow), [(t, o), (tw, ow)])


def test_errors_name_what_was_given():
    with pytest.raises(ValueError, match="even"):
        F.glu(tc.zeros(2, 3))
    with pytest.raises(ValueError, match="weight"):
        F.prelu(tc.zeros(2, 3), tc.zeros(2))
    with pytest.raises(ValueError, match="lambd"):
        F.softshrink(tc.zeros(2), -1.0)


def test_masked_fill_broadcasts_with_a_larger_mask(torch):
    mask = np.eye(4, dtype=bool)[:, :3]
    t, o = _pair(torch, np.arange(3.0))
    _check(torch, t.masked_fill(torch.from_numpy(mask), -1.0), o.masked_fill(tc.tensor(mask), -1.0), [(t, o)])
    with pytest.raises(RuntimeError, match="shape"):
        tc.zeros(3).masked_fill_(tc.tensor(mask), 1.0)  # in place keeps the shape, as torch's


def test_cat_skips_legacy_empty_1d(torch):
    (t0, o0), (t1, o1) = _pair(torch, np.zeros(0)), _pair(torch, np.ones((2, 3)))
    _check(torch, torch.cat([t0, t1, t0], 1), tc.cat([o0, o1, o0], 1), [(t1, o1)])


def test_gather_with_an_empty_index_of_another_rank(torch):
    t, o = _pair(torch, np.arange(5.0))
    index = np.zeros((2, 0), np.int64)
    _check(torch, t.gather(0, torch.from_numpy(index)), o.gather(0, tc.tensor(index)), [(t, o)])
