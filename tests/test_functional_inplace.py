"""``inplace=`` on the functional activations and dropout, as PyTorch's: the same tensor
object comes back, modified, with the values and gradients of the out-of-place call."""
import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor
from tinygrad_conv import functional as F

ACTIVATIONS = [
    ("relu", {}),
    ("leaky_relu", {"negative_slope": 0.2}),
    ("leaky_relu", {}),
    ("elu", {"alpha": 0.7}),
    ("elu", {}),
    ("silu", {}),
]


def _x(dtype=np.float64):
    return np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(dtype)


def test_nn_functional_is_the_same_module():
    import tinygrad_conv.nn.functional as NF

    assert NF.relu is F.relu and NF.dropout is F.dropout


@pytest.mark.parametrize("name,kwargs", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inplace_matches_torch_values_and_gradients(name, kwargs, dtype):
    torch = pytest.importorskip("torch")
    x, w = _x(dtype), _x(dtype)[::-1].copy()
    ours = Tensor(x, requires_grad=True)
    h = ours * 2.0  # a non-leaf: in place is allowed in a recorded graph
    out = getattr(F, name)(h, **kwargs, inplace=True)
    assert out is h
    (out * Tensor(w)).sum().backward()

    theirs = torch.tensor(x, requires_grad=True)
    th = theirs * 2.0
    tout = getattr(torch.nn.functional, name)(th, **kwargs, inplace=True)
    assert tout is th
    (tout * torch.tensor(w)).sum().backward()

    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), **tol)
    np.testing.assert_allclose(h.numpy(), th.detach().numpy(), **tol)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), **tol)
    assert out.dtype == dtype and ours.grad.dtype == dtype


@pytest.mark.parametrize("name,kwargs", ACTIVATIONS)
def test_inplace_equals_out_of_place(name, kwargs):
    x = _x()
    fn = getattr(F, name)
    want = fn(Tensor(x), **kwargs).numpy()
    assert not np.array_equal(want, x)  # the call changes something
    t = Tensor(x.copy())
    view = t.data  # outside a graph, the existing array is written
    assert fn(t, **kwargs, inplace=True) is t
    np.testing.assert_array_equal(t.numpy(), want)
    np.testing.assert_array_equal(np.asarray(view), want)
    u = Tensor(x.copy())
    out = fn(u, **kwargs, inplace=False)
    assert out is not u
    np.testing.assert_array_equal(u.numpy(), x)  # untouched


@pytest.mark.parametrize("name,kwargs", ACTIVATIONS)
def test_inplace_on_a_leaf_that_requires_grad_is_refused_as_in_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    x = _x()
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(torch.nn.functional, name)(torch.tensor(x, requires_grad=True), **kwargs, inplace=True)
    leaf = Tensor(x, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(F, name)(leaf, **kwargs, inplace=True)
    np.testing.assert_array_equal(leaf.numpy(), x)  # nothing changed
    with tc.no_grad():  # as in torch, allowed without a graph
        assert getattr(F, name)(leaf, **kwargs, inplace=True) is leaf
    np.testing.assert_array_equal(leaf.numpy(), getattr(F, name)(Tensor(x), **kwargs).numpy())


@pytest.mark.parametrize("name,kwargs", ACTIVATIONS + [("dropout", {}), ("dropout2d", {})])
def test_inplace_must_be_a_bool(name, kwargs):
    with pytest.raises(TypeError, match="inplace"):
        getattr(F, name)(Tensor(_x()), **kwargs, inplace=1)


@pytest.mark.parametrize("name", ["dropout", "dropout2d"])
@pytest.mark.parametrize("p", [0.3, 0.5])
def test_dropout_inplace_same_draws_values_and_gradients(name, p):
    x, w = _x(), _x()[::-1].copy()
    fn = getattr(F, name)
    tc.manual_seed(7)
    want_leaf = Tensor(x, requires_grad=True)
    want = fn(want_leaf * 2.0, p, True)
    (want * Tensor(w)).sum().backward()

    tc.manual_seed(7)
    leaf = Tensor(x, requires_grad=True)
    h = leaf * 2.0
    out = fn(h, p, True, inplace=True)
    assert out is h
    (out * Tensor(w)).sum().backward()
    np.testing.assert_array_equal(out.numpy(), want.numpy())
    np.testing.assert_array_equal(leaf.grad.numpy(), want_leaf.grad.numpy())
    # the gradient is the kept mask scaled by 1 / (1 - p), as torch's
    kept = out.numpy() != 0
    np.testing.assert_allclose(leaf.grad.numpy(), np.where(kept, 2.0 * w / (1 - p), 0.0), rtol=1e-12)
    if name == "dropout2d":  # whole channels
        assert np.all(kept.all(axis=(2, 3)) | ~kept.any(axis=(2, 3)))


@pytest.mark.parametrize("name", ["dropout", "dropout2d"])
def test_dropout_inplace_matches_torch_structure(name):
    torch = pytest.importorskip("torch")
    x, w, p = _x(), _x()[::-1].copy(), 0.4
    theirs = torch.tensor(x, requires_grad=True)
    th = theirs * 2.0
    tout = getattr(torch.nn.functional, name)(th, p, True, inplace=True)
    assert tout is th
    (tout * torch.tensor(w)).sum().backward()
    kept = tout.detach().numpy() != 0
    np.testing.assert_allclose(tout.detach().numpy(), np.where(kept, 2.0 * x / (1 - p), 0.0), rtol=1e-12)
    np.testing.assert_allclose(theirs.grad.numpy(), np.where(kept, 2.0 * w / (1 - p), 0.0), rtol=1e-12)
    # ours obeys the same relations
    leaf = Tensor(x, requires_grad=True)
    h = leaf * 2.0
    out = getattr(F, name)(h, p, True, inplace=True)
    (out * Tensor(w)).sum().backward()
    kept = out.numpy() != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(out.numpy(), np.where(kept, 2.0 * x / (1 - p), 0.0), rtol=1e-12)
    np.testing.assert_allclose(leaf.grad.numpy(), np.where(kept, 2.0 * w / (1 - p), 0.0), rtol=1e-12)


@pytest.mark.parametrize("name", ["dropout", "dropout2d"])
@pytest.mark.parametrize("p,training", [(0.5, False), (0.0, True)])
def test_dropout_identity_cases_return_the_input(name, p, training):
    torch = pytest.importorskip("torch")
    x = _x()
    t = torch.tensor(x)
    assert getattr(torch.nn.functional, name)(t, p, training, inplace=True) is t
    ours = Tensor(x)
    assert getattr(F, name)(ours, p, training, inplace=True) is ours
    np.testing.assert_array_equal(ours.numpy(), x)


def test_dropout_inplace_no_grad_writes_the_array():
    x = _x()
    tc.manual_seed(1)
    want = F.dropout(Tensor(x), 0.5).numpy()
    tc.manual_seed(1)
    t = Tensor(x.copy())
    view = t.data
    assert F.dropout(t, 0.5, inplace=True) is t
    np.testing.assert_array_equal(np.asarray(view), want)
