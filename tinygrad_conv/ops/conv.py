"""N-d convolution (cross-correlation, as PyTorch's ``conv1d``/``conv2d``/``conv3d``): im2col + one GEMM.

One machinery for every number d of spatial dims: shapes, kernel offsets and phases
are tuples over the d axes, written below for d = 2 (x ``(N, C, H, W)``); conv1d and
conv3d are the same code with one and three spatial axes.

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
kept from the forward for dW, then overwritten with dcols (no second buffer). When it
is large and the GEMMs few-channelled (memory-bound), ``conv_chunked.py`` builds and
uses it in cache-sized chunks of pixels instead (``layout_of``, CHUNK_MIN_BYTES).

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

Wrapped rows (stride 1, last axis keeping its size, W_o = W with p_w > 0: 'same' convs): rows
carry no padding columns at all, ``W_q = W``, x's rows stored back to back (``front = p_w``
elements before the first). A read past a row end then lands on the neighbouring row's edge
pixel: for each kernel offset those positions (grid columns outside ``keep[k]``) are zeroed
in the columns after the copy, and in dcols before col2im adds them (``zero_wrapped``), so they
act as padding. Copies in and out of the grid then run over whole images instead of rows of W
(NumPy pays per inner loop: 4-5x memcpy's time for 16-wide rows), and the GEMMs lose the
garbage columns (17x17 -> 17x16 per 16x16 image: 6% fewer FLOPs).

Stride s > 1 becomes stride 1 by splitting the padded image into s_h s_w phases,
``phase[a, b][r, t] = x_pad[r s_h + a, t s_w + b]``, stored one after the other:
offset (kh, kw) reads phase ``(kh d_h % s_h, kw d_w % s_w)`` shifted by
``(kh d_h // s_h, kw d_w // s_w)`` phase pixels, again one flat slice. Only the phases some
offset reads are stored (``phase_ranks``): a 1x1 stride-2 shortcut copies a quarter of x.

``ConvNd`` below is written once for both devices: ``layout_of(x, geo)`` gives it the
module that holds the layout steps (im2col, weight_rows, output, grad_columns,
weight_grad, col2im): this one, ``conv_cuda.py`` (CUDA, d <= 2; a 1-d conv is a 2-d
one with H = 1), whose kernels use the plain ``H_o x W_o`` grid and the weight's own
row order, or ``conv_xp.py`` (CUDA, d = 3: the same grid and order in plain array
code). The GEMMs between the steps are the same ``backend.matmul`` calls on all.

Under ``backward(create_graph=True)`` the weight gradient is its own op,
``ConvWeightGrad`` (the array rule above, with convs as its gradients), and the
input gradient is a transposed conv: both fast, both differentiable again.
"""
import functools
import itertools
import math
import sys
from collections import namedtuple

import numpy as np

from .. import allocator, backend, checks
from .base import Op

Geometry = namedtuple(
    "Geometry",
    "N C O groups size kernel stride padding dilation out "  # size, kernel, ...: one int per spatial axis
    "grid xused phase_size length starts phases lead front keep",  # see layout()
)


def spatial_layout(d):
    """``"H, W"``-style names of d spatial axes, for messages."""
    return {1: "L", 2: "H, W", 3: "D, H, W"}.get(d, ", ".join(f"S{i}" for i in range(d)))


def op_name(d, transposed=False):
    return f"conv{'_transpose' if transposed else ''}{d}d"


_geometries = {}  # a network calls a conv with the same few arguments every step


def geometry(x, weight, bias, stride, padding, dilation, groups, dtype):
    """Check every argument of an N-d conv (d = weight.ndim - 2; raising before any work)
    and return its ``Geometry``."""
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
    d = weight.ndim - 2
    if d < 1:
        raise ValueError(f"conv: weight must be (C_out, C_in // groups, *kernel) with at least one kernel axis, "
                         f"got shape {weight.shape}")
    op, axes = op_name(d), spatial_layout(d)
    checks.ndim(x, d + 2, op, "input", f"(N, C_in, {axes})")
    stride = checks.ntuple(stride, d, "stride", op)
    padding = checks.ntuple(padding, d, "padding", op, minimum=0)
    dilation = checks.ntuple(dilation, d, "dilation", op)
    groups = checks.positive_int(groups, "groups", op)
    N, C, size = x.shape[0], x.shape[1], tuple(x.shape[2:])
    O, Cg, kernel = weight.shape[0], weight.shape[1], tuple(weight.shape[2:])
    if min(kernel) < 1:
        raise ValueError(f"{op}: kernel size must be >= 1, got weight shape {weight.shape}")
    if C % groups:
        raise ValueError(f"{op}: input channels {C} are not divisible by groups {groups}")
    if O % groups:
        raise ValueError(
            f"{op}: output channels {O} (weight shape {weight.shape}) are not divisible by groups {groups}"
        )
    if C != Cg * groups:
        raise ValueError(
            f"{op}: input has {C} channels but weight expects {Cg * groups} "
            f"(weight shape {weight.shape}, groups {groups})"
        )
    if bias is not None and bias.shape != (O,):
        raise ValueError(f"{op}: bias must have shape ({O},) (one per output channel), got {bias.shape}")
    span = tuple(dl * (k - 1) + 1 for dl, k in zip(dilation, kernel))  # the dilated kernel
    padded = tuple(n + 2 * p for n, p in zip(size, padding))
    if any(s > n for s, n in zip(span, padded)):
        dilated = f" (dilated to {span})" if span != kernel else ""
        raise ValueError(
            f"{op}: kernel {kernel}{dilated} is larger than the padded input "
            f"{padded} (input {size}, padding {padding})"
        )
    return layout(N, C, size, O, kernel, stride, padding, dilation, groups, np.dtype(dtype).itemsize)


@functools.lru_cache(maxsize=256)  # a network calls a conv with the same few sizes every step
def layout(N, C, size, O, kernel, stride, padding, dilation, groups, itemsize, wrap=True):
    """The sizes and offsets of the flat layout (all per spatial axis, tuples): output size,
    phase grid, the input extent some output reads (``xused``), the size of the phases and
    length of the flat buffer (the last block runs past the phases by its shift), where each
    kernel offset's block starts, the phase slices and the buffer lead (see below)."""
    span = tuple(dl * (k - 1) + 1 for dl, k in zip(dilation, kernel))
    out = tuple((n + 2 * p - sp) // s + 1 for n, p, sp, s in zip(size, padding, span, stride))
    used = tuple((o - 1) * s + sp for o, s, sp in zip(out, stride, span))  # padded positions read
    # wrapped rows (see the top): no padding columns on the last axis, x's rows stored back to back
    wrap = wrap and all(s == 1 for s in stride) and padding[-1] > 0 and out[-1] == size[-1]
    stored = padding[:-1] + (0,) if wrap else padding  # the padding the grid holds
    if all(s == 1 for s in stride):
        grid = tuple(max(o, n + p) for o, n, p in zip(out, size, stored))  # shared padding
    else:
        grid = tuple(-(-u // s) for u, s in zip(used, stride))  # phase size: ceil(used / stride)
    block = C * N * math.prod(grid)
    steps = tuple(math.prod(grid[i + 1:]) for i in range(len(grid)))  # flat step of each grid axis
    starts = offset_starts(kernel, dilation, stride, block, steps)
    ranks = phase_ranks(kernel, dilation, stride)
    # the whole input, unless a stride skips the last rows/cols
    xused = tuple(max(0, min(n, u - p)) for n, u, p in zip(size, used, padding))
    phases = tuple((ranks[a], *rest) for a, *rest in phase_slices(stride, stored, xused, grid) if a in ranks)
    lead = copy_friendly_lead(starts, block, groups, itemsize)
    phase_size = len(ranks) * block
    front = padding[-1] if wrap else 0  # the first row's left padding: read, then zeroed in the columns
    length = max(front + phase_size, max(starts) + block)
    keep = None
    if wrap:  # for each kernel offset, the grid columns [lo, hi) whose read stays in the row
        p, dl, W = padding[-1], dilation[-1], grid[-1]
        keep = tuple((max(0, p - k * dl), min(W, W + p - k * dl))
                     for *_, k in itertools.product(*(range(k) for k in kernel)))
    return Geometry(N, C, O, groups, size, kernel, stride, padding, dilation, out,
                    grid, xused, phase_size, length, starts, phases, lead, front, keep)


def padded(geo):
    """``geo`` with every padding stored in the grid (no wrapped rows), for layouts that need it."""
    g = geo
    if not g.keep:
        return g
    return layout(g.N, g.C, g.size, g.O, g.kernel, g.stride, g.padding, g.dilation, g.groups, 1, wrap=False)


@functools.lru_cache(maxsize=256)
def phase_ranks(kernel, dilation, stride):
    """``{phase: i}`` for the phases some kernel offset reads, numbered in C order: the flat
    buffer holds only those (a strided 1x1 conv reads one phase of s_h s_w)."""
    read = {tuple(k * dl % s for k, dl, s in zip(offset, dilation, stride))
            for offset in itertools.product(*(range(k) for k in kernel))}
    return {phase: i for i, phase in enumerate(sorted(read))}


def offset_starts(kernel, dilation, stride, block, steps):
    """Where the block of each kernel offset (in C order) starts in a flat buffer of phases of
    ``block`` elements each (only the phases read, ``phase_ranks``), ``steps``: the flat step of
    each grid axis. Offset k reads its phase ``k d % s`` shifted by ``k d // s`` per axis."""
    ranks = phase_ranks(kernel, dilation, stride)
    starts = []
    for offset in itertools.product(*(range(k) for k in kernel)):
        shifts, phase = zip(*(divmod(k * dl, s) for k, dl, s in zip(offset, dilation, stride)))
        starts.append(ranks[phase] * block + sum(u * st for u, st in zip(shifts, steps)))
    return tuple(starts)


def covers(geo):
    """Whether the phases hold every input pixel (else from_phases starts from zeros: the
    pixels no output reads get zero gradient)."""
    return geo.xused == geo.size and len(geo.phases) == math.prod(geo.stride)


def phase_slices(stride, padding, xused, grid):
    """For each phase a (one index per axis): the slices of the phase grid that hold input
    pixels, the matching strided slices of x (``phase[a][r] = x[r s + a - p]`` per axis)
    and their lengths."""

    def axis(a, s, p, used, nq):
        first = max(0, -(-(p - a) // s))  # first phase row r with r s + a - p >= 0
        stop = max(first, min(nq, -(-(p + used - a) // s)))  # ... and r s + a - p < used
        return slice(first, stop), slice(first * s + a - p, None, s), slice(0, stop - first)

    for phase in itertools.product(*(range(s) for s in stride)):
        parts = [axis(*args) for args in zip(phase, stride, padding, xused, grid)]
        yield phase, tuple(q for q, _, _ in parts), tuple(x for _, x, _ in parts), tuple(n for _, _, n in parts)


def aligned(n, dtype, lead=0):
    """A 1-D array of n elements starting ``lead`` elements past a 4096-byte boundary."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.empty(n + 2 * 4096 // itemsize, dtype)
    skip = (-raw.__array_interface__["data"][0] % 4096) // itemsize + lead  # (.ctypes costs ~2x more)
    return raw[skip : skip + n]


# A buffer above glibc's heap limit (allocator.MMAP_THRESHOLD, 32 MB) is mmap-ed afresh on every
# call, and the kernel zeroes its pages before the first write: measured ~6 ms per 40 MB here,
# longer than the nine im2col copies into it (~4.4 ms). So ConvNd hands its column matrix back
# when it is done with it (``release_columns``), and the next im2col of that size reuses it.
_spare = []  # at most one released column buffer: (elements, dtype, 1-D aligned array)


def column_buffer(n, dtype):
    """An aligned 1-D buffer of n elements for a column matrix: the released one if it has this size."""
    try:
        size, kind, buf = _spare.pop()  # (pop is atomic: two threads never get the same buffer)
    except IndexError:
        size = None
    if size == n and kind == np.dtype(dtype):
        return buf
    return aligned(n, dtype)


def release_columns(cols):
    """Keep ``cols`` (a column matrix nothing refers to any more) for the next ``column_buffer``
    call, if it is a large NumPy array (below glibc's limit, malloc reuses freed memory itself)."""
    if type(cols) is np.ndarray and cols.nbytes >= allocator.MMAP_THRESHOLD and cols.flags.c_contiguous:
        _spare[:] = [(cols.size, cols.dtype, cols.reshape(-1))]


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


_ALL2 = (slice(None), slice(None))


def _phase_grids(flat, geo):
    """The phases some kernel offset reads, of a flat buffer, as an array ``(phases, C, N, *grid)``."""
    g = geo
    return flat[g.front : g.front + g.phase_size].reshape((len(g.phases), g.C, g.N) + g.grid)


def to_phases(x, geo, lead=0):
    """The zero-padded input as a flat buffer: the phases read, ``(phases, C, N, *grid)``, then
    zeros up to ``length``, ``buf[a, c, n, r] = x_pad[n, c, r s + a]`` (per axis). For stride 1
    that is just the (shared-)padded input, channel-major."""
    g = geo
    flat = aligned(g.length, x.dtype, lead)
    small = g.length < SMALL
    if small:
        flat[:] = 0
    phases = _phase_grids(flat, g)
    for a, rq, rx, nr in g.phases:
        phases[a][_ALL2 + rq] = x[_ALL2 + rx][_ALL2 + nr].swapaxes(0, 1)
        if not small:
            zero_outside(phases[a], rq)  # the padding only: one pass less than zeroing all first
    if not small:
        flat[: g.front] = 0
        flat[g.front + g.phase_size :] = 0
    return flat


# Below this many elements a buffer is zeroed whole before the copy into it: zeroing only the
# padding (``zero_outside``) saves a pass over memory but costs ~10 us more of Python per call.
SMALL = 1 << 16


def zero_outside(a, box):
    """Zero, in place, ``a (..., *grid)`` outside the box of slices ``box`` (one per grid axis,
    steps 1): for each axis i, the positions inside the box on the axes before i and outside
    it on axis i. Writes only those positions, not the whole array."""
    lead = (slice(None),) * (a.ndim - len(box))
    for i, s in enumerate(box):
        inside = lead + tuple(box[:i])
        a[inside + (slice(None, s.start),)] = 0
        a[inside + (slice(s.stop, None),)] = 0


def from_phases(flat, geo, dtype):
    """The adjoint of ``to_phases``: dx ``(N, C, *size)`` from a flat phase buffer
    (each input pixel lives in exactly one phase, so this is a copy)."""
    g = geo
    phases = _phase_grids(flat, g)
    # Rows/cols past xused, and phases no offset reads, are read by no output: zero gradient.
    dx = (np.empty if covers(g) else np.zeros)((g.N, g.C) + g.size, dtype)
    for a, rq, rx, nr in g.phases:
        dx[_ALL2 + rx][_ALL2 + nr] = phases[a][_ALL2 + rq].swapaxes(0, 1)
    return dx


def im2col(x, geo):
    """Columns ``(G, K C/G, N P_q)`` (K = prod(kernel), P_q = prod(grid)): block k (rows k C/G
    to (k+1) C/G) is the flat slice offset k reads, ``flat[start_k : start_k + C N P_q]``
    (split by group)."""
    g = geo
    block = g.C * g.N * math.prod(g.grid)
    K = len(g.starts)
    cols = column_buffer(K * block, x.dtype).reshape(g.groups, K, block // g.groups)
    flat = to_phases(x, g, g.lead)
    for k, start in enumerate(g.starts):
        cols[:, k] = flat[start : start + block].reshape(g.groups, -1)
        if g.keep:
            zero_wrapped(cols[:, k], g, k)
    if has_garbage(g) and not math.isfinite(flat @ flat):  # NaN/inf anywhere makes the dot NaN/inf
        zero_garbage(cols, g)
    return cols.reshape(g.groups, K * g.C // g.groups, -1)  # (G, rows, P)


def zero_wrapped(block, geo, k):
    """Zero, in place, the positions of block k of the columns (or of dcols) ``(..., n)`` whose
    read wraps around a row end into the next or previous row (the grid columns outside
    ``keep[k]``; n whole rows of the grid). Those reads stand for padding: zero, as on a padded
    grid. Nothing to do unless the layout wraps (``geo.keep``)."""
    if geo.keep:
        lo, hi = geo.keep[k]
        rows = block.reshape(block.shape[:-1] + (-1, geo.grid[-1]))  # (splits the last axis: a view)
        if lo:
            rows[..., :lo] = 0
        if hi < geo.grid[-1]:
            rows[..., hi:] = 0


def has_garbage(geo):
    """Whether the grid has positions outside the output."""
    return geo.grid != geo.out


def zero_garbage(cols, geo):
    """Zero the garbage positions (past the output on some axis) of columns ``(..., N P_q)``,
    in place, so a NaN or inf read across an edge never meets a zero gradient (see the top)."""
    g = geo
    zero_outside(cols.reshape((-1,) + g.grid), tuple(slice(0, o) for o in g.out))


def _first_garbage(geo):
    """The flat grid position of one garbage position: just past the output on the last axis
    that has garbage."""
    g = geo
    i = max(i for i in range(len(g.grid)) if g.grid[i] > g.out[i])
    return g.out[i] * math.prod(g.grid[i + 1:])


def col2im(dcols, geo, dtype):
    """The adjoint of ``im2col``: add each block back onto the slice it was read from.
    ``dcols`` is ``(G, K C/G, N P_q)``; returns dx ``(N, C, *size)``."""
    g = geo
    block = g.C * g.N * math.prod(g.grid)
    # dcols = W.T @ grad is exactly 0 at every garbage position unless a weight is NaN/inf:
    # one garbage column (the first grid position past the output, image 0) tells.
    if has_garbage(g) and dcols.size:  # (an empty batch has no garbage column to look at)
        if not math.isfinite(dcols.reshape(-1, g.N * math.prod(g.grid))[:, _first_garbage(g)].sum()):
            zero_garbage(dcols, g)
    flat = np.empty(g.length, dcols.dtype)
    dcols = dcols.reshape(g.groups, len(g.starts), -1)
    for k in range(len(g.starts) if g.keep else 0):  # wrapped reads read padding: no gradient
        zero_wrapped(dcols[:, k], g, k)
    # Offset 0 reads the first block (starts[0] == 0): copied, not added onto zeros (one pass less).
    flat[:block].reshape(g.groups, -1)[...] = dcols[:, 0]
    flat[block:] = 0
    for k, start in enumerate(g.starts[1:], 1):
        view = flat[start : start + block].reshape(g.groups, -1)
        view += dcols[:, k]  # a contiguous target: added in place, no temporary
    return from_phases(flat, g, dtype)


def _output_part(geo):
    """The output's positions in the grid ``(O, N, *grid)``."""
    return _ALL2 + tuple(slice(None, o) for o in geo.out)


def output(y, bias, geo):
    """out ``(N, O, *out)`` from the GEMM result y ``(G, O/G, C N P_q)`` plus bias:
    drop the garbage grid positions and put the batch axis first."""
    g = geo
    if bias is not None:  # along y's long contiguous rows: 3x faster than on out
        y += bias.reshape(g.groups, -1, 1)
    out = np.empty((g.N, g.O) + g.out, y.dtype)
    out[...] = y.reshape((g.O, g.N) + g.grid)[_output_part(g)].swapaxes(0, 1)
    return out


def grad_columns(grad, geo):
    """The adjoint of ``output``: grad ``(N, O, *out)`` on the grid, channel-major like y,
    ``(G, O/G, N P_q)``; garbage positions get zero."""
    g = geo
    shape = (g.O, g.N) + g.grid
    small = math.prod(shape) < SMALL
    gq = (np.zeros if small else np.empty)(shape, grad.dtype)
    gq[_output_part(g)] = grad.swapaxes(0, 1)
    if not small:
        zero_outside(gq, tuple(slice(0, o) for o in g.out))  # (the garbage positions)
    return gq.reshape(g.groups, g.O // g.groups, -1)


def weight_rows(weight, geo):
    """The weight as ``(G, O/G, K C/G)`` matrices, rows in the columns' order (kernel offset, c)."""
    g = geo
    Og, Cg, K = g.O // g.groups, g.C // g.groups, math.prod(g.kernel)
    return weight.reshape(g.groups, Og, Cg, K).transpose(0, 1, 3, 2).reshape(g.groups, Og, K * Cg)


def weight_grad(cols, gq, geo):
    """dW ``(O, C/G, *kernel)`` from the columns and gq ``(G, O/G, P)``. Computed as
    dW.T = cols @ grad.T: BLAS runs this orientation faster than grad @ cols.T."""
    g = geo
    Og, Cg, K = g.O // g.groups, g.C // g.groups, math.prod(g.kernel)
    dw = backend.matmul(cols, gq.transpose(0, 2, 1))  # (G, [offset, c], O/G)
    return dw.reshape(g.groups, K, Cg, Og).transpose(0, 3, 2, 1).reshape((g.O, Cg) + g.kernel)


# Above this ratio of grid to output size, the batch-innermost layout wins: a 5x5 'valid'
# conv on 14x14 (1.96x) took 0.56x the time; at 1.27-1.31x it took 1.1-1.5x (fwd + bwd).
GARBAGE_LIMIT = 1.4
# Above this many bytes of columns, with at most this many output channels per group (GEMMs
# bound by memory, not arithmetic), conv_chunked builds and uses the columns in cache-sized
# chunks of pixels instead of streaming the whole matrix through memory. Measured fwd + bwd,
# 3x3 pad 1, one BLAS thread, CPU time: 0.6-0.88x for 16 -> 16 channels at 9.5-600 MB of
# columns (N=1 H=128..1024, N=8-32 H=32-64), 0.89x for 16 -> 32 and 0.97x for 32 -> 32;
# 1.0-1.08x for 64 -> 64 and 1.0-1.14x below 6 MB. With 2 BLAS threads (the default) on the
# idle machine, bench_scale's conv2d 16 -> 16 went 2.84/2.69 -> 2.14/2.30x PyTorch at H=512 and
# 1.15/1.17 -> 0.95/0.91x at H=1024 (603 -> 425 ms), and the 32x32 ResNet epoch 2.09 -> 1.89 s.
# Under heavy load from other jobs each of the chunks' small BLAS calls can wait for a thread
# (~14 ms instead of 0.75 ms), so a loaded machine loses more here than on the one big GEMM.
# It also halves the peak memory (H=512: 242 -> 116 MB).
CHUNK_MIN_BYTES = 32 << 20
CHUNK_MAX_OUT = 32


def layout_of(x, geo):
    """The module holding im2col, weight_rows, output, grad_columns, weight_grad and col2im
    for ``x``'s device and ``geo``: this one (the flat CPU layout), ``conv_batch_inner`` (CPU,
    when most of the flat grid is garbage), ``conv_chunked`` (CPU, large column matrices: these
    steps plus a chunked ``forward``/``backward`` for ConvNd), ``conv_cuda`` (CUDA kernels,
    1-d and 2-d) or ``conv_xp`` (CUDA, 3-d: plain xp code)."""
    if backend.is_cuda(x):
        if len(geo.size) <= 2:
            from . import conv_cuda

            return conv_cuda
        from . import conv_xp

        return conv_xp
    if not geo.keep and math.prod(geo.grid) > GARBAGE_LIMIT * math.prod(geo.out):
        from . import conv_batch_inner

        return conv_batch_inner
    columns = len(geo.starts) * geo.C * geo.N * math.prod(geo.grid) * x.dtype.itemsize
    if columns > CHUNK_MIN_BYTES and geo.O // geo.groups <= CHUNK_MAX_OUT:
        from . import conv_chunked

        return conv_chunked
    return sys.modules[__name__]


def _forward_gemm(x, weight, g):
    """The layout module, the columns ``(G, rows, P)``, the weight rows ``(G, O/G, rows)``
    and the GEMM result ``(G, O/G, P)`` of the conv of x with weight."""
    lay = layout_of(x, g)
    w = lay.weight_rows(weight, g)
    if hasattr(lay, "forward"):  # conv_chunked: no column matrix; "cols" is the flat input
        flat, y = lay.forward(x, w, g)
        return lay, flat, w, y
    cols = lay.im2col(x, g)
    return lay, cols, w, backend.matmul(w, cols)


def _spatial_axes(geo):
    return (0,) + tuple(range(2, 2 + len(geo.size)))


class ConvNd(Op):
    """N-d cross-correlation of ``x (N, C, *size)`` with ``weight (O, C/groups, *kernel)``
    (1-3 spatial axes), plus ``bias (O,)`` if given -> ``(N, O, *out)``. Semantics of
    ``torch.nn.functional.conv1d/2d/3d``:
    ``ConvNd.apply(x, weight[, bias], stride=1, padding=0, dilation=1, groups=1)``."""

    name = "conv"

    def forward(self, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        dtype = self.dtype = np.result_type(x, weight) if bias is None else np.result_type(x, weight, bias)
        g = self.geo = geometry(x, weight, bias, stride, padding, dilation, groups, dtype)
        self.name = op_name(len(g.size))  # graphs and messages say conv1d/2d/3d (the registry: "conv")
        self.layout, cols, w, y = _forward_gemm(backend.cast(x, dtype), backend.cast(weight, dtype), g)
        out = self.layout.output(y, None if bias is None else backend.cast(bias, dtype), g)

        need_x, need_w = self.needs_input_grad[:2]
        self.has_bias = bias is not None
        self.dtypes = (x.dtype, weight.dtype, None if bias is None else bias.dtype)
        self.cols = cols if need_w else None  # kept for dW, then reused for dcols
        self.w = w if need_x else None
        if not need_w and not hasattr(self.layout, "forward"):
            release_columns(cols)
        return out

    def backward(self, grad):
        g, layout = self.geo, self.layout
        need_x, need_w = self.needs_input_grad[:2]
        need_b = self.has_bias and self.needs_input_grad[2]
        gq = layout.grad_columns(backend.cast(grad, self.dtype), g)  # (G, O/G, P)

        dx = dw = db = None
        if need_b:
            db = backend.cast(backend.sum_rows(gq.reshape(g.O, -1)), self.dtypes[2])  # row sums
        if hasattr(layout, "backward"):  # conv_chunked: self.cols is the flat input, columns are rebuilt
            dx, dw = layout.backward(self.cols, self.w, gq, g, need_x, need_w, self.dtypes[0])
            dw = None if dw is None else backend.cast(dw, self.dtypes[1])
        else:
            if need_w:
                dw = backend.cast(layout.weight_grad(self.cols, gq, g), self.dtypes[1])
            if need_x:  # dcols = W.T @ grad, written over the saved columns when there are some
                dcols = backend.matmul(self.w.transpose(0, 2, 1), gq, out=None if self.retained else self.cols)
                dx = layout.col2im(dcols, g, self.dtypes[0])
            if not self.retained:
                release_columns(self.cols)  # (dcols, when written over them, is dead too: dx is a new array)
        if not self.retained:
            self.cols = self.w = None
        return (dx, dw, db) if self.has_bias else (dx, dw)

    def backward_graph(self, grad, out):
        """The three gradients on Tensors, built from registered convs (as PyTorch does), so
        they are differentiable again to any order::

            dx = conv_transpose(grad, W)         (output_padding restores x's size)
            dW = ConvWeightGrad(x, grad)         (the array rule of backward, as its own op)
            db = grad summed over (N, *out)
        """
        g = self.geo
        x, weight = self.parents[0], self.parents[1]
        need_x, need_w = self.needs_input_grad[:2]
        need_b = self.has_bias and self.needs_input_grad[2]
        grad = _as_dtype(grad, self.dtype)
        dx = dw = db = None
        if need_b:
            db = _as_dtype(grad.sum(axis=_spatial_axes(g)), self.dtypes[2])
        if need_w:
            dw = ConvWeightGrad.apply(_as_dtype(x, self.dtype), grad, kernel=g.kernel, **conv_params(g))
            dw = _as_dtype(dw, self.dtypes[1])
        if need_x:
            dx = _as_dtype(input_grad(grad, _as_dtype(weight, self.dtype), g), self.dtypes[0])
        return (dx, dw, db) if self.has_bias else (dx, dw)


def conv_params(geo):
    """The keyword arguments of the conv ``geo`` describes."""
    return dict(stride=geo.stride, padding=geo.padding, dilation=geo.dilation, groups=geo.groups)


def input_grad(grad, weight, geo):
    """The gradient of the conv ``geo`` with respect to its input, on Tensors: the transposed
    conv of grad, with output_padding restoring x's size,
    ``(n + 2 p - span) mod s = n - ((o - 1) s - 2 p + span) < s`` per axis."""
    from .conv_transpose import ConvTransposeNd

    g = geo
    extra = tuple(n + 2 * p - dl * (k - 1) - 1 - (o - 1) * s
                  for n, p, dl, k, o, s in zip(g.size, g.padding, g.dilation, g.kernel, g.out, g.stride))
    return ConvTransposeNd.apply(grad, weight, stride=g.stride, padding=g.padding, output_padding=extra,
                                 groups=g.groups, dilation=g.dilation)


def _pad_to(x, geo):
    """x ``(N, C, *size)`` padded with zeros at the end of each axis to the forward conv's output
    size (larger when a transposed conv's output_padding >= stride: outputs x does not cover)."""
    if tuple(x.shape[2:]) == geo.out:
        return x
    widths = ((0, 0), (0, 0)) + tuple((0, o - n) for o, n in zip(geo.out, x.shape[2:]))
    return backend.xp(x).pad(x, widths)


def zero_past(cols, size, geo, lay):
    """Zero, in place, the columns ``(G, rows, P)`` of the grid positions past ``size`` (a transposed
    conv's input, padded by ``_pad_to`` to the forward conv's output ``geo.out``), when a value
    there is not finite. Those positions of gq are zeros, and a NaN/inf on the other side of a
    GEMM with them makes 0 * inf = NaN where PyTorch has no term at all (it never pads). Only
    called when ``size != geo.out`` (output_padding >= stride) with a non-finite operand: the
    mask costs one gq-sized array."""
    xp = backend.xp(cols)
    inside = xp.zeros((geo.N, geo.O) + geo.out, cols.dtype)
    inside[(slice(None), slice(None)) + tuple(slice(None, n) for n in size)] = 1
    cols[..., lay.grad_columns(inside, geo)[0, 0] == 0] = 0  # (past size, and grid garbage)
    return cols


def _finite(a):
    """Whether every value of a is finite (an overflowing sum only sends finite input down the slow path)."""
    return math.isfinite(a.sum())


def _crop(dx, size):
    """dx ``(N, C, *out)`` cut to x's size: the adjoint of ``_pad_to``."""
    if tuple(dx.shape[2:]) == tuple(size):
        return dx
    return dx[(slice(None), slice(None)) + tuple(slice(None, n) for n in size)]


def _as_dtype(t, dtype):
    return t if t.dtype == dtype else t.to(dtype)


class ConvWeightGrad(Op):
    """The weight gradient of a conv as its own op, so backward(create_graph=True) computes it
    with the fast array rule of the plain backward: x ``(N, C, *size)`` and grad ``(N, O, *out)``
    -> dW ``(O, C/groups, *kernel)``, ``dW[o, c, k] = sum_{n, i} grad[n, o, i] x_pad[n, c', i s + k dl]``.
    grad may be shorter than out on an axis (zero past its end: a transposed conv's input).
    It is bilinear, and its own gradients are convs again (differentiable to any order)::

        d x    = conv_transpose(grad, G_W)     the conv's input gradient with weight G_W
        d grad = conv(x, G_W)                  the conv's forward with weight G_W
    """

    name = "conv_weight_grad"

    def forward(self, x, grad, stride=1, padding=0, dilation=1, groups=1, kernel=None):
        d = x.ndim - 2
        if kernel is None or grad.ndim != x.ndim:
            raise ValueError(f"conv_weight_grad: expected x (N, C, *size), grad (N, O, *out) and kernel "
                             f"(one size per axis), got shapes {x.shape}, {grad.shape} and kernel {kernel!r}")
        kernel = checks.ntuple(kernel, d, "kernel", "conv_weight_grad")
        dtype = np.result_type(x, grad)
        # the weight only gives the geometry its shape: a broadcast view, no memory
        shape = (grad.shape[1], x.shape[1] // max(1, groups)) + kernel
        weight = backend.xp(x).broadcast_to(backend.xp(x).zeros((), dtype), shape)
        g = self.geo = geometry(x, weight, None, stride, padding, dilation, groups, dtype)
        if grad.shape[:2] != (g.N, g.O) or any(n > o for n, o in zip(grad.shape[2:], g.out)):
            raise ValueError(f"conv_weight_grad: grad must have the conv's output shape {(g.N, g.O) + g.out}, "
                             f"got {grad.shape}")
        self.grad_size = tuple(grad.shape[2:])
        lay = self.layout = layout_of(x, g)
        self.dtype, self.dtypes = dtype, (x.dtype, grad.dtype)
        x, grad = backend.cast(x, dtype), backend.cast(grad, dtype)
        self.x = x if self.needs_input_grad[1] else None
        self.gq = lay.grad_columns(_pad_to(grad, g), g)
        cols = lay.im2col(x, g)
        if self.grad_size != g.out and not _finite(x):  # NaN/inf x meets grad's zero padding
            zero_past(cols, self.grad_size, g, lay)
        dw = lay.weight_grad(cols, self.gq, g)
        if not self.needs_input_grad[0]:
            self.gq = None
        return dw

    def backward(self, gw):
        g, lay = self.geo, self.layout
        w = lay.weight_rows(backend.cast(gw, self.dtype), g)  # (G, O/G, rows)
        dx = dgrad = None
        if self.needs_input_grad[0]:  # the conv's input gradient with weight gw
            dcols = backend.matmul(w.transpose(0, 2, 1), self.gq)
            if self.grad_size != g.out and not _finite(gw):  # NaN/inf gw meets grad's zero padding
                zero_past(dcols, self.grad_size, g, lay)
            dx = backend.cast(lay.col2im(dcols, g, self.dtype), self.dtypes[0])
        if self.needs_input_grad[1]:  # the conv's forward with weight gw
            dgrad = _crop(lay.output(backend.matmul(w, lay.im2col(self.x, g)), None, g), self.grad_size)
            dgrad = backend.cast(backend.xp(dgrad).ascontiguousarray(dgrad), self.dtypes[1])
        if not self.retained:
            self.x = self.gq = None
        return dx, dgrad

    def backward_graph(self, gw, out):
        x, grad = self.parents
        need_x, need_grad = self.needs_input_grad
        gw = _as_dtype(gw, grad.dtype)
        dx = _as_dtype(input_grad(grad, gw, self.geo), x.dtype) if need_x else None
        dgrad = None
        if need_grad:
            dgrad = _crop(ConvNd.apply(_as_dtype(x, grad.dtype), gw, **conv_params(self.geo)), self.grad_size)
        return dx, dgrad


Conv2d = ConvNd  # the name of the 2-d op before the N-d machinery
