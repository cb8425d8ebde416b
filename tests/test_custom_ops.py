"""User-defined ops: registration, gradcheck catching a wrong backward, manual_seed."""
import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor


class Cube(tc.ops.Op):
    def forward(self, x):
        self.x = x
        return x**3

    def backward(self, grad):
        return (grad * 3 * self.x**2,)


class WrongCube(tc.ops.Op):
    def forward(self, x):
        self.x = x
        return x**3

    def backward(self, grad):
        return (grad * 2 * self.x**2,)  # should be 3 x^2


def test_subclassing_registers_under_a_snake_case_name():
    assert tc.ops.registry["cube"] is Cube
    assert tc.ops.registry["wrong_cube"] is WrongCube


def test_gradcheck_passes_a_right_backward_and_names_the_worst_element_of_a_wrong_one():
    x = Tensor(np.array([[0.5, -1.0], [2.0, 1.5]]), requires_grad=True)
    assert tc.gradcheck(Cube.apply, [x])
    with pytest.raises(tc.GradcheckError, match=r"input 0 \(shape \(2, 2\)\) element \(1, 0\): analytic 8, numerical 12"):
        tc.gradcheck(WrongCube.apply, [x])
    assert x.grad is None  # gradcheck leaves the inputs' gradients as they were


def test_gradcheck_checks_its_inputs():
    with pytest.raises(ValueError, match="float64"):
        tc.gradcheck(Cube.apply, [Tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="requires_grad"):
        tc.gradcheck(Cube.apply, [Tensor(np.ones(1))])
    with pytest.raises(TypeError, match="must be a Tensor"):
        tc.gradcheck(Cube.apply, [np.ones(1)])


def test_a_taken_name_is_refused_and_redefinition_replaces():
    with pytest.raises(ValueError, match="already registered"):
        type("Relu", (tc.ops.Op,), {"name": "relu", "__module__": "somewhere_else"})
    assert tc.ops.registry["relu"] is tc.ops.ReLU

    def define():
        class Twice(tc.ops.Op):
            def forward(self, x):
                return 2 * x

            def backward(self, grad):
                return (2 * grad,)

        return Twice

    first, second = define(), define()  # like re-running a notebook cell
    assert tc.ops.registry["twice"] is second and first is not second


def test_op_apply_wraps_arrays_and_returns_grad_for_multiple_inputs():
    class WeightedSum(tc.ops.Op):
        def forward(self, a, b, alpha=1.0):
            self.alpha = alpha
            return a + alpha * b

        def backward(self, grad):
            return grad, self.alpha * grad

    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    assert tc.gradcheck(lambda a, b: WeightedSum.apply(a, b, alpha=2.5), [a, b])
    out = WeightedSum.apply(a, np.arange(3.0), alpha=2.0)
    np.testing.assert_array_equal(out.data, [1, 3, 5])


def test_manual_seed_makes_library_draws_reproducible():
    tc.manual_seed(123)
    first = tc.random.generator().standard_normal(4)
    tc.manual_seed(123)
    np.testing.assert_array_equal(tc.random.generator().standard_normal(4), first)
    tc.manual_seed(-1)  # PyTorch takes -2**63 .. 2**64 - 1; a negative seed counts modulo 2**64
    first = tc.random.generator().standard_normal(4)
    tc.manual_seed(2 ** 64 - 1)
    np.testing.assert_array_equal(tc.random.generator().standard_normal(4), first)
    with pytest.raises(ValueError):
        tc.manual_seed(2 ** 64)
    with pytest.raises(TypeError):
        tc.manual_seed(1.5)


class TwoViews(tc.ops.Op):
    """Backward hands both parents a whole-array view of ONE fresh array (an op's
    ``dx.reshape(x.shape)`` done twice): at most one leaf may keep it, the other needs a copy."""

    def forward(self, a, b):
        self.shape = a.shape
        return a + b

    def backward(self, grad):
        both = np.array(grad, copy=True).reshape(-1)
        return both.reshape(self.shape), both.reshape(self.shape)


class OneView(tc.ops.Op):
    """Backward returns a fresh array reshaped (a view nothing else refers to), and keeps
    another fresh array reshaped in ``self.kept`` (a view whose base the op still holds)."""

    def forward(self, a, b):
        return a * 2 + b

    def backward(self, grad):
        self.kept = (grad * 1).reshape(-1)
        return (grad * 2).reshape(-1).reshape(grad.shape), self.kept.reshape(grad.shape)


def test_leaves_never_share_a_gradient_array_and_a_whole_view_nobody_holds_is_kept():
    a, b = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.ones((2, 3)), requires_grad=True)
    TwoViews.apply(a, b).backward(Tensor(np.full((2, 3), 5.0)))
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.numpy()[...] = 0  # one leaf's gradient changed in place leaves the other's alone
    np.testing.assert_array_equal(b.grad.numpy(), 5.0)
    c, d = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.ones((2, 3)), requires_grad=True)
    op_out = OneView.apply(c, d)
    op_out.backward(Tensor(np.full((2, 3), 3.0)), retain_graph=True)
    np.testing.assert_array_equal(c.grad.numpy(), 6.0)
    assert c.grad.numpy().base is not None  # the unshared view was kept, not copied
    kept = op_out._op.kept
    assert not np.shares_memory(d.grad.numpy(), kept)  # the op still holds that base: copied
