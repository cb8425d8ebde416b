"""``Adamax``, as ``torch.optim.Adamax``."""
from .. import backend
from .optimizer import Optimizer, betas, flag, implementation_switch, nonnegative


class Adamax(Optimizer):
    """Adamax, Adam with the infinity norm (Kingma & Ba, 2015, section 7), as ``torch.optim.Adamax``::

        g = (-grad if maximize else grad) + weight_decay * p
        m = beta1 * m + (1 - beta1) * g                    (m, u start at zero)
        u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1**t) * m / u

    ``u`` is the state ``exp_inf``; ``t`` counts this parameter's steps.
    """

    hyperparameters = dict(lr=nonnegative, betas=betas, eps=nonnegative, weight_decay=nonnegative,
                           foreach=implementation_switch, maximize=flag, differentiable=implementation_switch,
                           capturable=implementation_switch)
    state_names = ("step", "exp_avg", "exp_inf")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                         maximize=maximize, differentiable=differentiable, capturable=capturable)

    def _update_group(self, group, items):
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        for p, g, state in items:
            xp = backend.xp(p.array)
            self._first_step(state, p, "exp_avg", "exp_inf")
            t = state["step"] = state["step"] + 1
            m, u = state["exp_avg"], state["exp_inf"]
            m *= beta1
            m += (1.0 - beta1) * g
            u *= beta2
            xp.maximum(u, xp.abs(g) + eps, out=u)
            p.array -= (lr / (1.0 - beta1**t)) * (m / u)
