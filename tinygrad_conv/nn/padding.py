"""Padding modules, as PyTorch's: ``ZeroPad{1,2,3}d``, ``ConstantPad{1,2,3}d``,
``ReflectionPad{1,2,3}d``, ``ReplicationPad{1,2,3}d`` and ``CircularPad{1,2,3}d``.

Each holds ``padding`` as F.pad's tuple (``(left, right)`` for 1d, ``(left, right, top,
bottom)`` for 2d, ``(left, right, top, bottom, front, back)`` for 3d; an int pads every
side by it; negative widths crop) and calls ``F.pad``.
"""
from .. import checks
from .. import functional as F
from .module import Module


class _Pad(Module):
    mode, dims = "constant", 2  # set by each subclass

    def __init__(self, padding):
        super().__init__()
        where, sides = type(self).__name__, 2 * self.dims
        if isinstance(padding, (tuple, list)):
            if len(padding) != sides:
                raise ValueError(f"{where}: padding must be an int or a tuple of {sides} ints, got {padding!r}")
            self.padding = tuple(checks.integer(p, "padding", where) for p in padding)
        else:
            self.padding = (checks.integer(padding, "padding", where),) * sides

    def forward(self, x):
        return F.pad(x, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPad(_Pad):
    def __init__(self, padding, value):
        super().__init__(padding)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{type(self).__name__}: value must be a number, got {type(value).__name__} {value!r}")
        self.value = float(value)

    def forward(self, x):
        return F.pad(x, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPad):
    """Pad the last axis with ``value``."""
    dims = 1


class ConstantPad2d(_ConstantPad):
    """Pad the last two axes with ``value``."""
    dims = 2


class ConstantPad3d(_ConstantPad):
    """Pad the last three axes with ``value``."""
    dims = 3


class _ZeroPad(_ConstantPad):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad1d(_ZeroPad):
    """Pad the last axis with zeros."""
    dims = 1


class ZeroPad2d(_ZeroPad):
    """Pad the last two axes with zeros."""
    dims = 2


class ZeroPad3d(_ZeroPad):
    """Pad the last three axes with zeros."""
    dims = 3


class ReflectionPad1d(_Pad):
    """Mirror the last axis at its edges (widths below its length)."""
    mode, dims = "reflect", 1


class ReflectionPad2d(_Pad):
    """Mirror the last two axes at their edges (widths below their lengths)."""
    mode, dims = "reflect", 2


class ReflectionPad3d(_Pad):
    """Mirror the last three axes at their edges (widths below their lengths)."""
    mode, dims = "reflect", 3


class ReplicationPad1d(_Pad):
    """Repeat the edge values of the last axis."""
    mode, dims = "replicate", 1


class ReplicationPad2d(_Pad):
    """Repeat the edge values of the last two axes."""
    mode, dims = "replicate", 2


class ReplicationPad3d(_Pad):
    """Repeat the edge values of the last three axes."""
    mode, dims = "replicate", 3


class CircularPad1d(_Pad):
    """Wrap the last axis around (widths at most its length)."""
    mode, dims = "circular", 1


class CircularPad2d(_Pad):
    """Wrap the last two axes around (widths at most their lengths)."""
    mode, dims = "circular", 2


class CircularPad3d(_Pad):
    """Wrap the last three axes around (widths at most their lengths)."""
    mode, dims = "circular", 3
