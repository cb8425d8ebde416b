"""Normalisation and regularisation: batch norm (one fused op) and dropout."""
import functools
import math

import numpy as np

from .. import backend, parallel
from .base import Op, half_in_float32


_CANCELLATION = 1e-5  # the relative error of var allowed to the one-pass formula (else two passes)
_BLOCK = 1 << 17  # elements per cache block (512 KiB of float32; measured best of 2**14..2**17 and unblocked)


# The full-size passes of batch norm. On the CPU they run on the (N * C, L) rows (or, for
# short rows, the (N, C * L) rows of _combine) in cache blocks (a block is read from memory
# once however many ufuncs it goes through; arrays far larger than L2 made every separate
# full pass a trip to memory), the blocks of _combine shared among threads (parallel.py).
# Block boundaries depend on the shape only, and per-block sums (float32) are added up per
# channel in float64 in a fixed order, so the result does not depend on the number of
# threads. On CuPy, one call each.
@functools.lru_cache(maxsize=64)  # (a few us of Python per call at small sizes)
def _blocks(rows, length):
    """``(row slice, column slice, chunk number)`` blocks of about ``_BLOCK`` elements
    covering ``(rows, length)``: several whole rows, or one long row in chunks."""
    if length > _BLOCK:
        chunks = [(slice(k, k + _BLOCK), i) for i, k in enumerate(range(0, length, _BLOCK))]
        return tuple((slice(r, r + 1), cols, i) for r in range(rows) for cols, i in chunks)
    step = max(1, _BLOCK // max(length, 1))
    return tuple((slice(r, r + step), slice(None), 0) for r in range(0, rows, step))


def _sweep(fn, rows, length, threads=True):
    """``fn(row slice, column slice, chunk)`` on every block of ``_blocks``, blocks of
    consecutive blocks on the threads (or all on this one: ``threads=False``)."""
    run = parallel.run if threads else (lambda f, n, _: f(0, n))
    if length <= _BLOCK and rows * length <= 4 * _BLOCK:  # in cache anyway: one range of rows a thread
        return run(lambda i, j: fn(slice(i, j), slice(None), 0), rows, length)  # (sums are per row)
    blocks = _blocks(rows, length)
    run(lambda i, j: [fn(*b) for b in blocks[i:j]], len(blocks), rows * length // len(blocks))


@functools.lru_cache(maxsize=8)
def _ones(length, dtype):
    ones = np.ones(length, dtype)
    ones.flags.writeable = False
    return ones


def _channel_sums(x3, y3):
    """``(sum(x3), sum(x3 * y3))``: per-channel sums (float64, ``(C,)``) of ``x3`` and
    ``y3`` ``(N, C, L)`` over n and l (float16 never reaches here: the norms compute it in
    float32, ``half_in_float32``). Row sums are BLAS dots (``vecdot``), ~3x einsum's speed."""
    xp = backend.xp(x3)
    if xp is not np:
        return xp.einsum("ncl->c", x3).astype(float), xp.einsum("ncl,ncl->c", x3, y3).astype(float)
    n, c, length = x3.shape
    if length < _DOT_ROW and n >= _COLUMN_IMAGES:
        return _column_sums(x3, y3)
    x2, y2 = x3.reshape(n * c, length), y3.reshape(n * c, length)
    if x3.size <= _BLOCK:  # one block: the same dots without the block plumbing (~8 us of Python)
        rows = np.empty((2, n, c), x3.dtype)
        np.vecdot(x2, _ones(length, x3.dtype), out=rows[0].reshape(-1))
        np.vecdot(x2, y2, out=rows[1].reshape(-1))
        return np.add.reduce(rows, axis=1, dtype=float)
    chunks = -(-length // _BLOCK) if length else 1
    sums = np.zeros((2, n * c, chunks), x3.dtype)
    sums_x, sums_xy = sums
    ones = _ones(min(length, _BLOCK), x3.dtype)

    def block(rows, cols, chunk):
        xb = x2[rows, cols]
        np.vecdot(xb, ones[:xb.shape[1]], out=sums_x[rows, chunk])
        np.vecdot(xb, y2[rows, cols], out=sums_xy[rows, chunk])

    # One thread: the dots run at memory speed on one core, and a second thread measured
    # 1.1-2x slower at 2**19 to 2**24 values (rows of 256 to 2**18).
    _sweep(block, n * c, length, threads=False)
    both = np.add.reduce(sums.reshape(2, n, c, chunks), axis=(1, 3), dtype=float)  # (one call: ~5 us less)
    return both[0], both[1]


# Rows of fewer values than this (8x8 images and smaller, BatchNorm1d's L = 1) are summed as
# columns instead: a dot per row costs ~25 ns of call overhead more than its values. Measured
# (sum(x) and sum(x y)): (64, 64, 16) 118 -> 24 us, (64, 128, 4) 118 -> 17, (128, 512, 1)
# 345 -> 22, (64, 32, 64) 45 -> 40; from L = 256 on the row dots are faster ((32, 64, 256)
# 105 against 147).
_DOT_ROW = 64
_SUM_ROWS = 256  # images per float32 column sum; the blocks' sums are added in float64
# ... for at least this many images: with fewer (group and instance norm pass one), the
# float64 column totals are as long as the data ((1, 16384, 16): 1.6 ms against 0.46).
_COLUMN_IMAGES = 8


def _column_sums(x3, y3):
    """``_channel_sums`` for short rows: ``ones @ (images, C L)`` (a BLAS matrix-vector product
    over each block of up to ``_SUM_ROWS`` images), then the ``L`` values of a channel added."""
    n, c, length = x3.shape
    width = c * length
    x2, y2 = x3.reshape(n, width), y3.reshape(n, width)
    step = max(1, min(_SUM_ROWS, _BLOCK // max(width, 1)))
    ones = _ones(min(n, step), x3.dtype)
    sums = np.zeros((2, width), float)
    for r in range(0, n, step):
        xb, yb = x2[r:r + step], y2[r:r + step]
        k = xb.shape[0]
        sums[0] += ones[:k] @ xb
        sums[1] += ones[:k] @ np.multiply(xb, yb)
    both = sums.reshape(2, c, length).sum(axis=2)
    return both[0], both[1]


def _moments(x3, count, stats=None):
    """``(mean, var, origin, x3 - origin)``: the per-channel mean and biased variance
    (float64 ``(C,)``) of ``x3`` ``(N, C, L)`` over ``count`` values each, from one pass of
    sums (``stats``: given ones, e.g. the running statistics, instead). ``origin`` is 0.0,
    unless |mean| >> spread, where ``E[x^2] - mean^2`` and ``x * scale - mean * scale`` would
    cancel in x's precision: then it is the mean rounded to x's dtype, ``x3`` is measured
    from it (nearly exact), and computed statistics are redone on it (two passes)."""
    xp = backend.xp(x3)
    if stats is None:
        sum_x, sum_xx = _channel_sums(x3, x3)
        mean = sum_x / count
        var = xp.maximum(sum_xx / count - mean * mean, 0)
    else:
        mean, var = stats
    if not int(xp.count_nonzero(mean * mean > _CANCELLATION / np.finfo(x3.dtype).eps * var)):  # (not .any(): 3 us)
        return mean, var, 0.0, x3
    origin = mean.astype(x3.dtype)
    x3 = x3 - origin.reshape(-1, 1)
    origin = origin.astype(float)
    if stats is None:
        sum_x, sum_xx = _channel_sums(x3, x3)
        rest = sum_x / count  # what the first sum rounded off
        var = xp.maximum(sum_xx / count - rest * rest, 0)
        mean = origin + rest
    return mean, var, origin, x3


def _rows(coefficient, n, dtype):
    """A per-channel ``(C,)`` float64 coefficient as a column for the ``(N * C, L)`` rows."""
    rows = np.empty((n, coefficient.shape[0]), dtype)  # (np.tile costs ~30 us of Python per call)
    rows[...] = coefficient
    return rows.reshape(-1, 1)


def _pattern(coefficient, length, dtype):
    """A per-channel ``(C,)`` float64 coefficient repeated along each channel's ``length``
    values: a ``(1, C * L)`` row for the ``(N, C * L)`` rows of one image each."""
    return np.broadcast_to(coefficient.astype(dtype)[:, None], (coefficient.shape[0], length)).reshape(1, -1)


# Rows shorter than this (and at least _PATTERN_BATCH images) take the coefficients as a
# repeated (C L,) pattern instead of a (N C, 1) column: NumPy's loops against a broadcast
# column are ~2.5x slower than against a contiguous row on rows of 256-4096 values
# ((1024, 1024) float32: x * column 314 us, x * pattern 168, a scalar 107), and
# building a pattern costs 1/N of a pass (so not for a batch of one or two).
_SHORT_ROW = 1 << 14
_PATTERN_BATCH = 4
# _combine's blocks go to the threads from this many values on: at 2**20 two threads were
# 1.1-1.4x slower (each block's calls hand the GIL over), at 2**21 0.9x one thread's time.
_THREADS_MIN = 1 << 21


def _combine(x3, a, y3=None, b=None, c=None):
    """``x3 * a - y3 * b + c`` with per-channel ``a, b, c`` (float64 ``(C,)``; ``y3, b`` and
    ``c`` optional), a new array of ``x3``'s shape and dtype."""
    xp, dtype = backend.xp(x3), x3.dtype
    n, channels, length = x3.shape
    pattern = xp is np and length < _SHORT_ROW and n >= _PATTERN_BATCH
    if xp is not np or (x3.size <= _BLOCK and not pattern):  # one block: broadcast (1, C, 1) columns
        view = (1, -1, 1)
        out = x3 * a.astype(dtype).reshape(view)
        if y3 is not None:
            out -= y3 * b.astype(dtype).reshape(view)
        if c is not None:
            out += c.astype(dtype).reshape(view)
        return out
    if pattern:  # (N, C L) rows, coefficients (1, C L) sliced by column
        rows, width = n, channels * length
        coefficient, part = (lambda v: _pattern(v, length, dtype)), (lambda v, r, k: v[:, k])
    else:  # (N C, L) rows, coefficients (N C, 1) sliced by row
        rows, width = n * channels, length
        coefficient, part = (lambda v: _rows(v, n, dtype)), (lambda v, r, k: v[r])
    x2, out = x3.reshape(rows, width), np.empty(x3.shape, dtype)
    out2, a = out.reshape(rows, width), coefficient(a)
    y2 = None if y3 is None else y3.reshape(rows, width)
    b = None if b is None else coefficient(b)
    c = None if c is None else coefficient(c)

    def block(r, k, _):
        o = out2[r, k]
        np.multiply(x2[r, k], part(a, r, k), out=o)
        if y2 is not None:
            o -= y2[r, k] * part(b, r, k)
        if c is not None:
            o += part(c, r, k)

    _sweep(block, rows, width, threads=x3.size >= _THREADS_MIN)
    return out


class BatchNorm(Op):
    """Batch normalisation over axis 1 of ``(N, C)`` or ``(N, C, H, W)`` (any ``(N, C, ...)``)::

        out = (x - mean) / sqrt(var + eps) * weight + bias        (per channel)

    ``training=True``: ``mean``/``var`` are the batch's (biased variance) over
    every axis but 1, and ``running_mean``/``running_var`` (arrays, if given) are
    updated in place as ``torch.nn.functional.batch_norm`` does:
    ``r = (1 - momentum) * r + momentum * batch_stat``, the variance unbiased
    (``* n / (n - 1)``). ``training=False``: the running arrays are used.

    Inputs ``x`` and optionally both ``weight`` and ``bias`` ``(C,)``. Backward, with
    ``xhat = (x - mean) * invstd`` and sums over the ``n`` values of a channel::

        d bias = sum(g)      d weight = sum(g * xhat)
        d x    = weight * invstd * (g - sum(g) / n - xhat * sum(g * xhat) / n)   (training)
        d x    = weight * invstd * g                                            (eval)

    Fast path: the per-channel sums come two at a time from one pass (BLAS dots over rows
    in cache blocks, ``_channel_sums``), the statistics use
    ``var = sum(x**2) / n - mean**2`` (two passes, ``sum((x - mean)**2)``, for a channel
    whose mean is so large against its spread that this would cancel), and the
    full-size arrays are touched only by
    ``out = x * scale + shift`` and ``dx = g * a - x * b + c`` with per-channel
    ``scale, shift, a, b, c`` (computed in float64): the elementwise passes are the cost,
    done block by block on the CPU (``_channel_sums``; ``_combine``, shared among threads).
    """

    name = "batch_norm"
    updates = ("running_mean", "running_var")  # (see Op.updates)

    @half_in_float32  # float16 in float32, rounded once (as PyTorch: x * a - g * b + c cancelled)
    def forward(self, x, weight=None, bias=None, running_mean=None, running_var=None,
                training=False, momentum=0.1, eps=1e-5):
        xp = backend.xp(x)
        self.shape, self.view = x.shape, (1, x.shape[1]) + (1,) * (x.ndim - 2)
        x3 = x.reshape(x.shape[:2] + (math.prod(x.shape[2:]),))  # (N, C, L): sums over n and l (-1 fails at N=0)
        n = x3.shape[0] * x3.shape[2]
        stats = None if training else (running_mean.astype(float), running_var.astype(float))
        mean, var, origin, x3 = _moments(x3, n, stats)  # (x3 from now on measured from origin)
        if training:
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype, copy=False)
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * n / (n - 1) * var).astype(running_var.dtype, copy=False)
        mean = mean - origin  # from here on, relative to x3's origin
        invstd = 1 / xp.sqrt(var + eps)
        scale = invstd if weight is None else invstd * weight
        shift = -mean * scale if bias is None else bias - mean * scale
        out = _combine(x3, scale, c=shift)
        self.x3, self.n, self.training, self.eps, self.origin = x3, n, training, eps, origin
        self.mean, self.invstd, self.scale, self.has_weight = mean, invstd, scale, weight is not None
        return out.reshape(self.shape)

    @half_in_float32
    def backward(self, grad):
        x3, n, dtype = self.x3, self.n, grad.dtype
        g3 = grad.reshape(x3.shape)
        sum_g, sum_gx = _channel_sums(g3, x3)  # (one pass for both; sum_gx is unused in eval without weight)
        need_x = self.needs_input_grad[0]
        need_w = self.has_weight and self.needs_input_grad[1]
        sum_gxhat = None
        if need_w or (need_x and self.training):  # sum(g * xhat) = invstd * (sum(g x) - mean sum(g))
            sum_gxhat = self.invstd * (sum_gx - self.mean * sum_g)
        dx = None
        if need_x:
            a = self.scale  # d out / d x with the statistics held fixed
            if self.training:  # minus the parts that flow through the batch mean and variance
                b = a * self.invstd * sum_gxhat / n  # times (x - mean) ...
                c = b * self.mean - a * sum_g / n  # ... and the constant part
                dx = _combine(g3, a, x3, b, c).reshape(self.shape)
            else:
                dx = _combine(g3, a).reshape(self.shape)
        if not self.has_weight:
            return (dx,)
        dw = sum_gxhat.astype(dtype) if need_w else None
        return dx, dw, sum_g.astype(dtype)

    def backward_graph(self, grad, out):
        """The same gradients on Tensors, from differentiable ops: in training the batch
        mean and variance are recomputed from x, so the second derivatives include the
        paths through them (as PyTorch's batch norm double backward)::

            xhat = (x - mean) * invstd,  invstd = (var + eps) ** -0.5
            d bias = sum(g)   d weight = sum(g * xhat)
            d x = weight * invstd * (g - mean(g) - xhat * mean(g * xhat))   (training)
            d x = weight * invstd * g                                       (eval: constant statistics)
        """
        x = self.parents[0]
        weight = self.parents[1] if self.has_weight else None
        axes = (0,) + tuple(range(2, x.ndim))
        if self.training:
            centred = x - x.mean(axis=axes, keepdims=True)
            invstd = ((centred * centred).mean(axis=axes, keepdims=True) + self.eps) ** -0.5
        else:  # the running statistics: constants
            xp = backend.xp(x.array)
            centred = x - xp.asarray(self.mean + self.origin).astype(x.dtype).reshape(self.view)
            invstd = xp.asarray(self.invstd).astype(x.dtype).reshape(self.view)
        xhat = centred * invstd
        need_x = self.needs_input_grad[0]
        need_w = self.has_weight and self.needs_input_grad[1]
        dx = dw = db = None
        if need_x:
            scale = invstd if weight is None else invstd * weight.reshape(self.view)
            if self.training:
                g = grad - grad.mean(axis=axes, keepdims=True) - xhat * (grad * xhat).mean(axis=axes, keepdims=True)
            else:
                g = grad
            dx = g * scale
        if not self.has_weight:
            return (dx,)
        if need_w:
            dw = (grad * xhat).sum(axis=axes)
        if self.needs_input_grad[2]:
            db = grad.sum(axis=axes)
        return dx, dw, db


class Dropout(Op):
    """``a * mask``: ``mask`` (given, already scaled by ``1 / (1 - p)``, broadcastable
    to ``a``: per element for dropout, ``(N, C, 1, 1)`` for whole channels) is the
    derivative too."""

    saved = ()  # the mask is a constant

    def forward(self, a, mask):
        self.mask = mask
        return a * mask

    def backward(self, grad):
        return (grad * self.mask,)
