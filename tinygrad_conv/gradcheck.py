"""``gradcheck``: compare backward with central differences, element by element."""
import numpy as np

from . import backend, grad_mode
from .tensor import Tensor


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with its numerical estimate."""


def _scalar(out):
    """The function's value as the sum of its output (a Tensor)."""
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    return out if out.array.size == 1 else out.sum()


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Check ``d sum(fn(*inputs)) / d input`` against central differences.

    ``inputs``: float64 Tensors with ``requires_grad=True``, on any device. Returns True, or
    raises ``GradcheckError`` naming the input, the worst element, the
    analytic and numerical values and the error. Leaves ``.grad`` of the
    inputs as they were.
    """
    inputs = list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"gradcheck: input {i} must be a Tensor, got {type(t).__name__}")
        if t.dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} must be float64 for accurate differences, got {t.dtype}")
        if not t.requires_grad:
            raise ValueError(f"gradcheck: input {i} must have requires_grad=True")

    saved = [t.grad for t in inputs]
    try:
        for t in inputs:
            t.grad = None
        _scalar(fn(*inputs)).backward()
        analytic = [np.zeros(t.shape) if t.grad is None else backend.to_numpy(t.grad.array) for t in inputs]
    finally:
        for t, g in zip(inputs, saved):
            t.grad = g

    def value():
        with grad_mode.no_grad():
            return _scalar(fn(*inputs)).array.item()

    for i, t in enumerate(inputs):
        flat = t.array.reshape(-1)  # a view: perturbing it perturbs the input
        numeric = np.empty(flat.size)
        for j in range(flat.size):
            orig = flat[j].item()  # a number: CuPy's flat[j] is a view that the writes below would change
            flat[j] = orig + eps
            plus = value()
            flat[j] = orig - eps
            minus = value()
            flat[j] = orig
            numeric[j] = (plus - minus) / (2 * eps)
        a = analytic[i].reshape(-1)
        err = np.abs(a - numeric)
        excess = err - (atol + rtol * np.abs(numeric))
        if (excess > 0).any() or not np.isfinite(a).all():
            j = int(np.nanargmax(np.where(np.isfinite(excess), excess, np.inf)))
            idx = np.unravel_index(j, t.shape) if t.shape else ()
            raise GradcheckError(
                f"gradcheck: input {i} (shape {t.shape}) element {tuple(int(k) for k in idx)}: "
                f"analytic {a[j]:.6g}, numerical {numeric[j]:.6g}, error {err[j]:.3g} "
                f"> atol {atol} + rtol {rtol} * |numerical|"
            )
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Check the second derivatives of ``fn`` against central differences of its first.

    The first derivative is ``autograd.grad(fn(*inputs), inputs, v, create_graph=True)``
    for a seeded random ``v`` shaped like the output (or ``grad_outputs``); its
    projection on fixed random directions is gradchecked in both the inputs and ``v``,
    so every second derivative, mixed ones included, is compared. Returns True or
    raises ``GradcheckError``.
    """
    from . import autograd

    inputs = list(inputs)
    rng = np.random.default_rng(seed)
    with grad_mode.no_grad():
        out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradgradcheck: fn must return a Tensor, got {type(out).__name__}")
    if grad_outputs is None:
        grad_outputs = Tensor(rng.standard_normal(out.shape), dtype=np.float64, device=out.device)
    v = grad_outputs.detach().requires_grad_(True)
    directions = [Tensor(rng.standard_normal(t.shape), dtype=np.float64, device=t.device) for t in inputs]

    def first_derivative(*args):
        xs, g = args[:-1], args[-1]
        with grad_mode.enable_grad():  # gradcheck evaluates under no_grad; this needs a graph
            grads = autograd.grad(fn(*xs), xs, g, create_graph=True, allow_unused=True)
            total = None
            for d, r in zip(grads, directions):
                if d is not None:
                    term = (d * r).sum()
                    total = term if total is None else total + term
            return total if total is not None else (g * 0).sum()

    return gradcheck(first_derivative, inputs + [v], eps=eps, atol=atol, rtol=rtol)
