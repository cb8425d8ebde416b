"""conv.py's flat layout, its column matrix built and used in chunks of output pixels:
for convs on few, large images, where the whole column matrix (K C rows by N P_q pixels,
150 MB for 16 channels on 512x512 with a 3x3 kernel) does not fit in any cache and
is streamed through memory four times (written, read by the forward GEMM, read by the
weight-gradient GEMM, written again as dcols and read by col2im).

Pixels ``p0 : p1`` of the flat ``(N, *grid)`` positions have the columns
``cols[g, k, c, p0:p1] = flat[start_k + (g C/G + c) N P_q + p0 : ... + p1]``: one strided
copy of C rows per kernel offset into ONE small reused buffer ``(G, K C/G, chunk)``, then
the chunk's GEMMs while it is still in cache::

    y[:, :, p0:p1]   = W @ cols_chunk
    dW.T            += cols_chunk @ gq[:, :, p0:p1].T       (columns rebuilt from the flat input)
    dcols_chunk      = W.T @ gq[:, :, p0:p1], then added onto the flat input gradient

Only the flat padded input (K times smaller than the columns) is kept for the backward.
For stride 1 with fewer output than input channels, dx is instead the correlation of the
gradient with the weight (``_input_grad``): columns of the gradient, K O/G rows per chunk,
and one GEMM writing dx's positions, with no col2im adds.
Chunks overlap on the flat buffer only through adds, so their order does not matter.
NaN/inf: the garbage grid positions of a chunk are zeroed, as conv.py's ``zero_garbage``
does, when the flat input (for dW) or the weight (for dcols) is not finite.

Everything else (``im2col``, ``output``, ... used by ``ConvWeightGrad`` and the transposed
conv) is conv.py's: this module only adds ``forward`` and ``backward`` for ``ConvNd``.
NumPy only (``layout_of`` never picks it for CUDA arrays).
"""
import functools
import math

import numpy as np

from . import conv as flat_layout
from .conv import from_phases, has_garbage, to_phases, zero_wrapped

# the steps ConvWeightGrad and the transposed conv take: conv.py's (whole column matrices)
im2col, output, grad_columns, col2im = (flat_layout.im2col, flat_layout.output, flat_layout.grad_columns,
                                        flat_layout.col2im)
weight_rows, weight_grad = flat_layout.weight_rows, flat_layout.weight_grad

# One chunk of columns: stays in L3 (32 MB here, 1 MB L2 per core) with the GEMMs' other operands.
# 2 MB and 4 MB measured alike (0.6-0.8x the unchunked CPU time at H = 512, 1024), 1 MB and 8 MB
# slower (0.82-1.07x), 256 kB much slower (1.2-1.7x: short GEMMs, more Python per pixel).
# 4 MB makes half as many BLAS calls as 2 MB (each a thread hand-off with 2 BLAS threads).
CHUNK_BYTES = 4 << 20


def chunk_pixels(geo, itemsize):
    """Pixels per chunk: ``CHUNK_BYTES`` of columns, a multiple of 16 (whole cache lines of float32),
    or whole grid rows when the layout wraps rows (``zero_wrapped`` works on rows)."""
    n = max(16, CHUNK_BYTES // (len(geo.starts) * geo.C * itemsize) // 16 * 16)
    return max(1, n // geo.grid[-1]) * geo.grid[-1] if geo.keep else n


def _chunks(geo, itemsize):
    total, step = geo.N * math.prod(geo.grid), chunk_pixels(geo, itemsize)
    return [(p0, min(total, p0 + step)) for p0 in range(0, total, step)]


def _blocks(flat, geo):
    """Block k of the columns as a view ``(G, C/G, N P_q)`` of the flat buffer, for each k."""
    g = geo
    block = g.C * g.N * math.prod(g.grid)
    return [flat[s : s + block].reshape(g.groups, g.C // g.groups, -1) for s in g.starts]


def _garbage(geo):
    """Boolean ``(N P_q,)``: the flat positions outside the output."""
    g = geo
    mask = np.ones(g.grid, bool)
    mask[tuple(slice(None, o) for o in g.out)] = False
    return np.tile(mask.reshape(-1), g.N)


def _fill(buf, blocks, p0, p1, geo):
    """The chunk's columns ``(G, K, C/G, p1 - p0)`` from the blocks."""
    cols = buf[..., : p1 - p0]
    for k, b in enumerate(blocks):
        cols[:, k] = b[:, :, p0:p1]
        zero_wrapped(cols[:, k], geo, k)
    return cols


def forward(x, w, geo):
    """The flat padded input (kept for the backward) and y ``(G, O/G, N P_q)`` = W @ columns,
    for x ``(N, C, *size)`` and the weight rows w ``(G, O/G, K C/G)``."""
    g = geo
    flat = to_phases(x, g, g.lead)
    blocks = _blocks(flat, g)
    y = np.empty((g.groups, g.O // g.groups, g.N * math.prod(g.grid)), w.dtype)
    buf = np.empty((g.groups, len(g.starts), g.C // g.groups, chunk_pixels(g, x.dtype.itemsize)), x.dtype)
    for p0, p1 in _chunks(g, x.dtype.itemsize):
        cols = _fill(buf, blocks, p0, p1, g).reshape(g.groups, -1, p1 - p0)
        np.matmul(w, cols, out=y[:, :, p0:p1])
    return flat, y


def backward(flat, w, gq, geo, need_x, need_w, dtype):
    """dx ``(N, C, *size)`` (or None) and dW ``(O, C/G, *kernel)`` (or None) from the flat
    padded input, the weight rows w and gq ``(G, O/G, N P_q)`` (zero at garbage positions)."""
    g = geo
    G, rows = g.groups, len(g.starts) * g.C // g.groups
    itemsize = gq.dtype.itemsize
    dx = None
    if need_x and _correlates(g, w):  # dx on its own; the chunks below make dW only
        dx, need_x = _input_grad(w, gq, g, dtype), False
    blocks = _blocks(flat, g) if need_w else None
    garbage = _garbage(g) if has_garbage(g) else None
    zero_cols = need_w and garbage is not None and not math.isfinite(flat @ flat)  # (see conv.py: NaN/inf)
    zero_dcols = need_x and garbage is not None and not math.isfinite(w.sum())
    buf = np.empty((G, len(g.starts), g.C // G, chunk_pixels(g, itemsize)), gq.dtype)
    dwt = np.zeros((G, rows, g.O // G), gq.dtype) if need_w else None
    dflat = np.zeros(g.length, gq.dtype) if need_x else None
    dblocks = _blocks(dflat, g) if need_x else None
    wt = w.transpose(0, 2, 1) if need_x else None
    for p0, p1 in _chunks(g, itemsize):
        gc = gq[:, :, p0:p1]
        if need_w:
            cols = _fill(buf, blocks, p0, p1, g)
            if zero_cols:
                cols[..., garbage[p0:p1]] = 0
            dwt += np.matmul(cols.reshape(G, rows, -1), gc.transpose(0, 2, 1))
        if need_x:
            dcols = buf[..., : p1 - p0]
            np.matmul(wt, gc, out=dcols.reshape(G, rows, -1))
            if zero_dcols:
                dcols[..., garbage[p0:p1]] = 0
            for k, b in enumerate(dblocks):
                zero_wrapped(dcols[:, k], g, k)  # (wrapped reads read padding: no gradient)
                b[:, :, p0:p1] += dcols[:, k]
    if need_x:
        dx = from_phases(dflat, g, dtype)
    dw = None
    if need_w:
        Og, Cg, K = g.O // G, g.C // G, len(g.starts)
        dw = dwt.reshape(G, K, Cg, Og).transpose(0, 3, 2, 1).reshape((g.O, Cg) + g.kernel)
    return dx, dw


# ----- the input gradient as a correlation (stride 1, few output channels) ------------------------
def _correlates(geo, w):
    """Whether dx is computed by ``_input_grad``: stride 1, fewer output than input channels
    (its columns, K O/G rows, are then smaller than dcols, K C/G rows; with as many it
    measured 0.9-1.7x the time of dcols and col2im, with half as many 0.49-0.69x), and a
    finite weight (a NaN/inf weight meets the zero gradient of the positions past the output
    there, where PyTorch has no term)."""
    g = geo
    return (all(s == 1 for s in g.stride) and g.O < g.C and len(g.starts) > 1
            and math.isfinite(float(np.vdot(w, w))))


def _input_grad(w, gq, geo, dtype):
    """dx ``(N, C, *size)`` of a stride-1 conv as the correlation of the gradient with the
    weight: with ``s_k`` the flat shift of kernel offset k, input position q of channel c
    (q from the first grid position) gets ``sum_k W_k[:, c] . gq[:, q + front - s_k]``
    (gq zero outside the grid). So the gradient's shifted blocks are the columns,
    ``(K O/G, chunk)`` per chunk of input positions, and one GEMM per chunk with the
    inner dimension K O/G (not O/G as in ``W.T @ gq``) writes dx's positions directly:
    copies instead of col2im's adds. Reads that wrap around a row end (``geo.keep``)
    stand for padding: their columns are zeroed, as ``zero_wrapped`` does to dcols."""
    g = geo
    G, Og, Cg, K = g.groups, g.O // g.groups, g.C // g.groups, len(g.starts)
    pixels = g.N * math.prod(g.grid)
    shifts = [g.front - s for s in g.starts]  # column q of block k is gq[..., q + shifts[k]]
    wc = np.ascontiguousarray(w.reshape(G, Og, K, Cg).transpose(0, 3, 2, 1)).reshape(G, Cg, K * Og)
    flat = np.empty(g.front + g.C * pixels, gq.dtype)  # from_phases reads the grid from `front` on
    out = flat[g.front :].reshape(G, Cg, pixels)
    step = chunk_pixels(g, gq.dtype.itemsize)
    cols = np.empty((G, K, Og, step), gq.dtype)
    wrapped = _wrapped_columns(g.keep, tuple(shifts), g.grid[-1]) if g.keep else None
    for q0 in range(0, pixels, step):
        q1 = min(pixels, q0 + step)
        c = cols[..., : q1 - q0]
        for k, d in enumerate(shifts):
            a, b = q0 + d, q1 + d  # the gradient positions this block reads; zero outside the grid
            lo, hi = min(max(a, 0), b), max(min(b, pixels), a)
            c[:, k, :, : lo - a] = 0
            c[:, k, :, lo - a : hi - a] = gq[:, :, lo:hi]
            c[:, k, :, hi - a :] = 0
            if wrapped:
                rows = c[:, k].reshape(G, Og, -1, g.grid[-1])  # (chunks are whole grid rows)
                for sl in wrapped[k]:
                    rows[..., sl] = 0
        np.matmul(wc, c.reshape(G, K * Og, -1), out=out[:, :, q0:q1])
    return from_phases(flat, g, dtype)


@functools.lru_cache(maxsize=64)  # (a loop over a row's W columns: once per geometry)
def _wrapped_columns(keep, shifts, W):
    """For each kernel offset k, the grid columns t (of W) of input positions whose term from
    block k reads the gradient at a column outside ``keep[k]`` (column ``(t + shifts[k]) mod W``:
    a read wrapped around a row end), as slices of consecutive columns."""
    runs = []
    for (lo, hi), d in zip(keep, shifts):
        bad = [t for t in range(W) if not lo <= (t + d) % W < hi]
        slices = []
        for t in bad:
            if slices and slices[-1].stop == t:
                slices[-1] = slice(slices[-1].start, t + 1)
            else:
                slices.append(slice(t, t + 1))
        runs.append(slices)
    return runs
