"""``Adam``, as ``torch.optim.Adam`` (with a one-launch CUDA step)."""
import math

import numpy as np

from .. import backend
from .optimizer import Optimizer, betas, flag, implementation_switch, nonnegative


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), as ``torch.optim.Adam``::

        g = (-grad if maximize else grad) + weight_decay * p
                 (decoupled_weight_decay=True, AdamW: p = p * (1 - lr * weight_decay) instead)
        m = beta1 * m + (1 - beta1) * g               (m, v start at zero)
        v = beta2 * v + (1 - beta2) * g**2
        v_max = max(v_max, v)                         (amsgrad; then v_max replaces v below)
        p = p - lr * m_hat / (sqrt(v_hat) + eps),     m_hat = m / (1 - beta1**t),
                                                      v_hat = v / (1 - beta2**t)

    ``t`` counts this parameter's steps. Computed, like PyTorch, as
    ``p -= (lr / (1 - beta1**t)) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``
    so the bias corrections are scalars, not arrays.
    """

    hyperparameters = dict(lr=nonnegative, betas=betas, eps=nonnegative, weight_decay=nonnegative, amsgrad=flag,
                           maximize=flag, foreach=implementation_switch, capturable=implementation_switch,
                           differentiable=implementation_switch, fused=implementation_switch,
                           decoupled_weight_decay=flag)
    state_names = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=decoupled_weight_decay)

    def _required_state(self, group):
        return ("step", "exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    def _update_group(self, group, items):
        lr, eps, amsgrad = group["lr"], group["eps"], group["amsgrad"]
        beta1, beta2 = group["betas"]
        for p, g, state in items:
            xp = backend.xp(p.array)
            self._first_step(state, p, "exp_avg", "exp_avg_sq")
            if amsgrad and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = xp.zeros_like(p.array)
            t = state["step"] = state["step"] + 1
            m, v = state["exp_avg"], state["exp_avg_sq"]
            step_size, bias2 = lr / (1.0 - beta1**t), math.sqrt(1.0 - beta2**t)
            if backend.is_cuda(p.array) and not amsgrad:  # the same update as below, in one launch instead of ten
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
            if amsgrad:
                v = xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            denom = xp.sqrt(v)
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
