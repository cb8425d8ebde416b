"""The backward pass: walk the graph from a tensor back to its leaves.

Each op result keeps the op that made it (``t._op``) and each op keeps its
input Tensors (``op.parents``). ``backward`` orders the nodes so that every
tensor has received all of its gradient before its op passes the sum on, then
calls each op's ``backward`` on arrays and accumulates into the leaves' ``.grad``.
"""
import sys

import numpy as np

from . import anomaly, backend, hooks


class GraphError(RuntimeError, ValueError):
    """``backward`` cannot run from here (no graph, or the graph was released).

    A ``RuntimeError`` as in PyTorch and a ``ValueError`` as this library's
    convention for bad values, so either ``except`` catches it.
    """


class GradError(RuntimeError, ValueError):
    """A gradient of the wrong shape, dtype or device (assigned to ``.grad``, returned by a
    hook or an op's backward, or found by an optimizer). PyTorch raises ``RuntimeError``;
    this library's convention for bad values is ``ValueError``: either ``except`` catches it."""


def check_grad(grad, tensor, where):
    """Raise ``GradError`` unless ``grad`` (array or Tensor) matches ``tensor``'s shape,
    dtype and device: the one check every gradient passes where it enters."""
    array = getattr(grad, "array", grad)
    for what, got, want in (("shape", array.shape, tensor.shape), ("dtype", array.dtype, tensor.dtype),
                            ("device", backend.device_of(array), backend.device_of(tensor.array))):
        if got != want:
            raise GradError(f"{where}: the gradient has {what} {got}, but the tensor has {what} {want}")
    return grad


class _Released:
    """Marks a node whose graph ``backward`` has already released."""

    name = "released"

    def __repr__(self):
        return "<released graph>"


RELEASED = _Released()

# In-place ops tick this clock and stamp the tensor they modify (``t._modified``);
# every recorded op keeps the time it was made (``op._stamp``). A parent modified
# after its op was recorded no longer holds the value that op saw, so backward
# through that op raises, as PyTorch's version counters make it.
clock = [0]


def tick(tensor):
    """Record that ``tensor``'s values just changed in place."""
    clock[0] += 1
    tensor._modified = clock[0]


def _own(g, dtype):
    """``g`` as a gradient a leaf may keep: ``g`` itself when nothing else can see it (as
    PyTorch steals a gradient nobody shares), else a copy. Nothing else sees g when this
    frame holds the only reference (getrefcount counts the local and its own argument),
    it has the leaf's dtype, and it owns its memory, or is a whole-array view (an op's
    fresh ``dx.reshape(x.shape)``) of a NumPy array nothing else refers to. Saves a copy
    of every parameter's gradient per step."""
    if sys.getrefcount(g) <= 3 and g.dtype == dtype and getattr(g.flags, "writeable", True):
        base = g.base
        if base is None:
            return g
        # (the base's references: g's, this local and getrefcount's argument)
        if type(base) is np.ndarray and base.base is None and base.nbytes == g.nbytes \
                and g.flags.c_contiguous and sys.getrefcount(base) <= 3:
            return g
    return g.astype(dtype, copy=True)


def _check_unmodified(op):
    for i, parent in enumerate(op.parents):
        if parent._modified > op._stamp:
            raise RuntimeError(
                f"backward: one of the tensors needed for gradient computation has been modified by an "
                f"in-place operation: input {i} of {op.name} (shape {parent.shape}) changed after {op.name} "
                "used it; compute it out of place (x = x + y rather than x.add_(y)) or clone() it first"
            )


def backward(roots, root_grads, retain_graph=False, inputs=None, create_graph=False, capture=None):
    """Accumulate d(roots)/d(leaf), weighted by ``root_grads`` (dL/d(root) for each root,
    arrays of the roots' shapes), into ``.grad`` of the leaves that require grad: only
    of ``inputs`` (tensors) when given. With ``capture`` (a dict keyed by the ids of
    some tensors) the gradients reaching those tensors are stored there instead, and
    no ``.grad`` changes (``autograd.grad``).

    With ``create_graph`` every gradient is a Tensor computed by recorded ops, so it
    can be differentiated again: each op's backward rule runs on Tensors (see
    ``Op.backward_graph``).
    """
    from .tensor import Tensor  # here: tensor.py imports this module

    if create_graph:
        _enable_graph_xp()
        root_grads = [g if isinstance(g, Tensor) else Tensor._make(g, None) for g in root_grads]
    order = topological_order(roots)
    wanted = None if inputs is None else {id(t) for t in inputs}
    check_nan = anomaly.enabled
    now = clock[0]
    grads = {}
    for root, g in zip(roots, root_grads):
        prev = grads.get(id(root))
        grads[id(root)] = g if prev is None else prev + g
    if create_graph:
        from .grad_mode import enable_grad

        with enable_grad():  # the backward rules' ops are recorded
            _walk(order, grads, retain_graph, wanted, True, capture, check_nan, now, Tensor)
    else:
        _walk(order, grads, retain_graph, wanted, False, capture, check_nan, now, Tensor)


def _walk(order, grads, retain_graph, wanted, create_graph, capture, check_nan, now, Tensor):
    """The backward pass proper: each node in reverse topological order passes its complete
    gradient to its inputs through its op's rule."""
    for node in reversed(order):
        g = grads.pop(id(node), None)
        op = node._op
        if g is not None:
            if node._hooks:  # this gradient is complete: hooks see it now
                g = hooks.run_grad_hooks(node, g)
            if capture is not None:
                if id(node) in capture:
                    capture[id(node)] = g if create_graph else Tensor._make(g, None)
            elif (op is None or node._retain) if wanted is None else id(node) in wanted:
                if create_graph:  # a recorded sum, so .grad can be differentiated again
                    g = g if isinstance(g, Tensor) else Tensor._make(g, None)
                    node._grad = g if node._grad is None else node._grad + g
                elif node._grad is None:  # never alias an array the graph passed around
                    node._grad = Tensor._make(_own(g, node.dtype) if op is None else g.copy(), None)
                else:
                    node._grad.array = node._grad.array + g
        if op is None:
            continue
        if g is not None:
            if op._stamp < now:  # something was modified in place since op ran
                _check_unmodified(op)
            if retain_graph:
                op.retained = True  # the op keeps what it saved for the next backward
            parent_grads = op.backward_graph(g, node) if create_graph else op.backward(g)
            if not isinstance(parent_grads, (tuple, list)):
                parent_grads = (parent_grads,)
            if check_nan:
                anomaly.check_backward(op, [_array(p) for p in parent_grads])
            for parent, pg in zip(op.parents, parent_grads):
                if pg is None or not parent.requires_grad:
                    continue
                if pg.shape != parent.array.shape:
                    pg = _fit(pg, parent, op)
                if pg.dtype != parent.dtype:  # (a custom op's float64 rule): cast, as PyTorch does
                    pg = pg.astype(parent.dtype)
                key = id(parent)
                prev = grads.get(key)
                grads[key] = pg if prev is None else prev + pg
            parent_grads = pg = prev = None  # the dict holds the only references (see _own)
        if not retain_graph:
            # Release the graph as we go: saved arrays are freed right away, so
            # memory does not grow across a training loop.
            node._op = RELEASED


def _fit(grad, parent, op):
    """``grad`` summed back to ``parent``'s shape (it has the broadcast shape), or GradError
    naming the op when it cannot have come from broadcasting ``parent``."""
    try:
        grad = unbroadcast(grad, parent.array.shape)
    except ValueError:
        pass
    if grad.shape != parent.array.shape:
        raise GradError(f"backward of op {op.name!r} returned a gradient of shape {grad.shape} "
                        f"for an input of shape {parent.shape}")
    return grad


def _array(x):
    return getattr(x, "array", x)


def _enable_graph_xp():
    """From now on ``backend.xp(tensor)`` gives the NumPy interface on Tensors."""
    if backend.tensor_xp is None:
        from . import graph_xp
        from .tensor import Tensor

        backend.tensor_xp = (Tensor, graph_xp)


def topological_order(roots):
    """Nodes reachable from ``roots`` that need grad, each after all its inputs.

    The order matters: a tensor used by two ops must receive both gradient
    contributions before its own op passes the sum on. Iterative (an
    explicit stack, no recursion) so graphs of any depth work.
    """
    order, visited = [], set()
    stack = [(root, False) for root in reversed(roots)]
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
        if op is RELEASED:
            raise GraphError(
                "backward: part of this graph was already released by an earlier backward; "
                "pass retain_graph=True to the first backward, or recompute the forward pass"
            )
        if op is not None:
            for parent in op.parents:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the backward of NumPy broadcasting.

    Broadcasting in forward copies an operand along new leading axes and along
    its size-1 axes, so each copy's gradient must be added back together.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    if type(grad) is np.ndarray and axes and axes[-1] == grad.ndim - 1 and grad.size >= 1 << 15 \
            and grad.dtype.kind == "f" and grad.dtype.itemsize >= 4:
        # Summing the innermost axis away (a per-channel bias of (N, C, H, W)): einsum's
        # loop is 2-3x faster than sum's here, as accurate on float32/64 (not used for float16)
        kept = [i for i in range(grad.ndim) if i not in axes]
        return np.einsum(grad, list(range(grad.ndim)), kept).reshape(shape)
    return grad.sum(axis=axes).reshape(shape)
