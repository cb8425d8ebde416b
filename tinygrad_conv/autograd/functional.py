"""Derivatives of whole functions, with ``torch.autograd.functional``'s conventions.

``func`` takes a Tensor or a tuple of Tensors and returns a Tensor (or a tuple).
Each derivative is built from ``autograd.grad`` (reverse mode); ``jvp`` uses the
double-vjp trick, so it needs ``func``'s backward to be differentiable. Results
are detached unless ``create_graph=True``.
"""
from .. import factories
from ..tensor import Tensor


def _as_tuple(x, what):
    if isinstance(x, Tensor):
        return (x,), False
    if not isinstance(x, (tuple, list)) or not all(isinstance(t, Tensor) for t in x):
        raise TypeError(f"{what} must be a Tensor or a tuple of Tensors, got {type(x).__name__}")
    return tuple(x), True


def _prepare(inputs, create_graph):
    """Inputs that require grad: fresh leaves, or (create_graph) views keeping the caller's graph."""
    if create_graph:
        return tuple(t.view_as(t) if t.requires_grad else t.detach().requires_grad_(True) for t in inputs)
    return tuple(t.detach().requires_grad_(True) for t in inputs)


def _vector(v, like, where, what):
    """``v`` as a tuple of Tensors; when not given, ones, which only one-element ``like`` allow."""
    if v is not None:
        return _as_tuple(v, "v")[0]
    for t in like:
        if t.numel() != 1:
            raise ValueError(f"{where}: v must be given for an {what} of shape {t.shape}")
    return tuple(factories.ones_like(t) for t in like)


def _scalar_gradient(out, inputs, where):
    """d out / d inputs with a graph (to be differentiated again), for a one-element ``out``."""
    if not isinstance(out, Tensor) or out.numel() != 1:
        raise ValueError(f"{where}: func must return a Tensor with a single element")
    return _grads((out.reshape(()),), inputs, (factories.ones((), dtype=out.dtype, device=out.device),), True)


def _finish(x, create_graph):
    if x is None:
        return None
    return x if create_graph else x.detach()


def _grads(outputs, inputs, grad_outputs, create_graph):
    """d(outputs . grad_outputs)/d(inputs); zeros for inputs the outputs don't reach."""
    from . import grad

    needed = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not needed:
        return tuple(factories.zeros_like(t) for t in inputs)
    gs = grad([o for o, _ in needed], inputs, [g for _, g in needed], retain_graph=True,
              create_graph=create_graph, allow_unused=True)
    return tuple(factories.zeros_like(t) if g is None else g for t, g in zip(inputs, gs))


def _call(func, inputs):
    out = func(*inputs)
    outputs, is_tuple = _as_tuple(out, "the output of func")
    return outputs, is_tuple


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product (``v`` shaped like the output;
    optional for a one-element output)."""
    inputs, in_tuple = _as_tuple(inputs, "inputs")
    inputs = _prepare(inputs, create_graph)
    outputs, out_tuple = _call(func, inputs)
    v = _vector(v, outputs, "vjp", "output")
    result = _grads(outputs, inputs, v, create_graph)
    outputs = tuple(_finish(o, create_graph) for o in outputs)
    result = tuple(_finish(r, create_graph) for r in result)
    return (outputs if out_tuple else outputs[0]), (result if in_tuple else result[0])


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the Jacobian-vector product (``v`` shaped like the inputs;
    optional for one-element inputs), by differentiating a vjp once more."""
    inputs, in_tuple = _as_tuple(inputs, "inputs")
    inputs = _prepare(inputs, create_graph)
    v = _vector(v, inputs, "jvp", "input")
    outputs, out_tuple = _call(func, inputs)
    # u is a dummy cotangent: vjp(u) is linear in u, and d(vjp(u) . v)/du = J v
    us = tuple(factories.zeros_like(o).requires_grad_(True) for o in outputs)
    g = _grads(outputs, inputs, us, create_graph=True)
    result = _grads(g, us, v, create_graph)
    outputs = tuple(_finish(o, create_graph) for o in outputs)
    result = tuple(_finish(r, create_graph) for r in result)
    return (outputs if out_tuple else outputs[0]), (result if out_tuple else result[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """d func / d inputs: for one input and one output a Tensor of shape
    ``output.shape + input.shape``; tuples of them (nested output-first) otherwise."""
    inputs, in_tuple = _as_tuple(inputs, "inputs")
    inputs = _prepare(inputs, create_graph)
    outputs, out_tuple = _call(func, inputs)
    from ..combine import stack

    rows = []
    for o in outputs:
        per_input = [[] for _ in inputs]
        for k in range(o.numel()):
            e = factories.zeros(o.numel(), dtype=o.dtype, device=o.device)
            e[k] = 1.0
            gs = _grads((o,), inputs, (e.reshape(o.shape),), create_graph)
            for j, g in enumerate(gs):
                per_input[j].append(g)
        blocks = []
        for t, gs in zip(inputs, per_input):
            block = stack(gs) if gs else factories.zeros(0, *t.shape, dtype=t.dtype)
            blocks.append(_finish(block.reshape(o.shape + t.shape), create_graph))
        rows.append(tuple(blocks) if in_tuple else blocks[0])
    return tuple(rows) if out_tuple else rows[0]


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The second derivatives of a scalar ``func``: shape ``input.shape + input.shape`` for
    one input; a tuple of tuples (``H[i][j]``: d/d input_i d/d input_j) otherwise."""
    inputs_t, in_tuple = _as_tuple(inputs, "inputs")

    def gradient(*xs):
        gs = _scalar_gradient(func(*xs), xs, "hessian")
        return gs if in_tuple else gs[0]

    return jacobian(gradient, inputs_t if in_tuple else inputs_t[0], create_graph=create_graph)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` for a scalar ``func``."""
    inputs, in_tuple = _as_tuple(inputs, "inputs")
    inputs = _prepare(inputs, create_graph)
    if v is None:  # as PyTorch: only for a single one-element input
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise ValueError("vhp: v must be given unless the input is a single Tensor with one element")
        v = (factories.ones_like(inputs[0]),)
    else:
        v, _ = _as_tuple(v, "v")
    out = func(*inputs)
    g = _scalar_gradient(out, inputs, "vhp")
    result = _grads(g, inputs, v, create_graph)
    result = tuple(_finish(r, create_graph) for r in result)
    return _finish(out, create_graph), (result if in_tuple else result[0])


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)``; the Hessian is symmetric, so this is ``vhp``."""
    return vhp(func, inputs, v, create_graph, strict)
