"""``pad``: widen (or, with negative widths, crop) the last axes with a constant, their
mirror image, their edge values, or their other end (circular).

Forward and backward are slices, O(n) in time and memory: the output gets the input
in its centre and then, one axis at a time, its border strips copied from the part
already filled; the backward copies the centre of the gradient once and adds each
border strip back onto the input positions it was copied from (``_fold``).
"""
import functools

from .. import backend
from .base import Op
from .linear_map import LinearMap

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _along(ndim, axis, index):
    """The index tuple that applies ``index`` to ``axis`` and keeps every other axis whole."""
    return (slice(None),) * axis + (index,) + (slice(None),) * (ndim - axis - 1)


FOLD_BY_AXES = 1 << 16  # gradients smaller than this fold one axis at a time (see _fold_by_axes)
NARROW = 4  # strips of the last axis at most this wide are copied and added column by column
SHORT_SUM = 8  # strips at most this wide are summed by adding their slices (see _edge_sum)


def _edge_sum(part, axis):
    """``part.sum(axis, keepdims=True)``; a strip of at most ``SHORT_SUM`` by adding its
    slices in order (NumPy's reduction over a short last axis runs one tiny loop per element,
    about twice as slow; its order of the few additions may differ: equal up to rounding)."""
    width = part.shape[axis]
    if width > SHORT_SUM or width < 2:
        return part.sum(axis=axis, keepdims=True)
    at = [part[_along(part.ndim, axis, slice(j, j + 1))] for j in range(width)]
    total = at[0] + at[1]
    for more in at[2:]:
        total += more
    return total


def _column_sum(g, columns):
    """The sum of g at the index tuples ``columns``, added in order (as ``_edge_sum``)."""
    if len(columns) == 1:
        return g[columns[0]]
    total = g[columns[0]] + g[columns[1]]
    for more in columns[2:]:
        total += g[more]
    return total


class PadPlan:
    """The pad of one input shape: ``pad`` as ``torch.nn.functional.pad`` (pairs from the last
    axis backwards, negative widths crop). ``apply(x, fill)`` pads, ``adjoint(g)`` is its
    transpose (the gradient). Reflect and replicate pad and then crop (the mirror is taken
    from the whole axis); constant and circular crop first (the wrap starts at the cropped
    edge), as PyTorch."""

    def __init__(self, shape, pad, mode):
        self.shape, self.mode = tuple(shape), mode
        ndim = len(shape)
        self.crop_in = [slice(None)] * ndim    # cropped before padding
        self.crop_out = [slice(None)] * ndim   # cropped after padding
        self.widths = [(0, 0)] * ndim          # the non-negative pad itself
        for k in range(len(pad) // 2):         # pad pairs run from the last axis backwards
            axis = ndim - 1 - k
            self._axis(axis, pad[2 * k], pad[2 * k + 1])
        self.axes = [a for a in range(ndim) if self.widths[a] != (0, 0)]
        self.cropped_in = any(s != slice(None) for s in self.crop_in)
        self.cropped_out = any(s != slice(None) for s in self.crop_out)
        self.inner_shape = tuple(len(range(*c.indices(n))) for c, n in zip(self.crop_in, shape))
        self.padded_shape = tuple(n + b + a for n, (b, a) in zip(self.inner_shape, self.widths))
        self.centre = tuple(slice(b, b + n) for n, (b, _) in zip(self.inner_shape, self.widths))
        self._plan_fill()
        if mode != "constant":  # (the constant mode's backward is one slice)
            self._plan_fold()

    def _axis(self, axis, before, after):
        n, mode, shape = self.shape[axis], self.mode, self.shape
        out = n + before + after
        where = f"pad: {mode} padding ({before}, {after}) of axis {axis} (length {n}, input shape {shape})"
        if out < (0 if mode == "constant" else 1):
            raise ValueError(f"{where} leaves an output length of {out}")
        cut_before, cut_after = max(-before, 0), max(-after, 0)
        pb, pa = max(before, 0), max(after, 0)
        if mode in ("constant", "circular"):
            n -= cut_before + cut_after
            if n < 0:
                raise ValueError(f"{where} crops more than the axis holds")
            self.crop_in[axis] = slice(cut_before, n + cut_before)
        elif cut_before or cut_after:
            self.crop_out[axis] = slice(cut_before, n + pb + pa - cut_after)
        if mode == "reflect" and max(pb, pa) >= n:
            raise ValueError(f"{where}: reflect widths must be smaller than the axis length")
        if mode == "replicate" and n == 0 and pb + pa:
            raise ValueError(f"{where}: cannot replicate the edge of an empty axis")
        if mode == "circular" and max(pb, pa) > n:
            raise ValueError(f"{where}: circular widths must be at most the (cropped) axis length {n}, "
                             "as the padding may wrap around only once")
        self.widths[axis] = (pb, pa)

    def _sources(self, axis):
        """Along ``axis``, in the padded array's own coordinates: the left and right strips,
        and the slices their values are read from (None for a constant)."""
        (pb, pa), n = self.widths[axis], self.inner_shape[axis]
        strips = slice(0, pb), slice(pb + n, pb + n + pa)
        if self.mode == "reflect":      # [a b c] -> b | a b c | b  (read backwards)
            stop = pb + n - 2 - pa
            return strips, (slice(2 * pb, pb, -1), slice(pb + n - 2, stop if stop >= 0 else None, -1))
        if self.mode == "replicate":    # a | a b c | c  (a one-wide strip, broadcast)
            return strips, (slice(pb, pb + 1), slice(pb + n - 1, pb + n))
        if self.mode == "circular":     # c | a b c | a
            return strips, (slice(n, n + pb), slice(pb, pb + pa))
        return strips, (None, None)

    def _columns(self, axis, strip, source, n=None):
        """A strip of the LAST axis at most NARROW wide as (strip columns, source columns), ints,
        or None. NumPy runs an operation on such a strip as one tiny loop per row, about twice as
        slow as on its columns one at a time. ``source`` in the padded array, or (``n``) in the
        centre of length n; a one-wide source (replicate) serves every column."""
        if axis != len(self.shape) - 1 or source is None or strip.stop - strip.start > NARROW:
            return None
        cols = range(*source.indices(self.padded_shape[axis] if n is None else n))
        strip_cols = range(strip.start, strip.stop)
        return list(strip_cols), list(cols) * len(strip_cols) if len(cols) == 1 else list(cols)

    # ----- forward --------------------------------------------------------------------
    def _plan_fill(self):
        """``self.fill_steps``: ``(strip, source)`` index pairs, axis by axis. While axis ``j``
        is filled, the axes before it are whole and the axes after it only their centre, so
        the corners are copied from strips already filled."""
        self.fill_steps, region = [], list(self.centre)
        for axis in self.axes:
            for strip, source in zip(*self._sources(axis)):
                if strip.stop > strip.start:
                    at = lambda index: tuple(region[:axis]) + (index,) + tuple(region[axis + 1:])  # noqa: E731
                    cols = self._columns(axis, strip, source)
                    if cols is not None:  # a narrow strip of the last axis: column by column
                        self.fill_steps += [(at(j), at(i)) for j, i in zip(*cols)]
                    else:
                        self.fill_steps.append((at(strip), None if source is None else at(source)))
            region[axis] = slice(None)

    def apply(self, x, fill=0.0):
        """Pad ``x`` (of ``self.shape``), the constant mode filling with ``fill``."""
        xp = backend.xp(x)
        out = xp.empty(self.padded_shape, dtype=x.dtype)
        out[self.centre] = x[tuple(self.crop_in)] if self.cropped_in else x
        for strip, source in self.fill_steps:
            out[strip] = fill if source is None else out[source]
        return xp.ascontiguousarray(out[tuple(self.crop_out)]) if self.cropped_out else out

    # ----- backward -------------------------------------------------------------------
    def _plan_fold(self):
        """``self.fold_steps``: per padded axis, the index tuples ``_fold`` uses (the centre,
        then each strip with the part of the centre it was read from, relative to it)."""
        self.fold_steps = []
        for axis in self.axes:
            pb, ndim = self.widths[axis][0], len(self.shape)
            pairs = []
            for strip, source in zip(*self._sources(axis)):
                if strip.stop > strip.start:
                    stop = None if source.stop is None or source.stop - pb < 0 else source.stop - pb
                    target = slice(source.start - pb, stop, source.step)
                    one_edge = self.mode == "replicate" and strip.stop - strip.start > 1  # read one edge
                    cols = self._columns(axis, strip, target, self.inner_shape[axis])
                    if cols is not None:  # (for _fold_by_axes) per target column, the strip columns added there
                        cols = [([_along(ndim, axis, j) for j in cols[0]], _along(ndim, axis, cols[1][0]))] \
                            if one_edge else [([_along(ndim, axis, j)], _along(ndim, axis, t)) for j, t in zip(*cols)]
                    pairs.append((_along(ndim, axis, strip), _along(ndim, axis, target), one_edge, cols))
            self.fold_steps.append((axis, _along(ndim, axis, self.centre[axis]), pairs))

    def adjoint(self, g):
        """The gradient of the input from the gradient ``g`` of the output."""
        xp = backend.xp(g)
        if self.cropped_out:  # the crop's transpose: zeros where the padded array was cut
            full = xp.zeros(self.padded_shape, dtype=g.dtype)
            full[tuple(self.crop_out)] = g
            g = full
        if self.mode == "constant":  # the input is one block of the output
            inner = g[self.centre]
        elif g.size < FOLD_BY_AXES:
            inner = self._fold_by_axes(g)
        else:
            inner = self._fold(g, 0, writable=True)
        if not self.cropped_in:
            return inner
        grad = xp.zeros(self.shape, dtype=g.dtype)
        grad[tuple(self.crop_in)] = inner
        return grad

    def _fold_by_axes(self, g):
        """``_fold(g, 0, True)`` one axis at a time, the last first: the same sums in the same
        order (each axis' strips are added after the later axes are folded), in about half the
        array operations, but reading the array once per axis (so for small arrays only)."""
        for axis, centre, pairs in reversed(self.fold_steps):
            inner = g[centre].copy()
            for strip, target, one_edge, cols in pairs:
                if cols is None:
                    inner[target] += _edge_sum(g[strip], axis) if one_edge else g[strip]
                for strips, t in cols or ():  # (summed in _edge_sum's order)
                    inner[t] += _column_sum(g, strips)
            g = inner
        return g if self.fold_steps else g.copy()

    def _fold(self, g, k, writable):
        """Sum each padded strip of ``g`` along the padded axes ``k, k + 1, ...`` back onto the
        positions it was copied from. Each element of ``g`` is read once: the centre along axis
        ``k`` is folded over the remaining axes, and so is each strip before it is added to the
        centre; only what is added to is copied (``writable``)."""
        if k == len(self.fold_steps):
            return g.copy() if writable else g
        axis, centre, pairs = self.fold_steps[k]
        inner = self._fold(g[centre], k + 1, writable=True)
        for strip, target, one_edge, _ in pairs:
            part = self._fold(g[strip], k + 1, writable=False)
            inner[target] += _edge_sum(part, axis) if one_edge else part
        return inner


@functools.lru_cache(maxsize=256)
def pad_plan(shape, pad, mode):
    """The ``PadPlan`` of these arguments, built once (a training loop pads the same shapes)."""
    return PadPlan(shape, pad, mode)


class Pad(LinearMap, Op):
    """Pad the last ``len(pad) // 2`` axes as ``torch.nn.functional.pad``: ``pad = (left, right)``
    for the last axis, ``(left, right, top, bottom)`` for the last two, and so on; negative
    widths crop. ``(..., H, W) -> (..., H + top + bottom, W + left + right)``.

    Modes: ``"constant"`` (fill with ``value``, which may be +-inf or NaN), ``"reflect"``
    (mirror without repeating the edge: ``[1, 2, 3] -> [3, 2, 1, 2, 3, 2, 1]``, widths below
    the axis length), ``"replicate"`` (repeat the edge: ``[1, 1, 1, 2, 3, 3, 3]``),
    ``"circular"`` (wrap around: ``[2, 3, 1, 2, 3, 1, 2]``, widths at most the length).
    """

    def forward(self, a, pad=None, mode="constant", value=0.0, plan=None, adjoint=False):
        self.adjoint = adjoint
        if plan is not None:  # the transposed map, from backward_graph (see linear_map.py)
            self.plan = plan
            return plan.adjoint(a) if adjoint else plan.apply(a)
        self.plan = pad_plan(a.shape, tuple(pad), mode)
        return self.plan.apply(a, value)
