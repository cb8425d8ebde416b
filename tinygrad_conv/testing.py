"""Property-test your own ops with hypothesis: ``tc.testing`` (needs ``pip install hypothesis``).

The strategies and the check the library's own registry-walking tests use
(tests/test_registry_gradcheck.py), so an op you write is tested exactly as
the built-in ones are::

    tc.testing.check_op(MyOp.apply, tc.testing.arrays(), reference=my_numpy_version)

draws arrays, gradchecks ``MyOp`` on each (float64, central differences) and
compares its forward with the NumPy reference; on failure hypothesis shrinks
the inputs and prints the smallest falsifying example.
"""
from collections import namedtuple

import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from .gradcheck import gradcheck
from .tensor import Tensor


def floats(low=-2.0, high=2.0, dtype=np.float64):
    """Finite floats in ``[low, high]`` representable in ``dtype``: the default elements."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False, width=np.dtype(dtype).itemsize * 8)


def shapes(min_dims=0, max_dims=4, min_side=1, max_side=6):
    """Array shapes, including 0-d (``()``) and size-1 axes."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def arrays(shape=None, dtype=np.float64, min_side=1, max_side=6, max_dims=4, elements=None):
    """NumPy arrays of ``dtype``: of ``shape`` (a tuple or a strategy of tuples), else of
    any shape up to ``max_dims`` axes of ``min_side..max_side``; ``elements``
    defaults to finite values in [-2, 2]."""
    if shape is None:
        shape = shapes(0, max_dims, min_side, max_side)
    return hnp.arrays(dtype, shape, elements=floats(dtype=dtype) if elements is None else elements)


def distinct_arrays(shape=None, dtype=np.float64, min_side=1, max_side=6, max_dims=4, spacing=0.3):
    """Arrays with no ties and no two values closer than ``spacing`` (nor any near 0):
    for ops with kinks (max, relu, pooling), where central differences across a tie
    or a kink would be meaningless."""
    if shape is None:
        shape = shapes(0, max_dims, min_side, max_side)
    elif isinstance(shape, (int, tuple)):
        shape = st.just(shape if isinstance(shape, tuple) else (shape,))

    def build(s):
        size = int(np.prod(s))
        return st.permutations(range(size)).map(
            lambda perm: ((np.array(perm, dtype=np.float64) - size / 2 + 0.37) * spacing).reshape(s).astype(dtype)
        )

    return shape.flatmap(build)


def broadcastable_shapes(n=2, min_dims=0, max_dims=3, min_side=1, max_side=3):
    """Tuples of ``n`` shapes that broadcast together (size-1 and missing axes included)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda result: result.input_shapes)


class ConvGeometry(
    namedtuple("ConvGeometry", "input_shape weight_shape bias_shape stride padding dilation groups")
):
    """One valid conv2d configuration; ``params`` is the keyword arguments of ``F.conv2d``."""

    @property
    def params(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups)


@st.composite
def conv2d_geometries(draw, max_batch=2, max_channels=2, max_groups=2, max_kernel=3, max_stride=2,
                      max_dilation=2, max_padding=1, max_side=5):
    """Valid ``ConvGeometry`` draws: every option of conv2d, output at least 1x1.
    Channels are ``groups * (1..max_channels)`` on both sides."""
    groups = draw(st.integers(1, max_groups))
    c_in, c_out = groups * draw(st.integers(1, max_channels)), groups * draw(st.integers(1, max_channels))
    kh, kw = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    stride = (draw(st.integers(1, max_stride)), draw(st.integers(1, max_stride)))
    dilation = (draw(st.integers(1, max_dilation)), draw(st.integers(1, max_dilation)))
    padding = (draw(st.integers(0, max_padding)), draw(st.integers(0, max_padding)))
    # the padded input must hold one dilated kernel
    h = draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - 2 * padding[0]), max(max_side, dilation[0] * (kh - 1) + 1)))
    w = draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - 2 * padding[1]), max(max_side, dilation[1] * (kw - 1) + 1)))
    n = draw(st.integers(1, max_batch))
    return ConvGeometry((n, c_in, h, w), (c_out, c_in // groups, kh, kw), (c_out,), stride, padding, dilation, groups)


PoolGeometry = namedtuple("PoolGeometry", "input_shape kernel_size stride padding")


@st.composite
def pool2d_geometries(draw, max_batch=2, max_channels=2, max_kernel=3, max_stride=2, max_side=5):
    """Valid pooling configurations: padding at most half the kernel (as PyTorch
    requires), stride ``None`` (= kernel) or a pair."""
    kh, kw = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, max_stride), st.integers(1, max_stride))))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    h = draw(st.integers(max(1, kh - 2 * padding[0]), max(max_side, kh)))
    w = draw(st.integers(max(1, kw - 2 * padding[1]), max(max_side, kw)))
    shape = (draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels)), h, w)
    return PoolGeometry(shape, (kh, kw), stride, padding)


def check_example(fn, arrays, reference=None, atol=1e-5, rtol=1e-3):
    """One example: gradcheck ``fn`` on ``arrays`` (as float64 Tensors that require grad)
    and, if ``reference`` is given, compare ``fn``'s forward with ``reference(*arrays)``.
    Returns True or raises (``tc.GradcheckError`` / ``AssertionError``)."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    inputs = [Tensor(a, requires_grad=True) for a in arrays]
    if reference is not None:
        out = fn(*inputs)
        expected = np.asarray(reference(*[a.copy() for a in arrays]), dtype=np.float64)
        got = out.numpy()
        if got.shape != expected.shape:
            raise AssertionError(f"check_op: forward shape {got.shape} but the reference gives {expected.shape}")
        if not np.allclose(got, expected, atol=atol, rtol=rtol, equal_nan=True):
            err = np.abs(got - expected)
            j = np.unravel_index(int(np.nanargmax(err)), err.shape) if err.ndim else ()
            raise AssertionError(
                f"check_op: forward differs from the reference at {tuple(int(k) for k in j)}: "
                f"{got[j]:.6g} vs {expected[j]:.6g} (atol {atol}, rtol {rtol})"
            )
    return gradcheck(fn, inputs, atol=atol, rtol=rtol)


def check_op(fn, *strategies, reference=None, max_examples=50, atol=1e-5, rtol=1e-3):
    """Property-test ``fn`` (Tensors in, one Tensor out) on arrays drawn from
    ``strategies`` (one per input): gradcheck on every example and, when
    ``reference`` (NumPy arrays in, array out) is given, the forward against it.
    Raises with hypothesis's shrunk falsifying example; returns True otherwise.

    >>> tc.testing.check_op(lambda x: x.tanh(), tc.testing.arrays(), reference=np.tanh)
    True
    """
    if not strategies:
        raise TypeError("check_op: give one strategy per input of fn, e.g. tc.testing.arrays()")

    @settings(max_examples=max_examples, deadline=None)
    @given(st.tuples(*strategies))
    def check_op_example(arrays):
        check_example(fn, arrays, reference, atol, rtol)

    check_op_example()
    return True
