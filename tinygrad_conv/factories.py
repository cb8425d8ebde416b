"""Making tensors, as ``torch`` makes them: from data, filled, ranges, random draws.

Every factory takes PyTorch's arguments and gives PyTorch's dtypes: floats are
float32 unless ``dtype=`` says otherwise, integers int64, bools bool. Sizes are
ints or one tuple (``zeros(2, 3)`` or ``zeros((2, 3))``); ``dtype=``,
``device=`` and ``requires_grad=`` are keywords. Arrays are built by NumPy on
the CPU and moved once to a CUDA ``device``, so a seeded random draw gives the
same numbers on every device. Random draws come from the library's generator
(``tc.manual_seed``) unless ``generator=`` (an ``np.random.Generator``) is given.
"""
import math
import numbers

import numpy as np

from . import backend, checks, dtypes, random
from .tensor import Tensor

__all__ = [
    "tensor", "as_tensor", "from_numpy",
    "zeros", "ones", "empty", "full", "arange", "linspace", "eye",
    "rand", "randn", "randint", "randperm",
    "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like",
]


# ----- the rules every factory shares ---------------------------------------------------
_int = checks.index  # the one rule for an int argument
_shape = checks.sizes  # ints or one tuple, each >= 0


def _options(where, dtype, device, requires_grad, default_dtype=dtypes.DEFAULT_FLOAT, default_device=backend.CPU):
    """``dtype``, ``device`` and ``requires_grad`` checked, with their defaults filled in.

    Only floating tensors can require grad: ``RuntimeError`` otherwise, as in PyTorch.
    """
    dt = default_dtype if dtype is None else dtypes.dtype(dtype, where)
    device = default_device if device is None else backend.device(device)
    if not isinstance(requires_grad, (bool, np.bool_)):
        raise TypeError(f"{where}: requires_grad must be a bool, got {type(requires_grad).__name__} {requires_grad!r}")
    if requires_grad and dt not in dtypes.FLOATS:
        raise RuntimeError(f"Only Tensors of floating point dtype can require gradients ({where} with dtype {dt})")
    return dt, device, bool(requires_grad)


def _leaf(array, device, requires_grad):
    """A leaf Tensor holding ``array`` moved to ``device`` (no copy when it is already there)."""
    t = Tensor._make(backend.to_device(array, device), None)
    t.requires_grad = requires_grad
    return t


def _number(value, name, where):
    """A Python number from ``value`` (a number or a one-element Tensor); ``TypeError`` otherwise."""
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, np.bool_):
        value = bool(value)
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {type(value).__name__} {value!r}")
    return value


def _number_dtype(value):
    """The dtype PyTorch gives a Python number: bool, int64 for an int, else float32."""
    if isinstance(value, bool):
        return dtypes.bool
    return dtypes.int64 if isinstance(value, numbers.Integral) else dtypes.DEFAULT_FLOAT


def _generator(generator, where):
    """The generator to draw from: the library's (``tc.manual_seed``) when None."""
    if generator is None:
        return random.generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{where}: generator must be an np.random.Generator or None, got {type(generator).__name__}")
    return generator


def _floats(draw, shape, dt, where):
    """``draw(shape, dtype=...)`` (a Generator's ``random`` or ``standard_normal``) as ``dt``.

    NumPy draws float32 and float64 directly; float16 is drawn as float32 and rounded.
    """
    if dt not in dtypes.FLOATS:
        raise TypeError(f"{where}: dtype must be a floating dtype (float32 or float64), got {dt}")
    native = dt if dt in (dtypes.float32, dtypes.float64) else dtypes.float32
    return draw(shape, dtype=native).astype(dt, copy=False)


def _like(input, dtype, device, where):
    """``input``'s array, and ``dtype`` and ``device`` defaulting to that array's."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{where}: input must be a Tensor, got {type(input).__name__}")
    like = input.array
    return like, (like.dtype if dtype is None else dtype), (backend.device_of(like) if device is None else device)


def _fill(xp, shape, value, dt):
    """An array of module ``xp`` (NumPy or CuPy) of ``shape`` filled with ``value`` (None: uninitialised)."""
    return xp.empty(shape, dtype=dt) if value is None else xp.full(shape, value, dtype=dt)


# ----- from data ------------------------------------------------------------------------
def _is_array(data):
    """True for a NumPy or CuPy array."""
    return isinstance(data, np.ndarray) or backend.device_of(data) != backend.CPU


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new leaf tensor holding a copy of ``data`` (a number, nested list, NumPy or CuPy
    array, or Tensor), of its shape.

    The dtype is inferred as ``torch.tensor`` does: Python floats give float32, ints
    int64, bools bool; arrays and Tensors keep theirs. The device is ``data``'s (the
    CPU for numbers and lists) unless ``device`` is given.
    """
    where = "tensor"
    if isinstance(data, Tensor):
        data = data.array
    if _is_array(data):
        array = data
    else:
        try:
            array = np.asarray(data)
        except ValueError as e:  # ragged nested lists
            raise ValueError(f"{where}: data must be rectangular, got {type(data).__name__}: {e}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: data must be numbers, nested lists or an array, got {type(data).__name__} "
                        f"of dtype {array.dtype}")
    inferred = dtypes.dtype(dtypes.infer(data, array), where)
    dt, device, requires_grad = _options(where, dtype, device, requires_grad, inferred, backend.device_of(array))
    moved = backend.to_device(array, device)
    # to_device copies across devices and returns the array itself on its own device.
    fresh = moved.astype(dt, copy=True) if moved is array else backend.cast(moved, dt)
    return _leaf(fresh, device, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing memory when it can: a Tensor or array already of
    ``dtype`` on ``device`` is used as it is (a Tensor is returned itself); otherwise
    it is converted (a Tensor through ``.to``, so gradients flow) or copied as by ``tensor``.
    """
    where = "as_tensor"
    if isinstance(data, Tensor):
        dt, device, _ = _options(where, dtype, device, False, data.dtype, backend.device_of(data.array))
        if dt == data.dtype and device == backend.device_of(data.array):
            return data
        return data.to(device=device, dtype=dt)
    if _is_array(data):
        dt, device, _ = _options(where, dtype, device, False, dtypes.dtype(data.dtype, where), backend.device_of(data))
        return _leaf(backend.cast(backend.to_device(data, device), dt), device, False)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray):
    """A CPU tensor sharing memory with ``ndarray`` (same shape and dtype): writes to
    either show in the other."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(ndarray).__name__}")
    dtypes.dtype(ndarray.dtype, "from_numpy")
    return _leaf(ndarray, backend.CPU, False)


# ----- filled -----------------------------------------------------------------------------
def _constant(where, shape, value, dtype, device, requires_grad, default=dtypes.DEFAULT_FLOAT):
    """A leaf of ``shape`` filled with ``value`` (None: left uninitialised)."""
    dt, device, requires_grad = _options(where, dtype, device, requires_grad, default)
    return _leaf(_fill(np, shape, value, dt), device, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of shape ``size`` filled with 0 (float32 unless ``dtype``)."""
    return _constant("zeros", _shape(size, "zeros"), 0, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of shape ``size`` filled with 1 (float32 unless ``dtype``)."""
    return _constant("ones", _shape(size, "ones"), 1, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of shape ``size`` whose values are whatever the memory held (float32
    unless ``dtype``): for buffers about to be overwritten."""
    return _constant("empty", _shape(size, "empty"), None, dtype, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor of shape ``size`` (a tuple) filled with ``fill_value``.

    The dtype follows ``fill_value`` unless given: bool gives bool, an int int64, a float float32.
    """
    shape = _shape((size,), "full")
    fill_value = _number(fill_value, "fill_value", "full")
    return _constant("full", shape, fill_value, dtype, device, requires_grad, _number_dtype(fill_value))


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """The ``(n, m)`` identity matrix (``m`` defaults to ``n``): ones on the diagonal."""
    n, m = _shape((n, n if m is None else m), "eye")
    dt, device, requires_grad = _options("eye", dtype, device, requires_grad)
    return _leaf(np.eye(n, m, dtype=dt), device, requires_grad)


# ----- ranges -------------------------------------------------------------------------------
def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """The 1-D tensor ``[start, start + step, ...]`` up to ``end`` (excluded), of length
    ``ceil((end - start) / step)``; ``arange(end)`` starts at 0.

    int64 when every argument is an int, else float32. An integer ``dtype`` truncates the
    arguments to ints first, as PyTorch does.
    """
    if end is None:
        start, end = 0, start
    start, end, step = (_number(v, name, "arange") for v, name in ((start, "start"), (end, "end"), (step, "step")))
    integers = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    default = dtypes.int64 if integers else dtypes.DEFAULT_FLOAT
    dt, device, requires_grad = _options("arange", dtype, device, requires_grad, default)
    if not all(np.isfinite(v) for v in (start, end, step)):
        raise ValueError(f"arange: start, end and step must be finite, got {start}, {end}, {step}")
    integral = dt.kind != "f"
    if integral:
        start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise ValueError(f"arange: end {end} cannot be reached from start {start} with step {step}")
    if integral:
        values = np.arange(start, end, step, dtype=np.int64)
    else:  # start + i * step in float64 as PyTorch (np.arange drifts: it steps by (start + step) - start)
        values = start + step * np.arange(math.ceil((end - start) / step), dtype=np.float64)
    return _leaf(values.astype(dt, copy=False), device, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """The 1-D tensor of ``steps`` evenly spaced values from ``start`` to ``end`` (both included).

    Computed in float64 and rounded to ``dtype`` (float32 unless given): PyTorch computes
    in the output dtype, so a float32 value may differ from its by a unit in the last place.
    An integer ``dtype`` truncates ``start`` and ``end`` first and then each value, as PyTorch does.
    """
    start, end = _number(start, "start", "linspace"), _number(end, "end", "linspace")
    steps = checks.size(steps, "steps", "linspace")
    dt, device, requires_grad = _options("linspace", dtype, device, requires_grad)
    if dt.kind != "f":
        start, end = int(start), int(end)
    values = np.linspace(start, end, steps, dtype=np.float64)
    return _leaf(values.astype(dt, copy=False), device, requires_grad)


# ----- random ---------------------------------------------------------------------------------
def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """A tensor of shape ``size`` drawn uniformly from ``[0, 1)`` (float32 unless ``dtype``)."""
    shape = _shape(size, "rand")
    dt, device, requires_grad = _options("rand", dtype, device, requires_grad)
    return _leaf(_floats(_generator(generator, "rand").random, shape, dt, "rand"), device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """A tensor of shape ``size`` drawn from the standard normal distribution (float32 unless ``dtype``)."""
    shape = _shape(size, "randn")
    dt, device, requires_grad = _options("randn", dtype, device, requires_grad)
    draw = _generator(generator, "randn").standard_normal
    return _leaf(_floats(draw, shape, dt, "randn"), device, requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A tensor of shape ``size`` (a tuple) of integers drawn uniformly from ``[low, high)``
    (int64 unless ``dtype``). Called as PyTorch's: ``randint(high, size)`` or
    ``randint(low, high, size)``, positionally or by keyword."""
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=size)
        low, high = 0, low
    shape = _shape((size,), "randint")
    low, high = _int(low, "low", "randint"), _int(high, "high", "randint")
    if low >= high:
        raise ValueError(f"randint: low must be less than high, got low={low}, high={high}")
    dt, device, requires_grad = _options("randint", dtype, device, requires_grad, dtypes.int64)
    draws = _generator(generator, "randint").integers(low, high, size=shape, dtype=np.int64)
    return _leaf(draws.astype(dt, copy=False), device, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of ``0, ..., n - 1``: a 1-D tensor of length ``n`` (int64 unless ``dtype``)."""
    n = checks.size(n, "n", "randperm")
    dt, device, requires_grad = _options("randperm", dtype, device, requires_grad, dtypes.int64)
    order = _generator(generator, "randperm").permutation(n)
    return _leaf(order.astype(dt, copy=False), device, requires_grad)


# ----- shaped like another tensor ------------------------------------------------------------
# Each keeps ``input``'s shape, dtype and device unless told otherwise, and never its graph.
def _constant_like(where, input, value, dtype, device, requires_grad):
    """A leaf of ``input``'s shape filled with ``value`` (None: left uninitialised)."""
    like, dtype, device = _like(input, dtype, device, where)
    dt, device, requires_grad = _options(where, dtype, device, requires_grad)
    # Built by input's array module when the result lives on input's device: no transfer.
    xp = backend.xp(like) if backend.device_of(like) == device else np
    return _leaf(_fill(xp, like.shape, value, dt), device, requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False):
    """A tensor of ``input``'s shape filled with 0."""
    return _constant_like("zeros_like", input, 0, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False):
    """A tensor of ``input``'s shape filled with 1."""
    return _constant_like("ones_like", input, 1, dtype, device, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False):
    """A tensor of ``input``'s shape, uninitialised."""
    return _constant_like("empty_like", input, None, dtype, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor of ``input``'s shape filled with ``fill_value``, cast to ``input``'s dtype
    unless ``dtype`` is given (``full_like(int_tensor, 2.5)`` holds 2s)."""
    fill_value = _number(fill_value, "fill_value", "full_like")
    return _constant_like("full_like", input, fill_value, dtype, device, requires_grad)


def rand_like(input, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A tensor of ``input``'s shape drawn uniformly from ``[0, 1)``."""
    like, dtype, device = _like(input, dtype, device, "rand_like")
    return rand(like.shape, generator=generator, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(input, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A tensor of ``input``'s shape drawn from the standard normal distribution."""
    like, dtype, device = _like(input, dtype, device, "randn_like")
    return randn(like.shape, generator=generator, dtype=dtype, device=device, requires_grad=requires_grad)
