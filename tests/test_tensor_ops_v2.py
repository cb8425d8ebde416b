"""cat/stack/split, abs/sqrt/clip/var/min/argmax, comparisons, mask indexing,
where/maximum/minimum: forward against NumPy (and torch when importable), the
gradient at ties and kinks, and the errors. Gradients on random inputs are in
the registry-walking gradcheck (specs_building_blocks.py)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_conv as tc
from tinygrad_conv import Tensor


def arrays(shape):
    return hnp.arrays(np.float32, shape, elements=st.floats(-3, 3, width=32))


@given(a=arrays((2, 3, 4)), axis=st.integers(-3, 2))
def test_joins_and_reductions_match_numpy(a, axis):
    t = Tensor(a)
    np.testing.assert_array_equal(tc.cat([t, t[:1] if axis % 3 == 0 else t], axis=axis).data,
                                  np.concatenate([a, a[:1] if axis % 3 == 0 else a], axis=axis))
    np.testing.assert_array_equal(tc.stack([t, t * 2], axis=axis).data, np.stack([a, a * 2], axis=axis))
    np.testing.assert_allclose(t.var(axis=axis).data, a.var(axis=axis, ddof=1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(t.var(correction=0).data, a.var(), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(t.amin(axis=axis, keepdims=True), a.min(axis=axis, keepdims=True))
    values, indices = t.min(axis=axis, keepdims=True)  # min(dim) gives (values, indices), as in PyTorch
    np.testing.assert_array_equal(values, a.min(axis=axis, keepdims=True))
    np.testing.assert_array_equal(indices, np.expand_dims(a.argmin(axis=axis), axis))
    assert t.min(axis).values.shape == a.min(axis=axis).shape
    np.testing.assert_array_equal(t.argmax(axis=axis), a.argmax(axis=axis))
    assert t.argmax(axis=axis).dtype == np.int64 and indices.dtype == np.int64
    assert int(t.argmax()) == int(a.argmax())
    np.testing.assert_array_equal(t.abs().data, np.abs(a))
    np.testing.assert_array_equal(t.clip(-1, 0.5).data, np.clip(a, -1, 0.5))
    np.testing.assert_array_equal(t.clip(min=0).data, np.maximum(a, 0))
    np.testing.assert_allclose(t.abs().sqrt().data, np.sqrt(np.abs(a)), rtol=1e-6)
    for out in (t.var(axis=axis), t.min(), t.abs(), t.clip(max=1.0), tc.cat([t, t]), t.abs().sqrt()):
        assert out.dtype == np.float32


def test_split_by_size_and_by_sizes():
    t = Tensor(np.arange(10.0))
    assert [p.data.tolist() for p in t.split(4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [p.shape for p in t.split([2, 0, 8])] == [(2,), (0,), (8,)]
    m = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    a, b = m.split([1, 3], axis=1)
    (a.sum() * 2 + b.sum()).backward()
    assert m.grad[:, 0].tolist() == [2, 2, 2] and (m.grad[:, 1:] == 1).all()


def test_comparisons_give_boolean_tensors_and_masks_index():
    a = np.array([[-1.0, 2.0], [3.0, -4.0]], np.float32)
    x, y = Tensor(a, requires_grad=True), Tensor(np.zeros((2, 2)))
    for got, want in ((x > 0, a > 0), (x >= 2, a >= 2), (x < y, a < 0), (x <= -1, a <= -1),
                      (x == 3, a == 3), (x != y, a != 0), (0 < x, a > 0)):
        assert isinstance(got, Tensor) and got.dtype == tc.bool and not got.requires_grad
        np.testing.assert_array_equal(got, want)
    positive = x[x > 0]
    assert positive.data.tolist() == [2.0, 3.0]
    (positive * Tensor([10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [[0, 10], [100, 0]]
    assert x.grad.dtype == np.float32
    rows = x[np.array([True, False])]
    assert rows.shape == (1, 2)
    assert x[:, np.array([False, True])].data.tolist() == [[2.0], [-4.0]]
    assert {x: 1}[x] == 1  # still hashable by identity


def test_mask_and_integer_indices_together_add_up():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x[np.array([True, True]), np.array([0, 0])].sum().backward()  # pairs (0, 0), (1, 0)
    assert x.grad.tolist() == [[1, 0, 0], [1, 0, 0]]
    x.grad = None
    x[np.array([1, 1]), np.array([True, False, True])].sum().backward()  # (1, 0), (1, 2)
    assert x.grad.tolist() == [[0, 0, 0], [1, 0, 1]]


@pytest.mark.parametrize("index", [1.0, np.array([0.0, 1.0]), [0.5], Tensor([0.5]), (0, np.array([1.5]))])
def test_float_indices_are_a_type_error(index):
    with pytest.raises(TypeError, match="getitem"):
        Tensor(np.zeros((3, 3)))[index]


def test_where_maximum_minimum_and_their_gradients_at_ties():
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = Tensor([3.0, 2.0, 1.0], requires_grad=True)
    out = tc.maximum(a, b)
    assert out.data.tolist() == [3, 2, 3]
    out.backward(np.array([1.0, 1.0, 1.0], np.float32))
    assert a.grad.tolist() == [0, 0.5, 1] and b.grad.tolist() == [1, 0.5, 0]
    a.grad = b.grad = None
    tc.minimum(a, b).sum().backward()
    assert a.grad.tolist() == [1, 0.5, 0] and b.grad.tolist() == [0, 0.5, 1]
    a.grad = None
    w = tc.where(a.data > 1.5, a, 0.0)
    assert w.data.tolist() == [0, 2, 3] and w.dtype == np.float32
    w.sum().backward()
    assert a.grad.tolist() == [0, 1, 1]
    assert tc.where(np.array([True, False]), 1.0, Tensor([5.0, 6.0])).data.tolist() == [1, 6]
    assert tc.maximum(a, 2.5).data.tolist() == [2.5, 2.5, 3]


def test_abs_and_clip_gradients_at_the_kinks_follow_torch():
    x = Tensor([-1.0, 0.0, 1.0, 2.0], requires_grad=True)
    x.abs().sum().backward()
    assert x.grad.tolist() == [-1, 0, 1, 1]
    x.grad = None
    x.clip(0.0, 1.0).sum().backward()  # inclusive bounds pass the gradient, as torch.clamp
    assert x.grad.tolist() == [0, 1, 1, 0]


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    a[0, 0] = b[0, 0]
    for ours, theirs in (
        (lambda x, y: tc.maximum(x, y) * 3 + tc.minimum(x, y), lambda x, y: torch.maximum(x, y) * 3 + torch.minimum(x, y)),
        (lambda x, y: x.var(axis=1) + y.var(axis=0, correction=0).sum(), lambda x, y: x.var(dim=1) + y.var(dim=0, correction=0).sum()),
        (lambda x, y: tc.cat([x, y], 1).clip(-0.5, 0.5) * 2, lambda x, y: torch.cat([x, y], 1).clamp(-0.5, 0.5) * 2),
        (lambda x, y: tc.stack([x.abs(), y.abs().sqrt()], 2), lambda x, y: torch.stack([x.abs(), y.abs().sqrt()], 2)),
        (lambda x, y: x[x > 0] + 0, lambda x, y: x[x > 0] + 0),
    ):
        x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
        tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        out, tout = ours(x, y), theirs(tx, ty)
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12)
        g = rng.standard_normal(out.shape)
        out.backward(g)
        tout.backward(torch.tensor(g))
        for t, tt in ((x, tx), (y, ty)):
            np.testing.assert_allclose(0 if t.grad is None else t.grad, 0 if tt.grad is None else tt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (lambda t: tc.cat([t, Tensor(np.zeros((2, 4)))], axis=0), ValueError, "shape"),
        (lambda t: tc.cat([], axis=0), ValueError, "at least one"),
        (lambda t: tc.cat(t), TypeError, "list"),
        (lambda t: tc.cat([t, t], axis=2), ValueError, "axis"),
        (lambda t: tc.stack([t, t[:1]]), ValueError, "shape"),
        (lambda t: t.split([1, 1]), ValueError, "add up"),
        (lambda t: t.split(0), ValueError, "split_size"),
        (lambda t: t.split(1, axis=3), ValueError, "axis"),
        (lambda t: t.clip(), ValueError, "at least one"),
        (lambda t: t.clip("0"), TypeError, "min"),
        (lambda t: tc.where(t, t, t), TypeError, "boolean"),
        (lambda t: tc.where(np.ones(3), t, t), TypeError, "boolean"),
        (lambda t: tc.maximum(t, "a"), TypeError, "maximum"),
        (lambda t: tc.maximum(t, Tensor(np.ones((4, 4)))), ValueError, "broadcast"),
    ],
)
def test_bad_arguments_raise(bad, error, match):
    with pytest.raises(error, match=match):
        bad(Tensor(np.zeros((3, 3))))
