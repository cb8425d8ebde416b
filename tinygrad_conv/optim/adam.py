"""``Adam``, as ``torch.optim.Adam`` (with a one-launch CUDA step)."""
import math

import numpy as np

from .. import backend
from ..checks import finite_number
from .optimizer import Optimizer


def check_adam_hyperparameters(where, lr, betas, eps, weight_decay):
    """Adam's and AdamW's hyperparameters, checked (betas a pair in [0, 1))."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"{where}: betas must be a pair (beta1, beta2), got {betas!r}")
    beta1, beta2 = (finite_number(b, name, where) for b, name in zip(betas, ("betas[0]", "betas[1]")))
    for name, beta in (("betas[0]", beta1), ("betas[1]", beta2)):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{where}: {name} must be in [0, 1), got {beta}")
    return dict(
        lr=finite_number(lr, "lr", where, minimum=0),
        betas=(beta1, beta2),
        eps=finite_number(eps, "eps", where, minimum=0),
        weight_decay=finite_number(weight_decay, "weight_decay", where, minimum=0),
    )


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with L2 weight decay, as ``torch.optim.Adam``::

        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g               (m, v start at zero)
        v = beta2 * v + (1 - beta2) * g**2
        p = p - lr * m_hat / (sqrt(v_hat) + eps),     m_hat = m / (1 - beta1**t),
                                                      v_hat = v / (1 - beta2**t)

    ``t`` counts this parameter's steps. Computed, like PyTorch, as
    ``p -= (lr / (1 - beta1**t)) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``
    so the bias corrections are scalars, not arrays.
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay")
    state_names = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    @classmethod
    def _check_hyperparameters(cls, lr, betas, eps, weight_decay):
        return check_adam_hyperparameters(cls.__name__, lr, betas, eps, weight_decay)

    def _decay(self, p, group):
        """Weight decay applied to the weights themselves (AdamW); Adam's is in the gradient."""

    def _update_group(self, group, items):
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        for p, g, state in items:
            if state:
                t = state["step"] = state["step"] + 1
                m, v = state["exp_avg"], state["exp_avg_sq"]
            else:
                t = state["step"] = 1
                xp = backend.xp(p.array)
                m = state["exp_avg"] = xp.zeros_like(p.array)
                v = state["exp_avg_sq"] = xp.zeros_like(p.array)
            self._decay(p, group)
            step_size, bias2 = lr / (1.0 - beta1**t), math.sqrt(1.0 - beta2**t)
            if backend.is_cuda(p.array):  # the same update as below, in one launch instead of ten
                f = p.dtype.type
                kernel = backend.raw_kernel(f"typedef {backend.c_type(p.dtype)} T;\n" + _ADAM_CUDA, "adam")
                backend.launch(kernel, p.array.size, p.array, m, v, g if g.flags.c_contiguous else g.copy(),
                               f(beta1), f(1.0 - beta1), f(beta2), f(1.0 - beta2), f(bias2), f(eps), f(step_size),
                               np.int64(p.array.size))
                continue
            m *= beta1
            m += (1.0 - beta1) * g
            v *= beta2
            v += (1.0 - beta2) * (g * g)
            denom = backend.xp(v).sqrt(v)
            denom /= bias2
            denom += eps
            p.array -= step_size * m / denom


# Adam's step on the GPU, a thread per element (g already holds any L2 weight decay).
_ADAM_CUDA = """
extern "C" __global__ void adam(T* p, T* m, T* v, const T* g, T b1, T c1, T b2, T c2, T bias2, T eps,
                                T step_size, long long n) {
    const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= n) return;
    m[i] = b1 * m[i] + c1 * g[i];
    v[i] = b2 * v[i] + c2 * (g[i] * g[i]);
    p[i] -= step_size * m[i] / (sqrt(v[i]) / bias2 + eps);
}
"""
