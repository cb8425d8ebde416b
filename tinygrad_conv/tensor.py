"""``Tensor``: an n-d array that records the ops applied to it, as PyTorch's does.

A tensor holds its values in ``t.array`` (a NumPy array, or CuPy on a GPU): the
library computes on that. Users see PyTorch's API: ``.data`` is a detached
Tensor sharing the values, ``.grad`` a Tensor, dims are ``dim``/``keepdim``.
Each op result keeps the op that made it (``_op``); ``engine.py`` walks that
graph backwards.
"""
import collections
import math
import numbers
import operator

import numpy as np

from . import backend, checks, dtypes, engine, hooks
from .engine import RELEASED, GradError, GraphError  # noqa: F401  (tc.GradError, tc.GraphError)
from .grad_mode import get_ident, threads_without_grad


def _as_array(data, dtype, device=None):
    """User data as a fresh array on ``device`` (default: where ``data`` is, else the CPU),
    of ``dtype`` or the dtype ``torch.tensor`` would infer; ``TypeError``/``ValueError``."""
    if isinstance(data, Tensor):
        data = data.array
    dtype = None if dtype is None else dtypes.dtype(dtype, "Tensor")
    source = backend.device_of(data)  # "cuda:N" for a CuPy array
    target = source if device is None else backend.device(device)
    if source != backend.CPU:
        arr = backend.xp(data).array(data, copy=True)
    else:
        try:
            arr = np.array(data, copy=True)
        except ValueError as e:  # ragged nested lists
            raise ValueError(f"Tensor: data must be rectangular, got {type(data).__name__}: {e}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"Tensor: data must be numeric (a NumPy or CuPy array, nested list or number), "
            f"got {type(data).__name__} of dtype {arr.dtype}"
        )
    if dtype is None:
        dtype = dtypes.dtype(dtypes.infer(data, arr), "Tensor")
    return backend.to_device(arr.astype(dtype, copy=False), target)


def _grad_mode():
    """True when ops record the graph in this thread."""
    return not threads_without_grad or get_ident() not in threads_without_grad


def _dim(dim, axis, where):
    """``dim``, or its NumPy spelling ``axis`` (an accepted alias), not both."""
    if axis is None:
        return dim
    if dim is not None:
        raise TypeError(f"{where}: got both dim={dim!r} and its alias axis={axis!r}")
    return axis


def _keep(keepdim, keepdims, where):
    """``keepdim``, or its NumPy spelling ``keepdims``: a bool."""
    return checks.boolean(keepdim if keepdims is None else keepdims, "keepdim", where)


def _all_if_empty(dim):
    """An empty ``dim`` list reduces over every axis in PyTorch's sum/mean/amax/var (not in all/any)."""
    return None if isinstance(dim, (tuple, list)) and not dim else dim


def _named_comparison(dunder):
    """``t.eq(other)`` for ``t == other``: a method raises where the operator gives Python's
    ``NotImplemented`` (so ``t == "a"`` is False, as in PyTorch, but ``t.eq("a")`` a TypeError)."""
    name = dunder.__name__.strip("_")

    def compare(self, other):
        out = dunder(self, other)
        if out is NotImplemented:
            raise TypeError(f"{name}: other must be a Tensor or a number, got {type(other).__name__} {other!r}")
        return out

    compare.__name__ = name
    return compare


def _tensor_arg(value, name, where):
    """``value``, checked to be a Tensor (an ``other`` whose shape or dtype is read)."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{where}: {name} must be a Tensor, got {type(value).__name__} {value!r}")
    return value


_max_result = collections.namedtuple("max", ["values", "indices"])  # torch.return_types.max
_min_result = collections.namedtuple("min", ["values", "indices"])


class Tensor:
    """An n-d array with an optional gradient.

    ``Tensor(data, requires_grad=False, dtype=None, device=None)``: ``data`` is
    a NumPy or CuPy array, nested list, number or Tensor, copied. Its dtype is
    ``dtype`` or inferred as ``torch.tensor`` does (arrays keep theirs; Python
    floats give float32, ints int64, bools bool). ``device`` is ``"cpu"`` (the
    default, or the GPU a CuPy array lives on), ``"cuda"`` or ``"cuda:N"``.
    """

    __slots__ = ("array", "_grad", "requires_grad", "_op", "_retain", "_hooks", "_modified", "__weakref__")
    # Make NumPy hand `ndarray * Tensor` to Tensor.__rmul__ instead of looping.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        self.array = _as_array(data, dtype, device)
        self._grad = None
        self.requires_grad = False
        self._op = None
        self._retain = False
        self._hooks = None
        self._modified = 0
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, array, op):
        """Fast constructor for op results: no checks, no copy."""
        t = object.__new__(Tensor)
        t.array = array
        t._grad = None
        t.requires_grad = op is not None
        t._op = op
        t._retain = False
        t._hooks = None
        t._modified = 0
        return t

    # ----- array-like attributes -------------------------------------------------
    @property
    def shape(self):
        return self.array.shape

    @property
    def ndim(self):
        return self.array.ndim

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self):
        """``"cpu"`` or ``"cuda:N"`` (a string that is also a ``tc.device``)."""
        return backend.Device(backend.device_of(self.array))

    @property
    def is_cuda(self):
        return backend.is_cuda(self.array)

    @property
    def is_leaf(self):
        """True for tensors made by the user rather than by an op that records a graph."""
        return self._op is None

    @property
    def grad_fn(self):
        """The op that made this tensor (None for leaves)."""
        return self._op

    def size(self, dim=None):
        """The shape (a tuple), or its length along ``dim``."""
        if dim is None:
            return self.array.shape
        return self.array.shape[checks.axis(dim, max(self.ndim, 1), "size")] if self.ndim else 1

    def numel(self):
        """The number of elements."""
        return self.array.size

    nelement = numel

    def dim(self):
        """The number of dimensions."""
        return self.array.ndim

    ndimension = dim

    def element_size(self):
        return self.array.itemsize

    def is_floating_point(self):
        return self.array.dtype.kind == "f"

    def __len__(self):
        if not self.array.ndim:
            raise TypeError("len() of a 0-d tensor")
        return len(self.array)

    # ----- .data and .grad: Tensors, as in PyTorch -----------------------------------
    @property
    def data(self):
        """A Tensor sharing this tensor's values, detached from the graph: changing it in
        place changes this tensor without recording anything."""
        return Tensor._make(self.array, None)

    @data.setter
    def data(self, value):
        if isinstance(value, Tensor):
            value = value.array
        elif not (isinstance(value, np.ndarray) or backend.is_cuda(value)):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        self.array = value

    @property
    def grad(self):
        """dL/d(this tensor) accumulated by ``backward`` (a Tensor), or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None, got {type(value).__name__}")
            engine.check_grad(value, self, "assigned grad")
        self._grad = value

    def numpy(self, force=False):
        """The values as an ``np.ndarray``: shared on the CPU, a host copy of a CUDA tensor."""
        return backend.to_numpy(self.array)

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(t)``: the values of a CPU tensor (CUDA tensors must be copied with .cpu())."""
        if backend.is_cuda(self.array):
            raise TypeError(f"can't convert a {self.device} tensor to NumPy; use t.cpu() or t.numpy() to copy it to the host")
        return np.asarray(self.array, dtype)  # (a full reduction holds a NumPy scalar)

    def tolist(self):
        """The values as (nested) Python lists of numbers."""
        return self.numpy().tolist()

    # ----- devices and dtypes -----------------------------------------------------------
    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False, memory_format=None):
        """This tensor on another device and/or dtype: ``to(device)``, ``to(dtype)``,
        ``to(device, dtype)``, ``to(other)``. ``self`` when nothing changes; otherwise
        a result recorded in the graph (gradients flow back). ``memory_format`` is checked
        and changes nothing (see ``checks.MEMORY_FORMATS``)."""
        checks.memory_format(memory_format, "to")
        non_blocking, copy = checks.boolean(non_blocking, "non_blocking", "to"), checks.boolean(copy, "copy", "to")
        if isinstance(device, int) and not isinstance(device, bool):
            device = f"cuda:{device}"
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, str):
                device = a
            elif isinstance(a, int) and not isinstance(a, bool):  # a GPU's index, as in PyTorch
                device = f"cuda:{a}"
            else:
                dtype = a
        out = self
        if device is not None:
            target = backend.device(device)
            if target != backend.device_of(self.array):
                out = _ops.ToDevice.apply(out, device=target)
        if dtype is not None:
            out = out._cast(dtypes.dtype(dtype, "to"))
        return out.clone() if copy and out is self else out

    def _cast(self, dtype):
        """This tensor as ``dtype``: differentiable between floats; a cut in the graph into
        integers or bools, which carry no gradient."""
        if self.array.dtype == dtype:
            return self
        if dtype.kind == "f":
            return _ops.Cast.apply(self, dtype=dtype)
        return Tensor._make(self.array.astype(dtype), None)

    def astype(self, dtype, copy=False):
        """NumPy's spelling of ``to(dtype)`` (so array code runs on Tensors too)."""
        return self.to(dtype, copy=copy)

    def cpu(self):
        return self.to(backend.CPU)

    def cuda(self, index=None):
        return self.to("cuda" if index is None else f"cuda:{index}")

    def float(self):
        return self._cast(dtypes.float32)

    def double(self):
        return self._cast(dtypes.float64)

    def half(self):
        return self._cast(dtypes.float16)

    def long(self):
        return self._cast(dtypes.int64)

    def int(self):
        return self._cast(dtypes.int32)

    def bool(self):
        return self._cast(dtypes.bool)

    def type_as(self, other):
        return self._cast(_tensor_arg(other, "other", "type_as").dtype)

    def type(self, dtype=None):
        """``t.type(tc.int64)`` casts as ``t.to(dtype)`` (d2l's ``accuracy`` writes this);
        ``t.type()`` names the dtype (``"float32"``; PyTorch says ``"torch.FloatTensor"``)."""
        if dtype is None:
            return str(self.dtype)
        return self._cast(dtypes.dtype(dtype, "type"))

    # ----- Python numbers ----------------------------------------------------------------
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.array.size != 1:
            raise ValueError(f"item: only one-element tensors convert to a number, got shape {self.shape}")
        return self.array.item()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.array.size} values is ambiguous")
        return bool(self.array.item())

    def __index__(self):
        if self.array.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index, "
                            f"got dtype {self.dtype} and shape {self.shape}")
        return int(self.array.item())

    def __format__(self, spec):
        if self.array.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __repr__(self):
        body = np.array2string(self.numpy(), precision=4, separator=", ", prefix="tensor(")
        extra = "" if self.device == backend.CPU else f", device={str(self.device)!r}"
        if self.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool):
            extra += f", dtype={self.dtype}"
        if self._op is not None:
            extra += f", grad_fn={self._op.name}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ----- autograd ----------------------------------------------------------------
    def requires_grad_(self, requires_grad=True):
        """Start (or stop) recording ops on this leaf; only float tensors can require grad."""
        requires_grad = checks.boolean(requires_grad, "requires_grad", "requires_grad_")
        if requires_grad and self.array.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, got {self.dtype}")
        if not requires_grad and self._op is not None:
            raise RuntimeError("requires_grad_: you can only change requires_grad of leaf tensors; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """A new leaf sharing this data, outside any graph."""
        return Tensor._make(self.array, None)

    def zero_grad(self, set_to_none=True):
        """Forget the accumulated gradient (``.grad = None``), or with ``set_to_none=False``
        fill it with zeros in place, detached from any graph, as PyTorch's optimizers do."""
        g = self._grad
        if g is None or set_to_none:
            self._grad = None
        elif g._op is None and isinstance(g.array, np.ndarray) and g.array.flags.writeable:
            g.array[...] = 0
        elif g._op is None and backend.is_cuda(g.array):
            g.array.fill(0)
        else:  # a grad with a graph (create_graph=True), a NumPy scalar or a read-only view
            self._grad = Tensor._make(backend.xp(g.array).zeros_like(g.array), None)

    def retain_grad(self):
        """Keep ``.grad`` on this intermediate tensor after ``backward``."""
        self._retain = True
        return self

    @property
    def retains_grad(self):
        return self._retain

    def register_hook(self, hook):
        """Call ``hook(grad)`` (a Tensor) in every backward once this tensor's gradient is
        complete (leaf or intermediate); a returned Tensor replaces the gradient. Returns a
        handle whose ``.remove()`` unregisters it."""
        if not self.requires_grad:
            raise GraphError("register_hook: this tensor does not require grad, so no gradient will reach it")
        if self._hooks is None:
            self._hooks = {}
        return hooks.add(self._hooks, hook, "register_hook")

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        ``gradient`` (dL/dself) defaults to 1 for a one-element tensor. The graph is
        released afterwards unless ``retain_graph=True``; ``inputs`` (tensors)
        limits which tensors get a ``.grad``.
        """
        if not self.requires_grad:
            raise GraphError("backward: this tensor does not require grad (no graph was recorded to it)")
        if self._op is RELEASED:
            raise GraphError(
                "backward: the graph behind this tensor was already released by an earlier "
                "backward; pass retain_graph=True to it, or recompute the forward pass"
            )
        if inputs is not None:
            if not isinstance(inputs, (Tensor, list, tuple)):
                raise TypeError(f"backward: inputs must be a Tensor or a sequence of Tensors, got {type(inputs).__name__}")
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
            if not inputs or not all(isinstance(t, Tensor) and t.requires_grad for t in inputs):
                raise ValueError("backward: inputs must be a non-empty sequence of tensors that require grad")
        create_graph = checks.boolean(create_graph, "create_graph", "backward", ints=True)
        if retain_graph is None:
            retain_graph = create_graph  # as PyTorch: a graph of the gradient needs this one
        retain_graph = checks.boolean(retain_graph, "retain_graph", "backward", ints=True)
        grad = self._root_grad(gradient)  # checked; under create_graph a given Tensor keeps its graph
        if create_graph and isinstance(gradient, Tensor):
            grad = gradient if gradient.dtype == self.dtype else gradient.to(self.dtype)
        engine.backward([self], [grad], bool(retain_graph), inputs, bool(create_graph))

    def _root_grad(self, grad):
        """``backward``'s ``gradient`` as an array of this tensor's shape, dtype and device."""
        if grad is None:
            if self.array.size != 1:
                raise ValueError(
                    f"backward: gradient must be given for a tensor of shape {self.shape}; "
                    "it defaults to 1 only for one-element tensors"
                )
            return backend.xp(self.array).ones_like(self.array)
        grad = grad.array if isinstance(grad, Tensor) else grad
        if isinstance(grad, (list, tuple, numbers.Number)):
            grad = backend.like(np.asarray(grad), self.array)
        elif backend.device_of(grad) != backend.device_of(self.array):
            raise ValueError(f"backward: gradient is on {backend.device_of(grad)} but the tensor is on {self.device}")
        grad = backend.xp(grad).asarray(grad)
        if grad.shape != self.shape:
            raise ValueError(f"backward: gradient shape {grad.shape} must equal tensor shape {self.shape}")
        if grad.dtype.kind not in "biuf":
            raise TypeError(f"backward: gradient must be numeric, got dtype {grad.dtype}")
        return grad.astype(self.dtype, copy=False)

    # ----- arithmetic: PyTorch's type promotion, numbers on either side ---------------
    def _wrap(self, other):
        """``other`` (a Tensor, number, list or array) as a Tensor on this tensor's device.

        A number becomes a 0-d array of this tensor's dtype when that is what PyTorch's
        promotion gives (always for a float tensor), so float32 stays float32.
        """
        if isinstance(other, Tensor):
            return other
        data = self.array
        if type(other) in (float, int) and data.dtype.kind == "f":  # the common case, checked first
            dtype = data.dtype
        elif isinstance(other, (numbers.Number, np.bool_)):
            dtype = dtypes.result_type(data, number=other)
        else:
            dtype = None
        if dtype is not None:
            # A 0-d array on the CPU (NumPy multiplies by it faster than by a scalar),
            # a NumPy scalar on the GPU (CuPy takes scalars, not NumPy arrays).
            if type(data) is np.ndarray:
                return Tensor._make(np.asarray(other, dtype=dtype), None)
            return Tensor._make(dtype.type(other), None)
        if isinstance(other, (list, tuple, np.ndarray)) or backend.is_cuda(other):
            return Tensor(other, device=backend.device_of(self.array))  # constants follow the tensor
        raise TypeError(f"unsupported operand: Tensor and {type(other).__name__}")

    def _binary(self, other, op, reverse=False):
        """``op`` on ``self`` and ``other``, both promoted to their common dtype first."""
        other = self._wrap(other)
        return op.apply(*_common_dtype(other, self) if reverse else _common_dtype(self, other))

    def __add__(self, other):
        return self._binary(other, _ops.Add)

    def __radd__(self, other):
        return self._binary(other, _ops.Add, reverse=True)

    def __sub__(self, other):
        return self._binary(other, _ops.Sub)

    def __rsub__(self, other):
        return self._binary(other, _ops.Sub, reverse=True)

    def __mul__(self, other):
        return self._binary(other, _ops.Mul)

    def __rmul__(self, other):
        return self._binary(other, _ops.Mul, reverse=True)

    def __truediv__(self, other):
        if self.array.dtype.kind != "f":  # true division of integers gives floats
            return self.float()._binary(other, _ops.Div)
        return self._binary(other, _ops.Div)

    def __rtruediv__(self, other):
        if self.array.dtype.kind != "f":
            return self.float()._binary(other, _ops.Div, reverse=True)
        return self._binary(other, _ops.Div, reverse=True)

    def __floordiv__(self, other):
        other = self._wrap(other)
        return Tensor._make(self.array // other.array, None)  # integer arithmetic: no gradient

    def __mod__(self, other):
        other = self._wrap(other)
        return Tensor._make(self.array % other.array, None)

    def __pow__(self, exponent):
        if isinstance(exponent, (Tensor, np.ndarray)) or backend.is_cuda(exponent):  # elementwise exponents
            base, exponent = _common_dtype(self, self._wrap(exponent))
            if base.array.dtype.kind != "f" and (exponent.array < 0).any():
                raise ValueError("pow: integers to negative integer powers are not allowed (as in PyTorch)")
            return _ops.PowTensor.apply(base, exponent)
        if isinstance(exponent, bool) or not isinstance(exponent, numbers.Real):
            raise TypeError(f"pow: the exponent must be a number or a Tensor, got {type(exponent).__name__}")
        base = self if self.array.dtype.kind == "f" or isinstance(exponent, numbers.Integral) else self.float()
        return _ops.Pow.apply(base, exponent=float(exponent) if base.array.dtype.kind == "f" else exponent)

    def __rpow__(self, base):
        """``base ** self`` for a number ``base``: ``exp(self * log(base))``."""
        if isinstance(base, bool) or not isinstance(base, numbers.Real):
            return NotImplemented
        x = self._floating()
        if base > 0:
            return (x * math.log(base)).exp()
        if x.requires_grad:
            raise ValueError(f"pow: {base} ** tensor is differentiable only for a positive base")
        return Tensor._make(backend.xp(x.array).power(x.array.dtype.type(base), x.array), None)

    def __neg__(self):
        return _ops.Neg.apply(self)

    def __abs__(self):
        return self.abs()

    def __matmul__(self, other):
        return _ops.MatMul.apply(*_same_dtype(self, self._wrap(other), "matmul"))

    def __rmatmul__(self, other):
        return _ops.MatMul.apply(*_same_dtype(self._wrap(other), self, "matmul"))

    def add(self, other, alpha=1):
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other, alpha=1):
        return self - (other if alpha == 1 else other * alpha)

    def mul(self, other):
        return self * other

    def div(self, other, *, rounding_mode=None):
        """``self / other``; ``rounding_mode`` "trunc" or "floor" rounds the quotient, whose
        gradient is then 0 (a step function), as PyTorch's."""
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
        whole = self.array.dtype.kind in "iub" and not isinstance(other, float) and (
            not isinstance(other, Tensor) or other.array.dtype.kind in "iub")
        q = self / other
        xp = backend.xp(q.array)
        rounded = (xp.trunc if rounding_mode == "trunc" else xp.floor)(q.array)
        if whole:  # integers stay integers
            return Tensor._make(rounded.astype(_common_dtype(self, self._wrap(other))[0].array.dtype), None)
        # the rounded values, with q's graph behind them so backward reaches the inputs (with 0)
        return _ops.Where.apply(Tensor._make(rounded, None), q, condition=xp.ones(q.shape, bool))

    def pow(self, exponent):
        return self**exponent

    def matmul(self, other):
        return self @ other

    mm = bmm = matmul

    # ----- comparisons: bool Tensors ----------------------------------------------------------
    def _compare(self, other, compare):
        if isinstance(other, Tensor):
            other = other.array
        elif isinstance(other, (list, tuple)):
            other = backend.like(np.asarray(other), self.array)
        elif not (isinstance(other, (numbers.Number, np.ndarray)) or backend.is_cuda(other)):
            return NotImplemented
        try:
            return Tensor._make(compare(self.array, other), None)
        except ValueError:  # NumPy's broadcast error, which names no op
            raise ValueError(f"{compare.__name__}: shapes {self.shape} and {np.shape(other)} cannot be broadcast together") from None

    def __lt__(self, other):
        return self._compare(other, operator.lt)

    def __le__(self, other):
        return self._compare(other, operator.le)

    def __gt__(self, other):
        return self._compare(other, operator.gt)

    def __ge__(self, other):
        return self._compare(other, operator.ge)

    def __eq__(self, other):
        return self._compare(other, operator.eq)

    def __ne__(self, other):
        return self._compare(other, operator.ne)

    __hash__ = object.__hash__  # by identity: defining __eq__ would drop it
    lt, le, gt, ge, eq, ne = (_named_comparison(f) for f in (__lt__, __le__, __gt__, __ge__, __eq__, __ne__))
    less, less_equal, greater, greater_equal, not_equal = lt, le, gt, ge, ne

    def __invert__(self):
        if self.array.dtype.kind == "f":
            raise TypeError("~ (bitwise not) is only defined on integer and bool tensors")
        return Tensor._make(~self.array, None)

    def _logical(self, other, fn):
        other = self._wrap(other)
        return Tensor._make(fn(self.array, other.array), None)

    def __and__(self, other):
        return self._logical(other, operator.and_)

    def __or__(self, other):
        return self._logical(other, operator.or_)

    def __xor__(self, other):
        return self._logical(other, operator.xor)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def logical_not(self):
        return Tensor._make(backend.xp(self.array).logical_not(self.array), None)

    def equal(self, other):
        """True when both tensors have the same shape and values (``torch.equal``)."""
        _tensor_arg(other, "other", "equal")
        return self.shape == other.shape and bool((self.array == other.array).all())

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        xp = backend.xp(self.array)
        rtol, atol = (checks.number(v, n, "allclose", minimum=0) for v, n in ((rtol, "rtol"), (atol, "atol")))
        equal_nan = checks.boolean(equal_nan, "equal_nan", "allclose")
        return bool(xp.allclose(self.array, _array_of(other), rtol=rtol, atol=atol, equal_nan=equal_nan))

    def isnan(self):
        return Tensor._make(backend.xp(self.array).isnan(self.array), None)

    def isinf(self):
        return Tensor._make(backend.xp(self.array).isinf(self.array), None)

    def isfinite(self):
        return Tensor._make(backend.xp(self.array).isfinite(self.array), None)

    # ----- elementwise functions ------------------------------------------------------
    def _floating(self):
        """This tensor, as float32 if it holds integers (exp of an int tensor is a float)."""
        return self if self.array.dtype.kind == "f" else self._cast(dtypes.DEFAULT_FLOAT)

    def exp(self):
        return _ops.Exp.apply(self._floating())

    def log(self):
        return _ops.Log.apply(self._floating())

    def tanh(self):
        return _ops.Tanh.apply(self._floating())

    def sigmoid(self):
        return _ops.Sigmoid.apply(self._floating())

    def sqrt(self):
        return _ops.Sqrt.apply(self._floating())

    def relu(self):
        return _ops.ReLU.apply(self)

    def abs(self):
        return _ops.Abs.apply(self)

    def neg(self):
        return -self

    def clamp(self, min=None, max=None):
        """Limit to ``[min, max]`` (numbers or Tensors, broadcasting; either may be None), as ``torch.clamp``."""
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            return self._clamp_tensor(min, max)
        for name, bound in (("min", min), ("max", max)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, numbers.Real)):
                raise TypeError(f"clamp: {name} must be a number or None, got {type(bound).__name__}")
        if self.array.dtype.kind != "f" and any(isinstance(b, float) for b in (min, max)):
            return self.float().clamp(min, max)
        return _ops.Clip.apply(self, min=min, max=max)

    clip = clamp

    def _clamp_tensor(self, min, max):
        """``clamp`` with a Tensor bound: every operand promoted to one dtype, then one op."""
        bounds = [self._wrap(b) for b in (min, max) if b is not None]
        dtype = dtypes.result_type(self.array, *[b.array for b in bounds])
        x, *bounds = [t if t.array.dtype == dtype else t._cast(dtype) for t in (self, *bounds)]
        return _ops.ClampTensor.apply(x, *bounds, has_min=min is not None, has_max=max is not None)

    def sin(self):
        return _ops.Sin.apply(self._floating())

    def cos(self):
        return _ops.Cos.apply(self._floating())

    def maximum(self, other):
        return _ops.Maximum.apply(*_promoted(self, other))

    def minimum(self, other):
        return _ops.Minimum.apply(*_promoted(self, other))

    def softmax(self, dim=None, *, axis=None, dtype=None):
        from . import functional

        return functional.softmax(self, _dim(dim, axis, "softmax"), dtype=dtype)

    def log_softmax(self, dim=None, *, axis=None, dtype=None):
        from . import functional

        return functional.log_softmax(self, _dim(dim, axis, "log_softmax"), dtype=dtype)

    # ----- reductions (dim/keepdim, or NumPy's axis/keepdims) ---------------------------
    def sum(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        x = self if dtype is None else self._cast(dtypes.dtype(dtype, "sum"))
        if x.array.dtype.kind in "bui":  # integer sums are int64, as in PyTorch
            x = x._cast(dtypes.int64)
        return _ops.Sum.apply(x, axis=_all_if_empty(_dim(dim, axis, "sum")), keepdims=_keep(keepdim, keepdims, "sum"))

    def mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        x = self if dtype is None else self._cast(dtypes.dtype(dtype, "mean"))
        if x.array.dtype.kind != "f":
            raise RuntimeError(f"mean: input dtype must be floating point, got {x.dtype}; "
                               "use t.float().mean() or mean(dtype=tc.float32)")
        return _ops.Mean.apply(x, axis=_all_if_empty(_dim(dim, axis, "mean")), keepdims=_keep(keepdim, keepdims, "mean"))

    def _extremum(self, dim, keepdim, axis, keepdims, op, arg, result, where):
        dim, keepdim = _dim(dim, axis, where), _keep(keepdim, keepdims, where)
        if dim is None:  # over everything: a 0-d tensor; ties share the gradient
            return op.apply(self)
        if isinstance(dim, (tuple, list)):
            raise TypeError(f"{where}: dim must be an int (use amax/amin for several dims), got {dim!r}")
        dim = checks.axis(dim, max(self.ndim, 1), where)
        if self.array.size == 0:
            raise ValueError(f"{where}: cannot reduce an empty tensor of shape {self.shape}")
        # the gradient goes to the returned index, as PyTorch's max(dim)
        index = arg(self.array.reshape(self.shape or (1,)), axis=dim, keepdims=True)
        values = self.reshape(self.shape or (1,)).gather(dim, Tensor._make(index, None))
        if not keepdim or self.ndim == 0:  # a 0-d input gives 0-d results, keepdim or not
            values, index = values.squeeze(dim), index.squeeze(axis=dim)
        return result(values, Tensor._make(index, None))

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """``max()``: the maximum (0-d); ``max(dim)``: ``(values, indices)`` along ``dim``;
        ``max(other)``: the elementwise maximum."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        xp = backend.xp(self.array)
        return self._extremum(dim, keepdim, axis, keepdims, _ops.Max, xp.argmax, _max_result, "max")

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """``min()``, ``min(dim)`` -> ``(values, indices)``, or ``min(other)``, as ``max``."""
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        xp = backend.xp(self.array)
        return self._extremum(dim, keepdim, axis, keepdims, _ops.Min, xp.argmin, _min_result, "min")

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Maximum over ``dim`` (an int or several); tied maxima share the gradient."""
        dim = _all_if_empty(_dim(dim, axis, "amax"))
        return _ops.Max.apply(self, axis=dim, keepdims=_keep(keepdim, keepdims, "amax"))

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim = _all_if_empty(_dim(dim, axis, "amin"))
        return _ops.Min.apply(self, axis=dim, keepdims=_keep(keepdim, keepdims, "amin"))

    def _arg(self, dim, keepdim, fn, where):
        keepdim = _keep(keepdim, None, where)
        a = self.array
        xp = backend.xp(a)
        if dim is None:  # an index into the flattened tensor
            out = xp.asarray(fn(a), np.int64)
            return Tensor._make(out.reshape((1,) * a.ndim) if keepdim else out, None)
        dim = checks.axis(dim, max(a.ndim, 1), where)
        out = xp.asarray(fn(a.reshape(a.shape or (1,)), axis=dim, keepdims=keepdim), np.int64)
        return Tensor._make(out if a.ndim else out.reshape(()), None)

    def argmax(self, dim=None, keepdim=False, *, axis=None):
        """Index of the maximum along ``dim`` (of the flattened tensor when None): int64, no gradient."""
        return self._arg(_dim(dim, axis, "argmax"), keepdim, backend.xp(self.array).argmax, "argmax")

    def argmin(self, dim=None, keepdim=False, *, axis=None):
        return self._arg(_dim(dim, axis, "argmin"), keepdim, backend.xp(self.array).argmin, "argmin")

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        """Variance ``sum((x - mean)**2) / (n - correction)``; ``correction=1`` (the default,
        or ``unbiased=True``) is unbiased, as ``torch.var``."""
        if isinstance(dim, bool):  # torch.var(x, False): the unbiased flag in dim's place
            dim, unbiased = None, dim
        if unbiased is not None and correction is not None:
            raise TypeError("var: give unbiased or correction, not both")
        if unbiased is not None:
            unbiased = checks.boolean(unbiased, "unbiased", "var")
        correction = (1 if unbiased is None or unbiased else 0) if correction is None else correction
        correction = checks.number(correction, "correction", "var")
        return _ops.Var.apply(self._floating(), axis=_all_if_empty(_dim(dim, axis, "var")),
                              keepdims=_keep(keepdim, keepdims, "var"), correction=correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        """Standard deviation: ``var(...).sqrt()``."""
        return self.var(dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims).sqrt()

    def prod(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        """Product over ``dim`` (one int, or everything when None)."""
        x = self if dtype is None else self._cast(dtypes.dtype(dtype, "prod"))
        if x.array.dtype.kind in "bui":
            x = x._cast(dtypes.int64)
        return _ops.Prod.apply(x, axis=_dim(dim, axis, "prod"), keepdims=_keep(keepdim, keepdims, "prod"))

    def cumsum(self, dim=None, *, dtype=None, axis=None):
        """Running sums along ``dim``."""
        dim = _dim(dim, axis, "cumsum")
        if dim is None:
            raise TypeError("cumsum: dim must be given")
        x = self if dtype is None else self._cast(dtypes.dtype(dtype, "cumsum"))
        if x.array.dtype.kind in "bui":
            x = x._cast(dtypes.int64)
        return _ops.CumSum.apply(x, axis=dim)

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """``log(sum(exp(x), dim))``, computed stably (the maximum factored out)."""
        dim, keepdim = _dim(dim, axis, "logsumexp"), _keep(keepdim, keepdims, "logsumexp")
        x = self._floating()
        top = x.array.max(axis=checks.axes(dim, x.ndim, "logsumexp"), keepdims=True)
        top = backend.xp(top).where(backend.xp(top).isfinite(top), top, 0)  # all -inf: log(0) = -inf
        shift = Tensor._make(top, None)
        out = (x - shift).exp().sum(dim, keepdim=True).log() + shift
        return out if keepdim else out.squeeze(checks.axes(dim, x.ndim, "logsumexp") if x.ndim else None)

    def norm(self, p=2, dim=None, keepdim=False):
        """The ``p``-norm over ``dim`` (everything when None): ``sum(|x|**p) ** (1/p)``."""
        p = 2.0 if p is None or (isinstance(p, str) and p == "fro") else checks.number(p, "p", "norm")
        keepdim = checks.boolean(keepdim, "keepdim", "norm")
        if p == 2:
            return (self * self).sum(dim, keepdim).sqrt()
        if p in (float("inf"), -float("inf")):
            return self.abs().amax(dim, keepdim) if p > 0 else self.abs().amin(dim, keepdim)
        if p == 0:  # the count of nonzeros, as torch.linalg.vector_norm: a step, so no gradient
            return (self.detach() != 0).type_as(self).sum(dim, keepdim)
        return (self.abs() ** p).sum(dim, keepdim) ** (1.0 / p)

    def all(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = _dim(dim, axis, "all"), _keep(keepdim, keepdims, "all")
        dim = None if dim is None else checks.axes(dim, self.ndim, "all")
        return Tensor._make(backend.xp(self.array).asarray(self.array.all(axis=dim, keepdims=keepdim)), None)

    def any(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = _dim(dim, axis, "any"), _keep(keepdim, keepdims, "any")
        dim = None if dim is None else checks.axes(dim, self.ndim, "any")
        return Tensor._make(backend.xp(self.array).asarray(self.array.any(axis=dim, keepdims=keepdim)), None)

    # ----- shape ----------------------------------------------------------------------
    def reshape(self, *shape):
        shape = checks.sizes(shape, "reshape", minimum=-1)  # NumPy would take any negative size as -1
        if shape.count(-1) > 1:
            raise ValueError(f"reshape: only one size can be inferred (-1), got {shape}")
        return _ops.Reshape.apply(self, shape=shape)

    view = reshape

    def view_as(self, other):
        return self.reshape(_tensor_arg(other, "other", "view_as").shape)

    reshape_as = view_as

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge dims ``start_dim`` to ``end_dim`` into one: ``(N, C, H, W).flatten(1) -> (N, C*H*W)``."""
        nd = max(self.ndim, 1)
        start, end = checks.axis(start_dim, nd, "flatten"), checks.axis(end_dim, nd, "flatten")
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        shape = self.shape or (1,)
        # the merged size written out, not -1: (0, 16, 5, 5) -> (0, 400), where -1 would be ambiguous
        return self.reshape(shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:])

    def unflatten(self, dim, sizes):
        """Split dim ``dim`` into ``sizes`` (one may be -1)."""
        dim = checks.axis(dim, self.ndim, "unflatten")
        if not isinstance(sizes, (tuple, list)):
            raise TypeError(f"unflatten: sizes must be a tuple or list of ints, got {type(sizes).__name__} {sizes!r}")
        sizes = checks.sizes((sizes,), "unflatten", minimum=-1)
        return self.reshape(self.shape[:dim] + tuple(sizes) + self.shape[dim + 1:])

    def squeeze(self, dim=None):
        """Drop dims of size 1 (only ``dim``, an int or several, when given)."""
        if dim is None:
            dims = [i for i, n in enumerate(self.shape) if n == 1]
        else:
            dims = [d for d in checks.axes(dim, self.ndim, "squeeze") if self.ndim and self.shape[d] == 1]
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in dims))

    def unsqueeze(self, dim):
        """Insert a dim of size 1 at ``dim`` (``-1`` appends it)."""
        dim = checks.axis(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def transpose(self, dim0, dim1):
        """Swap dims ``dim0`` and ``dim1``."""
        nd = max(self.ndim, 1)
        d0, d1 = checks.axis(dim0, nd, "transpose"), checks.axis(dim1, nd, "transpose")
        if self.ndim < 2 or d0 == d1:
            return self
        axes = list(range(self.ndim))
        axes[d0], axes[d1] = d1, d0
        return _ops.Transpose.apply(self, axes=tuple(axes))

    swapaxes = swapdims = transpose

    def permute(self, *dims):
        """Reorder the dims: ``(N, H, W, C).permute(0, 3, 1, 2) -> (N, C, H, W)``."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        if len(dims) != self.ndim:
            raise ValueError(f"permute: {len(dims)} dims given for a {self.ndim}-D tensor of shape {self.shape}")
        dims = tuple(checks.axis(d, max(self.ndim, 1), "permute") for d in dims)
        if sorted(dims) != list(range(self.ndim)):
            raise ValueError(f"permute: dims {dims} are not a permutation of the {self.ndim} dims of shape {self.shape}")
        return _ops.Transpose.apply(self, axes=dims)

    def movedim(self, source, destination):
        """Move dim ``source`` to position ``destination``, keeping the others' order."""
        nd = max(self.ndim, 1)
        src, dst = checks.axis(source, nd, "movedim"), checks.axis(destination, nd, "movedim")
        order = [d for d in range(self.ndim) if d != src]
        order.insert(dst, src)
        return self.permute(*order) if self.ndim > 1 else self

    moveaxis = movedim

    def t(self):
        """The transpose of a tensor of at most 2 dims."""
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with <= 2 dims, got shape {self.shape}; use transpose(d0, d1)")
        return self.transpose(0, 1) if self.ndim == 2 else self

    @property
    def T(self):
        """All dims reversed."""
        return _ops.Transpose.apply(self, axes=None) if self.ndim > 1 else self

    @property
    def mT(self):
        """The last two dims swapped (a batch of matrices transposed)."""
        if self.ndim < 2:
            raise ValueError(f"mT: expects a tensor with >= 2 dims, got shape {self.shape}")
        return self.transpose(-2, -1)

    def expand(self, *sizes):
        """A broadcast view of this tensor at ``sizes`` (-1 keeps a dim's size)."""
        sizes = checks.sizes(sizes, "expand", minimum=-1)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: {len(sizes)} sizes given for a {self.ndim}-D tensor of shape {self.shape}")
        shape = tuple(self.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
        return _ops.Expand.apply(self, shape=shape)

    def expand_as(self, other):
        return self.expand(_tensor_arg(other, "other", "expand_as").shape)

    broadcast_to = expand

    def repeat(self, *sizes):
        """Tile this tensor ``sizes[i]`` times along each dim (leading sizes add dims)."""
        sizes = checks.sizes(sizes, "repeat")
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} repeats given for a {self.ndim}-D tensor; give at least {self.ndim}")
        return _ops.Repeat.apply(self, repeats=sizes)

    def split(self, split_size_or_sections, dim=None, *, axis=None):
        """Pieces along ``dim`` (default 0): an int chunk size (the last piece may be smaller)
        or a list of sizes adding up to the dim's length. Returns a tuple of Tensors."""
        dim = checks.axis(_dim(dim, axis, "split") or 0, self.ndim, "split")
        n, sizes = self.shape[dim], split_size_or_sections
        if isinstance(sizes, (list, tuple)):
            sizes = [checks.integer(s, "sizes", "split", minimum=0) for s in sizes]
            if sum(sizes) != n:
                raise ValueError(f"split: sizes {sizes} add up to {sum(sizes)} but dim {dim} has length {n}")
        else:
            chunk = checks.positive_int(sizes, "split_size", "split")
            sizes = [min(chunk, n - start) for start in range(0, n, chunk)] or [0]
        bounds = np.cumsum([0] + sizes).tolist()
        lead = (slice(None),) * dim
        return tuple(self[lead + (slice(lo, hi),)] for lo, hi in zip(bounds, bounds[1:]))

    def chunk(self, chunks, dim=0):
        """At most ``chunks`` pieces of ``ceil(n / chunks)`` along ``dim`` (``torch.chunk``)."""
        chunks = checks.positive_int(chunks, "chunks", "chunk")
        dim = checks.axis(dim, self.ndim, "chunk")
        return self.split(max(-(-self.shape[dim] // chunks), 1), dim)

    def unbind(self, dim=0):
        """The slices along ``dim``, that dim removed."""
        dim = checks.axis(dim, self.ndim, "unbind")
        lead = (slice(None),) * dim
        return tuple(self[lead + (i,)] for i in range(self.shape[dim]))

    def gather(self, dim, index):
        """``out[i][j] = self[index[i][j]][j]`` for ``dim=0`` (and likewise for any dim);
        ``index`` an int64 tensor with as many dims as ``self``."""
        index = index.array if isinstance(index, Tensor) else backend.like(np.asarray(index), self.array)
        if index.dtype.kind not in "iu":
            raise TypeError(f"gather: index must be an integer tensor, got dtype {index.dtype}")
        if index.size == 0 and index.ndim != max(self.ndim, 1):  # PyTorch lets an empty index have any shape
            return self.flatten()[:0].reshape(index.shape)
        if index.ndim != max(self.ndim, 1) and not (index.ndim == 0 and self.ndim == 0):
            raise ValueError(f"gather: index must have as many dims as the input ({self.ndim}), got shape {index.shape}")
        return _ops.Gather.apply(self, axis=checks.axis(dim, max(self.ndim, 1), "gather"), index=index)

    def masked_fill(self, mask, value):
        """``value`` where ``mask`` (a bool tensor) is True, else ``self``; the two broadcast
        together, as PyTorch's out-of-place ``masked_fill`` (``masked_fill_`` keeps this shape)."""
        mask = mask.array if isinstance(mask, Tensor) else mask
        if getattr(mask, "dtype", None) != np.bool_:
            raise TypeError(f"masked_fill: mask must be a bool tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
        value = value if isinstance(value, Tensor) else self._wrap(value)
        if value.ndim:
            raise ValueError(f"masked_fill: value must be a number or 0-d tensor, got shape {value.shape}")
        fill = value._cast(self.dtype) if value.dtype != self.dtype else value
        try:
            np.broadcast_shapes(mask.shape, self.shape)
        except ValueError:
            raise ValueError(f"masked_fill: mask of shape {mask.shape} does not broadcast with {self.shape}") from None
        return _ops.Where.apply(fill, self, condition=backend.like(mask, self.array))

    def clone(self, *, memory_format=None):
        """A copy with its own memory, recorded in the graph (``memory_format`` as in ``to``)."""
        checks.memory_format(memory_format, "clone")
        return _ops.Clone.apply(self)

    def contiguous(self, memory_format=None):
        checks.memory_format(memory_format, "contiguous")
        return self

    def is_contiguous(self):
        return True

    def __contains__(self, value):
        return bool((self == value).any())

    # ----- new tensors with this tensor's dtype and device ---------------------------------
    def _new(self, factory, args, kwargs):
        kwargs.setdefault("dtype", self.dtype)
        kwargs.setdefault("device", self.device)
        return factory(*args, **kwargs)

    def new_zeros(self, *size, **kwargs):
        return self._new(factories.zeros, size, kwargs)

    def new_ones(self, *size, **kwargs):
        return self._new(factories.ones, size, kwargs)

    def new_empty(self, *size, **kwargs):
        return self._new(factories.empty, size, kwargs)

    def new_full(self, size, fill_value, **kwargs):
        return self._new(factories.full, (size, fill_value), kwargs)

    def new_tensor(self, data, **kwargs):
        return self._new(factories.tensor, (data,), kwargs)

    def __getitem__(self, index):
        return _ops.GetItem.apply(self, index=index)

    def __iter__(self):
        if not self.array.ndim:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.array)))

    # ----- convolution -------------------------------------------------------------------
    def conv2d(self, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        """``F.conv2d(self, weight, bias, stride, padding, dilation, groups)``."""
        from . import functional

        return functional.conv2d(self, weight, bias, stride, padding, dilation, groups)

    # ----- in place: only where no graph depends on the values ---------------------------
    def _inplace(self, where, compute):
        """Replace this tensor's values by ``compute(t)``, a Tensor of this shape computed out
        of place from ``t`` (this tensor's current value).

        Outside a recorded graph the result is written into the existing array, so
        views (``.data``) see it. A tensor that requires grad and was made by an op
        takes the result's place in the graph instead (its old value stays intact for
        ops that saved it). A leaf that requires grad refuses, as in PyTorch.
        """
        if _grad_mode():
            if self.requires_grad and self._op is None:
                raise RuntimeError(
                    f"{where}: a leaf tensor that requires grad is being used in an in-place operation; "
                    "do it inside `with tc.no_grad():` or on t.data"
                )
            # computed from a stand-in for the old value: if the result is recorded, the graph
            # must lead back to the old value, not to this tensor, which becomes the result
            new = compute(Tensor._make(self.array, self._op))
        else:
            new = compute(self)
        if new.shape != self.shape:
            raise RuntimeError(f"{where}: the result has shape {new.shape}, which does not fit the tensor's shape {self.shape}")
        if dtypes.category(new.dtype) > dtypes.category(self.dtype):
            raise RuntimeError(f"{where}: result type {new.dtype} can't be cast to the tensor's dtype {self.dtype}")
        if new.requires_grad and _grad_mode():  # recorded: take the result's place in the graph
            new = new._cast(self.dtype)
            self.array, self._op, self.requires_grad = new.array, new._op, True
        elif isinstance(self.array, np.generic):  # a full reduction's NumPy scalar: no views of it exist
            self.array = np.asarray(new.array, self.dtype)
        else:
            self.array[...] = new.array
        engine.tick(self)
        return self

    def __iadd__(self, other):
        return self._inplace("+=", lambda t: t + other)

    def __isub__(self, other):
        return self._inplace("-=", lambda t: t - other)

    def __imul__(self, other):
        return self._inplace("*=", lambda t: t * other)

    def __itruediv__(self, other):
        return self._inplace("/=", lambda t: t / other)

    def add_(self, other, alpha=1):
        return self._inplace("add_", lambda t: t.add(other, alpha))

    def sub_(self, other, alpha=1):
        return self._inplace("sub_", lambda t: t.sub(other, alpha))

    def mul_(self, other):
        return self._inplace("mul_", lambda t: t * other)

    def div_(self, other):
        return self._inplace("div_", lambda t: t / other)

    def clamp_(self, min=None, max=None):
        return self._inplace("clamp_", lambda t: t.clamp(min, max))

    clip_ = clamp_

    def relu_(self):
        return self._inplace("relu_", lambda t: t.relu())

    def fill_(self, value):
        if isinstance(value, Tensor) and value.ndim:
            raise ValueError(f"fill_: a Tensor value must be 0-d, got shape {value.shape}")
        if not isinstance(value, (Tensor, numbers.Number, np.generic)):
            raise TypeError(f"fill_: value must be a number or a 0-d Tensor, got {type(value).__name__} {value!r}")
        fill = value if isinstance(value, Tensor) else self._wrap(value)
        return self._inplace("fill_", lambda t: fill._cast(t.dtype).expand(t.shape))

    def zero_(self):
        return self.fill_(0)

    def copy_(self, src, non_blocking=False):
        """Copy ``src`` (broadcast to this shape, cast to this dtype and device) into this tensor."""
        src = src if isinstance(src, Tensor) else Tensor(src)
        src = src.to(self.device) if src.device != self.device else src
        return self._inplace("copy_", lambda t: src._cast(t.dtype).expand(t.shape))

    def _fill_random(self, where, draw):
        from . import random

        values = draw(random.generator()).astype(self.dtype, copy=False)
        return self._inplace(where, lambda t: Tensor._make(backend.like(values, self.array), None))

    def normal_(self, mean=0.0, std=1.0):
        mean = checks.number(mean, "mean", "normal_", nan=True)
        std = checks.number(std, "std", "normal_", minimum=0)
        return self._fill_random("normal_", lambda g: g.normal(mean, std, self.shape))

    def uniform_(self, a=0.0, b=1.0):
        a, b = checks.finite_number(a, "a", "uniform_"), checks.finite_number(b, "b", "uniform_")
        if a > b:
            raise ValueError(f"uniform_: expects a <= b, got a={a}, b={b}")
        return self._fill_random("uniform_", lambda g: g.uniform(a, b, self.shape))

    def masked_fill_(self, mask, value):
        return self._inplace("masked_fill_", lambda t: t.masked_fill(mask, value))

    def __setitem__(self, index, value):
        """``t[index] = value`` in place (see ``_inplace``); differentiable for tensors
        made by ops, as PyTorch's."""
        value = value if isinstance(value, Tensor) else self._wrap(value)
        if not ((self.requires_grad or value.requires_grad) and _grad_mode()):  # plain array assignment
            index = _ops.movement.index_arrays(index, self.array)[0]
            self.array[index] = backend.like(value.array, self.array)
            engine.tick(self)
            return
        self._inplace("__setitem__", lambda t: _ops.SetItem.apply(t, value._cast(t.dtype), index=index))


def _array_of(x):
    return x.array if isinstance(x, Tensor) else x


def _promoted(a, b):
    """``a`` and ``b`` (Tensors or numbers) as Tensors of their common dtype (PyTorch's promotion)."""
    ref = a if isinstance(a, Tensor) else b
    return _common_dtype(ref._wrap(a), ref._wrap(b))


def _common_dtype(a, b):
    """Tensors ``a`` and ``b`` cast to the dtype PyTorch's promotion gives them (themselves
    when they already share one: the common case, checked by identity first)."""
    da, db = a.array.dtype, b.array.dtype
    if da is not db and da != db:
        dtype = dtypes.result_type(a.array, b.array)
        return a._cast(dtype), b._cast(dtype)
    return a, b


def _same_dtype(a, b, where):
    """Matrix products and convolutions take one dtype, as PyTorch's: no silent promotion."""
    if a.array.dtype != b.array.dtype:
        raise TypeError(f"{where}: expected both operands to have the same dtype, got {a.dtype} and {b.dtype}")
    return a, b


from . import factories  # noqa: E402  (factories and ops import Tensor, so they come after it)
from . import ops as _ops  # noqa: E402
from .engine import unbroadcast  # noqa: E402,F401  (kept importable from here)
