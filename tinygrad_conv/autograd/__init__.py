"""``tc.autograd``: gradients as values (``grad``) and the derivatives built on them
(``functional``: jacobian, hessian, vjp, jvp, hvp, vhp), as ``torch.autograd``."""
from .. import engine
from ..tensor import Tensor
from . import functional  # noqa: F401


def _tensors(x, what):
    if isinstance(x, Tensor):
        return (x,), True
    x = tuple(x)
    for i, t in enumerate(x):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: {what}[{i}] must be a Tensor, got {type(t).__name__}")
    return x, False


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """The gradients of ``outputs`` (weighted by ``grad_outputs``, default 1 for one-element
    outputs) with respect to each of ``inputs``, as a tuple of Tensors; no ``.grad``
    changes. With ``create_graph`` the gradients carry their own graph, so they can be
    differentiated again. An input the outputs do not depend on is an error unless
    ``allow_unused`` (then its gradient is None)."""
    outputs, _ = _tensors(outputs, "outputs")
    inputs, _ = _tensors(inputs, "inputs")
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,)
    grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs given for {len(outputs)} outputs")
    for i, t in enumerate(outputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: element {i} of outputs does not require grad and has no graph")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: element {i} of inputs does not require grad")
    roots = []
    for out, g in zip(outputs, grad_outputs):
        checked = out._root_grad(g)
        roots.append(g if create_graph and isinstance(g, Tensor) else checked)
    capture = {id(t): None for t in inputs}
    if retain_graph is None:
        retain_graph = create_graph
    engine.backward(list(outputs), roots, bool(retain_graph), None, bool(create_graph), capture)
    result = tuple(capture[id(t)] for t in inputs)
    if not allow_unused:
        for i, g in enumerate(result):
            if g is None:
                raise RuntimeError(
                    f"grad: input {i} was not used to compute the outputs (its gradient would be None); "
                    "pass allow_unused=True if that is expected"
                )
    return result
