"""2-D convolution (cross-correlation, as PyTorch's ``conv2d``): im2col + one GEMM.

Shapes: x ``(N, C, H, W)``, weight ``(O, C/G, K_h, K_w)`` (G = groups), bias ``(O,)``,
out ``(N, O, H_o, W_o)`` with ``H_o = (H + 2 p_h - d_h (K_h - 1) - 1) // s_h + 1``::

    out[n, o, i, j] = bias[o] + sum_{c, kh, kw} weight[o, c, kh, kw]
                                   * x_pad[n, group(o) C/G + c, i s_h + kh d_h, j s_w + kw d_w]

im2col copies, for each kernel offset k = (kh, kw), the input pixels that offset
sees into one block of a column matrix, ``cols[k, c, (n, i, j)] = x_pad[n, c, i s_h + kh d_h,
j s_w + kw d_w]``; the convolution is then ONE matrix product (per group), and so
are both gradients::

    out   (O, N H_o W_o)       = W (O, [k, c])       @ cols (K_h K_w C, N H_o W_o)
    dW.T  (K_h K_w C, O)       = cols                @ grad.T      (grad as (O, N H_o W_o))
    dcols (K_h K_w C, N ...)   = W.T                 @ grad,  then col2im (im2col's adjoint):
    dx_pad[n, c, i s_h + kh d_h, j s_w + kw d_w] += dcols[k, c, (n, i, j)]

The Python loops run over the K_h K_w kernel offsets only. The column matrix is
kept from the forward for dW, then overwritten with dcols (no second buffer).

Flat layout: every im2col block is ONE contiguous slice
--------------------------------------------------------
The padded input is stored channel-major, ``(C, N, H_q, W_q)``, then flattened, and
the output is computed on the same H_q x W_q grid: output pixel (i, j) of image n
and input channel c sits at flat position ``p = ((c N + n) H_q + i) W_q + j`` of
its block. For stride 1 the pixel offset (kh, kw) needs is at ``p + kh d_h W_q + kw d_w``:
the same shift for every pixel, so block k is the slice
``flat[shift_k : shift_k + C N H_q W_q]``. Grid positions with i >= H_o or j >= W_o
read across a row or image edge and are garbage: the forward drops them and the
backward gives them zero gradient, so they never reach a result. They cost
``H_q W_q / (H_o W_o) - 1`` extra GEMM work (6% for a 32x32 'same' 3x3 conv) and
buy copies and in-place adds over single contiguous runs, NumPy's fastest case
(an in-place add on a strided view is about 3x slower: NumPy buffers it).

NaN and inf: "never reach a result" needs one more step when values are not
finite. A garbage column holding an inf (read from another channel or row)
meets the zero gradient of its position in the weight-gradient GEMM, and
0 * inf = NaN would land in dW of a channel that never saw the inf; likewise
an inf weight times those zero gradients makes NaN garbage in dcols, which
col2im would add onto real pixels. So ``im2col`` and ``col2im`` zero the
garbage positions (``zero_garbage``), but only after a cheap check finds a
non-finite value (one dot product over the input; one read of a garbage
column): finite inputs pay nothing else, and NaN/inf positions then match
PyTorch's exactly.

Shared padding (stride 1): a read past the right end of a row lands on the first
columns of the next row, so if every row STARTS with its p_w zero columns, those
also serve as the previous row's right padding; likewise each image's first p_h
zero rows are the previous image's bottom padding. Rows then need only W + p_w
columns and images H + p_h rows: ``H_q = max(H_o, H + p_h)``, ``W_q = max(W_o, W + p_w)``.

Stride s > 1 becomes stride 1 by splitting the padded image into s_h s_w phases,
``phase[a, b][r, t] = x_pad[r s_h + a, t s_w + b]``, stored one after the other:
offset (kh, kw) reads phase ``(kh d_h % s_h, kw d_w % s_w)`` shifted by
``(kh d_h // s_h, kw d_w // s_w)`` phase pixels, again one flat slice.

``Conv2d`` below is written once for both devices: ``layout_of(x)`` gives it the
module that holds the layout steps (im2col, weight_rows, output, grad_columns,
weight_grad, col2im): this one, or ``conv_cuda.py``, whose CUDA kernels use the
plain ``H_o x W_o`` grid and the weight's own row order. The GEMMs between the
steps are the same ``backend.matmul`` calls on both.
"""
import functools
import math
import sys
from collections import namedtuple

import numpy as np

from .. import backend, checks
from .base import Op

OP = "conv2d"

Geometry = namedtuple(
    "Geometry",
    "N C H W O KH KW sh sw ph pw dh dw groups Ho Wo "
    "Hq Wq hx wx size length starts phases lead",  # see layout()
)


_geometries = {}  # a network calls conv2d with the same few arguments every step


def geometry(x, weight, bias, stride, padding, dilation, groups, dtype):
    """Check every argument of conv2d (raising before any work) and return its ``Geometry``."""
    # repr keeps apart arguments that compare equal but are not accepted alike (1 and True)
    key = (x.shape, weight.shape, None if bias is None else bias.shape,
           repr((stride, padding, dilation, groups)), np.dtype(dtype).itemsize)
    geo = _geometries.get(key)
    if geo is None:
        geo = _check_geometry(x, weight, bias, stride, padding, dilation, groups, dtype)
        if len(_geometries) < 1024:
            _geometries[key] = geo
    return geo


def _check_geometry(x, weight, bias, stride, padding, dilation, groups, dtype):
    checks.ndim(x, 4, OP, "input", "(N, C_in, H, W)")
    checks.ndim(weight, 4, OP, "weight", "(C_out, C_in // groups, K_h, K_w)")
    sh, sw = checks.pair(stride, "stride", OP)
    ph, pw = checks.pair(padding, "padding", OP, minimum=0)
    dh, dw = checks.pair(dilation, "dilation", OP)
    groups = checks.positive_int(groups, "groups", OP)
    N, C, H, W = x.shape
    O, Cg, KH, KW = weight.shape
    if KH < 1 or KW < 1:
        raise ValueError(f"{OP}: kernel size must be >= 1, got weight shape {weight.shape}")
    if C % groups:
        raise ValueError(f"{OP}: input channels {C} are not divisible by groups {groups}")
    if O % groups:
        raise ValueError(
            f"{OP}: output channels {O} (weight shape {weight.shape}) are not divisible by groups {groups}"
        )
    if C != Cg * groups:
        raise ValueError(
            f"{OP}: input has {C} channels but weight expects {Cg * groups} "
            f"(weight shape {weight.shape}, groups {groups})"
        )
    if bias is not None and bias.shape != (O,):
        raise ValueError(f"{OP}: bias must have shape ({O},) (one per output channel), got {bias.shape}")
    span_h, span_w = dh * (KH - 1) + 1, dw * (KW - 1) + 1  # the dilated kernel
    if span_h > H + 2 * ph or span_w > W + 2 * pw:
        dilated = f" (dilated to ({span_h}, {span_w}))" if (dh, dw) != (1, 1) else ""
        raise ValueError(
            f"{OP}: kernel ({KH}, {KW}){dilated} is larger than the padded input "
            f"({H + 2 * ph}, {W + 2 * pw}) (input ({H}, {W}), padding ({ph}, {pw}))"
        )
    return layout(N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, groups, np.dtype(dtype).itemsize)


@functools.lru_cache(maxsize=256)  # a network calls conv2d with the same few sizes every step
def layout(N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, groups, itemsize):
    """The sizes and offsets of the flat layout: output size (Ho, Wo), phase grid (Hq, Wq),
    rows/cols of x that some output reads (hx, wx), size of the phases and length of the
    flat buffer (the last block runs past the phases by its shift), where each kernel
    offset's block starts, the phase slices and the buffer lead (see below)."""
    span_h, span_w = dh * (KH - 1) + 1, dw * (KW - 1) + 1
    Ho, Wo = (H + 2 * ph - span_h) // sh + 1, (W + 2 * pw - span_w) // sw + 1
    used_h, used_w = (Ho - 1) * sh + span_h, (Wo - 1) * sw + span_w  # padded rows/cols read
    if (sh, sw) == (1, 1):
        Hq, Wq = max(Ho, H + ph), max(Wo, W + pw)  # shared padding
    else:
        Hq, Wq = -(-used_h // sh), -(-used_w // sw)  # phase size: ceil(used / stride)
    starts = []  # where the block of offset (kh, kw) starts in the flat buffer
    for kh in range(KH):
        for kw in range(KW):
            (u, a), (v, b) = divmod(kh * dh, sh), divmod(kw * dw, sw)  # shift, phase
            starts.append((a * sw + b) * C * N * Hq * Wq + u * Wq + v)
    # all rows/cols, unless a stride skips the last ones
    hx, wx = max(0, min(H, used_h - ph)), max(0, min(W, used_w - pw))
    phases = tuple(phase_slices(sh, sw, ph, pw, hx, wx, Hq, Wq))
    lead = copy_friendly_lead(starts, C * N * Hq * Wq, groups, itemsize)
    size = sh * sw * C * N * Hq * Wq
    length = max(size, max(starts) + C * N * Hq * Wq)
    return Geometry(N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, groups, Ho, Wo,
                    Hq, Wq, hx, wx, size, length, tuple(starts), phases, lead)


def phase_slices(sh, sw, ph, pw, hx, wx, Hq, Wq):
    """For each phase (a, b): the slices of the phase grid that hold input pixels, the
    matching strided slices of x (``phase[a, b][r, t] = x[r s_h + a - p_h, t s_w + b - p_w]``)
    and their lengths."""

    def axis(a, s, p, used, nq):
        first = max(0, -(-(p - a) // s))  # first phase row r with r s + a - p >= 0
        stop = max(first, min(nq, -(-(p + used - a) // s)))  # ... and r s + a - p < used
        return slice(first, stop), slice(first * s + a - p, None, s), stop - first

    for a in range(sh):
        rows_q, rows_x, n_r = axis(a, sh, ph, hx, Hq)
        for b in range(sw):
            cols_q, cols_x, n_c = axis(b, sw, pw, wx, Wq)
            yield a, b, (rows_q, cols_q), (rows_x, cols_x), (n_r, n_c)


def aligned(n, dtype, lead=0, zeros=False):
    """A 1-D array of n elements starting ``lead`` elements past a 4096-byte boundary."""
    itemsize = np.dtype(dtype).itemsize
    raw = (np.zeros if zeros else np.empty)(n + 2 * 4096 // itemsize, dtype)
    skip = (-raw.ctypes.data % 4096) // itemsize + lead
    return raw[skip : skip + n]


def copy_friendly_lead(starts, block, groups, itemsize):
    """Where to start the flat buffer (elements past a 4096-byte boundary; the columns
    start on one) so that no im2col copy has its source less than 64 bytes BEHIND its
    destination modulo 4096: memcpy then stalls on false store-to-load dependencies
    ("4K aliasing"), measured 3-12x slower for blocks of 30 KB - 1 MB on this machine."""
    if groups > 1:
        return 0
    page = 4096 // itemsize
    distances = [(start - k * block) % page for k, start in enumerate(starts)]
    for lead in range(page):
        if all((lead + d) % page < page - 64 // itemsize for d in distances):
            return lead
    return 0


def to_phases(x, geo, lead=0):
    """The zero-padded input as a flat buffer: phases ``(s_h, s_w, C, N, H_q, W_q)``
    then zeros up to ``length``, ``buf[a, b, c, n, r, t] = x_pad[n, c, r s_h + a, t s_w + b]``.
    For stride 1 that is just the (shared-)padded input, channel-major."""
    g = geo
    flat = aligned(g.length, x.dtype, lead, zeros=True)
    phases = flat[: g.size].reshape(g.sh, g.sw, g.C, g.N, g.Hq, g.Wq)
    for a, b, (rq, cq), (rx, cx), (nr, nc) in g.phases:
        phases[a, b][:, :, rq, cq] = x[:, :, rx, cx][:, :, :nr, :nc].transpose(1, 0, 2, 3)
    return flat


def from_phases(flat, geo, dtype):
    """The adjoint of ``to_phases``: dx ``(N, C, H, W)`` from a flat phase buffer
    (each input pixel lives in exactly one phase, so this is a copy)."""
    g = geo
    phases = flat[: g.size].reshape(g.sh, g.sw, g.C, g.N, g.Hq, g.Wq)
    # Rows/cols past (hx, wx) are read by no output: zero gradient.
    dx = (np.empty if (g.hx, g.wx) == (g.H, g.W) else np.zeros)((g.N, g.C, g.H, g.W), dtype)
    for a, b, (rq, cq), (rx, cx), (nr, nc) in g.phases:
        dx[:, :, rx, cx][:, :, :nr, :nc] = phases[a, b][:, :, rq, cq].transpose(1, 0, 2, 3)
    return dx


def im2col(x, geo):
    """Columns ``(G, K_h K_w C/G, N H_q W_q)``: block k (rows k C/G to (k+1) C/G) is the
    flat slice offset k reads, ``flat[start_k : start_k + C N H_q W_q]`` (split by group)."""
    g = geo
    block = g.C * g.N * g.Hq * g.Wq
    cols = aligned(g.KH * g.KW * block, x.dtype).reshape(g.groups, g.KH * g.KW, block // g.groups)
    flat = to_phases(x, g, g.lead)
    for k, start in enumerate(g.starts):
        cols[:, k] = flat[start : start + block].reshape(g.groups, -1)
    if has_garbage(g) and not math.isfinite(flat @ flat):  # NaN/inf anywhere makes the dot NaN/inf
        zero_garbage(cols, g)
    return cols.reshape(g.groups, g.KH * g.KW * g.C // g.groups, -1)  # (G, rows, P)


def has_garbage(geo):
    """Whether the H_q x W_q grid has positions outside the H_o x W_o output."""
    return geo.Hq > geo.Ho or geo.Wq > geo.Wo


def zero_garbage(cols, geo):
    """Zero the garbage positions (i >= H_o or j >= W_o) of columns ``(G, K_h K_w, C/G N H_q W_q)``,
    in place, so a NaN or inf read across an edge never meets a zero gradient (see the top)."""
    g = geo
    grid = cols.reshape(-1, g.Hq, g.Wq)
    grid[:, g.Ho :, :] = 0
    grid[:, : g.Ho, g.Wo :] = 0


def col2im(dcols, geo, dtype):
    """The adjoint of ``im2col``: add each block back onto the slice it was read from.
    ``dcols`` is ``(G, K_h K_w C/G, N H_q W_q)``; returns dx ``(N, C, H, W)``."""
    g = geo
    block = g.C * g.N * g.Hq * g.Wq
    # dcols = W.T @ grad is exactly 0 at every garbage position unless a weight is NaN/inf:
    # one garbage column (the first grid position past the output, image 0) tells.
    if has_garbage(g):
        first = g.Wo if g.Wq > g.Wo else g.Ho * g.Wq
        if not math.isfinite(dcols.reshape(-1, g.N * g.Hq * g.Wq)[:, first].sum()):
            zero_garbage(dcols, g)
    flat = np.zeros(g.length, dcols.dtype)
    dcols = dcols.reshape(g.groups, g.KH * g.KW, -1)
    for k, start in enumerate(g.starts):
        view = flat[start : start + block].reshape(g.groups, -1)
        view += dcols[:, k]  # a contiguous target: added in place, no temporary
    return from_phases(flat, g, dtype)


def output(y, bias, geo):
    """out ``(N, O, H_o, W_o)`` from the GEMM result y ``(G, O/G, C N H_q W_q)`` plus bias:
    drop the garbage grid positions and put the batch axis first."""
    g = geo
    if bias is not None:  # along y's long contiguous rows: 3x faster than on out
        y += bias.reshape(g.groups, -1, 1)
    out = np.empty((g.N, g.O, g.Ho, g.Wo), y.dtype)
    out[...] = y.reshape(g.O, g.N, g.Hq, g.Wq)[:, :, : g.Ho, : g.Wo].transpose(1, 0, 2, 3)
    return out


def grad_columns(grad, geo):
    """The adjoint of ``output``: grad ``(N, O, H_o, W_o)`` on the H_q x W_q grid, channel-major
    like y, ``(G, O/G, N H_q W_q)``; garbage positions get zero."""
    g = geo
    gq = np.zeros((g.O, g.N, g.Hq, g.Wq), grad.dtype)
    gq[:, :, : g.Ho, : g.Wo] = grad.transpose(1, 0, 2, 3)
    return gq.reshape(g.groups, g.O // g.groups, -1)


def weight_rows(weight, geo):
    """The weight as ``(G, O/G, K_h K_w C/G)`` matrices, rows in the columns' order (kh, kw, c)."""
    g = geo
    Og, Cg, KK = g.O // g.groups, g.C // g.groups, g.KH * g.KW
    return weight.reshape(g.groups, Og, Cg, KK).transpose(0, 1, 3, 2).reshape(g.groups, Og, KK * Cg)


def weight_grad(cols, gq, geo):
    """dW ``(O, C/G, K_h, K_w)`` from the columns and gq ``(G, O/G, P)``. Computed as
    dW.T = cols @ grad.T: BLAS runs this orientation faster than grad @ cols.T."""
    g = geo
    Og, Cg, KK = g.O // g.groups, g.C // g.groups, g.KH * g.KW
    dw = backend.matmul(cols, gq.transpose(0, 2, 1))  # (G, [kh, kw, c], O/G)
    return dw.reshape(g.groups, KK, Cg, Og).transpose(0, 3, 2, 1).reshape(g.O, Cg, g.KH, g.KW)


def layout_of(x):
    """The module holding im2col, weight_rows, output, grad_columns, weight_grad and col2im
    for ``x``'s device:
    this one (the flat CPU layout) or ``conv_cuda`` (CUDA kernels)."""
    if backend.is_cuda(x):
        from . import conv_cuda

        return conv_cuda
    return sys.modules[__name__]


class Conv2d(Op):
    """2-D cross-correlation of ``x (N, C, H, W)`` with ``weight (O, C/groups, K_h, K_w)``,
    plus ``bias (O,)`` if given -> ``(N, O, H_o, W_o)``. Semantics of ``torch.nn.functional.conv2d``:
    ``Conv2d.apply(x, weight[, bias], stride=1, padding=0, dilation=1, groups=1)``."""

    name = "conv2d"

    def forward(self, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        dtype = self.dtype = np.result_type(x, weight) if bias is None else np.result_type(x, weight, bias)
        g = self.geo = geometry(x, weight, bias, stride, padding, dilation, groups, dtype)
        layout = self.layout = layout_of(x)
        cols = layout.im2col(backend.cast(x, dtype), g)  # (G, rows, P)
        w = layout.weight_rows(backend.cast(weight, dtype), g)  # (G, O/G, rows)
        y = backend.matmul(w, cols)  # (G, O/G, P): one GEMM per group
        out = layout.output(y, None if bias is None else backend.cast(bias, dtype), g)

        need_x, need_w = self.needs_input_grad[:2]
        self.has_bias = bias is not None
        self.dtypes = (x.dtype, weight.dtype, None if bias is None else bias.dtype)
        self.cols = cols if need_w else None  # kept for dW, then reused for dcols
        self.w = w if need_x else None
        return out

    def backward(self, grad):
        g, layout = self.geo, self.layout
        need_x, need_w = self.needs_input_grad[:2]
        need_b = self.has_bias and self.needs_input_grad[2]
        gq = layout.grad_columns(backend.cast(grad, self.dtype), g)  # (G, O/G, P)

        dx = dw = db = None
        if need_b:
            db = backend.cast(backend.sum_rows(gq.reshape(g.O, -1)), self.dtypes[2])  # row sums
        if need_w:
            dw = backend.cast(layout.weight_grad(self.cols, gq, g), self.dtypes[1])
        if need_x:  # dcols = W.T @ grad, written over the saved columns when there are some
            dcols = backend.matmul(self.w.transpose(0, 2, 1), gq, out=None if self.retained else self.cols)
            dx = layout.col2im(dcols, g, self.dtypes[0])
        if not self.retained:
            self.cols = self.w = None
        return (dx, dw, db) if self.has_bias else (dx, dw)

    def backward_graph(self, grad, out):
        """The three gradients on Tensors, built from conv2d and conv_transpose2d themselves (as
        PyTorch does), so they are differentiable again to any order::

            dx = conv_transpose2d(grad, W)       (output_padding restores x's size)
            dW = weight_grad_conv(x, grad)       (a conv2d of x with grad, see there)
            db = grad summed over (N, H_o, W_o)
        """
        from .. import functional as F

        g = self.geo
        x, weight = self.parents[0], self.parents[1]
        need_x, need_w = self.needs_input_grad[:2]
        need_b = self.has_bias and self.needs_input_grad[2]
        grad = _as_dtype(grad, self.dtype)
        dx = dw = db = None
        if need_b:
            db = _as_dtype(grad.sum(axis=(0, 2, 3)), self.dtypes[2])
        if need_w:
            dw = weight_grad_conv(_as_dtype(x, self.dtype), grad, (g.sh, g.sw), (g.ph, g.pw), (g.dh, g.dw),
                                  g.groups, g.KH, g.KW)
            dw = _as_dtype(dw, self.dtypes[1])
        if need_x:
            # the transposed conv's output rows: (H_o - 1) s - 2 p + d (K - 1) + 1 + output_padding = H,
            # output_padding = (H + 2 p - span) mod s < s
            op_h = g.H + 2 * g.ph - g.dh * (g.KH - 1) - 1 - (g.Ho - 1) * g.sh
            op_w = g.W + 2 * g.pw - g.dw * (g.KW - 1) - 1 - (g.Wo - 1) * g.sw
            dx = F.conv_transpose2d(grad, _as_dtype(weight, self.dtype), stride=(g.sh, g.sw), padding=(g.ph, g.pw),
                                    output_padding=(op_h, op_w), groups=g.groups, dilation=(g.dh, g.dw))
            dx = _as_dtype(dx, self.dtypes[0])
        return (dx, dw, db) if self.has_bias else (dx, dw)


def _as_dtype(t, dtype):
    return t if t.dtype == dtype else t.to(dtype)


def weight_grad_conv(x, grad, stride, padding, dilation, groups, KH, KW):
    """conv2d's weight gradient on Tensors, as a conv2d (PyTorch's way), so it is differentiable:
    ``dW[o, c, kh, kw] = sum_{n, i, j} grad[n, o, i, j] x_pad[n, g(o) C/G + c, i s_h + kh d_h, j s_w + kw d_w]``
    is a conv2d whose batch is the C/G channels of a group, whose input channels are (group, n),
    whose kernel is grad ``(O, N, H_o, W_o)`` (groups G), with stride and dilation swapped.
    Its output has at least K_h x K_w positions (more when the stride skips the last
    rows/columns): the first K_h x K_w are dW. ``x (N, C, H, W)``, ``grad (N, O, H_o, W_o)``."""
    from .. import functional as F

    N, C, H, W = x.shape
    G = groups
    cols = x.reshape(N, G, C // G, H, W).permute(2, 1, 0, 3, 4).reshape(C // G, G * N, H, W)
    kernel = grad.permute(1, 0, 2, 3)  # (O, N, H_o, W_o): output channel o reads group g(o)'s N channels
    r = F.conv2d(cols, kernel, stride=dilation, padding=padding, dilation=stride, groups=G)  # (C/G, O, ., .)
    return r.permute(1, 0, 2, 3)[:, :, :KH, :KW]
