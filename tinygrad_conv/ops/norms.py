"""Group, layer and instance normalisation: one op, because each is the same computation
on a different view of its input (batch norm, which pools over the batch, is in norm.py)."""

import numpy as np

from .. import backend, parallel
from .base import Op, half_in_float32
from . import norm
from .norm import _channel_sums, _combine, _moments


def _row_dots(m, v):
    """``sum_c m[n, g, c] * v[(n,) g, c]``, ``(n, g)``: BLAS dots (one matrix-vector product
    when ``v`` is ``(1, C)``), ~3x einsum's speed."""
    xp = backend.xp(m)
    if xp is not np:
        return (m * v).sum(axis=-1)
    if v.shape[0] == 1 and v.ndim == 2:
        return np.matmul(m.reshape(m.shape[0], -1), v.reshape(-1)).reshape(-1, 1)
    return np.vecdot(m, v)


def _column_dots(u, m):
    """``sum_n u[k, n, g] * m[n, g, c]``, ``(k, g, c)``: one BLAS matrix product when g is 1."""
    xp = backend.xp(m)
    if xp is np and m.shape[1] == 1:
        return np.matmul(u.reshape(u.shape[0], -1), m.reshape(m.shape[0], -1))[:, None, :]
    return xp.einsum("kng,ngc->kgc", u, m)


class GroupNorm(Op):
    """Normalise ``x`` viewed as ``(N, G, C, L)`` over each ``(n, g)``'s ``M = C * L`` values,
    then scale and shift each of the ``G * C`` rows (broadcast over ``n`` and ``l``)::

        xhat = (x - mean) * rstd,   rstd = 1 / sqrt(var + eps)    (var biased)
        out  = xhat * weight + bias                               (weight, bias: G * C values)

    PyTorch's three normalisations are three views (functional.py builds them):

        group_norm(x (N, C, *), G)            (N, G, C / G, prod(*))
        instance_norm(x (N, C, *))            (N, C, 1, prod(*))
        layer_norm(x (*, S), S)               (prod(*), 1, prod(S), 1)

    ``running_mean``/``running_var`` (arrays of ``G`` values, instance norm's) are updated
    in place with the batch average of the groups' mean and unbiased variance, as
    ``torch.nn.functional.instance_norm`` does.

    Backward, with ``g = dL/d out``, ``gw = g * weight`` and means over a group's M values::

        d bias = sum_{n,l} g      d weight = sum_{n,l} g * xhat
        d x    = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))

    Speed: NumPy's elementwise passes over the full-size arrays are the cost. With ``L > 1``
    (group, instance norm) the statistics come from per-row sums and ``out``/``d x`` from
    one ``x * a - y * b + c`` combine each, with norm.py's row helpers (threads, float64
    coefficients), and xhat is never stored. Layer norm (``L = 1``, an elementwise
    weight) neither: its statistics come from the same sums, and each block of samples
    (about ``norm._BLOCK`` elements, in cache) goes through all of its passes before the
    next, its sums as BLAS products (``_forward_rows``, ``_backward_rows``).
    """

    name = "group_norm"

    @half_in_float32  # float16 in float32, rounded once (PyTorch's sums; var overflowed 65504)
    def forward(self, x, weight=None, bias=None, view=None, eps=1e-5, running_mean=None, running_var=None,
                momentum=0.1):
        n, groups, c, l = view
        m = max(c * l, 1)  # (an empty group: 0 / 1, not a division warning)
        self.view, self.shape, self.eps = view, x.shape, eps
        self.weight = None if weight is None else weight.reshape(groups, c)
        self.weight_shape = None if weight is None else weight.shape
        if l > 1:  # group and instance norm: statistics from sums, out in one combine
            mean, var, out = self._forward_sums(x, weight, bias)
        elif self._blocked():  # layer norm (an elementwise weight), large: in cache blocks
            mean, var, out = self._forward_rows(x, weight, bias)
        else:  # layer norm, small: every pass on the whole array (in cache anyway), xhat kept
            mean, var, out = self._forward_xhat(x, weight, bias)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += (momentum * mean.mean(axis=0)).astype(running_mean.dtype, copy=False)
        if running_var is not None:
            running_var *= 1 - momentum
            unbiased = var.mean(axis=0) * (m / max(m - 1, 1))
            running_var += (momentum * unbiased).astype(running_var.dtype, copy=False)
        return out

    def _blocked(self):
        """Layer norm in cache blocks, without xhat (``_forward_rows``), above 4 blocks'
        worth of values; below, the arrays stay in cache anyway and keeping xhat saves the
        backward two passes (measured 1.25x faster at (32, 64 * 16 * 16), 0.7x at 2M values)."""
        n, groups, c, _ = self.view
        return n * groups * c > 4 * norm._BLOCK

    def _forward_xhat(self, x, weight, bias):
        """``L = 1``, small: centred first, then var (no cancellation); keeps xhat."""
        xp = backend.xp(x)
        n, groups, c, _ = self.view
        x3 = x.reshape(n, groups, c)
        m = max(c, 1)
        mean = xp.einsum("ngc->ng", x3) / m
        xhat = x3 - mean[:, :, None]
        var = xp.einsum("ngc,ngc->ng", xhat, xhat) / m
        rstd = 1 / xp.sqrt(var + self.eps)
        xhat *= rstd[:, :, None]
        self.xhat, self.rstd = xhat, rstd
        out = xhat if weight is None else xhat * self.weight
        if weight is not None:
            out += bias.reshape(groups, c)
        return mean, var, out.reshape(x.shape)

    def _forward_rows(self, x, weight, bias):
        """``L = 1``: statistics from one pass of sums per ``(n, g)`` (as ``_forward_sums``),
        then per block of samples ``out = (x * a + c) * weight + bias`` (``a = rstd``,
        ``c = -mean * rstd`` per ``(n, g)``), the four passes in cache. Keeps ``x`` (shifted
        by ``origin`` in the two-pass case) and ``a, c``: the backward needs no xhat."""
        xp = backend.xp(x)
        n, groups, c, _ = self.view
        mean, var, origin, rows = _moments(x.reshape(1, n * groups, c), max(c, 1))
        rstd = 1 / xp.sqrt(var + self.eps)
        self.rows, self.rstd, self.rel = rows.reshape(n, groups, c), rstd.reshape(n, groups), (mean - origin).reshape(n, groups)
        self.a = rstd.astype(x.dtype).reshape(n, groups, 1)
        self.c = (-self.rel * self.rstd).astype(x.dtype)[:, :, None]
        out = xp.empty((n, groups, c), x.dtype)
        w, b = (None, None) if weight is None else (self.weight, bias.reshape(groups, c))

        def block(i, j):
            o = out[i:j]
            xp.multiply(self.rows[i:j], self.a[i:j], out=o)
            o += self.c[i:j]
            if w is not None:
                o *= w
                o += b

        self._each_block(block)
        return mean.reshape(n, groups), var.reshape(n, groups), out.reshape(x.shape)

    def _step(self):
        n, groups, c, _ = self.view
        return max(1, norm._BLOCK // max(groups * c, 1))  # (read here: tests shrink it)

    def _each_block(self, fn, scratch=0):
        """``fn(i, j, *buffers)`` on blocks of samples of about ``_BLOCK`` elements (one block
        on CuPy), boundaries fixed by the shape, blocks of blocks on the threads (parallel.py).
        ``buffers``: ``scratch`` arrays of the block's shape, allocated once per thread (a
        new 512 KiB temporary per block costs its page faults each time)."""
        n, groups, c, _ = self.view
        xp, dtype = backend.xp(self.rows), self.rows.dtype
        step = n if xp is not np else self._step()
        starts = range(0, n, step)

        def blocks(p, q):
            buffers = xp.empty((scratch, min(step, n), groups, c), dtype)
            for i in starts[p:q]:
                j = min(i + step, n)
                fn(i, j, *buffers[:, :j - i])

        if len(starts) <= 1:
            return blocks(0, len(starts))
        parallel.run(blocks, len(starts), step * groups * c)

    def _forward_sums(self, x, weight, bias):
        """As batch norm (norm.py, whose row helpers this uses with one "channel" per row):
        ``var = sum(x**2) / m - mean**2`` from one pass of sums per ``(n, g)`` (two, on
        ``x - mean``, where that would cancel), then ``out = x * A + B`` with ``(n, g, c)``
        coefficients. Keeps ``x`` (shifted by ``origin`` in the two-pass case), not xhat."""
        xp = backend.xp(x)
        n, groups, c, l = self.view
        m = c * l
        mean, var, origin, rows = _moments(x.reshape(1, n * groups, m), m)  # one row per (n, g)
        rstd = 1 / xp.sqrt(var + self.eps)
        self.rows, self.rel, self.rstd = rows, (mean - origin).reshape(n, groups, 1), rstd.reshape(n, groups, 1)
        a = xp.broadcast_to(self.rstd, (n, groups, c))
        if weight is not None:
            a = a * self.weight.astype(float)
        shift = -self.rel * a if bias is None else bias.reshape(groups, c).astype(float) - self.rel * a
        out = _combine(rows.reshape(1, n * groups * c, l), a.reshape(-1), c=shift.reshape(-1))
        return mean.reshape(n, groups), var.reshape(n, groups), out.reshape(x.shape)

    @half_in_float32
    def backward(self, grad):
        g4 = grad.reshape(self.view)
        if self.view[3] == 1 and self._blocked():  # layer norm: one value per (n, g, c)
            dx, dw, db = self._backward_rows(g4[..., 0])
        elif self.view[3] == 1:
            dx, dw, db = self._backward_xhat(g4[..., 0])
        else:
            dx, dw, db = self._backward_sums(grad)
        dx = None if dx is None else dx.reshape(self.shape)
        if self.weight is None:
            return (dx,)
        return dx, *(None if d is None else d.reshape(self.weight_shape) for d in (dw, db))

    def _backward_sums(self, grad):
        """``(N, G, C, L)``: two sums per ``(n, g, c)`` row (of g and of g x), then one combine::

            sum(g xhat) = rstd (sum(g x) - mean sum(g)),  gw = g * weight,  means over the group
            d x = g (rstd w) - x (rstd**2 mean(gw xhat)) + rstd (rstd mean mean(gw xhat) - mean(gw))
        """
        xp = backend.xp(grad)
        n, groups, c, l = self.view
        m, dtype = c * l, grad.dtype
        g3, x3 = grad.reshape(1, n * groups * c, l), self.rows.reshape(1, n * groups * c, l)
        sum_g, sum_gx = (s.reshape(n, groups, c) for s in _channel_sums(g3, x3))
        sum_gxhat = self.rstd * (sum_gx - self.rel * sum_g)
        w = None if self.weight is None else self.weight.astype(float)
        dx = None
        if self.needs_input_grad[0]:
            wsum = (lambda s: s.sum(axis=2, keepdims=True)) if w is None else (lambda s: (s * w).sum(axis=2, keepdims=True))
            mean_gw, mean_gwx = wsum(sum_g) / m, wsum(sum_gxhat) / m
            a = xp.broadcast_to(self.rstd, (n, groups, c)) if w is None else self.rstd * w
            b = xp.broadcast_to(self.rstd * self.rstd * mean_gwx, (n, groups, c))
            shift = xp.broadcast_to(self.rstd * (self.rstd * self.rel * mean_gwx - mean_gw), (n, groups, c))
            dx = _combine(g3, a.reshape(-1), x3, b.reshape(-1), shift.reshape(-1))
        dw = sum_gxhat.sum(axis=0).astype(dtype) if w is not None and self.needs_input_grad[1] else None
        db = sum_g.sum(axis=0).astype(dtype) if w is not None and self.needs_input_grad[2] else None
        return dx, dw, db

    def _backward_xhat(self, g3):
        """``(N, G, C)``, small, from the kept xhat: ``gw = g * weight`` is one full pass,
        and its two means over the group one einsum pass each."""
        xp, rstd, w, xhat = backend.xp(g3), self.rstd, self.weight, self.xhat
        m = max(self.view[2], 1)
        dx = dw = db = None
        if w is not None:
            dw = xp.einsum("ngc,ngc->gc", g3, xhat) if self.needs_input_grad[1] else None
            db = g3.sum(axis=0) if self.needs_input_grad[2] else None
        if self.needs_input_grad[0]:
            gw = g3 * rstd[:, :, None] if w is None else g3 * w
            mean_gw = xp.einsum("ngc->ng", gw) / m
            mean_gwx = xp.einsum("ngc,ngc->ng", gw, xhat) / m
            if w is not None:  # (without weight gw is already g * rstd: the means are rstd times theirs)
                gw *= rstd[:, :, None]
                mean_gw, mean_gwx = rstd * mean_gw, rstd * mean_gwx
            dx = xhat * -mean_gwx[:, :, None]
            dx += gw
            dx -= mean_gw[:, :, None]
        return dx, dw, db

    def _backward_rows(self, g3):
        """``(N, G, C)`` with an elementwise weight, per block of samples, in cache, without
        forming xhat ``= x a + c``: with ``s1 = sum_c g w`` and ``t = sum_c g w x`` (BLAS
        products), ``sum_c g w xhat = a t + c s1`` and::

            dx = rstd * (g w - s1 / M - xhat * sum(g w xhat) / M)
               = a * (g w) - k2 * x - k1            (k1, k2 per (n, g), in float64)
            dw = sum_n a (g x) + c g    db = sum_n g      (vector-matrix products)

        ``dw``/``db`` are summed per block (float32), the blocks added up in float64 in block
        order: the same whatever the number of threads."""
        xp, w = backend.xp(g3), self.weight
        n, groups, c, _ = self.view
        m = max(c, 1)
        need_x, need_w = self.needs_input_grad[0], w is not None and self.needs_input_grad[1]
        need_b = w is not None and self.needs_input_grad[2]
        dx = xp.empty(g3.shape, g3.dtype) if need_x else None
        step = self._step()
        partial = xp.zeros((2, -(-n // step), groups, c), g3.dtype)  # dw, db per block
        ones = xp.ones((groups, c), g3.dtype)

        def block(i, j, gx, scaled_x):
            g, x, a, shift = g3[i:j], self.rows[i:j], self.a[i:j], self.c[i:j, :, 0]
            if need_b:  # (vector-matrix products: a (2, n) matrix one is ~6x slower in OpenBLAS)
                partial[1, i // step] = _column_dots(xp.ones_like(shift)[None], g)[0]
            if w is None:
                s1, t = _row_dots(g, ones), _row_dots(g, x)
            else:
                xp.multiply(g, x, out=gx)
                if need_w:
                    partial[0, i // step] = _column_dots(a[None, :, :, 0], gx)[0] + _column_dots(shift[None], g)[0]
                s1, t = _row_dots(g, w), _row_dots(gx, w)
            if not need_x:
                return
            rstd, rel = self.rstd[i:j], self.rel[i:j]
            s2 = rstd * (t - rel * s1)  # sum(g w xhat), in float64
            k2 = (rstd * rstd * s2 / m).astype(g3.dtype)[:, :, None]
            k1 = (rstd * (s1 - rel * rstd * s2) / m).astype(g3.dtype)[:, :, None]
            o = dx[i:j]
            if w is None:
                xp.multiply(g, a, out=o)
            else:
                xp.multiply(g, w, out=o)
                o *= a
            o -= xp.multiply(x, k2, out=scaled_x)
            o -= k1

        self._each_block(block, scratch=2)
        dw = db = None
        if need_w or need_b:
            sums = partial.sum(axis=1, dtype=float).astype(g3.dtype)
            dw, db = (sums[0] if need_w else None), (sums[1] if need_b else None)
        return dx, dw, db

    def backward_graph(self, grad, out):
        """The same gradients on Tensors, the statistics recomputed from ``x`` so the second
        derivatives include the paths through the mean and variance."""
        x = self.parents[0]
        n, groups, c, l = self.view
        x4 = x.reshape(self.view)
        centred = x4 - x4.mean(axis=(2, 3), keepdims=True)
        rstd = ((centred * centred).mean(axis=(2, 3), keepdims=True) + self.eps) ** -0.5
        xhat = centred * rstd
        g4 = grad.reshape(self.view)
        gw = g4 if self.weight is None else g4 * self.parents[1].reshape(1, groups, c, 1)
        dx = dw = db = None
        if self.needs_input_grad[0]:
            dx = gw - gw.mean(axis=(2, 3), keepdims=True) - xhat * (gw * xhat).mean(axis=(2, 3), keepdims=True)
            dx = (dx * rstd).reshape(self.shape)
        if self.weight is None:
            return (dx,)
        if self.needs_input_grad[1]:
            dw = (g4 * xhat).sum(axis=(0, 3)).reshape(self.weight_shape)
        if self.needs_input_grad[2]:
            db = g4.sum(axis=(0, 3)).reshape(self.weight_shape)
        return dx, dw, db
