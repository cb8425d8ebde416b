"""2-D pooling over NCHW input, with PyTorch's semantics and options.

A (k_h, k_w) window, its taps spaced by the dilation (d_h, d_w), moves with
stride (s_h, s_w) (default: the kernel size) over the input padded by
(p_h, p_w) on each side. The output size is

    H_o = floor_or_ceil((H + 2 p_h - d_h (k_h - 1) - 1) / s_h) + 1

rounding up with ``ceil_mode``, and then, as in PyTorch, one less if the last
window would start past the input and its left padding
(``(H_o - 1) s_h >= H + p_h``). A window that runs past the right padding
reads nothing there (``-inf`` for max, nothing counted for avg).

avg:  the window's sum over a divisor: k_h k_w, less the taps past the right
      padding (ceil_mode), less the padding too when count_include_pad=False.
      Sum and divisor both factor into rows and columns, so the op is two small
      matrix products, ``A_h @ x @ A_w.T`` with ``A[i, r] = 1 / divisor_i`` on
      the rows of window i; its backward is ``A_h.T @ grad @ A_w``.

Max pooling loops over the k_h k_w taps (a, b) of the window, each time taking
the strided view of the pixels at that tap of every window::

    view_ab[n, c, i, j] = x_pad[n, c, i s_h + a d_h, j s_w + b d_w]

max:  out = max_ab view_ab (padding is -inf, so it never wins); the gradient of a
      window goes to its FIRST maximum in row-major (a, b) order, as in PyTorch:
      the backward walks the taps in order, and the first one equal to the
      window's maximum takes the gradient and marks the window served. A window
      holding NaN outputs NaN and, as PyTorch's kernels do, sends its gradient to
      its LAST NaN (their running test is ``val > max || isnan(val)``).

Adaptive pooling gives output (H_o, W_o) whatever the input size: window i spans
rows ``floor(i H / H_o)`` to ``ceil((i + 1) H / H_o)`` (exclusive), as PyTorch.
The adaptive mean is ``A_h @ x @ A_w.T`` as for avg, ``A[i, r] = 1 / len(window i)``.

On a GPU (CuPy arrays) avg_pool2d and max_pool2d run as one kernel per direction
(``pool_cuda.py``, with the same options); the rest is written once for both devices.

Double backward (``create_graph``): each op's ``backward_graph`` gives the same gradient
as recorded Tensor ops, the array rules staying as they are. avg and adaptive avg:
``M_h.T @ grad @ M_w`` as two matmuls with constant matrices. max and adaptive max: the
gradient added at each window's winner by the differentiable scatter ``IndexAdd``
(the winners, piecewise constant in x, are constants), so differentiating again
gathers at the winners.
"""
from collections import namedtuple

import numpy as np

from .. import backend, checks
from . import pool_cuda
from .base import Op
from .interpolate import Separable
from .movement import index_add

PoolGeometry = namedtuple("PoolGeometry", "N C H W kh kw sh sw ph pw dh dw Ho Wo Hp Wp")


def _out_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size along one axis (see the module docstring)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside
        out -= 1
    return out


def pool_geometry(x, kernel_size, stride, padding, op, dilation=1, ceil_mode=False):
    """Check the arguments of a pooling op (raising before any work) and return its geometry."""
    checks.ndim(x, 4, op, "input", "(N, C, H, W)")
    kh, kw = checks.pair(kernel_size, "kernel_size", op)
    sh, sw = checks.pair(kernel_size if stride is None else stride, "stride", op)
    ph, pw = checks.pair(padding, "padding", op, minimum=0)
    dh, dw = checks.pair(dilation, "dilation", op)
    checks.boolean(ceil_mode, "ceil_mode", op)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(
            f"{op}: padding ({ph}, {pw}) must be at most half the kernel size ({kh}, {kw}), "
            f"i.e. at most ({kh // 2}, {kw // 2})"
        )
    N, C, H, W = x.shape
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    Ho, Wo = _out_size(H, kh, sh, ph, dh, ceil_mode), _out_size(W, kw, sw, pw, dw, ceil_mode)
    if Ho < 1 or Wo < 1:  # (ceil_mode lets one window run past the input, as PyTorch)
        dilated = f" (dilated to ({span_h}, {span_w}))" if (dh, dw) != (1, 1) else ""
        raise ValueError(
            f"{op}: kernel ({kh}, {kw}){dilated} is larger than the padded input ({H + 2 * ph}, {W + 2 * pw}) "
            f"(input ({H}, {W}), padding ({ph}, {pw})): output size ({Ho}, {Wo})"
        )
    # the padded buffer: x, its padding, and whatever the last (ceil_mode) window runs past it
    Hp, Wp = max(H + 2 * ph, (Ho - 1) * sh + span_h), max(W + 2 * pw, (Wo - 1) * sw + span_w)
    return PoolGeometry(N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, Hp, Wp)


def padded(x, geo, value):
    """x inside a (H_p, W_p) frame of ``value`` (x itself when the frame is x)."""
    g = geo
    if (g.Hp, g.Wp) == (g.H, g.W):
        return x
    out = backend.xp(x).full((g.N, g.C, g.Hp, g.Wp), value, x.dtype)
    out[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W] = x
    return out


def window_views(xpad, geo):
    """For each tap (a, b) of the window, row-major: the ``(N, C, H_o, W_o)`` view
    ``view[n, c, i, j] = xpad[n, c, i s_h + a d_h, j s_w + b d_w]``."""
    g = geo
    for a in range(0, g.kh * g.dh, g.dh):
        for b in range(0, g.kw * g.dw, g.dw):
            yield xpad[:, :, a : a + g.sh * (g.Ho - 1) + 1 : g.sh, b : b + g.sw * (g.Wo - 1) + 1 : g.sw]


def scatter(geo, dtype, xp, contributions):
    """dx from per-tap gradients: ``contributions`` yields, for each tap in
    ``window_views`` order, the ``(N, C, H_o, W_o)`` gradient that goes to that tap of
    every window. Returns dx ``(N, C, H, W)``."""
    g = geo
    dxp = xp.zeros((g.N, g.C, g.Hp, g.Wp), dtype)
    overlapping = g.sh < g.kh * g.dh or g.sw < g.kw * g.dw  # could two taps hit one pixel?
    for view, grad in zip(window_views(dxp, g), contributions):
        if overlapping:  # windows share pixels: add up
            view += grad
        else:  # each pixel is in at most one window: a copy is enough
            view[...] = grad
    if (g.Hp, g.Wp) == (g.H, g.W):
        return dxp
    return xp.ascontiguousarray(dxp[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W])


def mean_matrix(size, starts, ends, counts):
    """The ``(n_out, size)`` matrix whose row i averages input rows ``[starts[i], ends[i])``
    (cut to the input) with divisor ``counts[i]``."""
    r = np.arange(size)
    inside = (r >= np.asarray(starts)[:, None]) & (r < np.asarray(ends)[:, None])
    return inside / np.asarray(counts, np.float64)[:, None]


def avg_matrix(size, k, s, p, n_out, include_pad):
    """avg_pool2d along one axis as a matrix: window i covers padded rows ``[i s - p, i s - p + k)``,
    cut at the right padding (ceil_mode); the divisor counts the padding it covers only
    with ``include_pad``, as ATen."""
    start = np.arange(n_out) * s - p
    end = np.minimum(start + k, size + p)
    lo, hi = np.maximum(start, 0), np.minimum(end, size)
    return mean_matrix(size, lo, hi, end - start if include_pad else hi - lo)


def separable_graph(grad, Mh, Mw):
    """The backward of ``out = M_h @ x @ M_w.T`` on Tensors (create_graph): ``M_h.T @ grad @ M_w``
    with the matrices as constants, so the result is differentiable in ``grad`` (its own
    derivative in grad is the forward again; in x it is zero: the map is linear)."""
    Mh = grad._wrap(backend.like(backend.cast(Mh, grad.array.dtype), grad.array))
    Mw = grad._wrap(backend.like(backend.cast(Mw, grad.array.dtype), grad.array))
    return Mh.T @ grad @ Mw


def scatter_graph(grad, index, plane, shape):
    """dx of max pooling on Tensors (create_graph): each window's gradient added at its winner,
    ``index`` (``(N, C, H_o, W_o)`` int array) a flat position in a plane of ``plane`` pixels,
    by the recorded scatter ``IndexAdd`` (whose backward gathers: d(dx)/d(grad) is the gather at
    the winners, and d(dx)/dx is zero, the winners being piecewise constant in x).
    Returns the ``(N, C, plane)`` Tensor of sums; the caller shapes (and crops) it."""
    N, C = shape[:2]
    xp = backend.xp(index)
    flat = (index + (xp.arange(N * C, dtype=index.dtype) * plane).reshape(N, C, 1, 1)).ravel()
    target = backend.zeros((N * C * plane,), grad.dtype, like=grad)
    return index_add(target, flat, grad.reshape(-1)).reshape(N, C, plane)


class AvgPool2d(Separable, Op):
    """Mean over each window: ``(N, C, H, W) -> (N, C, H_o, W_o)``, as
    ``torch.nn.functional.avg_pool2d``: ``AvgPool2d.apply(x, kernel_size=(k_h, k_w),
    stride=None, padding=0, ceil_mode=False, count_include_pad=True)``.

    The window sum over divisor factors into rows and columns (the divisor too), so this is
    ``A_h @ x @ A_w.T`` with the averaging matrices of ``avg_matrix``: no padded copy, and
    two GEMMs instead of k_h k_w strided adds (4x faster for 3x3 windows with stride 2).
    """

    name = "avg_pool2d"

    def forward(self, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        g = self.geo = pool_geometry(x, kernel_size, stride, padding, "avg_pool2d", ceil_mode=ceil_mode)
        self.include_pad = checks.boolean(count_include_pad, "count_include_pad", "avg_pool2d")
        if backend.is_cuda(x):
            return pool_cuda.avg_pool2d(x, (g.kh, g.kw), (g.sh, g.sw), (g.ph, g.pw), (g.Ho, g.Wo), count_include_pad)
        return self.separable(
            x,
            avg_matrix(g.H, g.kh, g.sh, g.ph, g.Ho, count_include_pad),
            avg_matrix(g.W, g.kw, g.sw, g.pw, g.Wo, count_include_pad),
        )

    def backward(self, grad):
        g = self.geo
        if backend.is_cuda(grad):
            shape, k, st, p = (g.N, g.C, g.H, g.W), (g.kh, g.kw), (g.sh, g.sw), (g.ph, g.pw)
            return (pool_cuda.avg_pool2d_backward(grad, shape, k, st, p, self.include_pad),)
        return Separable.backward(self, grad)

    def backward_graph(self, grad, out):
        g = self.geo
        Mh = avg_matrix(g.H, g.kh, g.sh, g.ph, g.Ho, self.include_pad) if backend.is_cuda(grad.array) else self.Mh
        Mw = avg_matrix(g.W, g.kw, g.sw, g.pw, g.Wo, self.include_pad) if backend.is_cuda(grad.array) else self.Mw
        return (separable_graph(grad, Mh, Mw),)


def winners(xpad, out, geo):
    """For each tap in ``window_views`` order, the ``(N, C, H_o, W_o)`` mask of the windows
    whose gradient goes to that tap: the first maximum, or the last NaN (PyTorch's rule)."""
    xp = backend.xp(out)
    nan = xp.isnan(out)
    last_nan = None
    if bool(nan.any()):  # rare: find each NaN window's last NaN tap, walking backwards
        served, last_nan = ~nan, []
        for view in reversed(list(window_views(xpad, geo))):
            hit = xp.isnan(view) & ~served
            served |= hit
            last_nan.append(hit)
        last_nan.reverse()
    served = xp.zeros(out.shape, bool)
    for k, view in enumerate(window_views(xpad, geo)):
        first = view == out  # never true in a NaN window
        first &= ~served
        served |= first
        yield first if last_nan is None else first | last_nan[k]


def max_pool2d_indices(x, out, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """PyTorch's ``return_indices`` for ``out = max_pool2d(x, ...)`` (arrays): each window's
    winning pixel as a flat position in its ``H*W`` plane, int64 ``(N, C, H_o, W_o)``."""
    g = pool_geometry(x, kernel_size, stride, padding, "max_pool2d", dilation, ceil_mode)
    return winner_index(padded(x, g, -np.inf), out, g, g.W, (g.ph, g.pw))


def winner_index(xpad, out, geo, W, offset):
    """Each window's winner (``winners``) as a flat position ``r W + c``, int64
    ``(N, C, H_o, W_o)``, in a plane of width W whose pixel (r, c) is ``xpad``'s
    ``(r + offset[0], c + offset[1])``: ``xpad``'s own plane for offset (0, 0), x's for (p_h, p_w)."""
    g, xp = geo, backend.xp(out)
    idx = xp.zeros(out.shape, np.int64)
    rows = backend.like(np.arange(g.Ho) * g.sh - offset[0], out)[:, None]
    cols = backend.like(np.arange(g.Wo) * g.sw - offset[1], out)[None, :]
    taps = ((a, b) for a in range(0, g.kh * g.dh, g.dh) for b in range(0, g.kw * g.dw, g.dw))
    for (a, b), won in zip(taps, winners(xpad, out, g)):  # the taps of window_views
        idx = xp.where(won, (rows + a) * W + cols + b, idx)
    return idx


class MaxPool2d(Op):
    """Maximum over each window (-inf padding): ``(N, C, H, W) -> (N, C, H_o, W_o)``; the
    gradient goes to the first maximum of each window in row-major order, as in PyTorch.
    ``MaxPool2d.apply(x, kernel_size=(k_h, k_w), stride=None, padding=0, dilation=1,
    ceil_mode=False)``; ``F.max_pool2d(..., return_indices=True)`` also gives the winners."""

    name = "max_pool2d"

    def forward(self, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        g = self.geo = pool_geometry(x, kernel_size, stride, padding, "max_pool2d", dilation, ceil_mode)
        if backend.is_cuda(x):  # one kernel, which also records where each maximum is
            out, self.index = pool_cuda.max_pool2d(x, (g.kh, g.kw), (g.sh, g.sw), (g.ph, g.pw), (g.dh, g.dw), (g.Ho, g.Wo))
            return out
        xp = backend.xp(x)
        self.xpad = padded(x, g, -np.inf)
        out = None
        for view in window_views(self.xpad, g):
            out = view.copy() if out is None else xp.maximum(out, view, out=out)  # NaN wins
        self.out = out
        return out

    def backward(self, grad):
        g = self.geo
        if backend.is_cuda(grad):
            index, k, p = self.index, (g.kh, g.kw), (g.ph, g.pw)
            if not self.retained:
                self.index = None
            return (pool_cuda.max_pool2d_backward(grad, index, (g.N, g.C, g.H, g.W), k, (g.sh, g.sw), p, (g.dh, g.dw)),)
        xpad, out = self.xpad, self.out
        if not self.retained:
            self.xpad = self.out = None
        return (scatter(g, xpad.dtype, backend.xp(xpad), (grad * won for won in winners(xpad, out, g))),)

    def backward_graph(self, grad, out):
        g = self.geo
        if backend.is_cuda(grad.array):  # the kernel's winners, flat in x's planes
            dx = scatter_graph(grad, self.index.astype(np.int64), g.H * g.W, (g.N, g.C))
            return (dx.reshape(g.N, g.C, g.H, g.W),)
        # the winners in the padded planes, as the array rule (a winner in the padding,
        # possible only where a window is all -inf, is cropped away there as here)
        index = winner_index(self.xpad, self.out, g, g.Wp, (0, 0))
        dx = scatter_graph(grad, index, g.Hp * g.Wp, (g.N, g.C)).reshape(g.N, g.C, g.Hp, g.Wp)
        if (g.Hp, g.Wp) != (g.H, g.W):
            dx = dx[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W]
        return (dx,)


def adaptive_windows(size, n_out):
    """PyTorch's adaptive windows along one axis: ``[floor(i size / n), ceil((i + 1) size / n))``."""
    return [(i * size // n_out, -(-(i + 1) * size // n_out)) for i in range(n_out)]


def adaptive_size(x, output_size, op):
    """Check x and ``output_size`` (an int or (h, w), where None keeps that axis) -> (H_o, W_o)."""
    checks.ndim(x, 4, op, "input", "(N, C, H, W)")
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        output_size = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(output_size))
    return checks.pair(output_size, "output_size", op)


class AdaptiveAvgPool2d(Separable, Op):
    """Mean over PyTorch's adaptive windows: ``(N, C, H, W) -> (N, C, H_o, W_o)``.
    ``AdaptiveAvgPool2d.apply(x, output_size=(H_o, W_o))``: ``A_h @ x @ A_w.T``."""

    name = "adaptive_avg_pool2d"

    def forward(self, x, output_size):
        Ho, Wo = adaptive_size(x, output_size, "adaptive_avg_pool2d")
        mats = []
        for size, n_out in zip(x.shape[2:], (Ho, Wo)):
            lo, hi = np.array(adaptive_windows(size, n_out)).T
            mats.append(mean_matrix(size, lo, hi, hi - lo))
        return self.separable(x, *mats)

    def backward_graph(self, grad, out):
        return (separable_graph(grad, self.Mh, self.Mw),)


def adaptive_max(x, output_size):
    """(out, winners) of adaptive max pooling on array x: winners as flat ``H*W`` positions,
    int64 ``(N, C, H_o, W_o)`` (PyTorch's ``return_indices``). Every window's taps are
    gathered along one axis (see AdaptiveMaxPool2d) and reduced over it."""
    Ho, Wo = adaptive_size(x, output_size, "adaptive_max_pool2d")
    N, C, H, W = x.shape
    xp = backend.xp(x)
    taps = []  # per axis: (n_out, longest window) rows (columns) read, short windows repeating their last
    for size, n_out in ((H, Ho), (W, Wo)):
        windows = adaptive_windows(size, n_out)
        longest = max(end - start for start, end in windows)
        taps.append(backend.like(np.array([[min(s + a, e - 1) for a in range(longest)] for s, e in windows]), x))
    rows, cols = taps
    kh, kw = rows.shape[1], cols.shape[1]
    K = kh * kw
    # one gather: win[n, c, (a, b), i, j] = x[n, c, rows[i, a], cols[j, b]]
    win = x[:, :, rows.T[:, None, :, None], cols.T[None, :, None, :]].reshape(N, C, K, Ho, Wo)
    out = win.max(axis=2)  # NaN if the window holds one
    # the first tap equal to the maximum: the largest of (K - k) over the taps k that are equal
    countdown = backend.like(np.arange(K, 0, -1, dtype=np.int16 if K < 2**15 else np.int64), x).reshape(K, 1, 1)
    best = K - ((win == out[:, :, None]) * countdown).max(axis=2)
    nan = xp.isnan(out)
    if bool(nan.any()):  # PyTorch's rule (``val > max || isnan(val)``): the LAST NaN wins
        last = (xp.isnan(win) * (K + 1 - countdown)).max(axis=2) - 1
        best = xp.where(nan, last, best)
    a, b = best // kw, best % kw  # the winning tap's row and column within the window
    i, j = xp.arange(Ho).reshape(Ho, 1), xp.arange(Wo).reshape(1, Wo)
    return out, rows[i, a] * W + cols[j, b]


class AdaptiveMaxPool2d(Op):
    """Maximum over PyTorch's adaptive windows: ``(N, C, H, W) -> (N, C, H_o, W_o)``;
    the gradient goes to the first maximum (the last NaN) of each window.
    ``AdaptiveMaxPool2d.apply(x, output_size=(H_o, W_o))``.

    Windows differ in size, so tap a of window i reads row ``min(start_i + a, end_i - 1)``
    for a below the longest window's size: a short window repeats its last row (and column),
    after the original in row-major order, which changes neither its maximum nor its first
    maximum (nor its last NaN).
    """

    name = "adaptive_max_pool2d"

    def forward(self, x, output_size):
        out, self.best = adaptive_max(x, output_size)
        self.shape = x.shape
        return out

    def backward(self, grad):
        N, C, H, W = self.shape
        xp = backend.xp(grad)
        planes = (xp.arange(N * C) * (H * W)).reshape(N, C, 1, 1)
        dx = xp.bincount((self.best + planes).ravel(), weights=grad.ravel(), minlength=N * C * H * W)
        return (dx.astype(grad.dtype, copy=False).reshape(self.shape),)

    def backward_graph(self, grad, out):
        N, C, H, W = self.shape
        return (scatter_graph(grad, self.best, H * W, (N, C)).reshape(self.shape),)
