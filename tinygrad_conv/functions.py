"""The tensor functions at the top level of the package, as ``torch`` has them:
``tc.flatten(x, 1)`` is ``x.flatten(1)``, ``tc.max(x, dim=1)`` is ``x.max(dim=1)``.

Each is the Tensor method of the same name (see ``tensor.py`` for what it does);
``tc.cat``, ``tc.stack``, ``tc.where``, ``tc.maximum`` and ``tc.minimum`` live in
``combine.py`` because they take several tensors.
"""
from .tensor import Tensor

METHODS = (
    "flatten", "reshape", "transpose", "permute", "squeeze", "unsqueeze", "split", "chunk", "unbind",
    "clamp", "clip", "abs", "sqrt", "exp", "log", "sigmoid", "tanh", "relu", "softmax", "log_softmax",
    "sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin", "std", "var", "prod", "cumsum",
    "logsumexp", "all", "any", "matmul", "mm", "bmm", "isnan", "isinf", "isfinite", "allclose", "equal",
    "gather", "masked_fill", "clone", "numel", "neg", "add", "sub", "mul", "div", "pow", "eq", "ne", "lt",
    "le", "gt", "ge", "logical_not",
    "sin", "cos",  # issue 19
)


def _function(name):
    def function(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be a Tensor, got {type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``input.{name}(*args, **kwargs)``: see ``Tensor.{name}``."
    return function


globals().update({name: _function(name) for name in METHODS})
__all__ = list(METHODS)
