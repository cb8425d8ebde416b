"""conv.py's flat layout with the batch axis innermost: for convs whose flat grid is mostly
garbage (a 5x5 'valid' conv on 14x14 reads a 14x14 grid for a 10x10 output, so every
GEMM would do 1.96x the work).

The padded input is stored ``(C, *grid, N)``: kernel offset k still reads ONE shift of
the flat buffer (the shift of conv.py times N), but the output positions of that shift
are now runs of ``W_o N`` contiguous elements (one per channel and output row) instead
of runs of ``W_o`` inside rows of ``W_q``. im2col copies exactly those runs, so the
columns ``(G, K C/G, P)``, ``P = prod(out) N`` in (out..., n) order, hold no garbage:
the GEMMs do only the real work, and no NaN/inf can leak through a garbage position.
The copies and adds stay long contiguous runs (N = 64 gives runs of 640 floats for a
10-wide output); the price is moving N innermost on the way in and out (input- and
output-sized transposes). Rows of the columns are in conv.py's (offset, c) order, so
``weight_rows`` and ``weight_grad`` are conv.py's.
"""
import functools
import math

import numpy as np

from . import conv as flat_layout
from .conv import column_buffer

_ALL = slice(None)
weight_rows, weight_grad = flat_layout.weight_rows, flat_layout.weight_grad  # same row order as conv.py


def _shifts(geo):
    """Where each kernel offset's block starts in the flat ``(phases read, C, *grid, N)``
    buffer, and the buffer's length."""
    g = geo
    return _shifts_of(g.N, g.C, g.grid, g.kernel, g.dilation, g.stride, g.phase_size)


@functools.lru_cache(maxsize=256)
def _shifts_of(N, C, grid, kernel, dilation, stride, phase_size):
    block = C * math.prod(grid) * N
    steps = tuple(math.prod(grid[i + 1:]) * N for i in range(len(grid)))  # (the batch axis innermost)
    starts = flat_layout.offset_starts(kernel, dilation, stride, block, steps)
    return starts, max(phase_size, max(starts) + block)


def _blocks(flat, geo, split):
    """For each kernel offset, the output positions its shift reads: a view
    ``(*split, *out, N)`` of the flat buffer (split: the channel axis, maybe by group)."""
    g = geo
    starts, _ = _shifts(g)
    block = g.C * math.prod(g.grid) * g.N
    inside = (_ALL,) * len(split) + tuple(slice(None, o) for o in g.out)
    for start in starts:
        yield flat[start : start + block].reshape(split + g.grid + (g.N,))[inside]


def _phases(flat, geo):
    g = geo
    return flat[: g.phase_size].reshape((len(g.phases), g.C) + g.grid + (g.N,))


def im2col(x, geo):
    """Columns ``(G, K C/G, prod(out) N)`` of x ``(N, C, *size)``."""
    g = flat_layout.padded(geo)  # (this layout stores all padding)
    flat = np.zeros(_shifts(g)[1], x.dtype)
    phases = _phases(flat, g)
    for a, rq, rx, nr in g.phases:  # x's pixels, batch axis last
        phases[a][(_ALL,) + rq] = np.moveaxis(x[(_ALL, _ALL) + rx][(_ALL, _ALL) + nr], 0, -1)
    K, Cg = len(g.starts), g.C // g.groups
    cols = column_buffer(K * g.C * math.prod(g.out) * g.N, x.dtype).reshape((g.groups, K, Cg) + g.out + (g.N,))
    for k, view in enumerate(_blocks(flat, g, (g.groups, Cg))):
        cols[:, k] = view
    return cols.reshape(g.groups, K * Cg, -1)


def col2im(dcols, geo, dtype):
    """The adjoint of ``im2col``: dx ``(N, C, *size)`` from dcols ``(G, K C/G, prod(out) N)``."""
    g = flat_layout.padded(geo)  # (this layout stores all padding)
    Cg = g.C // g.groups
    flat = np.zeros(_shifts(g)[1], dcols.dtype)
    dcols = dcols.reshape((g.groups, len(g.starts), Cg) + g.out + (g.N,))
    for k, view in enumerate(_blocks(flat, g, (g.groups, Cg))):
        view += dcols[:, k]  # runs of W_o N contiguous elements
    phases = _phases(flat, g)
    dx = (np.empty if flat_layout.covers(g) else np.zeros)((g.N, g.C) + g.size, dtype)
    for a, rq, rx, nr in g.phases:
        dx[(_ALL, _ALL) + rx][(_ALL, _ALL) + nr] = np.moveaxis(phases[a][(_ALL,) + rq], -1, 0)
    return dx


def output(y, bias, geo):
    """out ``(N, O, *out)`` from y ``(G, O/G, prod(out) N)`` plus bias."""
    g = geo
    if bias is not None:
        y += bias.reshape(g.groups, -1, 1)
    out = np.empty((g.N, g.O) + g.out, y.dtype)
    out[...] = np.moveaxis(y.reshape((g.O,) + g.out + (g.N,)), -1, 0)
    return out


def grad_columns(grad, geo):
    """The adjoint of ``output``: grad ``(N, O, *out)`` as ``(G, O/G, prod(out) N)``."""
    g = geo
    gq = np.empty((g.O,) + g.out + (g.N,), grad.dtype)
    gq[...] = np.moveaxis(grad, 0, -1)
    return gq.reshape(g.groups, g.O // g.groups, -1)
