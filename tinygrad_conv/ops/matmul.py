"""Matrix product, 2-D and batched (``np.matmul`` semantics)."""
from .base import Op


class MatMul(Op):
    """``a @ b``: ``(..., n, k) @ (..., k, m) -> (..., n, m)``; 1-D operands as in NumPy."""
    saved = ("a", "b")

    name = "matmul"

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
        try:
            out = a @ b
        except ValueError:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} do not match "
                f"(inner sizes {a.shape[-1]} and {b.shape[-2] if b.ndim > 1 else b.shape[0]})"
            ) from None
        self.a, self.b = a, b
        return out

    def backward(self, grad):
        a, b = self.a, self.b
        # Treat a 1-D operand as a matrix with one row (a) or column (b), as NumPy does.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad[..., None] if b.ndim == 1 else grad  # restore the dropped axes: b's first,
        g = g[..., None, :] if a.ndim == 1 else g      # so a 0-d vector.vector grad works
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = g @ b2.swapaxes(-1, -2)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if self.needs_input_grad[1]:
            gb = a2.swapaxes(-1, -2) @ g
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb
