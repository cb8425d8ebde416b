"""``Adadelta``, as ``torch.optim.Adadelta``."""
from .. import backend
from .optimizer import Optimizer, flag, implementation_switch, nonnegative, unit_interval


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), as ``torch.optim.Adadelta``::

        g = (-grad if maximize else grad) + weight_decay * p
        v = rho * v + (1 - rho) * g**2                     (v, u start at zero)
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta**2
        p = p - lr * delta

    ``v`` is the state ``square_avg``, ``u`` is ``acc_delta``.
    """

    hyperparameters = dict(lr=nonnegative, rho=unit_interval, eps=nonnegative, weight_decay=nonnegative, maximize=flag,
                           capturable=implementation_switch, foreach=implementation_switch,
                           differentiable=implementation_switch)
    state_names = ("step", "square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        super().__init__(params, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                         capturable=capturable, foreach=foreach, differentiable=differentiable)

    def _update_group(self, group, items):
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        for p, g, state in items:
            xp = backend.xp(p.array)
            self._first_step(state, p, "square_avg", "acc_delta")
            state["step"] += 1
            v, u = state["square_avg"], state["acc_delta"]
            v *= rho
            v += (1.0 - rho) * (g * g)
            delta = xp.sqrt(u + eps)
            delta /= xp.sqrt(v + eps)
            delta *= g
            u *= rho
            u += (1.0 - rho) * (delta * delta)
            p.array -= lr * delta
