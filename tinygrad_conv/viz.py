"""The graph behind a tensor as a picture: ``tc.viz.to_dot`` and ``tc.viz.draw_graph``.

Every op result remembers its op (``tensor._op``) and every op its inputs
(``op.parents``): that is the graph ``backward`` walks. These functions only
read it (no backward, no gradient touched), so draw before calling backward,
which releases the graph.

Nodes: one per op (its registry name and output shape) and one per leaf
(shape and dtype; a parameter's dotted name when ``params`` maps names to
tensors, e.g. ``dict(model.named_parameters())``; constants dashed).
"""
import os
import shutil
import subprocess

from .engine import RELEASED, GraphError
from .tensor import Tensor

_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}


def _shape(t):
    return "(" + ", ".join(str(n) for n in t.shape) + ("," if len(t.shape) == 1 else "") + ")"


def _leaf_label(t, name):
    text = f"{_shape(t)} {t.dtype}"
    if name is not None:
        return f"{name}\\n{text}"
    if t.numel() == 1 and not t.requires_grad:  # a number the user wrote, e.g. the 2 in x * 2
        return f"{t.numpy().reshape(()).item():.4g}"
    return text


def to_dot(tensor, params=None):
    """Graphviz DOT source (a string) of the graph that recorded ``tensor``."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    names = {id(t): name for name, t in (params or {}).items()}
    ids = {}  # node names n0, n1, ... in visiting order: the same graph gives the same text

    def node_of(t):
        return ids.setdefault(id(t), f"n{len(ids)}")

    lines = [
        "digraph tinygrad_conv {",
        '  rankdir=LR; node [fontname="Helvetica", fontsize=11]; edge [color="#555555"];',
    ]
    seen, stack = set(), [tensor]
    while stack:  # every tensor once; iterative, so any depth works
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        op = t._op
        if op is RELEASED:
            raise GraphError("to_dot: this graph was released by backward; draw it before calling backward")
        node = node_of(t)
        if op is None:
            name = names.get(id(t))
            style = "filled" if name is not None else ("rounded" if t.requires_grad else "dashed")
            fill = ', fillcolor="#dbe9f6"' if name is not None else ""
            lines.append(f'  {node} [shape=box, style="{style}"{fill}, label="{_leaf_label(t, name)}"];')
            continue
        root = ', penwidth=2' if t is tensor else ""
        lines.append(f'  {node} [shape=ellipse{root}, label="{op.name}\\n{_shape(t)}"];')
        for parent in op.parents:
            lines.append(f"  {node_of(parent)} -> {node};")
            stack.append(parent)
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw_graph(tensor, path, params=None):
    """Write the graph of ``tensor`` to ``path``: rendered by ``path``'s suffix (``.svg``,
    ``.png``, ``.pdf``) when Graphviz's ``dot`` program is installed, else (or for a
    ``.dot`` path) the DOT source next to it, with a message saying how to render it.
    Returns the path written."""
    source = to_dot(tensor, params)
    path = os.fspath(path)
    stem, suffix = os.path.splitext(path)
    fmt = _FORMATS.get(suffix.lower())
    dot = shutil.which("dot")
    if fmt is not None and dot is not None:
        subprocess.run([dot, f"-T{fmt}", "-o", path], input=source.encode(), check=True)
        return path
    target = path if suffix.lower() == ".dot" else stem + ".dot"
    with open(target, "w") as f:
        f.write(source)
    if fmt is not None:
        print(
            f"draw_graph: Graphviz's `dot` program was not found, so wrote the DOT source to {target}; "
            f"install Graphviz (apt install graphviz, brew install graphviz or conda install graphviz) "
            f"and run: dot -T{fmt} {target} -o {path}"
        )
    return target
