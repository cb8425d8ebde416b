"""``tc.summary(model, input_shape)``: a table of a model's layers, from one forward pass.

Forward hooks on every module record each output's shape while the model runs
once on zeros under ``no_grad`` (in eval mode, so nothing is updated: running
statistics, dropout masks; each module's mode is restored afterwards).
"""
import numpy as np

from . import checks
from .grad_mode import no_grad
from .tensor import Tensor


def _shape_of(out):
    if isinstance(out, Tensor):
        return str(tuple(out.shape))
    if isinstance(out, (tuple, list)):
        return ", ".join(_shape_of(o) for o in out)
    return type(out).__name__


def summary(model, input_shape, dtype=np.float32):
    """A printable table (str) of every module of ``model``: dotted name, type, output shape
    of its (first) call and the number of parameters it holds itself, then the totals.
    Runs ``model`` once on zeros of ``input_shape`` on the model's device."""
    from .nn import Module  # here: nn imports the rest of the library

    if not isinstance(model, Module):
        raise TypeError(f"summary: expected an nn.Module, got {type(model).__name__}")
    input_shape = checks.sizes((input_shape,), "summary")  # an int or a tuple of ints
    params = list(model.parameters())
    device = params[0].device if params else "cpu"
    modules = list(model.named_modules())
    shapes, calls, handles = {}, {}, []

    def recorder(name):
        def hook(module, inputs, output):
            shapes.setdefault(name, _shape_of(output))
            calls[name] = calls.get(name, 0) + 1

        return hook

    modes = [(m, m.training) for _, m in modules]
    try:
        for name, module in modules:
            handles.append(module.register_forward_hook(recorder(name)))
        model.eval()
        with no_grad():
            model(Tensor(np.zeros(input_shape, dtype), device=device))
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            module.training = training

    rows = [("name", "type", "output shape", "params")]
    for name, module in modules:
        own = sum(p.numel() for p in module._parameters.values() if p is not None)
        shape = shapes.get(name, "-")
        if calls.get(name, 0) > 1:
            shape += f" (x{calls[name]} calls)"
        depth = name.count(".") + 1 if name else 0
        rows.append(("  " * depth + (name or "(model)"), type(module).__name__, shape, f"{own:,}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    fmt = lambda row: "  ".join(  # noqa: E731
        cell.rjust(w) if i == 3 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))
    ).rstrip()
    rule = "-" * len(fmt(rows[0]))
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    lines = [f"input {input_shape} {np.dtype(dtype)} on {device}", rule, fmt(rows[0]), rule]
    lines += [fmt(row) for row in rows[1:]]
    lines += [rule, f"total parameters: {total:,} (trainable {trainable:,})"]
    return "\n".join(lines)
