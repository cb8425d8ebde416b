"""``NAdam``, as ``torch.optim.NAdam``."""
from .. import backend, dtypes
from .optimizer import Optimizer, betas, flag, implementation_switch, nonnegative


class NAdam(Optimizer):
    """Adam with Nesterov momentum (Dozat, 2016), as ``torch.optim.NAdam``::

        g = (-grad if maximize else grad) + weight_decay * p
                 (decoupled_weight_decay=True: p = p * (1 - lr * weight_decay) instead)
        mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))   (the momentum schedule)
        P_t = mu_1 * ... * mu_t                                 (the state mu_product)
        m = beta1 * m + (1 - beta1) * g                          (m, v start at zero)
        v = beta2 * v + (1 - beta2) * g**2
        denom = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - P_t) * g / denom - lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / denom

    ``mu_product`` is a scalar in the default float dtype (float32), as PyTorch keeps it.
    """

    hyperparameters = dict(lr=nonnegative, betas=betas, eps=nonnegative, weight_decay=nonnegative,
                           momentum_decay=nonnegative, decoupled_weight_decay=flag, maximize=flag,
                           foreach=implementation_switch, capturable=implementation_switch,
                           differentiable=implementation_switch)
    state_names = ("step", "mu_product", "exp_avg", "exp_avg_sq")
    scalar_state = ("mu_product",)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                         maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable)

    def _update_group(self, group, items):
        lr, eps, momentum_decay = group["lr"], group["eps"], group["momentum_decay"]
        beta1, beta2 = group["betas"]
        scalar = dtypes.DEFAULT_FLOAT.type
        for p, g, state in items:
            xp = backend.xp(p.array)
            if not state:
                state["step"] = 0
                state["mu_product"] = scalar(1.0)
                state["exp_avg"] = xp.zeros_like(p.array)
                state["exp_avg_sq"] = xp.zeros_like(p.array)
            t = state["step"] = state["step"] + 1
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
            product = state["mu_product"] = scalar(state["mu_product"] * scalar(mu))
            product_next = float(product) * mu_next
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m *= beta1
            m += (1.0 - beta1) * g
            v *= beta2
            v += (1.0 - beta2) * (g * g)
            denom = xp.sqrt(v / (1.0 - beta2**t))
            denom += eps
            p.array -= (lr * (1.0 - mu) / (1.0 - float(product))) * (g / denom)
            p.array -= (lr * mu_next / (1.0 - product_next)) * (m / denom)
