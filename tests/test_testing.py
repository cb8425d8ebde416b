"""tc.testing: the strategies and check_op users property-test their own ops with."""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings

import tinygrad_conv as tc
from tinygrad_conv import functional as F

testing = tc.testing


def test_importing_the_library_does_not_import_hypothesis():
    code = "import sys, tinygrad_conv as tc; assert 'hypothesis' not in sys.modules; tc.testing.arrays; assert 'hypothesis' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@settings(max_examples=20)
@given(testing.arrays(dtype=np.float32, max_dims=3, max_side=4))
def test_arrays_respect_dtype_bounds_and_sizes(a):
    assert a.dtype == np.float32 and a.ndim <= 3 and all(1 <= n <= 4 for n in a.shape)
    assert np.isfinite(a).all() and (np.abs(a) <= 2).all()


@settings(max_examples=20)
@given(testing.distinct_arrays((3, 4)))
def test_distinct_arrays_have_no_close_values(a):
    v = np.sort(np.concatenate([a.ravel(), [0.0]]))
    assert a.shape == (3, 4) and np.diff(v).min() >= 0.1


@settings(max_examples=20)
@given(testing.broadcastable_shapes(3))
def test_broadcastable_shapes_broadcast(shapes):
    assert len(shapes) == 3
    np.broadcast_shapes(*shapes)


@settings(max_examples=20)
@given(testing.conv2d_geometries())
def test_conv2d_geometries_are_valid_and_cover_options(g):
    x, w = tc.Tensor(np.ones(g.input_shape)), tc.Tensor(np.ones(g.weight_shape))
    out = F.conv2d(x, w, tc.Tensor(np.ones(g.bias_shape)), **g.params)
    assert out.shape[:2] == (g.input_shape[0], g.weight_shape[0]) and min(out.shape[2:]) >= 1


@settings(max_examples=20)
@given(testing.pool2d_geometries())
def test_pool2d_geometries_are_valid(g):
    out = F.avg_pool2d(tc.Tensor(np.ones(g.input_shape)), g.kernel_size, g.stride, g.padding)
    assert out.shape[:2] == g.input_shape[:2] and min(out.shape[2:]) >= 1


class Cube(tc.ops.Op):
    name = "test_testing_cube"

    def forward(self, x):
        self.x = x
        return x**3

    def backward(self, grad):
        return (3 * self.x**2 * grad,)


class CubeWrongBackward(Cube):
    name = "test_testing_cube_wrong"

    def backward(self, grad):
        return (3 * self.x**2 * grad * (self.x < 1.5),)  # wrong above 1.5


def test_check_op_passes_a_correct_op_with_reference():
    assert testing.check_op(Cube.apply, testing.arrays(), reference=lambda a: a**3, max_examples=20)
    assert testing.check_op(lambda a, b: a * b, *(testing.arrays((2, 3)),) * 2, reference=np.multiply)


def test_check_op_reports_the_shrunk_falsifying_example():
    with pytest.raises(tc.GradcheckError) as err:
        testing.check_op(CubeWrongBackward.apply, testing.arrays(), max_examples=100)
    notes = "\n".join(getattr(err.value, "__notes__", []))
    assert ("Falsifying example" in notes or "Failing test case" in notes) and "check_op_example(" in notes
    assert "array(" in notes  # the drawn input, shrunk


def test_check_op_compares_the_forward_with_the_reference():
    with pytest.raises(AssertionError, match="forward differs from the reference"):
        testing.check_op(Cube.apply, testing.arrays(), reference=lambda a: a**3 + (a > 1), max_examples=50)
    with pytest.raises(AssertionError, match="forward shape"):
        testing.check_op(Cube.apply, testing.arrays((2,)), reference=lambda a: a.sum())
    with pytest.raises(TypeError, match="one strategy per input"):
        testing.check_op(Cube.apply)
