"""Pooling in 1, 2 and 3 dimensions (avg, max, adaptive, max_unpool), with PyTorch's semantics.

Input ``(N, C, *S)`` or unbatched ``(C, *S)``, S the D spatial sizes; the leading axes are
one batch axis B inside. A window is a box, so every pooling is D one-axis passes: pool
along the last axis, then the one before, ... Each pass is a few array operations per
window TAP (tap a of window i reads input position ``i s - p + a d``), each on a strided
view or a small gather of the whole batch, so time and memory grow with the input (no
dense matrices: the old ``A_h @ x @ A_w.T`` cost H per pixel and spread a NaN to whole
rows). Taps falling in the padding are skipped, not read from a padded copy.

avg:  the window's sum over its divisor. Sum and divisor both factor into axes: the
      divisor is the product of each axis' count (k, less the taps past the right
      padding with ceil_mode, less the padding too when ``count_include_pad=False``),
      or ``divisor_override``. Backward: the adjoint passes (gradients added back at
      the taps), first axis first.
max:  each pass takes the maximum over its taps (a NaN wins) and records the winning
      position: the FIRST maximum, or the LAST NaN, as PyTorch's kernels
      (``val > max || isnan(val)``). Pooling the last axis first makes the chosen pixel
      the first maximum in row-major order, as PyTorch's. A window with no input pixel
      (dilation can skip the input; PyTorch then reads outside the plane) gives -inf,
      index -1, and no gradient. Backward: each pass sends the gradient to its winners.
adaptive: window i of an axis spans ``[floor(i L / O), ceil((i + 1) L / O))``, as PyTorch.
      When O divides L these are ordinary windows (k = s = L / O); otherwise tap a
      gathers position ``min(start_i + a, end_i - 1)`` (a short window repeats its last
      pixel, masked out of sums), and the adjoint gathers the windows holding each pixel.

Speed: where an axis' taps are slices of one stride whose phases ``y[.., r::s]`` all hold
O entries (even sides, the usual case), the passes run on flat contiguous arrays, a tap one
shifted flat slice (``flat_plan``; NumPy is several times slower on strided or row-sliced
views), the padding rows redone after. Average pooling of side-by-side windows (k = s, no
padding) is a reshape, strided sums and a repeat (``block_sizes``). Small adaptive and plain
average pools are dense per-axis matrices of window means (``DENSE_MAX``, ``DENSE_GEMM``); small
max pools copy every window's pixels once as columns and reduce them (``lean_max``). Both only
for finite input: NaN and inf take the passes.

Output size, per axis: ``floor_or_ceil((L + 2p - d (k - 1) - 1) / s) + 1``, rounding up
with ``ceil_mode``, one less if the last window would start past the input and its left
padding (as PyTorch).

On a GPU (CuPy) 2-D avg and max pooling run as one kernel per direction (``pool_cuda.py``);
the rest is this same array code on CuPy. Double backward (``create_graph``): avg as
constant matrices per axis on Tensors; max and max_unpool by the differentiable scatter
(``IndexAdd``) or gather at the winners, which are constants (piecewise constant in x).
"""
import functools
import math
from collections import namedtuple

import numpy as np

from .. import backend, checks
from . import pool_cuda
from .base import Op
from .interpolate import _sum_phases, repeat_along
from .movement import index_add

SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}

# One tap of a pass along an axis: ``out[dst] (op)= y[src]`` along that axis (dst a slice,
# src a slice or an index array). a: the tap's number in its window (what a max pass records
# as the winner; in an adjoint tap, the number the gathered winner must have: an int, or per
# position an array); valid: None, or a bool array over dst, False where a short adaptive
# window repeats its last pixel (or an adjoint tap has no window left).
Tap = namedtuple("Tap", "dst src a valid")
# One spatial axis of a pooling: input and output sizes; the taps (forward) and the adjoint
# taps (``dy[dst] += g[src]``); the divisor of each window (avg); where each window's tap 0
# is and the spacing of its taps (tap a reads ``first + a d``); whether every input pixel is
# in at most one window; the taps of a sum (the taps, or for adaptive windows the unmasked
# taps that each reach some windows); windows: None, or for a few long adaptive windows their
# (start, end), summed one window at a time (one reduction each beats many taps); plan: the
# taps as flat shifted slices (``flat_plan``), or None.
Axis = namedtuple("Axis", "size out taps adjoint divisor first d disjoint sums windows plan", defaults=(None, None))


def out_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size along one axis (see the module docstring)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside
        out -= 1
    return out


def check_input(x, dims, op):
    """``x`` must be ``(N, C, *S)`` or ``(C, *S)`` with D spatial axes."""
    if x.ndim not in (dims + 1, dims + 2):
        raise ValueError(f"{op}: input must be {dims + 2}-D (N, C, {SPATIAL[dims]}) or {dims + 1}-D "
                         f"(C, {SPATIAL[dims]}), got shape {x.shape}")


def _plain(value):
    """An int, None, or a tuple of ints (exactly those types: hashed, they equal no other value)."""
    return value is None or type(value) is int or type(value) is tuple and all(type(v) is int for v in value)


def window_args(x, dims, op, kernel_size, stride, padding, dilation=1, ceil_mode=False):
    """Check a pooling's arguments (raising before any work) -> (k, s, p, d, out) tuples, one entry per axis.
    Plain arguments (``_plain``, a bool ceil_mode) are checked once per geometry (cached)."""
    check_input(x, dims, op)
    args = (x.shape[-dims:], dims, op, kernel_size, stride, padding, dilation, ceil_mode)
    if type(ceil_mode) is bool and all(_plain(a) for a in args[3:7]):
        return _window_geometry(*args)
    return _window_geometry.__wrapped__(*args)


@functools.lru_cache(maxsize=512)  # (a layer pools the same geometry on every call; errors are not cached)
def _window_geometry(size, dims, op, kernel_size, stride, padding, dilation, ceil_mode):
    """``window_args`` for the spatial sizes ``size``."""
    k = checks.ntuple(kernel_size, dims, "kernel_size", op)
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)  # PyTorch's []
    s = k if no_stride else checks.ntuple(stride, dims, "stride", op)
    p = checks.ntuple(padding, dims, "padding", op, minimum=0)
    d = checks.ntuple(dilation, dims, "dilation", op)
    checks.boolean(ceil_mode, "ceil_mode", op)
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError(f"{op}: padding {p} must be at most half the kernel size {k}, "
                         f"i.e. at most {tuple(ki // 2 for ki in k)}")
    out = tuple(out_size(*a, ceil_mode) for a in zip(size, k, s, p, d))
    if min(out) < 1:  # (ceil_mode lets one window run past the input, as PyTorch)
        span = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d))
        dilated = f" (dilated to {span})" if span != k else ""
        raise ValueError(f"{op}: kernel {k}{dilated} is larger than the padded input "
                         f"{tuple(n + 2 * pi for n, pi in zip(size, p))} (input {size}, padding {p}): output size {out}")
    return k, s, p, d, out


@functools.lru_cache(maxsize=512)  # (the geometry of one layer is rebuilt on every call otherwise)
def regular_axis(size, k, s, p, d, out, include_pad=True):
    """The taps of windows ``i s - p + a d`` (a < k), each a strided slice; divisor as avg_pool's."""
    taps, adjoint = [], []
    for a in range(k):
        off = a * d - p  # tap a of window i reads i s + off: valid for i in [i0, i1)
        i0, i1 = max(0, -(off // s)), min(out, (size - 1 - off) // s + 1)
        if i0 < i1:
            read = slice(i0 * s + off, (i1 - 1) * s + off + 1, s)
            taps.append(Tap(slice(i0, i1), read, a, None))
            adjoint.append(Tap(read, slice(i0, i1), a, None))
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)  # (the divisor of avg, which has no dilation)
    divisor = end - start if include_pad else np.minimum(end, size) - np.maximum(start, 0)
    return Axis(size, out, taps, adjoint, divisor, start, d, (k - 1) * d < s, taps, plan=flat_plan(size, taps, out))


@functools.lru_cache(maxsize=512)
def adaptive_axis(size, out):
    """PyTorch's adaptive windows ``[floor(i L / O), ceil((i + 1) L / O))`` along one axis."""
    start = np.arange(out) * size // out
    end = -(-(np.arange(out) + 1) * size // out)
    long = list(zip(start.tolist(), end.tolist())) if out < int((end - start).max()) else None
    if size % out == 0:  # equal windows side by side: strided slices
        return regular_axis(size, size // out, size // out, 0, 1, out)._replace(windows=long)
    taps = []
    for a in range(int((end - start).max())):
        valid = start + a < end
        taps.append(Tap(slice(None), np.minimum(start + a, end - 1), a, None if valid.all() else valid))
    adjoint, sums = [], taps
    if out <= size:  # windows start at distinct pixels: tap a of the windows it reaches, and swapped
        reach = [np.nonzero(start + a < end)[0] for a in range(len(taps))]
        sums = [Tap(w, start[w] + a, a, None) for a, w in enumerate(reach)]
        adjoint = [Tap(start[w] + a, w, a, None) for a, w in enumerate(reach)]
    else:  # pixel r is in windows [first_r, last_r]: gather them one by one, each with the tap number r is in it
        r = np.arange(size)
        first = np.searchsorted(end, r, side="right")  # the first window ending after r
        last = np.searchsorted(start, r, side="right") - 1  # the last window starting at or before r
        for b in range(int((last - first).max()) + 1):
            valid = first + b <= last
            window = np.minimum(first + b, last)
            adjoint.append(Tap(slice(None), window, r - start[window], None if valid.all() else valid))
    return Axis(size, out, taps, adjoint, end - start, start, 1, False, sums, long)


# ----- the one-axis passes, on y (B, ..., L, ...) with the axis at ``ax`` -------------------
def _at(ax, index):
    return (slice(None),) * ax + (index,)


def _on(v, y):
    """The host array v on y's device (v itself on the CPU)."""
    return backend.like(v, y) if backend.is_cuda(y) else v


def _line(v, ax, y):
    """A 1-D array along axis ``ax`` of y, as an array of y's device that broadcasts against it."""
    return _on(v, y).reshape((-1,) + (1,) * (y.ndim - ax - 1))


def _read(y, ax, tap):
    """y at the tap's source along axis ax: a strided view, or a gather (``take``: several
    times faster than fancy indexing along the last axis)."""
    if isinstance(tap.src, slice):
        return y[_at(ax, tap.src)]
    return y.take(_on(tap.src, y), axis=ax)


def _copied(y, ax, tap):
    """``_read`` as a new array (a gather is one already)."""
    v = _read(y, ax, tap)
    return v.copy() if isinstance(tap.src, slice) else v


def _resized(y, ax, n):
    return y.shape[:ax] + (n,) + y.shape[ax + 1:]


def _covers(tap, n_out):
    """Does the tap write every output of the pass, unmasked?"""
    return tap.valid is None and isinstance(tap.dst, slice) and tap.dst.indices(n_out) == (0, n_out, 1)


def _finite(y):
    """Is every value of y finite? (One fast reduction: y's dot product with itself, a BLAS
    call about twice as fast as a sum, NaN or inf where a value is; one that overflows says
    no, which only sends the caller down its exact path.)"""
    flat = y.reshape(-1)
    return bool(backend.xp(y).isfinite(flat.dot(flat)))


def _has_nan(y):
    """Does y hold a NaN? (``_finite`` first: one fast reduction where every value is finite.)"""
    return not _finite(y) and bool(backend.xp(y).isnan(y.max()))


def pass_sum(y, ax, taps, n_out, winner=None, disjoint=False):
    """``out[i] = sum of y over the taps of window i`` along axis ax. With ``winner`` (the
    adjoint of a max pass): only where the winner gathered there is the tap's number
    (``disjoint``: each output is written by one tap at most, so written, not added)."""
    xp = backend.xp(y)
    masked = winner is not None or any(t.valid is not None for t in taps)
    # a mask multiplies (fast), unless y holds inf or NaN: 0 * inf is NaN, so then select
    exact = masked and not _finite(y)
    full = None if masked else next((t for t in taps if _covers(t, n_out)), None)
    out = xp.zeros(_resized(y, ax, n_out), y.dtype) if full is None else _copied(y, ax, full)
    for tap in taps:
        if tap is full:
            continue
        dst = _at(ax, tap.dst if isinstance(tap.dst, slice) else _on(tap.dst, y))
        v = _read(y, ax, tap)
        keep = None if tap.valid is None else _line(tap.valid, ax, y)
        if winner is not None:
            hit = _read(winner, ax, tap) == (tap.a if isinstance(tap.a, int) else _line(tap.a, ax, y))
            keep = hit if keep is None else hit & keep
        if keep is not None:
            v = backend.where(keep, v, 0) if exact else v * keep
        if disjoint:
            out[dst] = v
        else:
            out[dst] += v
    return out


# ----- flat passes: the common case of max pooling, every large array operation on a flat,
# contiguous array. NumPy runs a ufunc several times slower on strided or row-sliced views (one
# short inner loop per row) than on one contiguous run, so y is viewed as ``(A, L, Z)`` around the
# pooled axis, each phase ``y[:, r::s]`` it reads is made contiguous once (no copy with s = 1), and
# when every phase has n_out entries along the axis, tap a (reading phase r at window i + q) is
# ONE flat slice shifted by ``q Z``. The rows where a tap has no pixel read a neighbouring block
# there; they are few (the padding) and are fixed after, one row at a time.
Shift = namedtuple("Shift", "r q lo hi")  # tap reads phase r at window i + q, for windows lo <= i < hi
FLAT_MIN = 1 << 15  # below this many values the strided views need fewer calls (measured), unless
#                     a max pass has shifted taps (its flat winners are then still faster)


def _flat(plan, y, shifted_helps=False):
    """Whether a pass over y takes its flat plan (see FLAT_MIN)."""
    return plan is not None and (y.size >= FLAT_MIN or shifted_helps and any(sh.q for sh in plan))


def flat_plan(size, taps, n_out):
    """Per tap its Shift, when the flat passes apply (slice taps of one step, every phase read
    holding n_out entries); else None."""
    if not taps or any(not isinstance(t.src, slice) or t.valid is not None or t.src.step != taps[0].src.step
                       for t in taps):
        return None
    s, plan = taps[0].src.step, []
    for t in taps:
        if len(range(t.src.start % s, size, s)) != n_out:
            return None
        lo, hi, _ = t.dst.indices(n_out)
        plan.append(Shift(t.src.start % s, t.src.start // s - lo, lo, hi))
    return tuple(plan)  # (hashable: _bad_rows caches on it)


def _blocks(y, ax):
    """y as ``(A, L, Z)`` around axis ax, contiguous."""
    return backend.xp(y).ascontiguousarray(y).reshape(math.prod(y.shape[:ax]), y.shape[ax], math.prod(y.shape[ax + 1:]))


@functools.lru_cache(maxsize=1024)  # (a dozen calls per pooling: their Python adds up at small sizes)
def _shifted(n, k):
    """(dst, src) flat slices of n entries with ``src = dst + k``, both inside [0, n)."""
    return slice(max(0, -k), n - max(0, k)), slice(max(0, k), n - max(0, -k))


@functools.lru_cache(maxsize=512)
def _bad_rows(plan, n_out):
    """The windows where some tap has no pixel, each with the Shifts of its taps that have one."""
    rows = sorted({i for sh in plan for i in [*range(sh.lo), *range(sh.hi, n_out)]})
    return tuple((i, tuple(sh for sh in plan if sh.lo <= i < sh.hi)) for i in rows)


def _phases(y, ax, plan, step):
    """(y3, phase, flat): y as ``(A, L, Z)``, and each phase r the plan reads as a contiguous
    ``(A, n_out, Z)`` array and flat."""
    xp, y3 = backend.xp(y), _blocks(y, ax)
    phase = {r: y3 if step == 1 else xp.ascontiguousarray(y3[:, r::step]) for r in sorted({sh.r for sh in plan})}
    return y3, phase, {r: ph.reshape(-1) for r, ph in phase.items()}


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min  # (integer input: forward only)


def _interleave(parts, shape, step, dtype, xp):
    """The ``(A, L, Z)`` array whose phase r is ``parts[r]`` (flat), zero where no part is."""
    if step == 1:
        return parts[0].reshape(shape)
    dx3 = (xp.empty if len(parts) == step else xp.zeros)(shape, dtype)
    for r, part in parts.items():
        dx3[:, r::step] = part.reshape(dx3[:, r::step].shape)
    return dx3


def flat_sum(y, ax, taps, n_out, plan):
    """``pass_sum`` of unmasked taps by flat slices (see ``flat_plan``)."""
    xp, step = backend.xp(y), taps[0].src.step
    if all(sh.q == 0 for sh in plan):  # windows side by side (k = s): each phase read once, as it is
        y3 = _blocks(y, ax)
        out = y3[:, plan[0].r::step].copy() if len(plan) == 1 else xp.add(y3[:, plan[0].r::step], y3[:, plan[1].r::step])
        for sh in plan[2:]:
            out += y3[:, sh.r::step]
        return out.reshape(_resized(y, ax, n_out))
    y3, phase, flat = _phases(y, ax, plan, taps[0].src.step)
    n, z = y3.shape[0] * n_out * y3.shape[2], y3.shape[2]
    order = sorted(plan, key=lambda sh: sh.q != 0)
    out = flat[order[0].r].copy() if order[0].q == 0 else xp.zeros(n, y.dtype)
    for sh in order[1:] if order[0].q == 0 else order:
        dst, src = _shifted(n, sh.q * z)
        out[dst] += flat[sh.r][src]
    out3 = out.reshape(y3.shape[0], n_out, z)
    for i, present in _bad_rows(plan, n_out):  # the sum over the taps that have a pixel there
        out3[:, i] = 0
        for sh in present:
            out3[:, i] += phase[sh.r][:, i + sh.q]
    return out.reshape(_resized(y, ax, n_out))


def flat_sum_adjoint(g, ax, axis, plan):
    """The adjoint of ``flat_sum``: per phase, g shifted back to where each tap read; the rows a
    shifted slice wrapped into (from a neighbouring block) are summed again, one at a time."""
    xp, g3, step = backend.xp(g), _blocks(g, ax), axis.taps[0].src.step
    g1, n, z, n_out = g3.reshape(-1), g3.size, g3.shape[2], g3.shape[1]
    parts, wrapped = {}, {}
    if step > 1 and all(sh.q == 0 for sh in plan):  # windows side by side: g to each phase (written into dx)
        parts = {sh.r: g1 for sh in plan}
    for sh in sorted(plan, key=lambda sh: sh.q != 0) if not parts else ():
        if sh.r not in parts:
            parts[sh.r] = g1.copy() if sh.q == 0 else xp.zeros(n, g.dtype)
            if sh.q == 0:
                continue
        dst, src = _shifted(n, sh.q * z)
        parts[sh.r][src] += g1[dst]
        wrapped.setdefault(sh.r, set()).update(range(n_out + sh.q, n_out) if sh.q < 0 else range(sh.q))
    for r, rows in wrapped.items():
        part3 = parts[r].reshape(g3.shape)
        for j in rows:
            part3[:, j] = 0
            for sh in plan:
                if sh.r == r and sh.lo <= j - sh.q < sh.hi:
                    part3[:, j] += g3[:, j - sh.q]
    return _interleave(parts, (g3.shape[0], axis.size, z), step, g.dtype, xp).reshape(_resized(g, ax, axis.size))


def flat_max(y, ax, taps, n_out, plan, want_winner):
    """``pass_max`` by flat slices (see ``flat_plan``)."""
    xp = backend.xp(y)
    y3, phase, flat = _phases(y, ax, plan, taps[0].src.step)
    n, z, shape = y3.shape[0] * n_out * y3.shape[2], y3.shape[2], _resized(y, ax, n_out)
    full = next((j for j, sh in enumerate(plan) if sh.q == 0), None)
    out = flat[plan[full].r].copy() if full is not None else xp.full(n, _lowest(y.dtype), y.dtype)
    for j, sh in enumerate(plan):
        if j != full:
            dst, src = _shifted(n, sh.q * z)
            xp.maximum(out[dst], flat[sh.r][src], out=out[dst])
    out3 = out.reshape(y3.shape[0], n_out, z)
    for i, present in _bad_rows(plan, n_out):  # the maximum over the taps that have a pixel there
        row = out3[:, i]  # (written in place, in the taps' order, as the flat pass above)
        if not present:
            row[...] = _lowest(y.dtype)
        elif len(present) == 1:
            row[...] = phase[present[0].r][:, i + present[0].q]
        else:
            xp.maximum(phase[present[0].r][:, i + present[0].q], phase[present[1].r][:, i + present[1].q], out=row)
        for sh in present[2:]:
            xp.maximum(row, phase[sh.r][:, i + sh.q], out=row)
    if not want_winner:
        return out.reshape(shape), None
    # the first tap equal to the maximum, by arithmetic on masks (NumPy's where/copyto/putmask
    # are several times slower): ``missed`` says taps 0..j all missed, and each j where it holds
    # adds the step to the next tap's number. A window whose taps before the last all miss takes
    # the last: it holds the maximum, unless the window is a NaN one (redone below) or has no
    # pixel (-1, set after)
    dtype = np.int8 if taps[-1].a < 127 else np.int32
    as_int = (lambda b: b.view(dtype)) if dtype == np.int8 else (lambda b: b)
    missed, miss, acc = xp.empty(n, bool), xp.empty(n, bool), None
    for j in range(len(taps) - 1):
        sh, step = plan[j], dtype(taps[j + 1].a - taps[j].a)
        m = missed if j == 0 else miss
        dst, src = _shifted(n, sh.q * z)
        xp.not_equal(flat[sh.r][src], out[dst], out=m[dst])
        m3 = m.reshape(out3.shape)
        if sh.lo:  # (no pixel there: no hit)
            m3[:, :sh.lo] = True
        if sh.hi < n_out:
            m3[:, sh.hi:] = True
        if j == 0:
            acc = xp.multiply(as_int(missed), step, dtype=dtype)
            continue
        missed &= miss
        acc += as_int(missed) if step == 1 else as_int(missed) * step
    acc = xp.zeros(n, dtype) if acc is None else acc
    if taps[0].a:
        acc += dtype(taps[0].a)
    for i, present in _bad_rows(plan, n_out):
        if not present:
            acc.reshape(out3.shape)[:, i] = -1
    if n and _has_nan(out):  # rare: NaN windows take their LAST NaN, as PyTorch
        w3 = acc.reshape(out3.shape)
        for tap, sh in zip(taps, plan):
            nan = xp.isnan(phase[sh.r][:, sh.lo + sh.q:sh.hi + sh.q])
            w3[:, sh.lo:sh.hi] = backend.where(nan, tap.a, w3[:, sh.lo:sh.hi])
    return out.reshape(shape), acc.reshape(shape)


def flat_unmax(g, ax, axis, plan, winner):
    """The adjoint of ``flat_max``: per phase, the flat gradient shifted back to where each tap
    read (a window's gradient only at its winning tap), then the phases interleaved once."""
    xp, g3, s = backend.xp(g), _blocks(g, ax), axis.taps[0].src.step
    g1, w1, n, z = g3.reshape(-1), winner.reshape(-1), g3.size, g3.shape[2]
    exact = not _finite(g1)  # (0 * inf is NaN: select instead of multiplying)
    parts = {}
    for tap, sh in sorted(zip(axis.taps, plan), key=lambda ts: ts[1].q != 0):  # (unshifted first: no zeros)
        hit = w1 == tap.a  # (never at a tap without a pixel: its gradient there is 0)
        v = backend.where(hit, g1, 0) if exact else g1 * hit
        if sh.r not in parts and sh.q == 0:
            parts[sh.r] = v
            continue
        if sh.r not in parts:
            parts[sh.r] = xp.zeros(n, g.dtype)
        dst, src = _shifted(n, sh.q * z)
        parts[sh.r][src] += v[dst]
    return _interleave(parts, (g3.shape[0], axis.size, z), s, g.dtype, xp).reshape(_resized(g, ax, axis.size))


def pass_max(y, ax, taps, n_out, want_winner):
    """(out, winner): the maximum over each window's taps along axis ax (a NaN wins), and with
    ``want_winner`` the winning tap's number (int8, -1 for a window without pixels)."""
    xp = backend.xp(y)
    full = next((t for t in taps if _covers(t, n_out)), None)
    lowest = -np.inf if y.dtype.kind == "f" else np.iinfo(y.dtype).min  # (integer input: forward only)
    out = xp.full(_resized(y, ax, n_out), lowest, y.dtype) if full is None else _copied(y, ax, full)
    for tap in taps:  # (a repeated last pixel changes nothing)
        if tap is not full:  # NumPy's maximum is many times slower on strided operands: copy first
            view = out[_at(ax, tap.dst)]
            xp.maximum(view, xp.ascontiguousarray(_read(y, ax, tap)), out=view)
    if not want_winner:
        return out, None
    if not taps:  # (dilation can make every window miss the input)
        return out, xp.full(out.shape, -1, np.int8)
    # the first tap equal to the maximum, as in flat_max, on the strided views
    dtype = np.int8 if taps[-1].a < 127 else np.int32
    winner, miss = xp.full(out.shape, -1 - taps[-1].a, dtype), xp.empty(out.shape, bool)
    for j in reversed(range(len(taps))):
        tap, dst = taps[j], _at(ax, taps[j].dst)
        if j + 1 < len(taps):
            winner += dtype(taps[j + 1].a - tap.a)
        m = miss[dst]
        xp.not_equal(_read(y, ax, tap), out[dst], out=m)
        if tap.valid is not None:  # a short window's repeated last pixel is no hit
            m |= ~_line(tap.valid, ax, y)
        w = winner[dst]
        xp.multiply(w, m.view(dtype) if dtype == np.int8 else m, out=w)
    winner += dtype(taps[0].a)
    if out.size and _has_nan(out):  # rare: NaN windows take their LAST NaN, as PyTorch
        for tap in taps:
            dst = _at(ax, tap.dst)
            nan = xp.isnan(_read(y, ax, tap))
            if tap.valid is not None:
                nan &= _line(tap.valid, ax, y)
            winner[dst] = backend.where(nan, tap.a, winner[dst])
    return out, winner


def pass_unmax(g, ax, axis, winner):
    """The adjoint of a max pass along ``axis`` (an Axis): each window's gradient to its winner."""
    if not _flat(axis.plan, g, shifted_helps=True):
        return pass_sum(g, ax, axis.adjoint, axis.size, winner, axis.disjoint)
    return flat_unmax(g, ax, axis, axis.plan, winner)


# ----- small max pooling: window columns. Below LEAN_MAX values the passes' many small array
# operations (phases made contiguous, masks, interleaving) cost more than the work; instead x
# is padded with -inf once, copied as ``(K, windows)`` columns (K = prod(k) taps, one strided
# copy), and reduced along the taps; the gradient is one bincount at the winners. Only for
# finite float input without dilation: every window then holds a pixel larger than the
# padding, so the first tap equal to the maximum is PyTorch's first maximum (NaN and inf take
# the passes, which follow PyTorch's rules for them).
# Measured (loaded 2-core machine, (2, 8, H, H) float32, forward+backward of the op, time over
# the passes'): k3 s2 p1 0.67 at H=16, 0.77 at 32, 0.84 at 64, 1.04 at 96, 1.31 at 128; k2 0.76
# at 32, 0.97 at 64; k3 s1 p1 0.91 at 32, 0.98 at 48, 1.20 at 64 (9x more columns than input).
LEAN_MAX, LEAN_COLUMNS = 1 << 16, 1 << 18  # at most this many input values and column entries


def lean_pays(x, k, d, out):
    """Whether max pooling batched x (kernel k, dilation d, output sizes out) takes the window
    columns (LEAN_MAX, LEAN_COLUMNS)."""
    return (0 < x.size <= LEAN_MAX and math.prod(k) * x.shape[0] * math.prod(out) <= LEAN_COLUMNS
            and x.dtype in (np.float32, np.float64) and not backend.is_cuda(x)
            and max(d) == 1 and math.prod(k) < 127 and _finite(x))


@functools.lru_cache(maxsize=256)
def _lean_geometry(sizes, k, s, p, out):
    """(pads, offsets, first): per axis the (left, right) padding reaching every window's end;
    per tap (row-major) its offset in the flat plane; per window (flat) its tap 0's flat position."""
    pads = tuple((pi, max(pi, (o - 1) * si + ki - n - pi)) for n, ki, si, pi, o in zip(sizes, k, s, p, out))
    strides = np.cumprod((1,) + sizes[:0:-1])[::-1]  # (the plane's row-major strides)
    offsets, first = np.zeros((), np.int64), np.zeros((), np.int64)
    for ki, si, pi, o, st in zip(k, s, p, out, strides):
        offsets = np.add.outer(offsets, np.arange(ki) * st)
        first = np.add.outer(first, (np.arange(o) * si - pi) * st)
    return pads, offsets.ravel(), first.ravel()


def lean_max(x, k, s, p, out, want_index):
    """(y ``(B, *out)``, index) of max pooling batched x (``lean_pays``): index ``(B, *out)`` int64,
    each window's first maximum as a flat position in its plane (as ``max_pool_indices``), or None."""
    xp, B, sizes = backend.xp(x), x.shape[0], x.shape[1:]
    pads, offsets, first = _lean_geometry(sizes, k, s, p, out)
    padded = xp.full((B,) + tuple(n + l + r for n, (l, r) in zip(sizes, pads)), -np.inf, x.dtype)
    padded[(slice(None),) + tuple(slice(l, l + n) for n, (l, _) in zip(sizes, pads))] = x
    st = padded.strides
    cols = xp.lib.stride_tricks.as_strided(  # (k_0, .., k_{D-1}, B, O_0, ..): a view, copied once here
        padded, k + (B,) + out, st[1:] + st[:1] + tuple(t * si for t, si in zip(st[1:], s)), writeable=False)
    cols = cols.reshape(math.prod(k), -1)
    y = cols.max(axis=0)
    if not want_index:
        return y.reshape((B,) + out), None
    # the first tap equal to the maximum: K - (the largest K - tap over the taps equal to it)
    hit = (cols == y).view(np.int8)
    hit *= _on(np.arange(len(cols), 0, -1, dtype=np.int8)[:, None], x)
    tap = len(cols) - hit.max(axis=0).astype(np.intp)
    index = _on(offsets, x).take(tap).reshape(B, -1) + _on(first, x)
    return y.reshape((B,) + out), index.reshape((B,) + out)


def scatter_at(grad, index, shape):
    """dx of a max pooling: each window's gradient added at its winner (``index``: flat positions
    in planes of ``prod(shape[-D:])`` pixels, ``(B, *O)``): one bincount, as PyTorch's sums."""
    xp, B, plane = backend.xp(grad), index.shape[0], math.prod(shape[len(shape) - index.ndim + 1:])
    flat = index + (xp.arange(B) * plane).reshape((-1,) + (1,) * (index.ndim - 1))
    dx = xp.bincount(flat.ravel(), weights=grad.ravel(), minlength=B * plane)
    return dx.astype(grad.dtype, copy=False).reshape(shape)


def batched(x, dims):
    """x as ``(B, *S)``: every axis before the spatial ones is batch."""
    return x.reshape((-1,) + x.shape[-dims:])


def flat_winners(winners, axes):
    """Each window's winning pixel as a flat position in its plane of ``prod(S)`` pixels (-1 for
    none), from the per-axis winning taps ``winners[m]``, shaped ``(B, L_0..L_{m-1}, O_m..O_{D-1})``."""
    xp = backend.xp(winners[0])
    outs = tuple(a.out for a in axes)
    flat, none = None, None
    for m, a in enumerate(axes):
        w = winners[m]
        if m:  # the winner of axis m at the rows chosen along the axes before it
            rows, batch = int(np.prod([b.size for b in axes[:m]])), flat.shape[0]
            at = xp.clip(flat, 0, rows - 1).reshape((batch, -1) + outs[m:])
            w = xp.take_along_axis(w.reshape((batch, rows) + outs[m:]), at, axis=1).reshape(flat.shape)
        pos = _line(a.first, m + 1, w) + w.astype(np.int64) * a.d
        none = w < 0 if none is None else none | (w < 0)
        flat = pos if flat is None else flat * a.size + pos
    return backend.where(none, -1, flat)


def pool_max(x, axes, want_winners):
    """(out, per-axis winning taps or None) of max pooling batched x along ``axes``, the last
    axis first (so the first maximum in row-major order wins)."""
    y, winners = x, []
    for m in reversed(range(len(axes))):
        a = axes[m]
        if _flat(a.plan, y, shifted_helps=True):
            y, w = flat_max(y, m + 1, a.taps, a.out, a.plan, want_winners)
        else:
            y, w = pass_max(y, m + 1, a.taps, a.out, want_winners)
        winners.insert(0, w)
    return y, (winners if want_winners else None)


def unpool_max(grad, axes, winners):
    """The gradient of ``pool_max``: each pass sends its gradient to its winners (first axis first)."""
    for m, a in enumerate(axes):
        grad = pass_unmax(grad, m + 1, a, winners[m])
    return grad


def divisor_grid(axes, dtype, like, override=None):
    """The divisor of every window, ``(O_0, ..., O_{D-1})`` (or the ``override`` number)."""
    if override is not None:
        return override
    grid = _divisor_grid(tuple(a.divisor.tobytes() for a in axes), np.dtype(dtype))
    return backend.like(grid, like) if backend.is_cuda(like) else grid


@functools.lru_cache(maxsize=256)  # (built on every call otherwise: several calls' worth at small sizes)
def _divisor_grid(divisors, dtype):
    """``divisor_grid`` of the per-axis int64 divisors given as bytes; read-only (shared)."""
    grid = np.ones((), np.int64)
    for d in divisors:
        grid = np.multiply.outer(grid, np.frombuffer(d, np.int64))
    grid = grid.astype(dtype)
    grid.setflags(write=False)
    return grid


def window_matrices(axes):
    """Per axis, the ``(O, L)`` 0/1 matrix of which pixels each window holds."""
    mats = []
    for a in axes:
        M = np.zeros((a.out, a.size))
        for tap in a.taps:
            windows = np.arange(a.out)[tap.dst]
            keep = slice(None) if tap.valid is None else tap.valid
            M[windows[keep], np.arange(a.size)[tap.src][keep]] = 1
        mats.append(M)
    return mats


class _Pool:
    """What the pooling ops share (mixed into each Op): D spatial axes, batched input."""

    dims = 2

    def unbatch(self, x, y):
        """y ``(B, *O)`` shaped as x's leading axes followed by the output's spatial ones."""
        return y.reshape(x.shape[:-self.dims] + y.shape[1:])


class _AvgPool(_Pool):
    def forward(self, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None):
        op = self.name
        k, s, p, _, out = window_args(x, self.dims, op, kernel_size, stride, padding, 1, ceil_mode)
        self.include_pad = checks.boolean(count_include_pad, "count_include_pad", op)
        if divisor_override is not None:
            divisor_override = checks.integer(divisor_override, "divisor_override", op, minimum=1)
        self.override, self.shape = divisor_override, x.shape
        self.axes = [regular_axis(*a, self.include_pad) for a in zip(x.shape[-self.dims:], k, s, p, (1,) * self.dims, out)]
        if backend.is_cuda(x) and self.dims == 2 and divisor_override is None:
            self.cuda = (k, s, p)
            xb = batched(x, 2)[:, None]
            return self.unbatch(x, pool_cuda.avg_pool2d(xb, k, s, p, out, self.include_pad)[:, 0])
        xb, self.mats = batched(x, self.dims), None
        if divisor_override is None and x.dtype in (np.float32, np.float64) and _dense_pays(self.axes) \
                and xb.size * out[-1] <= DENSE_GEMM and block_sizes(self.axes) is None:  # small: matrices
            self.mats = [avg_matrix(*a, self.include_pad, x.dtype) for a in zip(x.shape[-self.dims:], k, s, p, out)]
            y = dense_finite(xb, self.mats)
            if y is not None:
                return self.unbatch(x, y)
        return self.unbatch(x, avg(xb, self.axes, self.override))

    def backward(self, grad):
        if getattr(self, "cuda", None) and backend.is_cuda(grad):
            k, s, p = self.cuda
            g = batched(grad, 2)[:, None]
            dx = pool_cuda.avg_pool2d_backward(g, g.shape[:2] + self.shape[-2:], k, s, p, self.include_pad)
            return (dx.reshape(self.shape),)
        dx = None if self.mats is None else dense_finite(batched(grad, self.dims), [M.T for M in self.mats])
        if dx is not None:
            return (dx.reshape(self.shape),)
        g = batched(grad, self.dims) / divisor_grid(self.axes, grad.dtype, grad, self.override)
        return (avg_adjoint(g, self.axes).reshape(self.shape),)

    def backward_graph(self, grad, out):
        divisor = divisor_grid(self.axes, grad.dtype, grad.array, self.override)
        return (linear_graph(grad / divisor, window_matrices(self.axes), self.dims),)


def _is_global(axes):
    """Whether every axis is pooled by one window covering all of it (adaptive output 1)."""
    return all(a.windows is not None and len(a.windows) == 1 and tuple(a.windows[0]) == (0, a.size) for a in axes)


BLOCK_MAX = 16  # block pooling (see block_sizes) up to this k: k array operations per axis


def block_sizes(axes):
    """Per axis its k when every axis' windows are k side-by-side pixels covering it exactly
    (k = s <= BLOCK_MAX, no padding, no dilation; not long adaptive windows), else None: y is then ``(B, O_0, k_0, O_1,
    k_1, ...)`` by a reshape, its window sums strided sums over the k axes and their adjoint a
    repeat (a few array operations, none of the passes' per-tap work)."""
    ks = []
    for a in axes:
        k = len(a.taps)
        if a.windows or a.d != 1 or k > BLOCK_MAX or a.size != a.out * k or a.plan is None \
                or any(sh.q or sh.r != j for j, sh in enumerate(a.plan)):
            return None
        ks.append(k)
    return ks


def block_sum(y, axes, ks):
    """The window sums of batched y by blocks (``block_sizes``), the first axis first (as the passes)."""
    y = y.reshape((y.shape[0],) + tuple(n for a, k in zip(axes, ks) for n in (a.out, k)))
    for m, k in enumerate(ks):  # (axis m's k is at m + 2: the k axes before it are summed away)
        y = y[_at(m + 2, 0)] if k == 1 else _sum_phases(y, m + 1)
    return y.copy() if max(ks) == 1 else y  # (a new array: avg divides it in place)


def block_adjoint(g, ks):
    """The adjoint of ``block_sum``: each window's value repeated over its k pixels per axis."""
    for m, k in enumerate(ks):
        g = g if k == 1 else repeat_along(g, k, m + 1)
    return g


def avg(y, axes, override=None):
    """The window means of batched y: sums along each axis, over the divisors. The first axis
    first: the last axis (strided views, gathers along rows) then runs on the smallest array."""
    ks = block_sizes(axes)
    if ks is not None:
        y = block_sum(y, axes, ks)
        y /= divisor_grid(axes, y.dtype, y, override)
        return y
    if _is_global(axes):  # one window per axis (global pooling): one matrix-vector product, no passes
        xp, flat = backend.xp(y), y.reshape(y.shape[0], -1)
        y = (flat @ xp.ones(flat.shape[1], flat.dtype)).reshape((y.shape[0],) + (1,) * len(axes))
        y /= divisor_grid(axes, y.dtype, y, override)
        return y
    for m, a in enumerate(axes):
        if a.windows:
            y = backend.xp(y).stack([y[_at(m + 1, slice(*w))].sum(axis=m + 1) for w in a.windows], axis=m + 1)
        else:
            plan = a.plan if _flat(a.plan, y) else None
            y = pass_sum(y, m + 1, a.sums, a.out) if plan is None else flat_sum(y, m + 1, a.sums, a.out, plan)
    y /= divisor_grid(axes, y.dtype, y, override)
    return y


def avg_adjoint(g, axes):
    """The adjoint of ``avg``'s sums (g already over the divisors): the last axis first."""
    ks = block_sizes(axes)
    if ks is not None:
        return block_adjoint(g, ks)
    if _is_global(axes):  # every pixel gets its plane's gradient
        sizes = tuple(a.size for a in axes)
        n = g.shape[0]
        return backend.xp(g).repeat(g.reshape(n, 1), math.prod(sizes), axis=1).reshape((n,) + sizes)
    for m in reversed(range(len(axes))):
        a = axes[m]
        if a.windows:  # each window's gradient added over its pixels
            dy = backend.xp(g).zeros(_resized(g, m + 1, a.size), g.dtype)
            for i, w in enumerate(a.windows):
                dy[_at(m + 1, slice(*w))] += g[_at(m + 1, slice(i, i + 1))]
            g = dy
        else:
            plan = a.plan if _flat(a.plan, g) else None
            g = pass_sum(g, m + 1, a.adjoint, a.size) if plan is None else flat_sum_adjoint(g, m + 1, a, plan)
    return g


def linear_graph(grad, mats, dims):
    """``dx`` of a pooling linear in x on Tensors (create_graph): ``grad`` times each axis'
    ``(O, L)`` matrix along that axis, the matrices constants."""
    for m, M in enumerate(mats):
        ax = grad.ndim - dims + m
        M = grad._wrap(backend.like(M.astype(grad.array.dtype), grad.array))
        grad = (grad.transpose(ax, -1) @ M).transpose(ax, -1)
    return grad


def scatter_graph(grad, index, plane, shape):
    """dx of max pooling on Tensors (create_graph): each window's gradient added at its winner
    (``index``: flat positions in planes of ``plane`` pixels, -1 for none) by the recorded scatter
    ``IndexAdd``, whose backward gathers there. Returns a Tensor of ``shape``."""
    xp = backend.xp(index)
    B = index.shape[0]
    index = backend.where(index < 0, plane, index)  # no winner: into a spare slot, dropped below
    flat = (index + (xp.arange(B, dtype=index.dtype) * (plane + 1)).reshape((B,) + (1,) * (index.ndim - 1))).ravel()
    target = backend.zeros((B * (plane + 1),), grad.dtype, like=grad)
    summed = index_add(target, flat, grad.reshape(-1)).reshape(B, plane + 1)
    return summed[:, :plane].reshape(shape)


class _MaxPool(_Pool):
    def forward(self, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        k, s, p, d, out = window_args(x, self.dims, self.name, kernel_size, stride, padding, dilation, ceil_mode)
        self.shape = x.shape
        self.axes = [regular_axis(*a) for a in zip(x.shape[-self.dims:], k, s, p, d, out)]
        if backend.is_cuda(x) and self.dims == 2:  # one kernel, which also records where each maximum is
            y, self.index = pool_cuda.max_pool2d(batched(x, 2)[:, None], k, s, p, d, out)
            self.cuda = (k, s, p, d)
            return self.unbatch(x, y[:, 0])
        xb, self.index = batched(x, self.dims), None
        if lean_pays(xb, k, d, out):
            y, self.index = lean_max(xb, k, s, p, out, any(self.needs_input_grad))
            return self.unbatch(x, y)
        y, self.winners = pool_max(xb, self.axes, any(self.needs_input_grad))
        return self.unbatch(x, y)

    def backward(self, grad):
        if getattr(self, "cuda", None):
            k, s, p, d = self.cuda
            g = batched(grad, 2)[:, None]
            dx = pool_cuda.max_pool2d_backward(g, self.index, g.shape[:2] + self.shape[-2:], k, s, p, d)
            return (dx.reshape(self.shape),)
        if self.index is not None:
            return (scatter_at(grad, self.index, self.shape),)
        winners = self.winners
        if not self.retained:
            self.winners = None
        return (unpool_max(batched(grad, self.dims), self.axes, winners).reshape(self.shape),)

    def backward_graph(self, grad, out):
        plane = int(np.prod(self.shape[-self.dims:]))
        if getattr(self, "cuda", None):
            index = self.index.astype(np.int64)[:, 0]
        else:
            index = self.index if self.index is not None else flat_winners(self.winners, self.axes)
        return (scatter_graph(grad, index, plane, self.shape),)


def max_pool_indices(x, dims, op, **params):
    """(out, indices) arrays of max pooling x: indices the winners' flat positions in their
    ``prod(S)`` plane (-1 where a window holds no pixel), int64, as PyTorch's ``return_indices``."""
    k, s, p, d, out = window_args(x, dims, op, **params)
    if backend.is_cuda(x) and dims == 2:
        y, index = pool_cuda.max_pool2d(batched(x, 2)[:, None], k, s, p, d, out)
        y, index = y[:, 0], index[:, 0].astype(np.int64)
    elif lean_pays(batched(x, dims), k, d, out):
        y, index = lean_max(batched(x, dims), k, s, p, out, True)
    else:
        axes = [regular_axis(*a) for a in zip(x.shape[-dims:], k, s, p, d, out)]
        y, winners = pool_max(batched(x, dims), axes, True)
        index = flat_winners(winners, axes)
    lead = x.shape[:-dims]
    return y.reshape(lead + y.shape[1:]), index.reshape(lead + index.shape[1:])


def adaptive_axes(x, dims, output_size, op):
    """Check x and ``output_size`` (an int or one size per axis, None keeping that axis) -> Axis list."""
    check_input(x, dims, op)
    if isinstance(output_size, (tuple, list)) and len(output_size) == dims:
        output_size = tuple(n if o is None else o for n, o in zip(x.shape[-dims:], output_size))
    out = checks.ntuple(output_size, dims, "output_size", op)
    return [adaptive_axis(n, o) for n, o in zip(x.shape[-dims:], out)]


# Small adaptive poolings are fastest as one small dense ``(O, L)`` matrix of window means per
# axis (a few GEMMs instead of a pass per tap: the per-call cost of NumPy dominates there); their
# cost grows with L O per row, so only up to DENSE_MAX input pixels per plane (larger GEMMs also
# start OpenBLAS's threads, measured costly on a loaded machine). Only on finite arrays: a matrix
# product spreads a NaN or inf (0 * inf) over every window of its row, so a non-finite result
# (which any NaN or inf of the input gives) is computed again by the passes.
DENSE_MAX = 64 * 64
# avg_pool's largest GEMM (the last axis' backward, ``x.size * O_last`` multiply-adds) at most
# this: OpenBLAS runs such a GEMM on one thread, and on two threads a small GEMM measured up to
# 100x slower when the cores were busy (at (2, 8, 32, 32) k3 s2 p1, 0.8x the passes' time)
DENSE_GEMM = 1 << 18


# ... and up to this many with at most DENSE_FEW windows per axis (adaptive pooling to a few
# outputs, as a classifier head's 7x7): there the matrices cost 2 O multiply-adds a pixel, a
# constant, and beat the passes' per-window calls. Forward + backward, (2, 8, H, H): to 7x7
# at H=128 336 -> 141 us, H=256 575 -> 397 us; to 4x4 271 -> 158, 472 -> 271 us; at H=512 the
# passes were as fast (2.5 against 3.1 ms), and with 16 or 32 windows the matrices lost at H=128.
DENSE_FEW_MAX, DENSE_FEW = 256 * 256, 8


def _dense_pays(axes):
    plane = math.prod(a.size for a in axes)
    few = plane <= DENSE_FEW_MAX and max(a.out for a in axes) <= DENSE_FEW
    return not _is_global(axes) and (plane <= DENSE_MAX or few)


@functools.lru_cache(maxsize=256)
def mean_matrix(size, out, dtype):
    """The ``(O, L)`` matrix of adaptive window means along one axis, in ``dtype``."""
    a = adaptive_axis(size, out)
    return (window_matrices([a])[0] / a.divisor[:, None]).astype(dtype)


@functools.lru_cache(maxsize=256)
def avg_matrix(size, k, s, p, out, include_pad, dtype):
    """The ``(O, L)`` matrix of avg_pool's window means along one axis (its share of the
    divisor, which is a product over the axes), in ``dtype``."""
    a = regular_axis(size, k, s, p, 1, out, include_pad)
    return (window_matrices([a])[0] / a.divisor[:, None]).astype(dtype)


def dense_finite(y, mats):
    """``dense(y, mats)``, or None unless every value of y is finite (and its squares' sum is,
    so no window sum overflows): the matrices' zeros would spread a NaN or inf (0 * inf is
    NaN), which the passes keep where they are."""
    return dense(y, mats) if _finite(y) else None


def dense(y, mats):
    """Batched y ``(B, *S)`` times each axis' ``(O, L)`` matrix along that axis."""
    for m, M in enumerate(mats):
        M = _on(M, y)
        if m + 1 == y.ndim - 1:  # the last axis: one GEMM over every row
            y = (y.reshape(-1, y.shape[-1]) @ M.T).reshape(y.shape[:-1] + (M.shape[0],))
        else:
            lead, rest = y.shape[:m + 1], y.shape[m + 2:]
            y3 = y.reshape(math.prod(lead), y.shape[m + 1], math.prod(rest))
            y = (M @ y3).reshape(lead + (M.shape[0],) + rest)
    return y


class _AdaptiveAvgPool(_Pool):
    def forward(self, x, output_size):
        self.axes, self.shape = adaptive_axes(x, self.dims, output_size, self.name), x.shape
        xb = batched(x, self.dims)
        self.mats = None
        if x.dtype in (np.float32, np.float64) and _dense_pays(self.axes):  # (float16: no BLAS)
            self.mats = [mean_matrix(a.size, a.out, x.dtype) for a in self.axes]
            y = dense_finite(xb, self.mats)
            if y is not None:
                return self.unbatch(x, y)
        return self.unbatch(x, avg(xb, self.axes))

    def backward(self, grad):
        dx = None if self.mats is None else dense_finite(batched(grad, self.dims), [M.T for M in self.mats])
        if dx is not None:
            return (dx.reshape(self.shape),)
        g = batched(grad, self.dims) / divisor_grid(self.axes, grad.dtype, grad)
        return (avg_adjoint(g, self.axes).reshape(self.shape),)

    def backward_graph(self, grad, out):
        divisor = divisor_grid(self.axes, grad.dtype, grad.array)
        return (linear_graph(grad / divisor, window_matrices(self.axes), self.dims),)


def first_maxima(y, axes):
    """(out, index) of max pooling batched y with windows that start inside the input (adaptive):
    index the flat position of each window's first maximum in row-major order (its last NaN,
    as PyTorch), int64. The FIRST axis is pooled first, so the last one (gathers along rows,
    the slow direction) runs on the smallest array; the order of the winners is kept by
    carrying each entry's flat position over the axes pooled so far and taking the smallest
    (the largest among NaN) at each pass."""
    xp, big = backend.xp(y), 2**62  # (a key never reaches big: no overflow below)
    key = None
    for m, a in enumerate(axes):
        ax = m + 1
        out, _ = pass_max(y, ax, a.taps, a.out, False)
        nan = xp.isnan(out)
        any_nan = bool(nan.any())
        best = xp.full(out.shape, big, np.int64)
        last_nan = xp.full(out.shape, -1, np.int64) if any_nan else None
        for tap in a.taps:  # (a short window's repeated last pixel gives the same key again)
            pos = _line(np.arange(a.size)[tap.src], ax, y)
            v, cand = _read(y, ax, tap), pos if key is None else _read(key, ax, tap) * a.size + pos
            xp.minimum(best, cand + (v != out) * big, out=best)
            if any_nan:
                xp.maximum(last_nan, backend.where(xp.isnan(v), cand, -1), out=last_nan)
        key = backend.where(nan, last_nan, best) if any_nan else best
        y = out
    return y, key


def adaptive_max(x, dims, output_size, op):
    """(out, indices) arrays of adaptive max pooling, indices as ``max_pool_indices``."""
    axes = adaptive_axes(x, dims, output_size, op)
    y, index = first_maxima(batched(x, dims), axes)
    lead = x.shape[:-dims]
    return y.reshape(lead + y.shape[1:]), index.reshape(lead + index.shape[1:])


class _AdaptiveMaxPool(_Pool):
    def forward(self, x, output_size):
        self.axes, self.shape = adaptive_axes(x, self.dims, output_size, self.name), x.shape
        if any(self.needs_input_grad):
            y, self.index = first_maxima(batched(x, self.dims), self.axes)
        else:
            y = pool_max(batched(x, self.dims), self.axes, False)[0]
        return self.unbatch(x, y)

    def backward(self, grad):
        # few, large windows: one scatter of the gradients at their winners (bincount adds the
        # two windows that may share a pixel) beats a pass per axis over the input
        return (scatter_at(grad, self.index, self.shape),)

    def backward_graph(self, grad, out):
        return (scatter_graph(grad, self.index, int(np.prod(self.shape[-self.dims:])), self.shape),)


class _MaxUnpool(_Pool):
    """Each input value placed at its index in a zero output plane (the inverse of max pooling
    with ``return_indices``); the gradient gathers there."""

    def forward(self, x, indices, kernel_size, stride=None, padding=0, output_size=None):
        op, dims = self.name, self.dims
        check_input(x, dims, op)
        k = checks.ntuple(kernel_size, dims, "kernel_size", op)
        s = k if stride is None else checks.ntuple(stride, dims, "stride", op)
        p = checks.ntuple(padding, dims, "padding", op, minimum=0)
        size = tuple((n - 1) * si - 2 * pi + ki for n, ki, si, pi in zip(x.shape[-dims:], k, s, p))
        if output_size is not None:
            given = tuple(output_size)[-dims:] if len(output_size) in (dims, dims + 2) else None
            if given is None or any(not isinstance(n, (int, np.integer)) or n < 1 for n in given):
                raise ValueError(f"{op}: output_size must be {dims} (or {dims + 2}) sizes, got {output_size!r}")
            size = tuple(int(n) for n in given)
        if indices.shape != x.shape:
            raise ValueError(f"{op}: indices must have the input's shape {x.shape}, got {indices.shape}")
        if indices.dtype.kind not in "iu":
            raise TypeError(f"{op}: indices must be an integer array, got {indices.dtype}")
        plane = int(np.prod(size))
        if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= plane):
            raise ValueError(f"{op}: indices must be in [0, {plane}) for output size {size}, got values from "
                             f"{int(indices.min())} to {int(indices.max())}")
        xp = backend.xp(x)
        xb = batched(x, dims).reshape(-1, int(np.prod(x.shape[-dims:])))
        self.rows = xp.arange(xb.shape[0]).reshape(-1, 1)
        self.index, self.shape = batched(indices, dims).reshape(xb.shape), x.shape
        self.plane = plane  # (not -1 in backward's reshape: it is ambiguous for an empty batch)
        out = xp.zeros((xb.shape[0], plane), x.dtype)
        out[self.rows, self.index] = xb
        return out.reshape(x.shape[:-dims] + size)

    def backward(self, grad):
        g = grad.reshape(self.rows.shape[0], self.plane)
        return (g[self.rows, self.index].reshape(self.shape),)

    def backward_graph(self, grad, out):
        g = grad.reshape(self.rows.shape[0], self.plane)
        return (g[self.rows, self.index].reshape(self.shape),)


# The registered ops: one class per family and dimension, the rules shared above.
class AvgPool1d(_AvgPool, Op):
    """Mean over each window: ``(N, C, L) -> (N, C, L_o)`` (or unbatched), as ``F.avg_pool1d``:
    ``apply(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True)``."""

    dims = 1


class AvgPool2d(_AvgPool, Op):
    """Mean over each window: ``(N, C, H, W) -> (N, C, H_o, W_o)``, as ``F.avg_pool2d``: ``apply(x,
    kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None)``."""


class AvgPool3d(_AvgPool, Op):
    """Mean over each window: ``(N, C, D, H, W) -> (N, C, D_o, H_o, W_o)``, arguments as AvgPool2d's."""

    dims = 3


class MaxPool1d(_MaxPool, Op):
    """Maximum over each window: ``(N, C, L) -> (N, C, L_o)``; the gradient goes to the first
    maximum: ``apply(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False)``."""

    dims = 1


class MaxPool2d(_MaxPool, Op):
    """Maximum over each window: ``(N, C, H, W) -> (N, C, H_o, W_o)``; the gradient goes to the
    first maximum in row-major order, as PyTorch's: arguments as MaxPool1d's."""


class MaxPool3d(_MaxPool, Op):
    """Maximum over each window: ``(N, C, D, H, W) -> (N, C, D_o, H_o, W_o)``, as MaxPool2d."""

    dims = 3


class AdaptiveAvgPool1d(_AdaptiveAvgPool, Op):
    """Mean over PyTorch's adaptive windows: ``apply(x, output_size)``, ``(N, C, L) -> (N, C, L_o)``."""

    dims = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPool, Op):
    """Mean over PyTorch's adaptive windows: ``(N, C, H, W) -> (N, C, H_o, W_o)``."""


class AdaptiveAvgPool3d(_AdaptiveAvgPool, Op):
    """Mean over PyTorch's adaptive windows: ``(N, C, D, H, W) -> (N, C, D_o, H_o, W_o)``."""

    dims = 3


class AdaptiveMaxPool1d(_AdaptiveMaxPool, Op):
    """Maximum over PyTorch's adaptive windows (gradient to the first maximum), ``(N, C, L) -> (N, C, L_o)``."""

    dims = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPool, Op):
    """Maximum over PyTorch's adaptive windows: ``(N, C, H, W) -> (N, C, H_o, W_o)``."""


class AdaptiveMaxPool3d(_AdaptiveMaxPool, Op):
    """Maximum over PyTorch's adaptive windows: ``(N, C, D, H, W) -> (N, C, D_o, H_o, W_o)``."""

    dims = 3


class MaxUnpool1d(_MaxUnpool, Op):
    """The inverse of max_pool1d: ``apply(x, indices=..., kernel_size, stride=None, padding=0,
    output_size=None)``, indices flat positions in each output row."""

    dims = 1


class MaxUnpool2d(_MaxUnpool, Op):
    """The inverse of max_pool2d: arguments as MaxUnpool1d's, indices flat in each ``H*W`` plane."""


class MaxUnpool3d(_MaxUnpool, Op):
    """The inverse of max_pool3d: arguments as MaxUnpool1d's, indices flat in each ``D*H*W`` volume."""

    dims = 3
