"""2-D average and max pooling over NCHW input, with PyTorch's semantics.

A (k_h, k_w) window moves with stride (s_h, s_w) (default: the kernel size) over
the input padded by (p_h, p_w) on each side; ``H_o = (H + 2 p_h - k_h) // s_h + 1``.
Both ops loop over the k_h k_w positions (a, b) inside the window, each time
taking the strided view of the pixels at that position of every window::

    view_ab[n, c, i, j] = x_pad[n, c, i s_h + a, j s_w + b]

avg:  out = sum_ab view_ab / (k_h k_w)   (zero padding counts, PyTorch's default
      count_include_pad=True); each view gets grad / (k_h k_w) back.
max:  out = max_ab view_ab (padding is -inf, so it never wins); the gradient of a
      window goes to its FIRST maximum in row-major (a, b) order, as in PyTorch:
      the backward walks the positions in order, and the first one equal to the
      window's maximum takes the gradient and marks the window served.
"""
from collections import namedtuple

import numpy as np

from .. import backend, checks
from . import pool_cuda
from .base import Op

PoolGeometry = namedtuple("PoolGeometry", "N C H W kh kw sh sw ph pw Ho Wo")


def pool_geometry(x, kernel_size, stride, padding, op):
    """Check the arguments of a pooling op (raising before any work) and return its geometry."""
    checks.ndim(x, 4, op, "input", "(N, C, H, W)")
    kh, kw = checks.pair(kernel_size, "kernel_size", op)
    sh, sw = checks.pair(kernel_size if stride is None else stride, "stride", op)
    ph, pw = checks.pair(padding, "padding", op, minimum=0)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(
            f"{op}: padding ({ph}, {pw}) must be at most half the kernel size ({kh}, {kw}), "
            f"i.e. at most ({kh // 2}, {kw // 2})"
        )
    N, C, H, W = x.shape
    if kh > H + 2 * ph or kw > W + 2 * pw:
        raise ValueError(
            f"{op}: kernel ({kh}, {kw}) is larger than the padded input ({H + 2 * ph}, {W + 2 * pw}) "
            f"(input ({H}, {W}), padding ({ph}, {pw}))"
        )
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    return PoolGeometry(N, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo)


def padded(x, geo, value):
    """x surrounded by (p_h, p_w) rows/columns of ``value`` (x itself when there is no padding)."""
    g = geo
    if (g.ph, g.pw) == (0, 0):
        return x
    out = backend.xp(x).full((g.N, g.C, g.H + 2 * g.ph, g.W + 2 * g.pw), value, x.dtype)
    out[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W] = x
    return out


def window_views(xpad, geo):
    """For each position (a, b) inside the window, row-major: the ``(N, C, H_o, W_o)`` view
    ``view[n, c, i, j] = xpad[n, c, i s_h + a, j s_w + b]``."""
    g = geo
    for a in range(g.kh):
        for b in range(g.kw):
            yield xpad[:, :, a : a + g.sh * (g.Ho - 1) + 1 : g.sh, b : b + g.sw * (g.Wo - 1) + 1 : g.sw]


def scatter(geo, dtype, xp, contributions):
    """dx from per-position gradients: ``contributions`` yields, for each window position in
    ``window_views`` order, the ``(N, C, H_o, W_o)`` gradient that goes to that position of
    every window. Returns dx ``(N, C, H, W)``."""
    g = geo
    dxp = xp.zeros((g.N, g.C, g.H + 2 * g.ph, g.W + 2 * g.pw), dtype)
    overlapping = g.sh < g.kh or g.sw < g.kw
    for view, grad in zip(window_views(dxp, g), contributions):
        if overlapping:  # windows share pixels: add up
            view += grad
        else:  # each pixel is in at most one window: a copy is enough
            view[...] = grad
    if (g.ph, g.pw) == (0, 0):
        return dxp
    return xp.ascontiguousarray(dxp[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W])


class AvgPool2d(Op):
    """Mean over each window, zero padding included: ``(N, C, H, W) -> (N, C, H_o, W_o)``.
    ``AvgPool2d.apply(x, kernel_size=(k_h, k_w), stride=None, padding=0)``."""

    name = "avg_pool2d"

    def forward(self, x, kernel_size, stride=None, padding=0):
        g = self.geo = pool_geometry(x, kernel_size, stride, padding, "avg_pool2d")
        self.dtype = x.dtype
        if backend.is_cuda(x):  # one kernel instead of a launch per window position
            return pool_cuda.avg_pool2d(x, (g.kh, g.kw), (g.sh, g.sw), (g.ph, g.pw), (g.Ho, g.Wo))
        total = None
        for view in window_views(padded(x, g, 0), g):
            total = view.copy() if total is None else backend.xp(x).add(total, view, out=total)
        return total * x.dtype.type(1 / (g.kh * g.kw))

    def backward(self, grad):
        g = self.geo
        if backend.is_cuda(grad):
            return (pool_cuda.avg_pool2d_backward(grad, (g.N, g.C, g.H, g.W), (g.kh, g.kw), (g.sh, g.sw), (g.ph, g.pw)),)
        share = grad * grad.dtype.type(1 / (g.kh * g.kw))  # each pixel of a window gets an equal share
        return (scatter(g, self.dtype, backend.xp(grad), (share for _ in range(g.kh * g.kw))),)


class MaxPool2d(Op):
    """Maximum over each window (-inf padding): ``(N, C, H, W) -> (N, C, H_o, W_o)``; the
    gradient goes to the first maximum of each window in row-major order, as in PyTorch.
    ``MaxPool2d.apply(x, kernel_size=(k_h, k_w), stride=None, padding=0)``."""

    name = "max_pool2d"

    def forward(self, x, kernel_size, stride=None, padding=0):
        g = self.geo = pool_geometry(x, kernel_size, stride, padding, "max_pool2d")
        if backend.is_cuda(x):  # one kernel, which also records where each maximum is
            out, self.index = pool_cuda.max_pool2d(x, (g.kh, g.kw), (g.sh, g.sw), (g.ph, g.pw), (1, 1), (g.Ho, g.Wo))
            return out
        xp = backend.xp(x)
        self.xpad = padded(x, g, -np.inf)
        out = None
        for view in window_views(self.xpad, g):
            out = view.copy() if out is None else xp.maximum(out, view, out=out)
        self.out = out
        return out

    def backward(self, grad):
        g = self.geo
        if backend.is_cuda(grad):
            shape, index, self.index = (g.N, g.C, g.H, g.W), self.index, None
            return (pool_cuda.max_pool2d_backward(grad, index, shape, (g.kh, g.kw), (g.sh, g.sw), (g.ph, g.pw), (1, 1)),)
        xpad, out = self.xpad, self.out
        self.xpad = self.out = None

        def first_maximum_grads():
            # Walk the window positions in order; a window's gradient goes to the first
            # position that equals its maximum, then the window is marked as served.
            served = backend.xp(out).zeros(out.shape, bool)
            for view in window_views(xpad, g):
                first = view == out
                first &= ~served
                served |= first
                yield grad * first

        return (scatter(g, xpad.dtype, backend.xp(xpad), first_maximum_grads()),)
