"""``RAdam``, as ``torch.optim.RAdam``."""
import math

from .. import backend
from .optimizer import Optimizer, betas, flag, implementation_switch, nonnegative


class RAdam(Optimizer):
    """Rectified Adam (Liu et al., 2020), as ``torch.optim.RAdam``::

        g = (-grad if maximize else grad) + weight_decay * p
                 (decoupled_weight_decay=True: p = p * (1 - lr * weight_decay) instead)
        m = beta1 * m + (1 - beta1) * g                          (m, v start at zero)
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
        if rho_t > 5:  r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                       p = p - lr * m_hat * r * sqrt(1 - beta2**t) / (sqrt(v) + eps)
        else:          p = p - lr * m_hat               (the variance estimate is not yet reliable)
    """

    hyperparameters = dict(lr=nonnegative, betas=betas, eps=nonnegative, weight_decay=nonnegative, maximize=flag,
                           foreach=implementation_switch, capturable=implementation_switch,
                           decoupled_weight_decay=flag, differentiable=implementation_switch)
    state_names = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                         foreach=foreach, capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                         differentiable=differentiable)

    def _update_group(self, group, items):
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        for p, g, state in items:
            xp = backend.xp(p.array)
            self._first_step(state, p, "exp_avg", "exp_avg_sq")
            t = state["step"] = state["step"] + 1
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m *= beta1
            m += (1.0 - beta1) * g
            v *= beta2
            v += (1.0 - beta2) * (g * g)
            bias1, bias2 = 1.0 - beta1**t, 1.0 - beta2**t
            rho_t = rho_inf - 2.0 * t * beta2**t / bias2
            if rho_t > 5.0:
                rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                denom = xp.sqrt(v)
                denom += eps
                p.array -= (lr * rect * math.sqrt(bias2) / bias1) * (m / denom)
            else:
                p.array -= (lr / bias1) * m
