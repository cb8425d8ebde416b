"""The losses against their textbook formulas in NumPy (PyTorch's documented semantics:
weighted means, label smoothing, probability targets, per-pixel logits) and against
torch when it is installed, values and gradients."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_conv import Tensor, nn
from tinygrad_conv import functional as F

seeds = st.integers(0, 2**32 - 1)


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def cross_entropy_reference(z, t, weight=None, reduction="mean", eps=0.0):
    """PyTorch's docs, term by term: with class indices, l_n = -w[t_n] ((1 - eps) L[n, t_n]
    + eps/C sum_c L[n, c] w_c / w[t_n]) and the mean divides by sum_n w[t_n]; with
    probabilities, l_n = -sum_c w_c ((1 - eps) p_nc + eps/C) L_nc and the mean divides by N."""
    C = z.shape[1]
    L = np.moveaxis(log_softmax(z), 1, -1).reshape(-1, C)  # one row per sample (and pixel)
    w = np.ones(C) if weight is None else weight
    if t.shape == z.shape:
        p = np.moveaxis(t, 1, -1).reshape(-1, C) * (1 - eps) + eps / C
        losses, denominator = -(p * w * L).sum(axis=1), len(L)
    else:
        t = t.reshape(-1)
        losses = np.array([-(1 - eps) * w[k] * L[i, k] - eps / C * (w * L[i]).sum() for i, k in enumerate(t)])
        denominator = w[t].sum()
    if reduction == "none":
        return losses.reshape(z.shape[:1] + z.shape[2:])
    return losses.sum() / (denominator if reduction == "mean" else 1)


@st.composite
def class_cases(draw):
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    s = draw(st.sampled_from([(n, c), (n, c, draw(st.integers(1, 4)), draw(st.integers(1, 4)))]))
    return s, dict(
        probabilities=draw(st.booleans()),
        weighted=draw(st.booleans()),
        reduction=draw(st.sampled_from(["mean", "sum", "none"])),
        label_smoothing=draw(st.sampled_from([0.0, 0.1, 0.3, 1.0])),
    )


def class_data(s, case, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(s) * 3
    if case["probabilities"]:
        t = rng.random(s)
        t /= t.sum(axis=1, keepdims=True)
    else:
        t = rng.integers(0, s[1], s[:1] + s[2:])
    w = rng.random(s[1]) + 0.1 if case["weighted"] else None
    return z, t, w


@settings(max_examples=100)
@given(case=class_cases(), seed=seeds)
def test_cross_entropy_matches_the_formula(case, seed):
    s, case = case
    z, t, w = class_data(s, case, seed)
    out = F.cross_entropy(Tensor(z), t, w, case["reduction"], case["label_smoothing"])
    expected = cross_entropy_reference(z, t, w, case["reduction"], case["label_smoothing"])
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)


@settings(max_examples=60)
@given(case=class_cases(), seed=seeds)
def test_cross_entropy_and_nll_match_torch(case, seed):
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    s, case = case
    z, t, w = class_data(s, case, seed)
    tw = None if w is None else torch.tensor(w)
    params = dict(reduction=case["reduction"])
    zt, ours = torch.tensor(z, requires_grad=True), Tensor(z, requires_grad=True)
    theirs = TF.cross_entropy(zt, torch.tensor(t), tw, label_smoothing=case["label_smoothing"], **params)
    mine = F.cross_entropy(ours, t, w, label_smoothing=case["label_smoothing"], **params)
    g = np.random.default_rng(seed).standard_normal(mine.shape)
    theirs.backward(torch.tensor(g))
    mine.backward(g)
    np.testing.assert_allclose(mine.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.grad, zt.grad.numpy(), rtol=1e-10, atol=1e-12)
    if not case["probabilities"]:
        t[..., 0] = -100  # ignore_index: counts nowhere
        L = log_softmax(z)
        lt, ours = torch.tensor(L, requires_grad=True), Tensor(L, requires_grad=True)
        theirs, mine = TF.nll_loss(lt, torch.tensor(t), tw, **params), F.nll_loss(ours, t, w, **params)
        theirs.backward(torch.tensor(g))
        mine.backward(g)
        np.testing.assert_allclose(mine.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12, equal_nan=True)
        np.testing.assert_allclose(ours.grad, lt.grad.numpy(), rtol=1e-10, atol=1e-12)
        zt, ours = torch.tensor(z, requires_grad=True), Tensor(z, requires_grad=True)  # cross_entropy ignores too
        params["label_smoothing"] = case["label_smoothing"]
        theirs, mine = TF.cross_entropy(zt, torch.tensor(t), tw, **params), F.cross_entropy(ours, t, w, **params)
        theirs.backward(torch.tensor(g))
        mine.backward(g)
        np.testing.assert_allclose(mine.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12, equal_nan=True)
        np.testing.assert_allclose(ours.grad, zt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_per_pixel_cross_entropy_is_the_cross_entropy_of_every_pixel():
    rng = np.random.default_rng(0)
    z, t = rng.standard_normal((2, 3, 4, 5)), rng.integers(0, 3, (2, 4, 5))
    flat = F.cross_entropy(Tensor(z.transpose(0, 2, 3, 1).reshape(-1, 3)), t.reshape(-1))
    assert F.cross_entropy(Tensor(z), t).item() == pytest.approx(flat.item(), rel=1e-12)


def test_class_weights_give_a_weighted_mean():
    z, t = np.zeros((3, 2)), np.array([0, 0, 1])  # every sample's loss is log 2
    assert F.cross_entropy(Tensor(z), t, weight=np.array([1.0, 3.0])).item() == pytest.approx(np.log(2))
    assert F.cross_entropy(Tensor(z), t, np.array([1.0, 3.0]), reduction="sum").item() == pytest.approx(5 * np.log(2))


def test_bce_with_logits_is_stable_and_matches_the_formula():
    x = np.array([-100.0, -3.0, 0.0, 2.0, 100.0])
    y = np.array([1.0, 0.0, 0.5, 1.0, 0.0])
    pw = 2.5
    p = 1 / (1 + np.exp(-x))
    with np.errstate(divide="ignore"):
        naive = -(pw * y * np.log(p) + (1 - y) * np.log(1 - p))
    xt, yt = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(xt, yt, reduction="none", pos_weight=np.array(pw))
    np.testing.assert_allclose(loss.data[1:4], naive[1:4], rtol=1e-12)
    np.testing.assert_allclose(loss.data[[0, 4]], [pw * 100, 100], rtol=1e-12)  # naive: inf
    loss.sum().backward()
    # dL/dx = -(pw y (1 - p) - (1 - y) p) = (1 + (pw - 1) y) p - pw y
    np.testing.assert_allclose(xt.grad, (1 + (pw - 1) * y) * p - pw * y, atol=1e-12)
    assert yt.grad.isfinite().all().item()


@settings(max_examples=60)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), seed=seeds,
       reduction=st.sampled_from(["mean", "sum", "none"]), beta=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
       pos_weight=st.booleans())
def test_pointwise_losses_match_torch(shape, seed, reduction, beta, pos_weight):
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(shape) * 3, rng.standard_normal(shape)
    b[..., 0] = a[..., 0] + rng.choice([0.0, beta, -beta])  # kinks: d = 0, |d| = beta
    pw = rng.random(shape[-1]) * 3 if pos_weight else None
    cases = [
        (F.l1_loss, TF.l1_loss, {}, b),
        (F.smooth_l1_loss, TF.smooth_l1_loss, dict(beta=beta), b),
        (F.mse_loss, TF.mse_loss, {}, b),
        (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
         dict(pos_weight=pw if pw is None else torch.tensor(pw)), rng.random(shape)),
    ]
    for ours_fn, torch_fn, params, target in cases:
        ours = [Tensor(a, requires_grad=True), Tensor(target, requires_grad=True)]
        theirs = [torch.tensor(a, requires_grad=True), torch.tensor(target, requires_grad=True)]
        mine_params = dict(params, pos_weight=pw) if "pos_weight" in params else params
        mine = ours_fn(*ours, reduction=reduction, **mine_params)
        ref = torch_fn(*theirs, reduction=reduction, **params)
        g = rng.standard_normal(mine.shape)
        mine.backward(g)
        ref.backward(torch.tensor(g))
        np.testing.assert_allclose(mine.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o.grad, t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=ours_fn.__name__)


def test_smooth_l1_is_quadratic_inside_beta_and_linear_outside():
    d = np.array([-3.0, -0.5, 0.0, 0.25, 2.0])
    out = F.smooth_l1_loss(Tensor(d), np.zeros(5), reduction="none", beta=1.0)
    np.testing.assert_allclose(out.data, [2.5, 0.125, 0.0, 0.03125, 1.5])
    assert F.l1_loss(Tensor(d), np.zeros(5)).item() == pytest.approx(np.abs(d).mean())


def test_modules():
    rng = np.random.default_rng(0)
    z, t = Tensor(rng.standard_normal((4, 3, 2, 2))), rng.integers(0, 3, (4, 2, 2))
    w = np.array([0.2, 1.0, 3.0])
    loss = nn.CrossEntropyLoss(weight=w, reduction="sum", label_smoothing=0.1)(z, t)
    assert loss.item() == pytest.approx(cross_entropy_reference(z.numpy(), t, w, "sum", 0.1), rel=1e-6)
    x, y = Tensor(rng.standard_normal((3, 4))), rng.random((3, 4))
    assert nn.BCEWithLogitsLoss()(x, y).item() == pytest.approx(F.binary_cross_entropy_with_logits(x, y).item())
    assert nn.L1Loss("sum")(x, y).item() == pytest.approx(np.abs(x.numpy() - y).sum(), rel=1e-6)
    assert nn.SmoothL1Loss(beta=0.5)(x, y).item() == pytest.approx(F.smooth_l1_loss(x, y, beta=0.5).item())
    L = F.log_softmax(z, axis=1)
    assert nn.NLLLoss(w)(L, t).item() == pytest.approx(F.cross_entropy(z, t, w).item(), rel=1e-6)


@pytest.mark.parametrize(
    "fn, error, match",
    [
        (lambda z: F.cross_entropy(z, np.array([0, 3])), ValueError,
         r"cross_entropy: class index 3 is out of range for 3 classes \(expected 0..2 or ignore_index=-100\)"),
        (lambda z: F.cross_entropy(z, np.array([0, -1])), ValueError, r"class index -1 is out of range"),
        (lambda z: F.cross_entropy(z, np.zeros((2, 4))), ValueError,
         r"a probability target must have the logits' shape \(2, 3\), got \(2, 4\)"),
        (lambda z: F.cross_entropy(z, np.zeros(3, np.int64)), ValueError, r"target shape \(3,\) must be \(2,\)"),
        (lambda z: F.cross_entropy(z, np.array([0.5, 1.0])), ValueError, r"target must hold integer class indices"),
        (lambda z: F.cross_entropy(z, np.array([0, 1]), weight=np.ones(2)), ValueError,
         r"weight shape \(2,\) must be \(3,\)"),
        (lambda z: F.cross_entropy(z, np.array([0, 1]), label_smoothing=1.5), ValueError,
         r"label_smoothing must be in \[0, 1\], got 1.5"),
        (lambda z: F.cross_entropy(z, np.array([0, 1]), reduction="avg"), ValueError, r"reduction must be one of"),
        (lambda z: F.nll_loss(z, np.array([0, 5])), ValueError, r"nll_loss: class index 5 is out of range"),
        (lambda z: F.binary_cross_entropy_with_logits(z, np.zeros((2, 2))), ValueError,
         r"logits shape \(2, 3\) and target shape \(2, 2\) must be equal"),
        (lambda z: F.binary_cross_entropy_with_logits(z, np.zeros((2, 3)), pos_weight=np.ones(2)), ValueError,
         r"pos_weight shape \(2,\) does not broadcast to the logits' shape \(2, 3\)"),
        (lambda z: F.smooth_l1_loss(z, np.zeros((2, 3)), beta=-1), ValueError, r"beta must be >= 0"),
        (lambda z: F.l1_loss(z, np.zeros(3)), ValueError, r"l1_loss: pred shape \(2, 3\) and target shape \(3,\)"),
    ],
)
def test_bad_arguments_raise_with_what_was_given(fn, error, match):
    z = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(error, match=match):
        fn(z)
