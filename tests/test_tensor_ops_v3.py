"""Issue 19's tensor ops and options against PyTorch: sin/cos, clamp with tensor bounds,
pow with a tensor exponent, einsum, argmax/argmin(keepdim=), var/std(unbiased=, correction=),
add/sub(alpha=) and the tc.* reductions, values and gradients."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_conv as tc

specials = st.sampled_from([0.0, 1.0, -1.0, 1e4, np.inf, -np.inf, np.nan])
values = st.one_of(st.floats(-5, 5), specials)


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _pair(torch, x, **kw):
    return tc.Tensor(x, requires_grad=True, **kw), torch.tensor(x, requires_grad=True)


def _close(ours, theirs, **tol):
    tol = {"rtol": 1e-6, "atol": 1e-12, "equal_nan": True, **tol}
    np.testing.assert_allclose(np.asarray(ours.numpy()), theirs.detach().numpy(), **tol)


@pytest.mark.parametrize("name", ["sin", "cos"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_sin_cos_match_torch(torch, name, dtype, data):
    x = data.draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), elements=values))
    ours, theirs = _pair(torch, x)
    with np.errstate(invalid="ignore"):
        out = getattr(tc, name)(ours)
        out.sum().backward()
    want = getattr(torch, name)(theirs)
    want.sum().backward()
    assert out.dtype == dtype and ours.grad.dtype == dtype
    _close(out, want)
    _close(ours.grad, theirs.grad)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_clamp_with_tensor_bounds_matches_torch(torch, data):
    drawn = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    # x has the broadcast shape: PyTorch's clamp backward fails (an in-place and) when a bound is the larger
    shapes = (drawn.result_shape,) + drawn.input_shapes
    grid = st.one_of(st.integers(-3, 3).map(float), st.just(np.nan))  # ties, lo > hi and NaN all drawn
    arrays = [data.draw(hnp.arrays(np.float64, s, elements=grid)) for s in shapes]
    which = data.draw(st.sampled_from([(True, True), (True, False), (False, True)]))
    ours = [tc.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    pick = lambda ts: dict(min=ts[1] if which[0] else None, max=ts[2] if which[1] else None)  # noqa: E731
    out = ours[0].clamp(**pick(ours))
    want = torch.clamp(theirs[0], **pick(theirs))
    _close(out, want)
    g = np.arange(out.numel(), dtype=np.float64).reshape(out.shape) + 1
    out.backward(g)
    want.backward(torch.tensor(g))
    for a, b, used in zip(ours, theirs, (True,) + which):
        if used:
            _close(a.grad, b.grad)
    assert tc.clip(ours[0], min=ours[1]).shape == tuple(torch.clip(theirs[0], min=theirs[1]).shape)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_pow_with_tensor_exponent_matches_torch(torch, data):
    sa, sb = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)).input_shapes
    base = data.draw(hnp.arrays(np.float64, sa, elements=st.one_of(st.floats(-3, 3), specials)))
    exponent = data.draw(hnp.arrays(np.float64, sb, elements=st.one_of(st.floats(-3, 3), st.sampled_from([0.0, 2.0, np.nan]))))
    (a, ta), (b, tb) = _pair(torch, base), _pair(torch, exponent)
    with np.errstate(all="ignore"):
        out = a**b
        out.backward(np.ones(out.shape))
    want = ta**tb
    want.backward(torch.ones(want.shape, dtype=torch.float64))
    _close(out, want)
    _close(a.grad, ta.grad)
    _close(b.grad, tb.grad)
    assert (tc.Tensor(base.astype(np.float32)) ** tc.Tensor(exponent.astype(np.float32))).dtype == np.float32


EINSUMS = [("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ij->", [(2, 3)]),
           ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("...ij,...jk", [(2, 3, 4), (4, 5)]), ("i,j", [(3,), (4,)]),
           ("ijk,k->j", [(2, 3, 4), (4,)]), ("iij->ji", [(3, 3, 2)]), ("ij,ij->ij", [(1, 3), (2, 3)]),
           ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]), ("i,i,i->", [(3,)] * 3), ("...", [(2, 3)]),
           ("nchw,oc->nohw", [(2, 3, 2, 2), (4, 3)]), ("b i j, b j -> b i", [(2, 3, 4), (2, 4)]),
           ("i,i->", [(3,), (3,)]), ("ij,ij", [(2, 3), (2, 3)])]  # two operands to a 0-d result: was (1,)


@pytest.mark.parametrize("equation, shapes", EINSUMS)
def test_einsum_matches_torch(torch, equation, shapes):
    rng = np.random.default_rng(len(equation))
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ours = [tc.Tensor(x, requires_grad=True) for x in xs]
    theirs = [torch.tensor(x, requires_grad=True) for x in xs]
    out, want = tc.einsum(equation, *ours), torch.einsum(equation, *theirs)
    assert out.shape == tuple(want.shape) and out.dtype == np.float32
    _close(out, want, rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    want.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        _close(a.grad, b.grad, rtol=1e-5, atol=1e-5)
    _close(tc.einsum(equation, list(ours)), want, rtol=1e-5, atol=1e-5)  # operands as one list


@pytest.mark.parametrize("equation, shapes, error", [
    ("ij,jk", [(2, 3), (4, 5)], ValueError), ("ij", [(2, 3), (3,)], ValueError), ("ij->k", [(2, 3)], ValueError),
    ("i1", [(2, 2)], ValueError), ("ijk", [(2, 3)], ValueError), (3, [(2,)], TypeError),
])
def test_einsum_errors(equation, shapes, error):
    with pytest.raises(error):
        tc.einsum(equation, *[tc.ones(*s) for s in shapes])


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_reductions_with_options_match_torch(torch, data):
    x = data.draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), elements=st.floats(-5, 5)))
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    keepdim = data.draw(st.booleans())
    ours, theirs = tc.Tensor(x), torch.tensor(x)
    for name in ("argmax", "argmin"):
        np.testing.assert_array_equal(getattr(tc, name)(ours, dim, keepdim=keepdim).numpy(),
                                      getattr(torch, name)(theirs, dim, keepdim=keepdim).numpy())
        assert getattr(ours, name)(keepdim=keepdim).shape == tuple(getattr(theirs, name)(keepdim=keepdim).shape)
    unbiased = data.draw(st.booleans())
    correction = data.draw(st.integers(0, 6))
    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        for name in ("var", "std"):
            _close(getattr(tc, name)(ours, dim, unbiased, keepdim), getattr(torch, name)(theirs, dim, unbiased, keepdim))
            _close(getattr(ours, name)(dim, correction=correction, keepdim=keepdim),  # inf past the count
                   getattr(theirs, name)(dim, correction=correction, keepdim=keepdim))
    _close(tc.prod(ours, dim, keepdim), torch.prod(theirs, dim, keepdim))
    _close(tc.cumsum(ours, dim), torch.cumsum(theirs, dim))
    _close(tc.logsumexp(ours, dim, keepdim), torch.logsumexp(theirs, dim, keepdim))
    _close(tc.std(ours), torch.std(theirs))


def test_add_sub_alpha_match_torch(torch):
    x, y = np.arange(6.0).reshape(2, 3), np.array([1.0, -2.0, 0.5])
    (a, ta), (b, tb) = _pair(torch, x), _pair(torch, y)
    for ours, theirs in ((tc.add(a, b, alpha=2.5), torch.add(ta, tb, alpha=2.5)),
                         (a.sub(b, alpha=-3), ta.sub(tb, alpha=-3)), (tc.sub(a, 2, alpha=2), torch.sub(ta, 2, alpha=2))):
        _close(ours, theirs)
        ours.sum().backward()
        theirs.sum().backward()
    _close(a.grad, ta.grad)
    _close(b.grad, tb.grad)


@pytest.mark.parametrize("equation, shape, diagonal", [("ii->i", (3, 3), 3), ("iij->j", (2, 2, 3), 6), ("iji->j", (2, 3, 2), 6)])
def test_einsum_repeated_letter_gradient_is_zero_off_the_diagonal_even_for_an_infinite_gradient(equation, shape,
                                                                                             diagonal):
    x = tc.tensor(np.arange(np.prod(shape), dtype=np.float64).reshape(shape), requires_grad=True)
    out = tc.einsum(equation, x)
    grad = np.full(out.shape, np.inf)
    out.backward(tc.tensor(grad))
    g = x.grad.numpy()
    assert not np.isnan(g).any()  # an identity times inf would put NaN off the diagonal
    assert np.isinf(g).sum() == diagonal and (g[~np.isinf(g)] == 0).all()
