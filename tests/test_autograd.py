"""Higher-order gradients against PyTorch: ``tc.autograd.grad``, ``backward(create_graph=True)``,
a third derivative, ``tc.autograd.functional`` (jacobian, hessian, vjp, jvp, hvp, vhp) with
PyTorch's return conventions, ``tc.gradgradcheck``, and double backward of user-defined ops.

Every function here is built from ops whose backward is differentiable (linear, matmul,
elementwise, reductions, the softmax family, relu, getitem, cat); the per-op second
derivatives are tested in tests/test_double_backward_*.py and the registry walk.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tinygrad_conv as tc
import tinygrad_conv.autograd.functional as AF
from tinygrad_conv import Tensor, backend
from tinygrad_conv import functional as F

torch = pytest.importorskip("torch")
TAF = torch.autograd.functional
TF = torch.nn.functional
# torch warns that backward(create_graph=True) makes a reference cycle; so does PyTorch's own use of it
pytestmark = pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True:UserWarning")

SETTINGS = settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
dims = st.integers(1, 4)
seeds = st.integers(0, 2**32 - 1)


# ----- helpers: the same function and values in both libraries ------------------------------
def both(*arrays, requires_grad=True):
    """(tinygrad_conv tensors, torch tensors) of the same float64 arrays."""
    return ([Tensor(a, requires_grad=requires_grad) for a in arrays],
            [torch.tensor(a, requires_grad=requires_grad) for a in arrays])


def assert_same(ours, theirs, rtol=1e-9, atol=1e-11):
    """Nested Tensor / tuple results agree in structure, shape and value (None where torch has None)."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple), f"expected a tuple, got {type(ours).__name__}"
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            assert_same(o, t, rtol, atol)
        return
    if theirs is None:
        assert ours is None
        return
    assert isinstance(ours, Tensor), f"expected a Tensor, got {type(ours).__name__}"
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)


def mlp(lib):
    """A small classifier's log-probabilities: linear, tanh, relu, cat, getitem, log_softmax."""
    linear = F.linear if lib is tc else TF.linear
    cat = tc.cat if lib is tc else torch.cat

    def fn(x, w, b, w2):
        h = linear(x, w, b).tanh()
        h = cat([h, h[:, :1].relu() * h[:, -1:].sigmoid()], 1)
        return (h @ w2).log_softmax(1)

    return fn


def mlp_arrays(data, rng):
    n, d, h, k = (data.draw(dims, label=s) for s in "ndhk")
    return [rng.standard_normal(s) for s in [(n, d), (h, d), (h,), (h + 1, k + 1)]]


# ----- tc.autograd.grad --------------------------------------------------------------------
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_grad_and_its_gradient_match_torch_mixed_second_derivatives_included(data, seed):
    rng = np.random.default_rng(seed)
    arrays = mlp_arrays(data, rng)
    (ours, theirs), fn = both(*arrays), mlp
    out, out_t = fn(tc)(*ours), fn(torch)(*theirs)
    v = rng.standard_normal(out.shape)
    gs = tc.autograd.grad(out, ours, Tensor(v), create_graph=True)
    gs_t = torch.autograd.grad(out_t, theirs, torch.tensor(v), create_graph=True)
    assert_same(gs, gs_t)
    assert all(g.requires_grad for g in gs)
    # d/d(every input) of a projection of the input gradient: d/dW of d out/dx among them
    r = [rng.standard_normal(a.shape) for a in arrays]
    proj = sum((g * Tensor(ri)).sum() for g, ri in zip(gs, r))
    proj_t = sum((g * torch.tensor(ri)).sum() for g, ri in zip(gs_t, r))
    assert_same(tc.autograd.grad(proj, ours), torch.autograd.grad(proj_t, theirs))


def test_grad_accepts_a_tensor_or_sequences_and_returns_a_tuple_without_touching_grad():
    rng = np.random.default_rng(0)
    (x, w), (xt, wt) = both(rng.standard_normal((3, 4)), rng.standard_normal((4, 2)))
    y, yt = (x @ w).tanh(), (xt @ wt).tanh()
    v = rng.standard_normal((3, 2))
    assert_same(tc.autograd.grad(y, x, Tensor(v), retain_graph=True),
                torch.autograd.grad(yt, xt, torch.tensor(v), retain_graph=True))
    assert_same(tc.autograd.grad([y], (x, w), [Tensor(v)], retain_graph=True),
                torch.autograd.grad([yt], (xt, wt), [torch.tensor(v)], retain_graph=True))
    # several outputs, each with its own grad_outputs (None for a one-element output)
    s, st_ = (x * x).sum(), (xt * xt).sum()
    assert_same(tc.autograd.grad([y, s], [w, x], [Tensor(v), None]),
                torch.autograd.grad([yt, st_], [wt, xt], [torch.tensor(v), None]))
    assert x.grad is None and w.grad is None


def test_grad_with_respect_to_an_intermediate_and_to_the_output_itself():
    rng = np.random.default_rng(1)
    (x,), (xt,) = both(rng.standard_normal(5))
    h, ht = x.exp(), xt.exp()
    out, out_t = (h * h).sum(), (ht * ht).sum()
    assert_same(tc.autograd.grad(out, [h, x, out], retain_graph=True),
                torch.autograd.grad(out_t, [ht, xt, out_t], retain_graph=True))


def test_retain_graph_semantics():
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((2, 3)), requires_grad=True)

    y = (x.exp() * x).sum()
    first = tc.autograd.grad(y, x, retain_graph=True)[0]
    np.testing.assert_array_equal(tc.autograd.grad(y, x)[0].numpy(), first.numpy())  # released now
    with pytest.raises(RuntimeError, match="released"):
        tc.autograd.grad(y, x)

    y = (x.exp() * x).sum()  # create_graph retains by default, as in PyTorch
    g = tc.autograd.grad(y, x, create_graph=True)[0]
    np.testing.assert_allclose(tc.autograd.grad(y, x)[0].numpy(), g.detach().numpy())

    y = (x.exp() * x).sum()  # ... unless told not to: the gradient's graph runs through it
    g = tc.autograd.grad(y, x, create_graph=True, retain_graph=False)[0]
    with pytest.raises(RuntimeError, match="released"):
        tc.autograd.grad(g.sum(), x)

    y = (x * x).sum()  # the gradient 2x only needs x (a leaf), as in PyTorch
    g = tc.autograd.grad(y, x, create_graph=True, retain_graph=False)[0]
    np.testing.assert_allclose(tc.autograd.grad(g.sum(), x)[0].numpy(), np.full((2, 3), 2.0))


def test_without_create_graph_the_gradient_is_a_constant():
    x = Tensor(np.arange(3.0), requires_grad=True)
    (g,) = tc.autograd.grad((x * x).sum(), x)
    assert not g.requires_grad
    (g,) = tc.autograd.grad((x * x).sum(), x, create_graph=True)
    assert g.requires_grad


def test_allow_unused():
    rng = np.random.default_rng(3)
    (x, z), (xt, zt) = both(rng.standard_normal(3), rng.standard_normal(3))
    with pytest.raises(RuntimeError, match="input 1 was not used.*allow_unused=True"):
        tc.autograd.grad((x * 2).sum(), [x, z])
    assert_same(tc.autograd.grad((x * x).sum(), [x, z], allow_unused=True),
                torch.autograd.grad((xt * xt).sum(), [xt, zt], allow_unused=True))
    # a gradient that does not depend on the inputs: differentiating it again needs allow_unused
    (g,) = tc.autograd.grad((x * z).sum(), x, create_graph=True)
    assert tc.autograd.grad(g.sum(), [x, z], allow_unused=True)[0] is None


def test_errors():
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    c = Tensor(np.ones((2, 2)))
    with pytest.raises(RuntimeError, match="element 1 of inputs does not require grad"):
        tc.autograd.grad((x * c).sum(), [x, c])
    with pytest.raises(RuntimeError, match="element 0 of outputs does not require grad"):
        tc.autograd.grad(c.sum(), x)
    with pytest.raises(ValueError, match="gradient must be given for a tensor of shape \\(2, 2\\)"):
        tc.autograd.grad(x * 2, x)
    with pytest.raises(ValueError, match="2 grad_outputs given for 1 outputs"):
        tc.autograd.grad((x * 2).sum(), x, [None, None])
    with pytest.raises(ValueError, match="shape"):
        tc.autograd.grad(x * 2, x, Tensor(np.ones(3)))
    with pytest.raises(TypeError, match="inputs\\[0\\] must be a Tensor"):
        tc.autograd.grad((x * 2).sum(), [np.ones(2)])


# ----- backward(create_graph=True) ------------------------------------------------------------
def test_backward_create_graph_makes_grad_a_tensor_with_a_graph_and_accumulates():
    rng = np.random.default_rng(4)
    (x, w), (xt, wt) = both(rng.standard_normal((3, 4)), rng.standard_normal((4, 2)))

    def loss(x, w):
        return (x @ w).softmax(1)[:, 0].log().mean() + (x ** 3).sum()

    loss(x, w).backward(create_graph=True)
    loss(xt, wt).backward(create_graph=True)
    assert isinstance(x.grad, Tensor) and x.grad.requires_grad and w.grad.requires_grad
    assert_same((x.grad, w.grad), (xt.grad, wt.grad))
    loss(x, w).backward(create_graph=True)  # accumulates: .grad is the recorded sum
    loss(xt, wt).backward(create_graph=True)
    assert_same((x.grad, w.grad), (xt.grad, wt.grad))
    # the accumulated gradient is differentiable: the gradient penalty of a training step
    penalty = (x.grad * x.grad).sum() + (w.grad * w.grad).sum()
    penalty_t = (xt.grad * xt.grad).sum() + (wt.grad * wt.grad).sum()
    assert_same(tc.autograd.grad(penalty, [x, w], retain_graph=True),
                torch.autograd.grad(penalty_t, [xt, wt], retain_graph=True))
    # a plain backward through .grad adds into .grad, as PyTorch's does
    x.grad.sum().backward()
    xt.grad.sum().backward()
    assert_same(x.grad, xt.grad)


def test_backward_create_graph_with_inputs():
    rng = np.random.default_rng(5)
    (x, w), (xt, wt) = both(rng.standard_normal(3), rng.standard_normal(3))
    (x * w).tanh().sum().backward(create_graph=True, inputs=[w])
    (xt * wt).tanh().sum().backward(create_graph=True, inputs=[wt])
    assert x.grad is None and xt.grad is None
    assert_same(tc.autograd.grad(w.grad.sum(), x), torch.autograd.grad(wt.grad.sum(), xt))


def test_third_derivative_matches_torch():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((2, 3))
    results = []
    for lib, x in zip((tc, torch), both(a)[0][:1] + both(a)[1][:1]):
        grad = tc.autograd.grad if lib is tc else torch.autograd.grad
        y = ((x.tanh() * x.exp()).sum() + (x.sigmoid() ** 2).mean()) * x.sum()
        g1 = grad(y, x, create_graph=True)[0]
        g2 = grad((g1 * g1).sum(), x, create_graph=True)[0]
        g3 = grad(g2.sum(), x)[0]
        results.append((g1, g2, g3))
    assert_same(tuple(results[0]), tuple(results[1]))
    # and the closed form on a single tanh: d3/dx3 tanh = -2 (1 - t^2)(1 - 3 t^2)
    x = Tensor(a, requires_grad=True)
    g = x.tanh().sum()
    for _ in range(3):
        (g,) = tc.autograd.grad(g.sum(), x, create_graph=True)
    t = np.tanh(a)
    np.testing.assert_allclose(g.detach().numpy(), -2 * (1 - t**2) * (1 - 3 * t**2), rtol=1e-12)


# ----- tc.autograd.functional ----------------------------------------------------------------
def vec(x):
    return x.tanh() * x.exp()


def pair_to_vec(x, w):
    return (w @ x).tanh()


def pair_to_pair(x, w):
    return (w @ x).sigmoid(), (x * x).sum()


def scalar(x):
    return (x.exp() * x).sum() + x.tanh().prod()


def pair_to_scalar(x, w):
    return ((w @ x).tanh() ** 2).sum() + (x * x).sum()


def lib_args(arrays):
    """(our inputs, torch inputs): a Tensor for one array, a tuple for several."""
    ours, theirs = both(*arrays, requires_grad=False)
    return (ours[0], theirs[0]) if len(arrays) == 1 else (tuple(ours), tuple(theirs))


SINGLE, PAIR = [np.linspace(-1, 1, 3)], [np.linspace(-1, 1, 3), np.arange(6.0).reshape(2, 3) / 6]


@pytest.mark.parametrize("fn, arrays", [(vec, SINGLE), (pair_to_vec, PAIR), (pair_to_pair, PAIR),
                                        (lambda x: (2 * x, x.sum()), SINGLE)], ids=["T->T", "tuple->T", "tuple->tuple", "T->tuple"])
def test_jacobian_return_conventions(fn, arrays):
    ours, theirs = lib_args(arrays)
    assert_same(AF.jacobian(fn, ours), TAF.jacobian(fn, theirs))


@pytest.mark.parametrize("fn, arrays", [(scalar, SINGLE), (pair_to_scalar, PAIR)], ids=["T", "tuple"])
def test_hessian_return_conventions(fn, arrays):
    ours, theirs = lib_args(arrays)
    h = AF.hessian(fn, ours)
    assert_same(h, TAF.hessian(fn, theirs))
    assert all(not t.requires_grad for t in (h if isinstance(h, tuple) else (h,)) for t in (t if isinstance(t, tuple) else (t,)))


@SETTINGS
@given(data=st.data(), seed=seeds)
def test_jacobian_and_hessian_shapes_on_drawn_shapes(data, seed):
    rng = np.random.default_rng(seed)
    xs = data.draw(st.lists(dims, min_size=1, max_size=2), label="x shape")
    k = data.draw(dims, label="out")
    a, w = rng.standard_normal(xs), rng.standard_normal((k,) + tuple(xs))

    def fn(x):  # x.shape -> (k,)
        lib = tc if isinstance(x, Tensor) else torch
        wt = Tensor(w) if lib is tc else torch.tensor(w)
        return (wt * x.tanh()).reshape(k, -1).sum(1) * x.sigmoid().mean()

    ours, theirs = lib_args([a])
    j = AF.jacobian(fn, ours)
    assert j.shape == (k,) + tuple(xs)
    assert_same(j, TAF.jacobian(fn, theirs))
    h = AF.hessian(lambda x: fn(x).exp().sum(), ours)
    assert h.shape == tuple(xs) * 2
    assert_same(h, TAF.hessian(lambda x: fn(x).exp().sum(), theirs))


@pytest.mark.parametrize("fn, arrays, vshape", [(vec, SINGLE, (3,)), (pair_to_vec, PAIR, (2,)),
                                                (pair_to_pair, PAIR, [(2,), ()]), (scalar, SINGLE, None)],
                         ids=["T->T", "tuple->T", "tuple->tuple", "scalar, v=None"])
def test_vjp(fn, arrays, vshape):
    ours, theirs = lib_args(arrays)
    rng = np.random.default_rng(7)
    if vshape is None:
        v = v_t = None
    elif isinstance(vshape, list):
        vs = [rng.standard_normal(s) for s in vshape]
        v, v_t = tuple(Tensor(a) for a in vs), tuple(torch.tensor(a) for a in vs)
    else:
        a = rng.standard_normal(vshape)
        v, v_t = Tensor(a), torch.tensor(a)
    assert_same(AF.vjp(fn, ours, v), TAF.vjp(fn, theirs, v_t))


@pytest.mark.parametrize("fn, arrays", [(vec, SINGLE), (pair_to_vec, PAIR), (pair_to_pair, PAIR)],
                         ids=["T->T", "tuple->T", "tuple->tuple"])
def test_jvp(fn, arrays):
    ours, theirs = lib_args(arrays)
    rng = np.random.default_rng(8)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    v, v_t = (Tensor(vs[0]), torch.tensor(vs[0])) if len(vs) == 1 else (
        tuple(Tensor(a) for a in vs), tuple(torch.tensor(a) for a in vs))
    assert_same(AF.jvp(fn, ours, v), TAF.jvp(fn, theirs, v_t))


def test_jvp_and_vhp_default_v_for_a_one_element_input():
    ours, theirs = lib_args([np.array([0.3])])
    assert_same(AF.jvp(vec, ours), TAF.jvp(vec, theirs))
    assert_same(AF.vhp(scalar, ours), TAF.vhp(scalar, theirs))
    assert_same(AF.hvp(scalar, ours), TAF.hvp(scalar, theirs))
    with pytest.raises(ValueError, match="v must be given"):
        AF.jvp(vec, lib_args(SINGLE)[0])
    with pytest.raises(ValueError, match="v must be given"):
        AF.vhp(scalar, lib_args(SINGLE)[0])


@pytest.mark.parametrize("which", ["hvp", "vhp"])
@pytest.mark.parametrize("fn, arrays", [(scalar, SINGLE), (pair_to_scalar, PAIR)], ids=["T", "tuple"])
def test_hvp_vhp(which, fn, arrays):
    ours, theirs = lib_args(arrays)
    rng = np.random.default_rng(9)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    v, v_t = (Tensor(vs[0]), torch.tensor(vs[0])) if len(vs) == 1 else (
        tuple(Tensor(a) for a in vs), tuple(torch.tensor(a) for a in vs))
    assert_same(getattr(AF, which)(fn, ours, v), getattr(TAF, which)(fn, theirs, v_t))


@pytest.mark.parametrize("which", ["jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"])
def test_functional_create_graph_results_are_differentiable(which):
    rng = np.random.default_rng(10)
    a, v = rng.standard_normal(3), rng.standard_normal(3)
    (x,), (xt,) = both(a)
    fn = scalar if which in ("hessian", "hvp", "vhp") else vec
    extra, extra_t = ((), ()) if which in ("jacobian", "hessian") else ((Tensor(v),), (torch.tensor(v),))
    ours = getattr(AF, which)(fn, x, *extra, create_graph=True)
    theirs = getattr(TAF, which)(fn, xt, *extra_t, create_graph=True)
    assert_same(ours, theirs)
    result, result_t = (ours, theirs) if which in ("jacobian", "hessian") else (ours[1], theirs[1])
    assert result.requires_grad
    assert_same(tc.autograd.grad((result ** 2).sum(), x), torch.autograd.grad((result_t ** 2).sum(), xt))
    # without create_graph: detached results, the inputs untouched
    plain = getattr(AF, which)(fn, x, *extra)
    for t in plain if isinstance(plain, tuple) else (plain,):
        assert not t.requires_grad
    assert x.grad is None


def test_functional_output_independent_of_an_input_gives_zeros():
    ours, theirs = lib_args(PAIR)
    fn = lambda x, w: x.exp()  # noqa: E731
    assert_same(AF.jacobian(fn, ours), TAF.jacobian(fn, theirs))
    sfn = lambda x, w: (x ** 3).sum()  # noqa: E731
    assert_same(AF.hessian(sfn, ours), TAF.hessian(sfn, theirs))


def test_newton_step_with_the_hessian_minimises_a_quadratic_in_one_step():
    rng = np.random.default_rng(11)
    m = rng.standard_normal((4, 4))
    A, b = Tensor(m @ m.T + 4 * np.eye(4)), Tensor(rng.standard_normal(4))
    f = lambda x: 0.5 * (x @ A @ x) - (b * x).sum()  # noqa: E731
    x = Tensor(np.zeros(4))
    g = AF.vjp(f, x)[1]
    x = x - Tensor(np.linalg.solve(AF.hessian(f, x).numpy(), g.numpy()))
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(A.numpy(), b.numpy()), rtol=1e-10)


# ----- gradgradcheck and user-defined ops ----------------------------------------------------
class AgSoftplus(tc.ops.Op):
    """softplus(x) = log(1 + exp(x)); backward written with operators and backend.xp(grad)."""

    saved = ("x",)

    def forward(self, x):
        self.x = x
        return np.logaddexp(0, x)

    def backward(self, grad):
        xp = backend.xp(grad)  # NumPy on arrays, graph_xp on Tensors (create_graph)
        return (grad * 0.5 * (1 + xp.tanh(0.5 * self.x)),)


class AgScaledMul(tc.ops.Op):
    """a * b * scale, two inputs, its output saved too: backward uses out / a (a constant scale)."""

    saved = ("a", "b", "out")

    def forward(self, a, b, scale=2.0):
        self.a, self.b, self.scale = a, b, scale
        self.out = a * b * scale
        return self.out

    def backward(self, grad):
        return grad * self.b * self.scale, grad * self.out / self.b


class AgSin(tc.ops.Op):
    """Raw NumPy in backward, ``saved`` unset: first order only."""

    def forward(self, x):
        self.x = x
        return np.sin(x)

    def backward(self, grad):
        return (grad * np.cos(self.x),)


class AgCubeDetached(tc.ops.Op):
    """x**3 with a backward right in value but blind to its own dependence on x."""

    saved = ("x",)

    def forward(self, x):
        self.x = x
        return x**3

    def backward(self, grad):
        x = self.x.detach() if isinstance(self.x, Tensor) else self.x  # wrong to second order
        return (grad * 3 * x * x,)


class AgCube(tc.ops.Op):
    name = "ag_cube"
    saved = ("x",)

    def forward(self, x):
        self.x = x
        return x**3

    def backward(self, grad):
        return (grad * 3 * self.x * self.x,)


def test_gradgradcheck_passes_right_second_derivatives_and_catches_a_wrong_one():
    x = Tensor(np.array([[0.5, -1.0], [2.0, 1.5]]), requires_grad=True)
    w = Tensor(np.array([0.3, -0.7]), requires_grad=True)
    assert tc.gradcheck(AgCubeDetached.apply, [x])  # first order is right...
    with pytest.raises(tc.GradcheckError, match=r"input 0 \(shape \(2, 2\)\).*analytic 0, numerical"):
        tc.gradgradcheck(AgCubeDetached.apply, [x])  # ...second order is not
    assert tc.gradgradcheck(AgCube.apply, [x])
    assert tc.gradgradcheck(lambda x, w: F.linear(x, w[None]).tanh().log_softmax(0), [x, w])
    assert x.grad is None and w.grad is None


def test_user_op_written_with_operators_gets_double_backward():
    rng = np.random.default_rng(12)
    (x, y), (xt, yt) = both(rng.standard_normal((3, 4)), rng.standard_normal((3, 4)) + 2.0)
    assert tc.gradgradcheck(AgSoftplus.apply, [x])
    assert tc.gradgradcheck(AgScaledMul.apply, [x, y])
    # against PyTorch: a gradient penalty through the op, and mixed second derivatives
    for out, out_t in [(AgSoftplus.apply(x * y), TF.softplus(xt * yt)),
                       (AgScaledMul.apply(x, y).tanh(), (2.0 * xt * yt).tanh())]:
        gs = tc.autograd.grad(out.sum(), [x, y], create_graph=True)
        gs_t = torch.autograd.grad(out_t.sum(), [xt, yt], create_graph=True)
        assert_same(gs, gs_t)
        pen, pen_t = (gs[0] ** 2).sum() + gs[1].sum(), (gs_t[0] ** 2).sum() + gs_t[1].sum()
        assert_same(tc.autograd.grad(pen, [x, y]), torch.autograd.grad(pen_t, [xt, yt]))
    # backward(create_graph=True) through it too
    AgSoftplus.apply(x).sum().backward(create_graph=True)
    xt_ = torch.tensor(x.detach().numpy(), requires_grad=True)
    TF.softplus(xt_).sum().backward(create_graph=True)
    assert_same(tc.autograd.grad((x.grad ** 2).sum(), x), torch.autograd.grad((xt_.grad ** 2).sum(), xt_))


def test_user_op_written_on_arrays_works_once_and_names_itself_when_differentiated_twice():
    x = Tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    assert tc.gradcheck(AgSin.apply, [x])
    AgSin.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos(x.numpy()))
    with pytest.raises(NotImplementedError, match="'ag_sin'.*AgSin"):
        tc.autograd.grad(AgSin.apply(x).sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError, match="'ag_sin'"):
        (AgSin.apply(x) * x).sum().backward(create_graph=True)
    with pytest.raises(NotImplementedError, match="'ag_sin'"):
        tc.gradgradcheck(AgSin.apply, [x])
    with pytest.raises(NotImplementedError, match="'ag_sin'"):
        AF.hessian(lambda x: AgSin.apply(x).sum(), x)
    # an array op that does not depend on x is still fine when the rest is twice differentiable
    (g,) = tc.autograd.grad((AgSin.apply(x.detach()) * x * x).sum(), x, create_graph=True)
    np.testing.assert_allclose(tc.autograd.grad(g.sum(), x)[0].numpy(), 2 * np.sin(x.numpy()))
