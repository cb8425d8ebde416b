"""Second derivatives of the activations, losses, batch norm and dropout against PyTorch's:
``autograd.grad(..., create_graph=True)`` twice, every option drawn.

For ``out = fn(*xs)`` and an upstream gradient ``v`` (requiring grad), the first
derivatives are ``gs = grad(out, xs, v, create_graph=True)``; the second ones are
``grad(sum(g * r for g, r in zip(gs, rs)), xs + [v])`` for fixed random directions ``r``:
every block of the Hessian of ``v . out`` (mixed ones included: d/d(weight) of batch
norm's input gradient, d/d(target) of a regression loss's prediction gradient) and the
derivative in ``v``. Both libraries must agree to float64 precision.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Tensor
from tinygrad_conv import functional as F
from tinygrad_conv import ops

import second_order

torch = pytest.importorskip("torch")
TF = torch.nn.functional

SETTINGS = settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)
REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


def compare(tc_fn, torch_fn, arrays, seed, differentiable=None, rtol=1e-9, atol=1e-11):
    """tc_fn and torch_fn agree in value, first and second derivatives (mixed ones too)."""
    second_order.compare(tc_fn, torch_fn, torch, arrays, seed, differentiable, rtol, atol)


@st.composite
def shapes(draw, min_dims=0, max_dims=3):
    return tuple(draw(st.lists(st.integers(1, 4), min_size=min_dims, max_size=max_dims)))


def values(shape, seed, away_from_zero=False):
    """Standard normal values; ``away_from_zero``: none within 0.05 of the kink at 0."""
    x = np.random.default_rng(seed).standard_normal(shape)
    if away_from_zero:
        x = np.where(np.abs(x) < 0.05, np.sign(x + 1e-300) * 0.05 + x, x)
    return x


# ----- activations -------------------------------------------------------------------------------
ACTIVATIONS = {
    "elu": (st.floats(0.1, 2.0), lambda a: (lambda x: F.elu(x, a)), lambda a: (lambda x: TF.elu(x, a))),
    "leaky_relu": (st.floats(0.0, 0.5), lambda a: (lambda x: F.leaky_relu(x, a)),
                   lambda a: (lambda x: TF.leaky_relu(x, a))),
    "silu": (st.just(None), lambda a: F.silu, lambda a: TF.silu),
    "gelu": (st.sampled_from(["none", "tanh"]), lambda a: (lambda x: F.gelu(x, a)),
             lambda a: (lambda x: TF.gelu(x, approximate=a))),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_activation_second_derivatives_match_torch(name, data, seed):
    option, ours, theirs = ACTIVATIONS[name]
    option = data.draw(option)
    x = values(data.draw(shapes()), seed, away_from_zero=True) * data.draw(st.sampled_from([1.0, 3.0]))
    compare(ours(option), theirs(option), [x], seed)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_composed_with_itself(name):
    """f(f(x) * x): the activation's backward runs on a gradient and an input that both depend on x."""
    _, ours, theirs = ACTIVATIONS[name]
    option = {"elu": 0.7, "leaky_relu": 0.1, "silu": None, "gelu": "tanh"}[name]
    f, g = ours(option), theirs(option)
    compare(lambda x: f(f(x) * x), lambda x: g(g(x) * x), [values((3, 4), 7, away_from_zero=True)], 7)
    if name == "gelu":  # the exact (erf) form too
        compare(lambda x: F.gelu(F.gelu(x) * x), lambda x: TF.gelu(TF.gelu(x) * x), [values((3, 4), 8)], 8)


def test_gelu_third_derivative_matches_torch():
    """The erf in GELU's double backward is itself differentiable."""
    for mode in ("none", "tanh"):
        x = values((5,), 3)
        xt, xp = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        d_ours = d_theirs = None
        for k in range(3):
            d_ours = tc.autograd.grad((F.gelu(xt, mode) if k == 0 else d_ours).sum(), xt, create_graph=True)[0]
            d_theirs = torch.autograd.grad((TF.gelu(xp, approximate=mode) if k == 0 else d_theirs).sum(), xp,
                                           create_graph=True)[0]
        np.testing.assert_allclose(d_ours.detach().numpy(), d_theirs.detach().numpy(), rtol=1e-9, atol=1e-11)


# ----- regression losses -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss"])
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_pointwise_loss_second_derivatives_match_torch(name, data, seed):
    s = data.draw(shapes())
    reduction = data.draw(REDUCTIONS)
    params = dict(reduction=reduction)
    if name == "smooth_l1_loss":
        params["beta"] = data.draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
    rng = np.random.default_rng(seed)
    target = rng.standard_normal(s)
    # pred - target >= 0.05 away from the kinks at 0 and +-beta
    d = rng.choice([-2.3, -1.37, -0.73, -0.21, 0.27, 0.61, 1.37, 2.6], size=s)
    pred = target + d
    both = data.draw(st.booleans())  # the target differentiated as well
    compare(lambda p, t: getattr(F, name)(p, t, **params), lambda p, t: getattr(TF, name)(p, t, **params),
            [pred, target], seed, differentiable=[True, both])


def test_mse_loss_of_a_nonlinear_prediction():
    """mse(tanh(x @ w), y): the loss's backward feeds a grad that depends on x and w (mixed d/dw dx)."""
    rng = np.random.default_rng(0)
    x, w, y = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    compare(lambda x, w, y: F.mse_loss((x @ w).tanh(), y), lambda x, w, y: TF.mse_loss((x @ w).tanh(), y),
            [x, w, y], 0)


# ----- binary cross-entropy with logits -------------------------------------------------------------
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_bce_with_logits_second_derivatives_match_torch(data, seed):
    s = data.draw(shapes(min_dims=1))
    reduction = data.draw(REDUCTIONS)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(s) * data.draw(st.sampled_from([1.0, 5.0]))
    y = rng.uniform(0, 1, s)
    pos_weight = rng.uniform(0.1, 3, s[-1]) if data.draw(st.booleans()) else None
    pw_t = None if pos_weight is None else torch.tensor(pos_weight)
    both = data.draw(st.booleans())
    compare(lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction=reduction, pos_weight=pos_weight),
            lambda x, y: TF.binary_cross_entropy_with_logits(x, y, reduction=reduction, pos_weight=pw_t),
            [x, y], seed, differentiable=[True, both])


# ----- cross-entropy and nll ---------------------------------------------------------------------
@st.composite
def class_cases(draw, probabilities_allowed=True):
    """(logits shape, target array, params) over (N, C) and per-pixel (N, C, H, W) logits."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    s = draw(st.sampled_from([(n, c), (n, c, draw(st.integers(1, 3)), draw(st.integers(1, 3)))]))
    rng = np.random.default_rng(draw(seeds))
    params = dict(reduction=draw(REDUCTIONS))
    if draw(st.booleans()):
        params["weight"] = rng.uniform(0.1, 2, c)
    if probabilities_allowed and draw(st.booleans()):
        p = rng.uniform(0.01, 1, s)
        return s, p / p.sum(axis=1, keepdims=True), params
    target = rng.integers(0, c, s[:1] + s[2:])
    if draw(st.booleans()):  # some targets ignored (and a custom ignore_index)
        params["ignore_index"] = draw(st.sampled_from([-100, c + 2]))
        target = np.where(rng.uniform(size=target.shape) < 0.3, params["ignore_index"], target)
        target.flat[0] = rng.integers(0, c)  # at least one counts: all ignored is NaN in both
    return s, target, params


def _torch_params(params):
    return {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in params.items()}


def _torch_target(target):
    return torch.tensor(target) if target.dtype.kind == "f" else torch.tensor(target, dtype=torch.long)


@SETTINGS
@given(case=class_cases(), seed=seeds, smoothing=st.sampled_from([0.0, 0.1, 0.5]))
def test_cross_entropy_second_derivatives_match_torch(case, seed, smoothing):
    s, target, params = case
    z = values(s, seed) * 2
    compare(lambda z: F.cross_entropy(z, target, label_smoothing=smoothing, **params),
            lambda z: TF.cross_entropy(z, _torch_target(target), label_smoothing=smoothing, **_torch_params(params)),
            [z], seed)


@SETTINGS
@given(case=class_cases(probabilities_allowed=False), seed=seeds)
def test_nll_loss_second_derivatives_match_torch(case, seed):
    s, target, params = case
    z = values(s, seed)
    # directly on log-probabilities (the backward is linear: only d/dv), and after log_softmax
    compare(lambda z: F.nll_loss(z, target, **params),
            lambda z: TF.nll_loss(z, _torch_target(target), **_torch_params(params)), [z], seed)
    compare(lambda z: F.nll_loss(z.log_softmax(axis=1), target, **params),
            lambda z: TF.nll_loss(z.log_softmax(dim=1), _torch_target(target), **_torch_params(params)), [z], seed)


def test_cross_entropy_of_a_linear_layer_mixed_derivatives():
    """cross_entropy(x @ W.T + b): d/dW of the input gradient, d/dx of the weight gradient."""
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4)
    t = np.array([0, 3, 1, 1, 2])
    weight = rng.uniform(0.5, 2, 4)
    compare(lambda x, w, b: F.cross_entropy(F.linear(x, w, b), t, weight=weight, label_smoothing=0.2),
            lambda x, w, b: TF.cross_entropy(TF.linear(x, w, b), torch.tensor(t), weight=torch.tensor(weight),
                                             label_smoothing=0.2),
            [x, w, b], 1)


@pytest.mark.parametrize("target_kind", ["indices", "probabilities"])
def test_cross_entropy_hessian_vector_product_matches_torch(target_kind):
    """hvp of the loss in the logits: (diag(p) - p p^T) v per row, scaled by the reduction."""
    rng = np.random.default_rng(2)
    z, u = rng.standard_normal((4, 5, 2, 1)), rng.standard_normal((4, 5, 2, 1))
    if target_kind == "indices":
        t = rng.integers(0, 5, (4, 2, 1))
    else:
        t = rng.uniform(0.1, 1, (4, 5, 2, 1))
        t /= t.sum(axis=1, keepdims=True)
    ours = tc.autograd.functional.hvp(lambda z: F.cross_entropy(z, t), Tensor(z), Tensor(u))
    theirs = torch.autograd.functional.hvp(lambda z: TF.cross_entropy(z, _torch_target(t)), torch.tensor(z),
                                           torch.tensor(u))
    np.testing.assert_allclose(ours[0].numpy(), theirs[0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours[1].numpy(), theirs[1].numpy(), rtol=1e-9, atol=1e-12)


def test_cross_entropy_hessian_matches_torch():
    rng = np.random.default_rng(3)
    z, t = rng.standard_normal((3, 4)), np.array([2, 0, 3])
    ours = tc.autograd.functional.hessian(lambda z: F.cross_entropy(z, t, label_smoothing=0.1), Tensor(z))
    theirs = torch.autograd.functional.hessian(lambda z: TF.cross_entropy(z, torch.tensor(t), label_smoothing=0.1),
                                               torch.tensor(z))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-9, atol=1e-12)


# ----- batch norm ----------------------------------------------------------------------------------
@st.composite
def batch_norm_cases(draw):
    c = draw(st.integers(1, 3))
    s = draw(st.sampled_from([(draw(st.integers(2, 5)), c), (draw(st.integers(1, 3)), c, draw(st.integers(1, 3)),
                                                              draw(st.integers(2, 3)))]))
    return s, draw(st.booleans()), draw(st.sampled_from(["none", "both", "weight", "bias"]))


@SETTINGS
@given(case=batch_norm_cases(), seed=seeds)
def test_batch_norm_second_derivatives_match_torch(case, seed):
    shape, training, affine = case
    c = shape[1]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * rng.uniform(0.5, 2) + rng.uniform(-1, 1)
    running = [rng.standard_normal(c), rng.uniform(0.5, 2, c)]
    arrays = [x]
    if affine in ("both", "weight"):
        arrays.append(rng.uniform(0.5, 2, c))
    if affine in ("both", "bias"):
        arrays.append(rng.standard_normal(c))

    def split(wb):
        wb = list(wb)
        weight = wb.pop(0) if affine in ("both", "weight") else None
        bias = wb.pop(0) if affine in ("both", "bias") else None
        return weight, bias

    def ours(x, *wb):
        weight, bias = split(wb)
        return F.batch_norm(x, running[0].copy(), running[1].copy(), weight, bias, training=training,
                            momentum=0.3, eps=1e-3)

    def theirs(x, *wb):
        weight, bias = split(wb)
        # torch's double backward needs both (F.batch_norm fills the missing one in the same way)
        if weight is None and bias is not None:
            weight = torch.ones(c, dtype=torch.float64)
        if bias is None and weight is not None:
            bias = torch.zeros(c, dtype=torch.float64)
        return TF.batch_norm(x, torch.tensor(running[0]), torch.tensor(running[1]), weight, bias,
                             training=training, momentum=0.3, eps=1e-3)

    compare(ours, theirs, arrays, seed, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_weight_derivative_of_input_gradient(training):
    """d/d(weight) of d(loss)/dx, with a loss nonlinear in the output (so every path counts)."""
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((3, 2, 2, 3)), rng.uniform(0.5, 2, 2), rng.standard_normal(2)
    rm, rv = rng.standard_normal(2), rng.uniform(0.5, 2, 2)
    results = []
    for lib, fn, make in ((tc, F.batch_norm, Tensor), (torch, TF.batch_norm, torch.tensor)):
        xt, wt, bt = (make(a, requires_grad=True) for a in (x, w, b))
        stats = (make(rm.copy()), make(rv.copy())) if lib is torch else (rm.copy(), rv.copy())
        loss = (fn(xt, *stats, wt, bt, training=training).tanh() ** 2).sum()
        (gx,) = lib.autograd.grad(loss, xt, create_graph=True)
        gw, gb, gx2 = lib.autograd.grad((gx * make(x)).sum(), (wt, bt, xt))
        results.append([gx.detach().numpy(), gw.numpy(), gb.numpy(), gx2.numpy()])
    for a, b_ in zip(*results):
        np.testing.assert_allclose(a, b_, rtol=1e-9, atol=1e-11)


def test_batch_norm_module_in_training_gradient_penalty():
    """A gradient penalty through nn.BatchNorm2d in training mode, as WGAN-GP would take it."""
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((4, 3, 2, 2)), rng.uniform(0.5, 2, 3)

    def penalty(lib, fn, make):
        xt, wt = make(x, requires_grad=True), make(w, requires_grad=True)
        stats = (make(np.zeros(3)), make(np.ones(3))) if lib is torch else (np.zeros(3), np.ones(3))
        out = fn(xt, *stats, wt, None, training=True)
        (gx,) = lib.autograd.grad((out ** 3).sum(), xt, create_graph=True)
        p = ((gx * gx).sum() - 1) ** 2
        return [g.numpy() for g in lib.autograd.grad(p, (xt, wt))]

    for a, b in zip(penalty(tc, F.batch_norm, Tensor), penalty(torch, TF.batch_norm, torch.tensor)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


# ----- dropout ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [False, True])
@pytest.mark.parametrize("p", [0.25, 0.5, 1.0])
def test_dropout_second_derivatives_match_torch(p, channels):
    """Dropout is ``x * mask``: torch with the same mask (read off dropout of ones) is the reference."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 2, 2))
    drop = F.dropout2d if channels else F.dropout
    tc.manual_seed(11)
    mask = drop(Tensor(np.ones_like(x)), p).numpy()

    def ours(x):
        tc.manual_seed(11)
        y = drop(x, p)
        return y.tanh() * y

    def theirs(x):
        y = x * torch.tensor(mask)
        return y.tanh() * y

    compare(ours, theirs, [x], 6)


def test_every_op_of_this_family_is_covered():
    names = {"elu", "gelu", "leaky_relu", "silu", "mse_loss", "l1_loss", "smooth_l1_loss",
             "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "batch_norm", "dropout"}
    assert names <= set(ops.registry)
