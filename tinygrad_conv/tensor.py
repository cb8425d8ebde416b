"""``Tensor``: an n-d array that records the ops applied to it, and ``backward``.

Each op result keeps the op that made it (``_op``), and each op keeps its input
Tensors (``_op.parents``): together they form the graph that ``backward`` walks
from the loss back to the leaves.
"""
import numbers
import operator
import sys

import numpy as np

from . import anomaly, backend, checks, hooks


_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


class GraphError(RuntimeError, ValueError):
    """``backward`` cannot run from here (no graph, or the graph was released).

    A ``RuntimeError`` as in PyTorch and a ``ValueError`` as this library's
    convention for bad values, so either ``except`` catches it.
    """


class _Released:
    """Marks a node whose graph ``backward`` has already released."""

    name = "released"

    def __repr__(self):
        return "<released graph>"


_RELEASED = _Released()


def _as_array(data, dtype, device=None):
    """Turn user data into a fresh float array on ``device`` (default: where ``data`` is,
    else the CPU), or raise ``TypeError``/``ValueError``."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError as e:
            raise TypeError(f"Tensor: dtype {dtype!r} is not a NumPy dtype") from e
        if dtype not in _FLOAT_DTYPES:
            raise TypeError(f"Tensor: dtype must be float16, float32 or float64, got {dtype}")
    source = backend.device_of(data)  # "cuda:N" for a CuPy array
    target = source if device is None else backend.device(device)
    if source != backend.CPU:
        arr = backend.xp(data).array(data, copy=True)
    else:
        try:
            arr = np.array(data, copy=True)
        except ValueError as e:  # ragged nested lists
            raise ValueError(f"Tensor: data must be rectangular, got {type(data).__name__}: {e}") from None
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise TypeError(
            f"Tensor: data must be numeric (a NumPy or CuPy array, nested list or number), "
            f"got {type(data).__name__} of dtype {arr.dtype}"
        )
    if dtype is None:
        # Only floating arrays keep their dtype; Python numbers and lists
        # (which NumPy would make float64) and integers become float32.
        keeps = kind == "f" and (isinstance(data, (np.ndarray, np.generic)) or source != backend.CPU)
        dtype = arr.dtype if keeps else np.dtype(np.float32)
    return backend.to_device(arr.astype(dtype, copy=False), target)


def _own(g, dtype):
    """``g`` as a gradient a leaf may keep: ``g`` itself when nothing else can see it (as
    PyTorch steals a gradient nobody shares), else a copy. Nothing else sees g when this
    frame holds the only reference (getrefcount counts the local and its own argument),
    it owns its memory (not a view) and has the leaf's dtype. Saves a copy of every
    parameter's gradient per step."""
    if sys.getrefcount(g) <= 3 and g.base is None and g.dtype == dtype and getattr(g.flags, "writeable", True):
        return g
    return g.astype(dtype, copy=True)


class Tensor:
    """An n-d float array with an optional gradient.

    ``Tensor(data, requires_grad=False, dtype=None, device=None)``: ``data`` is
    a NumPy or CuPy array, nested list or number. Floating arrays keep their
    dtype; numbers, lists and integer arrays become float32 unless ``dtype``
    says otherwise. ``device`` is ``"cpu"`` (the default, or the GPU a CuPy
    array lives on), ``"cuda"`` or ``"cuda:N"``.
    """

    __slots__ = ("data", "grad", "requires_grad", "_op", "_retain", "_hooks", "__weakref__")
    # Make NumPy hand `ndarray * Tensor` to Tensor.__rmul__ instead of looping.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        self.data = _as_array(data, dtype, device)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._op = None
        self._retain = False
        self._hooks = None

    @classmethod
    def _make(cls, data, op):
        """Fast constructor for op results: no checks, no copy."""
        t = object.__new__(Tensor)
        t.data = data
        t.grad = None
        t.requires_grad = op is not None
        t._op = op
        t._retain = False
        t._hooks = None
        return t

    # ----- array-like attributes -------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        return self.data.size

    @property
    def device(self):
        """``"cpu"`` or ``"cuda:N"``."""
        return backend.device_of(self.data)

    @property
    def is_leaf(self):
        """True for tensors made by the user rather than by an op."""
        return self._op is None

    def __len__(self):
        return len(self.data)

    def numpy(self):
        """The data as an ``np.ndarray``: shared on the CPU, a host copy of a CUDA tensor."""
        return backend.to_numpy(self.data)

    # ----- devices ----------------------------------------------------------------------
    def to(self, device):
        """This tensor on ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:N"``): ``self`` if it is
        already there, else a copy recorded in the graph (gradients flow back)."""
        device = backend.device(device)
        if device == self.device:
            return self
        return _ops.ToDevice.apply(self, device=device)

    def cpu(self):
        """``self.to("cpu")``."""
        return self.to(backend.CPU)

    def cuda(self, index=None):
        """``self.to("cuda")`` (or ``"cuda:index"``)."""
        return self.to("cuda" if index is None else f"cuda:{index}")

    def item(self):
        """The value of a one-element tensor as a Python float."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors convert to a number, got shape {self.shape}")
        return self.data.item()

    def detach(self):
        """A new leaf sharing this data, outside any graph."""
        return Tensor._make(self.data, None)

    def zero_grad(self):
        """Forget the accumulated gradient (``.grad = None``)."""
        self.grad = None

    def retain_grad(self):
        """Keep ``.grad`` on this intermediate tensor after ``backward``."""
        self._retain = True
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` in every backward once this tensor's gradient is complete
        (leaf or intermediate); a returned array replaces the gradient. Returns a
        handle whose ``.remove()`` unregisters it."""
        if not self.requires_grad:
            raise GraphError("register_hook: this tensor does not require grad, so no gradient will reach it")
        if self._hooks is None:
            self._hooks = {}
        return hooks.add(self._hooks, hook, "register_hook")

    def __repr__(self):
        body = np.array2string(self.numpy(), precision=4, separator=", ", prefix="Tensor(")
        extra = "" if self.device == backend.CPU else f", device={self.device!r}"
        if self._op is not None:
            extra += f", op={self._op.name}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        if self.dtype != np.float32:
            extra += f", dtype={self.dtype}"
        return f"Tensor({body}{extra})"

    # ----- autograd ----------------------------------------------------------------
    def backward(self, grad=None):
        """Accumulate dself/dleaf into ``.grad`` of every leaf that requires grad.

        ``grad`` (dL/dself) defaults to 1 for a one-element tensor. The graph is
        released afterwards, so a second ``backward`` through it is an error.
        """
        if not self.requires_grad:
            raise GraphError("backward: this tensor does not require grad (no graph was recorded to it)")
        if self._op is _RELEASED:
            raise GraphError(
                "backward: the graph behind this tensor was already released by an earlier "
                "backward; recompute the forward pass to backpropagate again"
            )
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward: grad must be given for a tensor of shape {self.shape}; "
                    "it defaults to 1 only for one-element tensors"
                )
            grad = backend.xp(self.data).ones_like(self.data)
        else:
            grad = grad.data if isinstance(grad, Tensor) else grad
            if isinstance(grad, (list, tuple, numbers.Number)):
                grad = backend.like(np.asarray(grad), self.data)
            elif backend.device_of(grad) != self.device:
                raise ValueError(f"backward: grad is on {backend.device_of(grad)} but the tensor is on {self.device}")
            grad = backend.xp(grad).asarray(grad)
            if grad.shape != self.shape:
                raise ValueError(f"backward: grad shape {grad.shape} must equal tensor shape {self.shape}")
            if grad.dtype.kind not in "biuf":
                raise TypeError(f"backward: grad must be numeric, got dtype {grad.dtype}")
            grad = grad.astype(self.dtype, copy=False)

        order = self._topological_order()
        check_nan = anomaly.enabled
        grads = {id(self): grad}
        for node in reversed(order):
            g = grads.pop(id(node), None)
            if node._hooks and g is not None:  # this gradient is complete: hooks see it now
                g = hooks.run_grad_hooks(node, g)
            op = node._op
            if op is None:  # a leaf: accumulate, never alias an array the graph passed around
                if g is not None:
                    node.grad = _own(g, node.dtype) if node.grad is None else node.grad + g
                continue
            if g is not None:
                if node._retain:
                    node.grad = g.copy() if node.grad is None else node.grad + g
                parent_grads = op.backward(g)
                if not isinstance(parent_grads, (tuple, list)):
                    parent_grads = (parent_grads,)
                if check_nan:
                    anomaly.check_backward(op, parent_grads)
                for parent, pg in zip(op.parents, parent_grads):
                    if pg is None or not parent.requires_grad:
                        continue
                    if pg.shape != parent.data.shape:
                        pg = unbroadcast(pg, parent.data.shape)
                    key = id(parent)
                    prev = grads.get(key)
                    grads[key] = pg if prev is None else prev + pg
                parent_grads = pg = prev = None  # the dict holds the only references (see _own)
            # Release the graph as we go: saved arrays are freed right away, so
            # memory does not grow across a training loop.
            node._op = _RELEASED

    def _topological_order(self):
        """Nodes reachable from self that need grad, each after all its inputs.

        The order matters: a tensor used by two ops must receive both gradient
        contributions before its own op passes the sum on. Iterative (an
        explicit stack, no recursion) so graphs of any depth work.
        """
        order, visited = [], set()
        stack = [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            op = node._op
            if op is _RELEASED:
                raise GraphError(
                    "backward: part of this graph was already released by an earlier backward; "
                    "recompute the forward pass to backpropagate through it again"
                )
            if op is not None:
                for parent in op.parents:
                    if parent.requires_grad and id(parent) not in visited:
                        stack.append((parent, False))
        return order

    # ----- arithmetic (NumPy broadcasting; numbers on either side) -------------------
    def _wrap(self, other):
        if isinstance(other, Tensor):
            return other
        if isinstance(other, numbers.Number) and not isinstance(other, bool):
            # Numbers take the tensor's dtype so float32 stays float32: a 0-d array on the
            # CPU (NumPy multiplies by it faster than by a scalar), a NumPy scalar on the
            # GPU (CuPy takes scalars, not NumPy arrays).
            data = self.data
            if type(data) is np.ndarray:
                return Tensor._make(np.asarray(other, dtype=data.dtype), None)
            return Tensor._make(data.dtype.type(other), None)
        if isinstance(other, (list, tuple)):  # like numbers, lists follow the tensor's device
            kind = np.asarray(other).dtype.kind
            return Tensor(other, dtype=None if kind == "f" else self.data.dtype, device=self.device)
        if isinstance(other, np.ndarray) or backend.device_of(other) != backend.CPU:  # NumPy or CuPy
            # A constant array follows the tensor to its device, as numbers and lists do.
            return Tensor(other, dtype=None if other.dtype.kind == "f" else self.data.dtype, device=self.device)
        raise TypeError(f"unsupported operand: Tensor and {type(other).__name__}")

    def __add__(self, other):
        return _ops.Add.apply(self, self._wrap(other))

    def __radd__(self, other):
        return _ops.Add.apply(self._wrap(other), self)

    def __sub__(self, other):
        return _ops.Sub.apply(self, self._wrap(other))

    def __rsub__(self, other):
        return _ops.Sub.apply(self._wrap(other), self)

    def __mul__(self, other):
        return _ops.Mul.apply(self, self._wrap(other))

    def __rmul__(self, other):
        return _ops.Mul.apply(self._wrap(other), self)

    def __truediv__(self, other):
        return _ops.Div.apply(self, self._wrap(other))

    def __rtruediv__(self, other):
        return _ops.Div.apply(self._wrap(other), self)

    def __pow__(self, exponent):
        if isinstance(exponent, bool) or not isinstance(exponent, numbers.Real):
            raise TypeError(f"pow: the exponent must be a number, got {type(exponent).__name__}")
        return _ops.Pow.apply(self, exponent=float(exponent))

    def __neg__(self):
        return _ops.Neg.apply(self)

    def __matmul__(self, other):
        return _ops.MatMul.apply(self, self._wrap(other))

    def __rmatmul__(self, other):
        return _ops.MatMul.apply(self._wrap(other), self)

    # ----- elementwise functions ------------------------------------------------------
    def exp(self):
        return _ops.Exp.apply(self)

    def log(self):
        return _ops.Log.apply(self)

    def tanh(self):
        return _ops.Tanh.apply(self)

    def sigmoid(self):
        return _ops.Sigmoid.apply(self)

    def relu(self):
        return _ops.ReLU.apply(self)

    # ----- reductions -----------------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        return _ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops.Max.apply(self, axis=axis, keepdims=keepdims)

    # ----- shape ----------------------------------------------------------------------
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.Reshape.apply(self, shape=shape)

    def flatten(self, start_dim=1):
        """Merge the axes from ``start_dim`` on: ``(N, C, H, W) -> (N, C*H*W)``."""
        nd = self.data.ndim
        start = start_dim + nd if start_dim < 0 else start_dim
        if not 0 <= start < max(nd, 1):
            raise ValueError(f"flatten: start_dim {start_dim} is out of range for a {nd}-D tensor of shape {self.shape}")
        return self.reshape(self.shape[:start] + (-1,))

    def transpose(self, *axes):
        """Permute axes as ``np.transpose`` does (no axes: reverse them)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.Transpose.apply(self, axes=axes or None)

    @property
    def T(self):
        return _ops.Transpose.apply(self, axes=None)

    def __getitem__(self, index):
        return _ops.GetItem.apply(self, index=index)

    # ----- convolution -------------------------------------------------------------------
    def conv2d(self, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        """``F.conv2d(self, weight, bias, stride, padding, dilation, groups)``."""
        from . import functional

        return functional.conv2d(self, weight, bias, stride, padding, dilation, groups)

    # ----- version 2: more elementwise functions, reductions, comparisons, splitting ------------
    def abs(self):
        return _ops.Abs.apply(self)

    def sqrt(self):
        return _ops.Sqrt.apply(self)

    def clip(self, min=None, max=None):
        """Limit to ``[min, max]`` (numbers; either may be None), as ``torch.clamp``."""
        for name, bound in (("min", min), ("max", max)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, numbers.Real)):
                raise TypeError(f"clip: {name} must be a number or None, got {type(bound).__name__}")
        return _ops.Clip.apply(self, min=min, max=max)

    def var(self, axis=None, keepdims=False, correction=1):
        """Variance, ``sum((x - mean)**2) / (n - correction)``; ``correction=1`` is unbiased."""
        return _ops.Var.apply(self, axis=axis, keepdims=keepdims, correction=correction)

    def min(self, axis=None, keepdims=False):
        return _ops.Min.apply(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None):
        """Index of the maximum (of the flattened tensor when ``axis`` is None): an integer
        array on the tensor's device, not a Tensor (it has no gradient)."""
        return backend.xp(self.data).asarray(self.data.argmax(axis=axis))

    def split(self, sizes, axis=0):
        """Pieces along ``axis``: ``sizes`` is a chunk size (the last piece may be smaller)
        or a list of sizes adding up to the axis length. Returns a tuple of Tensors."""
        axis = checks.axis(axis, self.ndim, "split")
        n = self.shape[axis]
        if isinstance(sizes, (list, tuple)):
            sizes = [checks.integer(s, "sizes", "split", minimum=0) for s in sizes]
            if sum(sizes) != n:
                raise ValueError(f"split: sizes {sizes} add up to {sum(sizes)} but axis {axis} has length {n}")
        else:
            chunk = checks.positive_int(sizes, "sizes", "split")
            sizes = [min(chunk, n - start) for start in range(0, n, chunk)]
        bounds = np.cumsum([0] + sizes).tolist()
        lead = (slice(None),) * axis
        return tuple(self[lead + (slice(lo, hi),)] for lo, hi in zip(bounds, bounds[1:]))

    # Comparisons give boolean arrays (NumPy or CuPy), not Tensors: Tensors hold floats.
    def _compare(self, other, compare):
        if isinstance(other, Tensor):
            other = other.data
        elif not (isinstance(other, (numbers.Number, np.ndarray)) or backend.is_cuda(other)):
            return NotImplemented
        return compare(self.data, other)

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

    __hash__ = object.__hash__  # by identity, as before: defining __eq__ would drop it


from . import ops as _ops  # noqa: E402  (ops import Tensor, so they come after it)
from .ops.base import unbroadcast  # noqa: E402
