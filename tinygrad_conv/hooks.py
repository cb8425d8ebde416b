"""Hooks: user functions called with a module's output or a tensor's gradient.

``Module.register_forward_hook`` and ``Tensor.register_hook`` keep their hooks
in a dict (in registration order) and return a ``RemovableHandle``.
"""
import itertools


_ids = itertools.count()


class RemovableHandle:
    """Returned by ``register_*hook``: ``handle.remove()`` unregisters the hook."""

    def __init__(self, hooks):
        self._hooks, self.id = hooks, next(_ids)

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def __repr__(self):
        return f"<RemovableHandle {self.id}>"


def add(hooks, hook, where):
    """Register ``hook`` in the dict ``hooks``; ``where`` names the method for errors."""
    if not callable(hook):
        raise TypeError(f"{where}: hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def run_grad_hooks(tensor, grad):
    """Call ``tensor``'s gradient hooks in order with the gradient as a Tensor, as PyTorch
    does; a returned Tensor (or array) replaces it. Takes and returns an array."""
    from . import engine  # here: the engine imports this module
    from .tensor import Tensor  # here: tensor.py imports this module

    graph = isinstance(grad, Tensor)  # under create_graph the gradient is a Tensor with a graph
    for hook in list(tensor._hooks.values()):
        result = hook(grad if graph else Tensor._make(grad, None))
        if result is None:
            continue
        if not (isinstance(result, Tensor) or not graph and hasattr(result, "shape") and hasattr(result, "dtype")):
            raise TypeError(f"register_hook: the hook must return None or a Tensor, got {type(result).__name__}")
        # PyTorch refuses a hook that changes the gradient's shape, dtype or device
        engine.check_grad(result, tensor, "register_hook: the hook returned a gradient that does not fit")
        grad = result if graph or not isinstance(result, Tensor) else result.array
    return grad
