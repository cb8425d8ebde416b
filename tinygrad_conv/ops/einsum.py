"""``einsum``: one op whose gradient for each operand is itself an einsum.

For ``out = einsum("ij,jk->ik", A, B)`` the gradient of A is ``einsum("ik,jk->ij", grad, B)``:
the output's subscripts and the other operands' give the operand's own. Two cases need a
constant operand more: a letter only this operand has (summed away in forward) gets a
vector of ones, so the gradient broadcasts along it; a letter repeated in it (a diagonal,
``"ii->i"``) is renamed and tied back by an identity matrix, so the gradient lands on the
diagonal only.
"""
import math
import string

from .. import backend
from .activation import rerun_backward
from .base import Op

_LETTERS = string.ascii_letters


def parse(equation, shapes):
    """``equation`` with the ellipsis and an implicit output made explicit: returns
    (input subscripts list, output subscripts), one letter per axis."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a str, got {type(equation).__name__}")
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} names {len(inputs)} operands but {len(shapes)} were given")
    used = set(equation) - set(".,->")
    bad = sorted(c for c in used if c not in _LETTERS)
    if bad:
        raise ValueError(f"einsum: subscripts must be letters, got {bad[0]!r} in {equation!r}")
    spare = [c for c in _LETTERS if c not in used]
    counts = [len(s.replace("...", "")) for s in inputs]
    n_ellipsis = max([len(shape) - n for s, shape, n in zip(inputs, shapes, counts) if "..." in s], default=0)
    ellipsis = "".join(spare[:n_ellipsis])
    explicit = []
    for s, shape, n in zip(inputs, shapes, counts):
        if "..." in s:
            s = s.replace("...", ellipsis[n_ellipsis - (len(shape) - n):] if len(shape) > n else "")
        if len(s) != len(shape):
            raise ValueError(f"einsum: subscripts {s!r} name {len(s)} axes but the operand has shape {tuple(shape)}")
        explicit.append(s)
    if arrow:
        out = rhs.replace("...", ellipsis)
        letters = "".join(explicit)
        missing = [c for c in out if c not in letters]
        if missing or len(set(out)) != len(out):
            raise ValueError(f"einsum: output subscripts {rhs!r} must be distinct letters of the inputs")
    else:  # implicit output: the ellipsis, then the letters seen once, sorted
        flat = lhs.replace("...", "").replace(",", "")
        out = ellipsis + "".join(sorted(c for c in set(flat) if flat.count(c) == 1))
    return explicit, out


def contract(xp, subscripts, *arrays):
    """``xp.einsum(subscripts, *arrays)``; two operands without a repeated letter (the common
    case, and every gradient of one) go through one batched matmul: letters only one operand
    has and the output lacks are summed first, then each operand is laid out as
    (batch, free, contracted) and multiplied, and the product is put in the output's order."""
    lhs, out = subscripts.split("->")
    inputs = lhs.split(",")
    if len(arrays) != 2 or any(len(set(s)) != len(s) for s in inputs):
        return xp.einsum(subscripts, *arrays, optimize=len(arrays) > 1)
    (a, b), (x, y) = inputs, arrays
    keep_a = [i for i, c in enumerate(a) if c in b or c in out]
    keep_b = [i for i, c in enumerate(b) if c in a or c in out]
    if len(keep_a) < len(a):
        x, a = x.sum(axis=tuple(i for i in range(len(a)) if i not in keep_a)), "".join(a[i] for i in keep_a)
    if len(keep_b) < len(b):
        y, b = y.sum(axis=tuple(i for i in range(len(b)) if i not in keep_b)), "".join(b[i] for i in keep_b)
    size = {**dict(zip(a, x.shape)), **dict(zip(b, y.shape))}
    batch = [c for c in a if c in b and c in out]
    summed = [c for c in a if c in b and c not in out]
    free_a, free_b = [c for c in a if c not in b], [c for c in b if c not in a]
    n = [math.prod(size[c] for c in group) for group in (batch, free_a, summed, free_b)]
    x = xp.transpose(x, [a.index(c) for c in batch + free_a + summed]).reshape(n[0], n[1], n[2])
    y = xp.transpose(y, [b.index(c) for c in batch + summed + free_b]).reshape(n[0], n[2], n[3])
    order = batch + free_a + free_b
    z = xp.matmul(x, y).reshape([size[c] for c in order])
    z = xp.transpose(z, [order.index(c) for c in out])
    return xp.ascontiguousarray(z) if z.ndim else z  # (ascontiguousarray makes a 0-d array 1-d)


class Einsum(Op):
    """``einsum(subscripts, *operands)`` with explicit subscripts (``parse`` gives them):
    ``Einsum.apply(a, b, subscripts="ij,jk->ik")``."""

    def forward(self, *arrays, subscripts):
        self.arrays, self.subscripts = arrays, subscripts
        self.inputs, self.out = subscripts.split("->")[0].split(","), subscripts.split("->")[1]
        self.sizes = {c: n for s, a in zip(self.inputs, arrays) for c, n in zip(s, a.shape)}
        return contract(backend.xp(arrays[0]), subscripts, *arrays)

    def backward(self, grad):
        return tuple(self._gradient(grad, i) if needed else None for i, needed in enumerate(self.needs_input_grad))

    def _gradient(self, grad, i):
        xp = backend.xp(grad)
        module = backend.xp(grad.array if hasattr(grad, "array") else grad)  # NumPy or CuPy, for constants
        own = self.inputs[i]
        others = [s for j, s in enumerate(self.inputs) if j != i]
        subscripts, operands = [self.out] + others, [grad] + [a for j, a in enumerate(self.arrays) if j != i]
        elsewhere = set(self.out + "".join(others))
        spare = iter(c for c in _LETTERS if c not in set(self.subscripts))
        target, seen, identities = "", set(), []
        for c in own:
            if c in seen:  # a repeated letter: a fresh one, tied to the first by an identity
                fresh = next(spare)
                identities.append(len(subscripts))
                subscripts.append(c + fresh)
                operands.append(module.eye(self.sizes[c], dtype=grad.dtype))
                target += fresh
                continue
            seen.add(c)
            target += c
            if c not in elsewhere:  # summed away in forward: the gradient broadcasts along it
                subscripts.append(c)
                operands.append(module.ones(self.sizes[c], dtype=grad.dtype))
                elsewhere.add(c)
        if xp is not module:  # Tensors (create_graph): the recorded einsum, identities included
            return xp.einsum(",".join(subscripts) + "->" + target, *operands)
        if not identities:
            return contract(xp, ",".join(subscripts) + "->" + target, *operands)
        # a repeated letter on arrays: contract to the distinct letters, then write that onto the
        # diagonal of zeros (multiplying by an identity would turn an infinite gradient into NaN
        # off the diagonal, where the gradient is exactly 0)
        distinct = "".join(dict.fromkeys(own))
        keep = [k for k in range(len(operands)) if k not in identities]
        small = contract(xp, ",".join(subscripts[k] for k in keep) + "->" + distinct, *[operands[k] for k in keep])
        full = xp.zeros(tuple(self.sizes[c] for c in own), dtype=small.dtype)
        aranges = {c: xp.arange(self.sizes[c]).reshape([-1 if d == c else 1 for d in distinct]) for c in distinct}
        full[tuple(aranges[c] for c in own)] = small
        return full

    def backward_graph(self, grad, out):
        return rerun_backward(self, grad, arrays=tuple(self.parents))
