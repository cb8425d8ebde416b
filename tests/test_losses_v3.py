"""Issue 19's losses and loss options against PyTorch over hypothesis-drawn shapes, values
and options: binary_cross_entropy, kl_div, huber_loss, cosine_similarity, normalize,
binary_cross_entropy_with_logits(weight=), nll_loss/cross_entropy unbatched, with
ignore_index and label_smoothing on every form, probability targets that need a gradient."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_conv as tc
from tinygrad_conv import functional as F, nn

REDUCTIONS = ["mean", "sum", "none"]
shapes = hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _close(ours, theirs, rtol=1e-6, atol=1e-9):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    np.testing.assert_allclose(np.asarray(ours.numpy()), theirs, rtol=rtol, atol=atol, equal_nan=True)


def _run(torch, ours_fn, theirs_fn, arrays, grads=True):
    """Both functions on the same arrays; values and gradients (of a weighted sum) compared."""
    ours = [tc.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out, want = ours_fn(*ours), theirs_fn(*theirs)
        tol = dict(rtol=1e-5, atol=1e-6) if out.dtype == np.float32 else {}
        assert out.dtype == arrays[0].dtype and out.shape == tuple(want.shape)
        _close(out, want, **tol)
        if grads:
            g = np.linspace(0.5, 1.5, out.numel()).reshape(out.shape).astype(out.dtype)
            out.backward(g)
            want.backward(torch.tensor(g))
            for a, b in zip(ours, theirs):
                _close(a.grad, b.grad, **tol)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_binary_cross_entropy_matches_torch(torch, data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    s = data.draw(shapes)
    probs = st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 1e-30, 1 - 1e-7]))
    x = data.draw(hnp.arrays(dtype, s, elements=probs))
    y = data.draw(hnp.arrays(dtype, s, elements=st.floats(0, 1)))
    reduction = data.draw(st.sampled_from(REDUCTIONS))
    w = data.draw(st.none() | hnp.arrays(dtype, s[len(s) - data.draw(st.integers(0, len(s))):], elements=st.floats(0, 2)))
    tw = None if w is None else torch.tensor(w)
    _run(torch, lambda a, b: F.binary_cross_entropy(a, b, w, reduction),
         lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, tw, reduction=reduction), [x, y])
    _run(torch, lambda a, b: nn.BCELoss(w, reduction=reduction)(a, b),
         lambda a, b: torch.nn.BCELoss(tw, reduction=reduction)(a, b), [x, y], grads=False)


def test_binary_cross_entropy_refuses_non_probabilities():
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(tc.tensor([0.5, 1.5]), tc.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="target"):
        F.binary_cross_entropy(tc.tensor([0.5, 0.5]), tc.tensor([0.0]))


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_kl_div_matches_torch(torch, data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    sx, st_ = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)).input_shapes
    log_target = data.draw(st.booleans())
    reduction = data.draw(st.sampled_from(REDUCTIONS + ["batchmean"]))
    x = data.draw(hnp.arrays(dtype, sx, elements=st.floats(-5, 0) | st.sampled_from([-np.inf, np.nan])))
    t = data.draw(hnp.arrays(dtype, st_, elements=st.floats(-3, 0) if log_target else st.floats(0, 1) | st.just(0.0)))
    _run(torch, lambda a, b: F.kl_div(a, b, reduction, log_target),
         lambda a, b: torch.nn.functional.kl_div(a, b, reduction=reduction, log_target=log_target), [x, t])
    _run(torch, lambda a, b: nn.KLDivLoss(reduction=reduction, log_target=log_target)(a, b),
         lambda a, b: torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)(a, b), [x, t], grads=False)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_huber_loss_matches_torch(torch, data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    s = data.draw(shapes)
    values = st.floats(-4, 4) | st.sampled_from([np.inf, -np.inf, np.nan, 1.0, -1.0])
    x, y = (data.draw(hnp.arrays(dtype, s, elements=values)) for _ in range(2))
    reduction = data.draw(st.sampled_from(REDUCTIONS))
    delta = data.draw(st.sampled_from([1.0, 0.5, 2.5]))
    _run(torch, lambda a, b: F.huber_loss(a, b, reduction, delta),
         lambda a, b: torch.nn.functional.huber_loss(a, b, reduction=reduction, delta=delta), [x, y])
    _run(torch, lambda a, b: nn.HuberLoss(reduction, delta)(a, b),
         lambda a, b: torch.nn.HuberLoss(reduction, delta)(a, b), [x, y], grads=False)
    with pytest.raises(ValueError, match="delta"):
        F.huber_loss(tc.Tensor(x), tc.Tensor(y), delta=0.0)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_cosine_similarity_and_normalize_match_torch(torch, data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    s1, s2 = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, max_side=3)).input_shapes
    ndim = max(len(s1), len(s2))
    dim = data.draw(st.integers(-ndim, ndim - 1))
    values = st.floats(-3, 3) | st.just(0.0)  # zero vectors: the eps clamp, PyTorch's gradient there
    x1, x2 = data.draw(hnp.arrays(dtype, s1, elements=values)), data.draw(hnp.arrays(dtype, s2, elements=values))
    eps = data.draw(st.sampled_from([1e-8, 0.5]))
    _run(torch, lambda a, b: F.cosine_similarity(a, b, dim, eps),
         lambda a, b: torch.nn.functional.cosine_similarity(a, b, dim, eps), [x1, x2])
    _run(torch, lambda a, b: nn.CosineSimilarity(dim, eps)(a, b),
         lambda a, b: torch.nn.CosineSimilarity(dim, eps)(a, b), [x1, x2], grads=False)
    p = data.draw(st.sampled_from([2.0, 1.0, 3.0, float("inf")]))
    dim1 = data.draw(st.integers(-len(s1), len(s1) - 1))
    _run(torch, lambda a: F.normalize(a, p, dim1), lambda a: torch.nn.functional.normalize(a, p, dim1), [x1])


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_bce_with_logits_weight_matches_torch(torch, data):
    s = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    x = data.draw(hnp.arrays(np.float64, s, elements=st.floats(-30, 30)))
    y = data.draw(hnp.arrays(np.float64, s, elements=st.floats(0, 1)))
    w = data.draw(hnp.arrays(np.float64, s[data.draw(st.integers(0, len(s))):], elements=st.floats(0, 2)))
    pw = data.draw(st.none() | hnp.arrays(np.float64, s[-1:], elements=st.floats(0.5, 2)))
    reduction = data.draw(st.sampled_from(REDUCTIONS))
    tpw = None if pw is None else torch.tensor(pw)
    _run(torch, lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, reduction=reduction, pos_weight=pw),
         lambda a, b: torch.nn.functional.binary_cross_entropy_with_logits(a, b, torch.tensor(w), reduction=reduction,
                                                                          pos_weight=tpw), [x, y])
    _run(torch, lambda a, b: nn.BCEWithLogitsLoss(w, reduction=reduction, pos_weight=pw)(a, b),
         lambda a, b: torch.nn.BCEWithLogitsLoss(torch.tensor(w), reduction=reduction, pos_weight=tpw)(a, b), [x, y],
         grads=False)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_class_losses_every_form_match_torch(torch, data):
    """Unbatched (C,), batched (N, C) and K-d (N, C, d1, d2) inputs, with ignore_index,
    class weights, label_smoothing and every reduction; class-index and probability targets."""
    C = data.draw(st.integers(1, 4))
    form = data.draw(st.sampled_from([(), (2,), (2, 3), (2, 2, 3)]))  # batch and spatial axes
    shape = (C,) if form == () else (form[0], C) + form[1:]
    target_shape = () if form == () else (form[0],) + form[1:]
    z = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-5, 5)))
    ignore_index = data.draw(st.sampled_from([-100, 0, 1]))
    t = data.draw(hnp.arrays(np.int64, target_shape, elements=st.integers(0, C - 1) | st.just(ignore_index)))
    t = np.where(t < 0, -100, t) if ignore_index == -100 else t
    w = data.draw(st.none() | hnp.arrays(np.float64, (C,), elements=st.floats(0.5, 2)))
    tw = None if w is None else torch.tensor(w)
    reduction = data.draw(st.sampled_from(REDUCTIONS))
    eps = data.draw(st.sampled_from([0.0, 0.2]))
    TF = torch.nn.functional
    _run(torch, lambda a: F.cross_entropy(a, t, w, reduction, eps, ignore_index),
         lambda a: TF.cross_entropy(a, torch.tensor(t), tw, reduction=reduction, label_smoothing=eps,
                                    ignore_index=ignore_index), [z])
    _run(torch, lambda a: F.nll_loss(a, tc.tensor(t), w, reduction, ignore_index),
         lambda a: TF.nll_loss(a, torch.tensor(t), tw, reduction=reduction, ignore_index=ignore_index), [z])
    # probabilities, differentiated too when they need a gradient (distillation)
    p = np.exp(z) / np.exp(z).sum(axis=0 if form == () else 1, keepdims=True)
    _run(torch, lambda a, b: F.cross_entropy(a, b, w, reduction, eps),
         lambda a, b: TF.cross_entropy(a, b, tw, reduction=reduction, label_smoothing=eps), [z, p])
    _run(torch, lambda a: F.cross_entropy(a, p, w, reduction, eps),
         lambda a: TF.cross_entropy(a, torch.tensor(p), tw, reduction=reduction, label_smoothing=eps), [z])


def test_distillation_target_gets_a_gradient_of_float32(torch):
    student = tc.Tensor(np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32), requires_grad=True)
    teacher = tc.Tensor(np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(student, teacher.softmax(1))
    loss.backward()
    assert loss.dtype == np.float32 and teacher.grad is not None and teacher.grad.dtype == np.float32
    s, t = torch.tensor(student.numpy(), requires_grad=True), torch.tensor(teacher.numpy(), requires_grad=True)
    torch.nn.functional.cross_entropy(s, t.softmax(1)).backward()
    _close(teacher.grad, t.grad, rtol=1e-5, atol=1e-7)
    _close(student.grad, s.grad, rtol=1e-5, atol=1e-7)


def test_unbatched_target_shape_error():
    with pytest.raises(ValueError, match="unbatched"):
        F.nll_loss(tc.zeros(3), np.zeros((2, 2), np.int64))


def test_legacy_size_average_and_reduce(torch):
    x, y = np.array([0.2, 0.9]), np.array([0.0, 1.0])
    for kwargs in (dict(reduce=False), dict(size_average=False), dict(size_average=True, reduce=True)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = torch.nn.BCELoss(**kwargs)(torch.tensor(x), torch.tensor(y))
        _close(nn.BCELoss(**kwargs)(tc.Tensor(x), tc.Tensor(y)), want)


@settings(max_examples=40)
@given(data=st.data())
def test_cross_entropy_picked_path_equals_the_one_hot_rule(data):
    """Plain class indices on NumPy take _forward_picked (each target's log-probability picked
    at its flat position, minus scale there in backward); under create_graph the same gradient
    comes from the one-hot matrix rule on Tensors. Both agree bit for bit, and with PyTorch,
    NaN and inf logits and upstream gradients included."""
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=2, max_size=4)))
    values = st.floats(-5, 5) | st.sampled_from([np.nan, np.inf, -np.inf])
    x = data.draw(hnp.arrays(dtype, shape, elements=values.map(dtype)))
    target = np.asarray(data.draw(hnp.arrays(np.int64, shape[:1] + shape[2:], elements=st.integers(0, shape[1] - 1))))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    up = dtype(data.draw(st.sampled_from([1.0, -2.5, np.inf])))
    grads = []
    for create_graph in (False, True):
        t = tc.tensor(x, requires_grad=True)
        loss = F.cross_entropy(t, tc.tensor(target), reduction=reduction)
        (dx,) = tc.autograd.grad(loss, t, tc.tensor(np.full(loss.shape, up, dtype)), create_graph=create_graph)
        grads.append(dx.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    try:
        import torch
    except ImportError:
        return
    tt = torch.tensor(x, requires_grad=True)
    want = torch.nn.functional.cross_entropy(tt, torch.tensor(target), reduction=reduction)
    (tdx,) = torch.autograd.grad(want, tt, torch.full(want.shape, float(up), dtype=tt.dtype))
    np.testing.assert_allclose(loss.numpy(), want.detach().numpy(), rtol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(grads[0], tdx.numpy(), rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-7)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_class_losses_with_a_nonfinite_upstream_gradient_match_torch(torch, data):
    """An inf/-inf/NaN upstream gradient meets only the nonzero coefficients, as in PyTorch,
    whose nll_loss scatters them: with class weights, ignored targets and label smoothing
    the classes a target does not pick get softmax * (w_t * scale), not 0 * inf = NaN."""
    C = data.draw(st.integers(1, 4))
    form = data.draw(st.sampled_from([(2,), (2, 3), (3, 2, 2)]))
    shape, target_shape = (form[0], C) + form[1:], form
    z = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-5, 5)))
    ignore_index = data.draw(st.sampled_from([-100, 1]))
    t = data.draw(hnp.arrays(np.int64, target_shape, elements=st.integers(0, C - 1) | st.just(ignore_index)))
    w = data.draw(st.none() | hnp.arrays(np.float64, (C,), elements=st.floats(0.5, 2)))
    reduction = data.draw(st.sampled_from(REDUCTIONS))
    eps = data.draw(st.sampled_from([0.0, 0.2]))
    up = data.draw(st.sampled_from([np.inf, -np.inf, np.nan, 2.0]))
    ours = tc.tensor(z, requires_grad=True)
    loss = F.cross_entropy(ours, t, None if w is None else tc.tensor(w), reduction, eps, ignore_index)
    loss.backward(tc.tensor(np.full(loss.shape, up)))
    theirs = torch.tensor(z, requires_grad=True)
    want = torch.nn.functional.cross_entropy(theirs, torch.tensor(t), None if w is None else torch.tensor(w),
                                             reduction=reduction, label_smoothing=eps, ignore_index=ignore_index)
    want.backward(torch.full(want.shape, up, dtype=torch.float64))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)
