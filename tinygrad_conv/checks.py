"""Argument normalisation and checks shared by every op and layer.

Each rule lives here once: "int or (h, w) pair", "at least 1", "same shape".
Messages name the op, what was given and what was expected.
"""
import numbers
import operator

import numpy as np


def pair(value, name, op, minimum=1):
    """Return ``value`` as an ``(h, w)`` tuple of ints, each >= ``minimum``.

    ``value`` is an int or a pair of ints; anything else is a ``TypeError``,
    a number below ``minimum`` a ``ValueError``.
    """
    if isinstance(value, (tuple, list)) and len(value) == 1:  # PyTorch repeats a 1-tuple over the axes
        value = value[0]
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{op}: {name} must be an int or an (h, w) pair, got {value!r}")
        h, w = value
    else:
        h = w = value
    for v in (h, w):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{op}: {name} must be an int or an (h, w) pair of ints, got {value!r}")
        if v < minimum:
            raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return int(h), int(w)


def ntuple(value, n, name, op, minimum=1):
    """Return ``value`` as a tuple of ``n`` ints (one per spatial axis), each >= ``minimum``:
    an int (repeated) or a sequence of n ints, as PyTorch's N-d convs take them."""
    if n == 2:
        return pair(value, name, op, minimum)
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    values = values * n if len(values) == 1 else values  # a 1-tuple counts for every axis, as PyTorch's
    if len(values) != n:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
        if v < minimum:
            raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in values)


def integer(value, name, where, minimum=None):
    """Check that ``value`` is an int (not a bool), >= ``minimum`` if given, and return it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")
    return int(value)


def index(value, name, where):
    """``value`` (an int, NumPy int or integer 0-d Tensor, not a bool) as a Python int."""
    if isinstance(value, (bool, np.bool_)) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{where}: {name} must be an int, got {type(value).__name__} {value!r}")
    return operator.index(value)


def size(value, name, where, minimum=0):
    """One size (an int as ``index`` takes it, not a tuple), >= ``minimum``."""
    n = index(value, name, where)
    if n < minimum:
        bound = "non-negative" if minimum == 0 else f">= {minimum}"
        raise ValueError(f"{where}: {name} must be {bound}, got {n}")
    return n


def sizes(args, where, minimum=0):
    """A size given as ints (``f(2, 3)``) or one tuple or list (``f((2, 3))``), as a tuple
    of ints >= ``minimum``. ``args`` is the tuple of positional arguments."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    elif not args:
        raise TypeError(f"{where}: missing size (give ints, e.g. {where}(2, 3), or one tuple, {where}((2, 3)))")
    if all(type(n) is int for n in args):  # the common case (reshape on every step), checked in one pass
        shape = tuple(args)
    else:
        shape = tuple(index(n, "each size", where) for n in args)
    if shape and min(shape) < minimum:
        bound = "non-negative" if minimum == 0 else f">= {minimum}"
        raise ValueError(f"{where}: sizes must be {bound}, got {shape}")
    return shape


def positive_int(value, name, where):
    """Check that ``value`` is an int >= 1 and return it."""
    return integer(value, name, where, minimum=1)


def boolean(value, name, where, ints=False):
    """Check that ``value`` is a bool (Python or NumPy; an int too where ``ints``, as PyTorch's
    ``backward(retain_graph=0)``) and return it as ``bool``."""
    if not isinstance(value, (bool, np.bool_) + ((numbers.Integral,) if ints else ())):
        raise TypeError(f"{where}: {name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def one_of(value, options, name, where):
    """Check that ``value`` is one of ``options`` (e.g. a loss reduction) and return it."""
    if value not in options:
        choices = ", ".join(repr(o) for o in options)
        raise ValueError(f"{where}: {name} must be one of {choices}, got {value!r}")
    return value


# PyTorch's memory formats (tc.channels_last, ...): to() and contiguous() accept them and change
# nothing, since arrays here are always C-ordered (NCHW) and a layout never changes a value.
contiguous_format, channels_last, preserve_format = "contiguous_format", "channels_last", "preserve_format"
MEMORY_FORMATS = (contiguous_format, channels_last, preserve_format)


def memory_format(value, where):
    """Check a ``memory_format=`` argument (None or one of ``MEMORY_FORMATS``)."""
    return value if value is None else one_of(value, MEMORY_FORMATS, "memory_format", where)


def same_shape(a, b, op, names=("input", "target")):
    """Raise ``ValueError`` unless arrays ``a`` and ``b`` have equal shapes."""
    if a.shape != b.shape:
        raise ValueError(
            f"{op}: {names[0]} shape {a.shape} and {names[1]} shape {b.shape} must be equal"
        )


def ndim(a, expected, op, name="input", layout=""):
    """Raise ``ValueError`` unless array ``a`` has ``expected`` dimensions."""
    if a.ndim != expected:
        hint = f" {layout}" if layout else ""
        raise ValueError(f"{op}: {name} must be {expected}-D{hint}, got shape {a.shape}")


def number(value, name, where, minimum=None, nan=False):
    """Check that ``value`` is a real number, not NaN unless ``nan`` (+-inf allowed:
    ``hardtanh(max_val=inf)`` clamps one side only), >= ``minimum`` if given; return it as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if value != value and not nan:
        raise ValueError(f"{where}: {name} must not be NaN")
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")
    return value


def finite_number(value, name, where, minimum=None):
    """Check that ``value`` is a finite real number (>= ``minimum``) and return it as float."""
    value = number(value, name, where)
    if not np.isfinite(value):
        raise ValueError(f"{where}: {name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")
    return value


def callable_(value, name, where, optional=True):
    """Check that ``value`` is callable (or None when ``optional``) and return it."""
    if not (callable(value) or (optional and value is None)):
        raise TypeError(f"{where}: {name} must be callable{' or None' if optional else ''}, "
                        f"got {type(value).__name__} {value!r}")
    return value


def optional_array(value, name, where):
    """Check that ``value`` is None, a Tensor or an array (a loss's ``weight``): a number or
    a list is a ``TypeError``, as in PyTorch, not a silent broadcast."""
    if value is not None and not (hasattr(value, "shape") and hasattr(value, "dtype")):
        raise TypeError(f"{where}: {name} must be a Tensor or None, got {type(value).__name__} {value!r}")
    return value


def axis(value, ndim, where):
    """Check that ``value`` is an int axis of an ``ndim``-D array (negative counts from
    the end) and return it as a non-negative int."""
    value = integer(value, "axis", where)
    if not -ndim <= value < ndim:
        raise ValueError(f"{where}: axis {value} is out of range for {ndim} axes")
    return value % ndim


def axes(value, ndim, where):
    """``value`` (None for all, an int, or a tuple or list of ints) as a sorted tuple of
    distinct non-negative axes of an ``ndim``-D array. A 0-d array accepts axis 0 (or -1),
    as PyTorch does, and reduces over no axis: ``()``, which NumPy reductions take."""
    if value is None:
        return tuple(range(ndim))
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    out = sorted(axis(v, max(ndim, 1), where) for v in items)
    if len(set(out)) != len(out):
        raise ValueError(f"{where}: repeated axis in {value!r}")
    return tuple(out) if ndim else ()
