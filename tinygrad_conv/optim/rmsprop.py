"""``RMSprop``, as ``torch.optim.RMSprop``."""
from .. import backend
from .optimizer import Optimizer, flag, implementation_switch, nonnegative


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), as ``torch.optim.RMSprop``::

        g = (-grad if maximize else grad) + weight_decay * p
        v = alpha * v + (1 - alpha) * g**2                       (v starts at zero)
        if centered: a = alpha * a + (1 - alpha) * g; denom = sqrt(v - a**2) + eps
        else:        denom = sqrt(v) + eps
        if momentum: b = momentum * b + g / denom; p = p - lr * b  (b starts at zero)
        else:        p = p - lr * g / denom
    """

    hyperparameters = dict(lr=nonnegative, momentum=nonnegative, alpha=nonnegative, eps=nonnegative, centered=flag,
                           weight_decay=nonnegative, capturable=implementation_switch, foreach=implementation_switch,
                           maximize=flag, differentiable=implementation_switch)
    state_names = ("step", "square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        super().__init__(params, lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                         weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                         differentiable=differentiable)

    def _required_state(self, group):
        return ("step", "square_avg") + (("momentum_buffer",) if group["momentum"] > 0 else ()) + (
            ("grad_avg",) if group["centered"] else ()
        )

    def _update_group(self, group, items):
        lr, alpha, eps, momentum, centered = (group[k] for k in ("lr", "alpha", "eps", "momentum", "centered"))
        for p, g, state in items:
            xp = backend.xp(p.array)
            self._first_step(state, p, "square_avg")
            for name in ("momentum_buffer",) * (momentum > 0) + ("grad_avg",) * centered:  # (PyTorch's order)
                if name not in state:
                    state[name] = xp.zeros_like(p.array)
            state["step"] += 1
            v = state["square_avg"]
            v *= alpha
            v += (1.0 - alpha) * (g * g)
            if centered:
                a = state["grad_avg"]
                a *= alpha
                a += (1.0 - alpha) * g
                denom = xp.sqrt(v - a * a)
            else:
                denom = xp.sqrt(v)
            denom += eps
            if momentum > 0:
                buf = state["momentum_buffer"]
                buf *= momentum
                buf += g / denom
                p.array -= lr * buf
            else:
                p.array -= lr * (g / denom)
