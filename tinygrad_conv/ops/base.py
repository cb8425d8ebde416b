"""The op contract and the registry every op is listed in.

An op is a small class with two rules side by side:

    class Mul(Op):
        def forward(self, a, b):          # arrays in (NumPy or CuPy), one array out
            self.a, self.b = a, b          # save what backward needs on self
            return a * b

        def backward(self, grad):         # dL/d(out) in, one dL/d(input) per input out
            return grad * self.b, grad * self.a

``Mul.apply(x, y)`` runs it on Tensors and records it in the graph. Defining a
subclass registers it in ``registry`` under a snake_case name (or ``name = ...``
set on the class), so the registry-walking tests see every op, including yours.

Backward may return a gradient with the *broadcast* shape of the output; the
engine sums it back to each input's shape (``unbroadcast``), once, for all ops.
It may return ``None`` for an input that needs no gradient; ``self.needs_input_grad``
says which inputs need one.

Every op runs on both devices: array code asks ``backend.xp(array)`` for the
array's module (NumPy or CuPy) instead of calling ``np.`` functions, and the
inputs of one op are checked to share a device before ``forward`` runs.
"""
import copy
import functools
import re

import numpy as np


from .. import anomaly, backend
from ..engine import clock, unbroadcast  # noqa: F401  (unbroadcast: ops import it from here)
from ..grad_mode import get_ident, threads_without_grad
from ..tensor import Tensor

registry = {}


def _tensor_for(array, op, out, name):
    """The Tensor whose values ``array`` is: one of ``op``'s inputs, or its output."""
    if array is None or isinstance(array, Tensor):
        return array
    if array is out.array:
        return out
    for parent in op.parents:
        if array is parent.array:
            return parent
    raise RuntimeError(f"op {op.name!r}: saved attribute {name!r} is neither an input nor the output array")


def _snake_case(name):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class Op:
    """Base class of every op: subclass it and write ``forward`` and ``backward``.

    Attributes set by ``apply`` before ``forward`` runs:
      needs_input_grad: tuple of bools, one per input.
      parents: the input Tensors (only kept when a graph is recorded).
    """

    name = None  # registry key; defaults to the class name in snake_case
    # True while backward runs with retain_graph=True: backward must then leave what
    # forward saved intact (by default it may free or overwrite it to save memory)
    retained = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__ or cls.__dict__["name"] is None:
            cls.name = _snake_case(cls.__name__)
        existing = registry.get(cls.name)
        # Re-running a definition (a notebook cell, a reload) replaces it;
        # a different op under a taken name is a mistake worth an error.
        if existing is not None and (existing.__module__, existing.__qualname__) != (
            cls.__module__,
            cls.__qualname__,
        ):
            raise ValueError(
                f"op name {cls.name!r} is already registered by "
                f"{existing.__module__}.{existing.__qualname__}; set a different `name`"
            )
        registry[cls.name] = cls

    def forward(self, *arrays, **params):
        """Compute the output array from the input arrays."""
        raise NotImplementedError(f"{type(self).__name__}.forward is not written")

    def backward(self, grad):
        """Return one gradient (array or None) per input, given dL/d(output)."""
        raise NotImplementedError(f"{type(self).__name__}.backward is not written")

    # ----- differentiating the backward rule itself (backward(create_graph=True)) ----------
    # ``saved`` names the attributes holding arrays that ``backward`` uses and that depend
    # on the inputs: each must be an input array or the output array (``self.a = a``,
    # ``self.out = out``). Anything else forward keeps on ``self`` (masks, shapes, indices)
    # is a constant of the rule. An op that sets ``saved`` (``()`` when it uses none of
    # them) promises its backward is written with operators and ``backend.xp(grad)``
    # functions only: the engine then runs that same rule on Tensors (inputs and output in
    # place of the saved arrays, ``backend.xp`` giving graph_xp.py), so it records a graph
    # and can be differentiated again. ``saved = None`` (the default): the op cannot be
    # differentiated twice, unless it overrides ``backward_graph`` with a rule on Tensors.
    saved = None

    # Keyword arguments that forward updates in place (batch norm's running statistics).
    # Under detect_anomaly they are staged: forward updates copies, written back only if
    # its output passes the NaN check, so an AnomalyError leaves them as they were.
    updates = ()

    def backward_graph(self, grad, out):
        """Like ``backward``, on Tensors and recorded: ``grad`` is a Tensor, ``out`` the op's
        output Tensor, ``self.parents`` its inputs. Returns Tensors (or None)."""
        if self.saved is None:
            raise NotImplementedError(
                f"double backward through op {self.name!r}: its backward works on arrays only. Set `saved` on "
                f"{type(self).__name__} (the attributes holding its inputs or output) and write backward with "
                "operators and backend.xp(grad) functions, or write backward_graph, to differentiate it twice"
            )
        twin = copy.copy(self)  # the same rule, with the saved arrays replaced by Tensors
        twin.retained = True
        for name in self.saved:
            twin.__dict__[name] = _tensor_for(getattr(self, name), self, out, name)
        grads = twin.backward(grad)
        if not isinstance(grads, (tuple, list)):
            grads = (grads,)
        for i, g in enumerate(grads):
            if g is not None and not isinstance(g, Tensor):
                raise NotImplementedError(
                    f"double backward through op {self.name!r}: its backward returned an array for input {i} "
                    "when given Tensors; it must use operators and backend.xp(grad) functions only"
                )
        return grads

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors (arrays and numbers are wrapped) and record it."""
        # List comprehensions, not generators: this runs once per op call.
        inputs = [t if isinstance(t, Tensor) else Tensor(t) for t in inputs]
        needs = tuple([t.requires_grad for t in inputs])
        record = True in needs and (not threads_without_grad or get_ident() not in threads_without_grad)
        arrays = [t.array for t in inputs]
        if backend.cuda_loaded and len(arrays) > 1:  # (before CUDA is used, all are NumPy)
            backend.check_same_device(arrays, cls.name)
        op = cls()
        op.needs_input_grad = needs if record else (False,) * len(needs)
        if anomaly.enabled:  # the one check anomaly mode costs outside it
            out = anomaly.checked_forward(op, arrays, params)
        else:
            out = op.forward(*arrays, **params)
        if record:
            op.parents, op._stamp = inputs, clock[0]
            return Tensor._make(out, op)
        return Tensor._make(out, None)

    def __repr__(self):
        return f"<op {self.name}>"


_HALF = np.dtype(np.float16)


def half_in_float32(method):
    """Decorates an Op's ``forward`` and ``backward``: float16 arrays are computed in float32
    and the result (or each gradient) rounded once to float16, as PyTorch's CPU kernels do
    (their "opmath" type). For ops whose float16 steps would go wrong: a sum of squares
    overflows float16's 65504, and a difference of float16-rounded terms cancels."""

    @functools.wraps(method)
    def run(self, *arrays, **params):
        if not any([getattr(a, "dtype", None) == _HALF for a in arrays]):
            return method(self, *arrays, **params)
        wide = [a.astype(np.float32) if getattr(a, "dtype", None) == _HALF else a for a in arrays]
        result = method(self, *wide, **params)
        narrow = (lambda r: r.astype(_HALF) if r is not None and r.dtype == np.float32 else r)  # noqa: E731
        return tuple(map(narrow, result)) if isinstance(result, tuple) else narrow(result)
    return run

