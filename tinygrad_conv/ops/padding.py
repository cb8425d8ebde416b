"""``pad``: widen (or, with negative widths, crop) the last axes with a constant, their
mirror image, their edge values, or their other end (circular).

Forward and backward are slices, O(n) in time and memory: the output gets the input
in its centre and then, one axis at a time, its border strips copied from the part
already filled; the backward copies the centre of the gradient once and adds each
border strip back onto the input positions it was copied from (``_fold``).
"""
from .. import backend
from .base import Op
from .linear_map import LinearMap

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _along(ndim, axis, index):
    """The index tuple that applies ``index`` to ``axis`` and keeps every other axis whole."""
    return (slice(None),) * axis + (index,) + (slice(None),) * (ndim - axis - 1)


def _flip(a, axis):
    return a[_along(a.ndim, axis, slice(None, None, -1))]


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

    # ----- forward --------------------------------------------------------------------
    def apply(self, x, fill=0.0):
        """Pad ``x`` (of ``self.shape``), the constant mode filling with ``fill``."""
        xp = backend.xp(x)
        if self.cropped_in:
            x = x[tuple(self.crop_in)]
        out = xp.empty(tuple(n + b + a for n, (b, a) in zip(x.shape, self.widths)), dtype=x.dtype)
        # `region[j]`: the part of axis j filled so far (its centre, then all of it)
        region = [slice(b, b + n) for n, (b, _) in zip(x.shape, self.widths)]
        out[tuple(region)] = x
        for axis in self.axes:
            (pb, pa), n = self.widths[axis], x.shape[axis]

            def at(index):
                return tuple(region[:axis]) + (index,) + tuple(region[axis + 1:])

            left, right = self._sources(pb, pa, n)
            if pb:
                out[at(slice(0, pb))] = fill if left is None else self._read(out, at, axis, left)
            if pa:
                out[at(slice(pb + n, pb + n + pa))] = fill if right is None else self._read(out, at, axis, right)
            region[axis] = slice(None)
        return xp.ascontiguousarray(out[tuple(self.crop_out)]) if self.cropped_out else out

    def _sources(self, pb, pa, n):
        """Where, in the output's own coordinates along one axis, the left and right strips
        are read from: ``(start, stop, flipped)``, or None for a constant."""
        if self.mode == "reflect":      # [a b c] -> b | a b c | b
            return (pb + 1, 2 * pb + 1, True), (pb + n - 1 - pa, pb + n - 1, True)
        if self.mode == "replicate":    # a | a b c | c  (a one-wide strip, broadcast)
            return (pb, pb + 1, False), (pb + n - 1, pb + n, False)
        if self.mode == "circular":     # c | a b c | a
            return (n, n + pb, False), (pb, pb + pa, False)
        return None, None

    @staticmethod
    def _read(out, at, axis, source):
        start, stop, flipped = source
        strip = out[at(slice(start, stop))]
        return _flip(strip, axis) if flipped else strip

    # ----- backward -------------------------------------------------------------------
    def adjoint(self, g):
        """The gradient of the input from the gradient ``g`` of the output."""
        xp = backend.xp(g)
        if self.cropped_out:  # the crop's transpose: zeros where the padded array was cut
            full = xp.zeros(tuple(n + b + a for n, (b, a) in zip(self.shape, self.widths)), dtype=g.dtype)
            full[tuple(self.crop_out)] = g
            g = full
        if self.mode == "constant":  # the input is one block of the output
            inner = g[tuple(slice(b, g.shape[j] - a) for j, (b, a) in enumerate(self.widths))]
        else:
            inner = self._fold(g, self.axes)
        if not self.cropped_in:
            return inner
        grad = xp.zeros(self.shape, dtype=g.dtype)
        grad[tuple(self.crop_in)] = inner
        return grad

    def _fold(self, g, axes):
        """Sum each padded strip of ``g`` (along ``axes``) back onto the positions it copies.
        Every element of ``g`` is read once: the centre along the first axis is folded over the
        remaining axes, and so is each strip, before the strip is added to the centre."""
        if not axes:
            return g.copy()
        axis, rest = axes[0], axes[1:]
        (pb, pa), n = self.widths[axis], g.shape[axis] - sum(self.widths[axis])
        inner = self._fold(g[_along(g.ndim, axis, slice(pb, pb + n))], rest)
        left, right = self._sources(pb, pa, n)
        for width, strip, source in ((pb, slice(0, pb), left), (pa, slice(pb + n, None), right)):
            if not width:
                continue
            part = self._fold(g[_along(g.ndim, axis, strip)], rest)
            start, stop, flipped = source
            if stop - start == 1 and width > 1:  # replicate: the strip was one edge, broadcast
                part = part.sum(axis=axis, keepdims=True)
            inner[_along(g.ndim, axis, slice(start - pb, stop - pb))] += _flip(part, axis) if flipped else part
        return inner


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
        self.plan = PadPlan(a.shape, pad, mode)
        return self.plan.apply(a, value)
