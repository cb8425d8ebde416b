"""Resizing ``(N, C, *spatial)`` images as PyTorch's ``interpolate``, one axis at a time.

Every mode is separable: output pixel ``i`` of an axis is a weighted sum of a few input
pixels ("taps") of that axis, by PyTorch's rules (``scale = in / out``, or
``1 / scale_factor`` when a scale factor is given and not recomputed)::

    nearest        src = min(floor(i * scale), in - 1)                     (float32, as ATen)
    nearest-exact  src = min(floor((i + 0.5) * scale), in - 1)
    linear         src = max((i + 0.5) * scale - 0.5, 0), or i * (in - 1) / (out - 1) with
                   align_corners; taps floor(src) and floor(src) + 1 (clamped), weights 1 - t, t
    cubic          the same src without the clamp at 0; taps floor(src) - 1 ... + 2, each
                   clamped into the axis, cubic-convolution weights with A = -0.75
    area           the mean over PyTorch's adaptive-pooling window of the axis

An axis costs O(in + out): the taps are gathers (``take``) and the backward adds the
weighted gradient back with ``add.reduceat`` over the runs of equal (sorted) indices.
The common cases are plain slices: an integer nearest upscale is a repeat (backward: a
sum of strided slices), an integer linear or cubic upscale is ``s`` phases of shifted
slices of the axis (flat arrays for short rows; the clamped ends redone), an integer area
downscale is a block mean.
"""
import functools
import math

import numpy as np

from .. import backend, checks
from .base import Op
from .linear_map import LinearMap
from .padding import _along, pad_plan

MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
_SPATIAL = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}  # the others take 1 to 3
_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}
FLAT_BELOW = 512  # rows shorter than this (measured): the phases run flat (AxisPlan._flat_apply)


class Separable:
    """An op ``out = M_h @ x @ M_w.T`` on NCHW x (mixed into an Op, by pooling): ``forward`` calls
    ``separable(x, M_h, M_w)`` with NumPy matrices; the backward is the transposed products."""

    def separable(self, x, Mh, Mw):
        self.Mh, self.Mw = backend.like(Mh.astype(x.dtype), x), backend.like(Mw.astype(x.dtype), x)
        return self.Mh @ x @ self.Mw.T

    def backward(self, grad):
        return (self.Mh.T @ grad @ self.Mw,)


# ----- arguments ------------------------------------------------------------------------
def _per_axis(value, dims, name, op):
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims
    if len(values) != dims:
        raise ValueError(f"{op}: {name} must be one value or {dims} (one per spatial axis of a {dims + 2}-D "
                         f"input), got {value!r}")
    return values


def output_size(x, size, scale_factor, op, recompute_scale_factor=None):
    """Check ``size`` / ``scale_factor`` (exactly one) -> (output sizes, the scale factors the
    source positions use, or None per axis), as PyTorch's ``interpolate``."""
    dims = x.ndim - 2
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor, got size={size!r}, scale_factor={scale_factor!r}")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an explicit size")
        return tuple(checks.positive_int(s, "size", op) for s in _per_axis(size, dims, "size", op)), (None,) * dims
    factors = tuple(checks.finite_number(f, "scale_factor", op) for f in _per_axis(scale_factor, dims, "scale_factor", op))
    out = tuple(math.floor(float(n) * f) for n, f in zip(x.shape[2:], factors))
    if min(factors) <= 0 or min(out) < 1:
        raise ValueError(
            f"{op}: scale_factor {scale_factor!r} gives output size {out} for input size {x.shape[2:]}; "
            f"it must be at least 1"
        )
    return out, (None,) * dims if recompute_scale_factor else factors


# ----- one axis -------------------------------------------------------------------------
def _cubic_weights(t, A=-0.75):
    """The 4 cubic-convolution weights of taps floor(src) - 1 ... + 2 at fraction ``t``."""
    def near(x):  # |x| <= 1
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


class AxisPlan:
    """How one axis of length ``n`` becomes ``m``: ``kind`` is ``"copy"``, ``"repeat"``
    (nearest by an integer ``s``), ``"block"`` (area by an integer ``1/s``), ``"phases"``
    (linear/cubic by an integer ``s``: for output ``k * s + r``, taps ``(offset, weight)``
    relative to input ``k``) or ``"taps"`` (any size: ``(index array, weight array)`` pairs)."""

    def __init__(self, n, m, factor, mode, align_corners):
        self.n, self.m, self.kind = n, m, "taps"
        s = m // n if m % n == 0 else 0
        if mode.startswith("nearest"):
            src = self._nearest(n, m, factor, mode == "nearest-exact")
            self.s, self.taps = s, [(src, None)]
            if (src == np.arange(m) // s).all() if s else False:
                self.kind = "copy" if s == 1 else "repeat"
        elif mode == "area":
            self._area(n, m)
        elif m == n and mode != "cubic":  # ATen copies an axis that keeps its size
            self.kind = "copy"
        elif s > 1 and not align_corners and (factor is None or factor == s):
            self._phases(s, mode)
        else:
            self._taps(n, m, factor, mode, align_corners)

    @staticmethod
    def _nearest(n, m, factor, exact):
        if not exact and m in (n, 2 * n):  # ATen's shortcuts, whatever the scale factor
            return np.arange(m) * n // m
        scale = np.float32(1 / factor) if factor is not None else np.float32(n) / np.float32(m)
        i = np.arange(m, dtype=np.float64)
        src = (i + 0.5) * np.float64(scale) if exact else i.astype(np.float32) * scale
        return np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), n - 1)

    def _area(self, n, m):
        i = np.arange(m)
        start, end = (i * n) // m, ((i + 1) * n + m - 1) // m
        if m == n:
            self.kind = "copy"
        elif n % m == 0:
            self.kind, self.s = "block", n // m
        else:
            count = end - start
            self.taps = [(np.minimum(start + t, end - 1), (t < count) / count) for t in range(count.max())]

    def _phases(self, s, mode):
        self.kind, self.s, self.phases = "phases", s, []
        for r in range(s):
            src = (r + 0.5) / s - 0.5
            base = math.floor(src)
            t = src - base
            weights = [1 - t, t] if mode == "linear" else _cubic_weights(t)
            first = base if mode == "linear" else base - 1
            self.phases.append([(first + j, float(w)) for j, w in enumerate(weights)])
        self.edge = 1 if mode == "linear" else 2  # the widest offset: pad the axis by it

    def _taps(self, n, m, factor, mode, align_corners):
        i = np.arange(m, dtype=np.float64)
        if align_corners:
            src = i * ((n - 1) / (m - 1) if m > 1 else 0.0)
        else:
            scale = 1 / factor if factor is not None else n / m
            src = (i + 0.5) * scale - 0.5
            src = np.maximum(src, 0) if mode == "linear" else src
        lo = np.minimum(np.floor(src).astype(np.int64), n - 1)
        t = np.clip(src - lo, 0, 1)
        if mode == "linear":
            self.taps = [(lo, 1 - t), (lo + (lo < n - 1), t)]
        else:
            self.taps = [(np.clip(lo - 1 + j, 0, n - 1), w) for j, w in enumerate(_cubic_weights(t))]

    # ----- forward and adjoint along ``axis`` of an array ------------------------------
    def apply(self, x, axis):
        xp, kind = backend.xp(x), self.kind
        if kind == "copy":
            return x
        if kind == "repeat":  # (a repeat: several times faster than copying a broadcast view)
            return repeat_along(x, self.s, axis)
        if kind == "block":
            return _sum_phases(x.reshape(x.shape[:axis] + (self.m, self.s) + x.shape[axis + 1:]), axis) / x.dtype.type(self.s)
        if kind == "phases" and self.n > 2 * self.edge:
            return self._flat_apply(x, axis)
        if kind == "phases":
            padded = self._edge_plan(x.shape, axis).apply(x)
            out = xp.empty(x.shape[:axis] + (self.n, self.s) + x.shape[axis + 1:], dtype=x.dtype)
            for r, taps in enumerate(self.phases):
                phase = out[_along(out.ndim, axis + 1, r)]
                for j, (offset, w) in enumerate(taps):
                    tap = padded[_along(x.ndim, axis, slice(offset + self.edge, offset + self.edge + self.n))]
                    if j == 0:
                        xp.multiply(tap, w, out=phase)
                    else:
                        phase += tap * w
            return out.reshape(_resized(x, axis, self.m))
        out = None
        for index, w in self.taps:
            term = xp.take(x, backend.like(index, x), axis=axis)
            term = term if w is None else term * self._weights(w, x, axis)
            out = term if out is None else out + term
        return out

    def adjoint(self, g, axis):
        xp, kind = backend.xp(g), self.kind
        if kind == "copy":
            return g
        if kind == "repeat":
            return _sum_phases(g.reshape(g.shape[:axis] + (self.n, self.s) + g.shape[axis + 1:]), axis)
        if kind == "block":
            return repeat_along(g / g.dtype.type(self.s), self.s, axis)
        if kind == "phases" and self.n > 2 * self.edge:
            return self._flat_adjoint(g, axis)
        if kind == "phases":
            shape = g.shape[:axis] + (self.n + 2 * self.edge,) + g.shape[axis + 1:]
            padded = xp.zeros(shape, dtype=g.dtype)
            split = g.reshape(g.shape[:axis] + (self.n, self.s) + g.shape[axis + 1:])
            for r, taps in enumerate(self.phases):
                phase = split[_along(split.ndim, axis + 1, r)]
                for offset, w in taps:
                    padded[_along(g.ndim, axis, slice(offset + self.edge, offset + self.edge + self.n))] += phase * w
            return self._edge_plan(_resized(g, axis, self.n), axis).adjoint(padded)
        out = None
        for index, w in self.taps:
            term = _scatter_sorted(g if w is None else g * self._weights(w, g, axis), index, self.n, axis)
            out = term if out is None else out + term
        return out

    # The phases without padded copies or short strided rows. x is viewed as ``(A, n, Z)``
    # around the axis; the tap at offset o of every output row k reads row k + o. With short rows
    # (Z < FLAT_BELOW, the last axes) NumPy runs a ufunc several times slower on row-sliced views
    # than on one contiguous run, so there each phase is computed flat, a tap ONE flat slice
    # shifted by ``o Z`` (which reads the neighbouring block in the rows within ``edge`` of the
    # axis' ends), and the phases are interleaved once; with long rows, on row slices. Either
    # way the rows within ``edge`` of the ends (clamped taps) are computed again one at a time.
    def _edge_rows(self):
        return [*range(self.edge), *range(self.n - self.edge, self.n)]

    def _flat_apply(self, x, axis):
        xp, n = backend.xp(x), self.n
        x3 = _blocks(x, axis)
        big, weight = x3.shape[2], x.dtype.type
        flat = big < FLAT_BELOW
        products = {}  # x * w for each weight, shared by the phases
        for taps in self.phases:
            for _, w in taps:
                if w not in products:
                    products[w] = x3 * weight(w)
        out = xp.empty((x3.shape[0], n, self.s, big), x.dtype)
        for r, taps in enumerate(self.phases):
            offsets = [o for o, _ in taps]
            k0, k1 = max(0, -min(offsets)), n - max(0, max(offsets))  # the rows every tap reaches
            part3 = xp.empty(x3.shape, x.dtype) if flat else out[:, :, r]
            for j, (o, w) in enumerate(taps):
                if flat:  # (whole blocks: k0 rows at the start, n - k1 at the end are redone below)
                    lo, hi = k0 * big, x3.size - (n - k1) * big
                    dst, src = part3.reshape(-1)[lo:hi], products[w].reshape(-1)[lo + o * big:hi + o * big]
                else:
                    dst, src = part3[:, k0:k1], products[w][:, k0 + o:k1 + o]
                if j == 0:
                    dst[...] = src
                else:
                    dst += src
            for k in self._edge_rows():  # the same sum with the taps clamped into the axis
                row = None
                for o, w in taps:
                    v = x3[:, min(max(k + o, 0), n - 1)] * weight(w)
                    row = v if row is None else row + v
                part3[:, k] = row
            if flat:
                out[:, :, r] = part3
        return out.reshape(_resized(x, axis, self.m))

    def _flat_adjoint(self, g, axis):
        xp, n = backend.xp(g), self.n
        g4 = xp.ascontiguousarray(g).reshape(math.prod(g.shape[:axis]), n, self.s, math.prod(g.shape[axis + 1:]))
        big, weight = g4.shape[3], g.dtype.type
        flat = big < FLAT_BELOW
        phases = [xp.ascontiguousarray(g4[:, :, r]) if flat else g4[:, :, r] for r in range(self.s)]
        terms = sorted(((r, o, w) for r, taps in enumerate(self.phases) for o, w in taps), key=lambda t: t[1] != 0)
        dx3 = None if terms[0][1] == 0 else xp.zeros(phases[0].shape, g.dtype)
        for r, o, w in terms:  # row k + o gets w g_r[k]
            term = phases[r] * weight(w)
            if dx3 is None:  # (an unshifted term first)
                dx3 = term
            elif flat:
                lo, hi = max(0, -o) * big, term.size - max(0, o) * big
                dx3.reshape(-1)[lo + o * big:hi + o * big] += term.reshape(-1)[lo:hi]
            else:
                k0, k1 = max(0, -o), n - max(0, o)
                dx3[:, k0 + o:k1 + o] += term[:, k0:k1]
        for j in self._edge_rows():  # every term that reaches row j, clamped
            row = None
            for r, o, w in terms:  # (k = j - o, and where j is an end the k whose k + o falls past it)
                near = {j - o} | set(range(-o) if j == 0 else ()) | set(range(n - o, n) if j == n - 1 else ())
                for k in sorted(near):
                    if 0 <= k < n and min(max(k + o, 0), n - 1) == j:
                        v = g4[:, k, r] * weight(w)
                        row = v if row is None else row + v
            dx3[:, j] = row
        return dx3.reshape(_resized(g, axis, n))

    def _edge_plan(self, shape, axis):
        return pad_plan(shape, (0, 0) * (len(shape) - 1 - axis) + (self.edge, self.edge), "replicate")

    @staticmethod
    def _weights(w, x, axis):
        return backend.like(w.astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - 1 - axis)), x)


def _blocks(x, axis):
    """x as a contiguous ``(A, n, Z)`` array around ``axis``."""
    return backend.xp(x).ascontiguousarray(x).reshape(math.prod(x.shape[:axis]), x.shape[axis], math.prod(x.shape[axis + 1:]))


def _resized(x, axis, n):
    return x.shape[:axis] + (n,) + x.shape[axis + 1:]


def _sum_phases(split, axis):
    """Sum ``split`` over its axis ``axis + 1`` with strided slices (NumPy's reduction over a
    short inner axis is several times slower)."""
    total = split[_along(split.ndim, axis + 1, 0)] + split[_along(split.ndim, axis + 1, 1)]
    for r in range(2, split.shape[axis + 1]):
        total += split[_along(split.ndim, axis + 1, r)]
    return total


def repeat_along(x, s, axis):
    """``xp.repeat(x, s, axis)``; along the last axis by s strided writes (NumPy's repeat copies
    one element at a time there, 1.5-3x slower)."""
    xp = backend.xp(x)
    if axis != x.ndim - 1:
        return xp.repeat(x, s, axis=axis)
    out = xp.empty(x.shape + (s,), x.dtype)
    for r in range(s):
        out[..., r] = x
    return out.reshape(x.shape[:-1] + (x.shape[-1] * s,))


def _scatter_sorted(v, index, n, axis):
    """The transpose of ``take(x, index, axis)`` for a sorted ``index``: each input position
    gets the sum of the entries of ``v`` that read it, a run ``first[i] .. first[i] + count[i]``
    of them. Gathered as ``max(count)`` takes (a scattering assignment along the last axis is
    several times slower than a take); a large upscale (long runs) sums with ``add.reduceat``."""
    xp = backend.xp(v)
    first = np.searchsorted(index, np.arange(n), "left")
    count = np.searchsorted(index, np.arange(n), "right") - first
    if count.max() > 4:
        sums = xp.add.reduceat(v, backend.like(first[count > 0], v), axis=axis)
        if count.min() > 0:
            return sums
        out = xp.zeros(_resized(v, axis, n), dtype=v.dtype)
        out[_along(v.ndim, axis, backend.like(np.flatnonzero(count), v))] = sums
        return out
    out = None
    for k in range(count.max()):
        term = xp.take(v, backend.like(np.minimum(first + k, len(index) - 1), v), axis=axis)
        if count.min() <= k:  # zeros where the run is shorter (where, not a product: NaN * 0 is NaN)
            term = backend.where(backend.like((count > k).reshape((-1,) + (1,) * (v.ndim - 1 - axis)), v), term, 0)
        out = term if out is None else out + term
    return out


# ----- the op ---------------------------------------------------------------------------
class ResamplePlan:
    """All axes of one resize: applied one axis at a time, shrinking axes first (less work
    for the others), and of equal ratios the last axis first (its strided copies run on the
    smaller array); the adjoint runs the same axes in reverse order."""

    def __init__(self, shape, sizes, factors, mode, align_corners):
        axis_mode = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
        self.axes = [(2 + k, AxisPlan(n, m, f, axis_mode, align_corners))
                     for k, (n, m, f) in enumerate(zip(shape[2:], sizes, factors))]
        self.axes.sort(key=lambda item: (item[1].m / item[1].n, -item[0]))

    def apply(self, x):
        for axis, plan in self.axes:
            x = plan.apply(x, axis)
        return x

    def adjoint(self, g):
        for axis, plan in reversed(self.axes):
            g = plan.adjoint(g, axis)
        return g


@functools.lru_cache(maxsize=256)
def resample_plan(shape, sizes, factors, mode, align_corners):
    """The ``ResamplePlan`` of these arguments, built once (a network resizes the same shapes)."""
    return ResamplePlan(shape, sizes, factors, mode, align_corners)


class Interpolate(LinearMap, Op):
    """Resize ``(N, C, *spatial) -> (N, C, *size)`` (1 to 3 spatial axes), as
    ``torch.nn.functional.interpolate``: ``Interpolate.apply(x, size=None, scale_factor=None,
    mode="nearest", align_corners=None, recompute_scale_factor=None)``. Modes: ``"nearest"``,
    ``"nearest-exact"``, ``"area"`` (any 1 to 3 axes), ``"linear"`` (3-D input), ``"bilinear"``
    and ``"bicubic"`` (4-D), ``"trilinear"`` (5-D)."""

    def forward(self, x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False, plan=None, adjoint=False):
        self.adjoint = adjoint
        if plan is not None:  # the transposed map, from backward_graph (see linear_map.py)
            self.plan = plan
            return plan.adjoint(x) if adjoint else plan.apply(x)
        op = "interpolate"
        checks.one_of(mode, MODES, "mode", op)
        dims = x.ndim - 2
        if dims not in _LAYOUT or _SPATIAL.get(mode, dims) != dims:
            want = [_SPATIAL[mode]] if mode in _SPATIAL else list(_LAYOUT)
            raise ValueError(f"{op}: mode {mode!r} takes a " + " or ".join(f"{d + 2}-D {_LAYOUT[d]}" for d in want)
                             + f" input, got {x.ndim}-D input of shape {x.shape}")
        if align_corners is not None:
            checks.boolean(align_corners, "align_corners", op)
            if mode not in _SPATIAL:
                raise ValueError(f"{op}: align_corners can only be set with the interpolating modes "
                                 f"'linear', 'bilinear', 'bicubic' and 'trilinear', got mode {mode!r}")
        if checks.boolean(antialias, "antialias", op):
            raise ValueError(f"{op}: antialias=True is not supported")
        sizes, factors = output_size(x, size, scale_factor, op, recompute_scale_factor)
        self.plan = resample_plan(x.shape, sizes, factors, mode, bool(align_corners))
        return self.plan.apply(x)
