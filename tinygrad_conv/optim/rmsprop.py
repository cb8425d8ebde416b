"""``RMSprop``, as ``torch.optim.RMSprop``."""
from .. import backend
from ..checks import boolean, finite_number
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), as ``torch.optim.RMSprop``::

        g = grad + weight_decay * p
        v = alpha * v + (1 - alpha) * g**2                       (v starts at zero)
        if centered: a = alpha * a + (1 - alpha) * g; denom = sqrt(v - a**2) + eps
        else:        denom = sqrt(v) + eps
        if momentum: b = momentum * b + g / denom; p = p - lr * b  (b starts at zero)
        else:        p = p - lr * g / denom
    """

    hyperparameters = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")
    state_names = ("step", "square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered)

    @classmethod
    def _check_hyperparameters(cls, lr, alpha, eps, weight_decay, momentum, centered):
        return dict(
            lr=finite_number(lr, "lr", "RMSprop", minimum=0),
            alpha=finite_number(alpha, "alpha", "RMSprop", minimum=0),
            eps=finite_number(eps, "eps", "RMSprop", minimum=0),
            weight_decay=finite_number(weight_decay, "weight_decay", "RMSprop", minimum=0),
            momentum=finite_number(momentum, "momentum", "RMSprop", minimum=0),
            centered=boolean(centered, "centered", "RMSprop"),
        )

    def _required_state(self, group):
        return ("step", "square_avg") + (("momentum_buffer",) if group["momentum"] > 0 else ()) + (
            ("grad_avg",) if group["centered"] else ()
        )

    def _update_group(self, group, items):
        lr, alpha, eps, momentum, centered = (group[k] for k in ("lr", "alpha", "eps", "momentum", "centered"))
        for p, g, state in items:
            xp = backend.xp(p.array)
            if not state:
                state["step"] = 0
                state["square_avg"] = xp.zeros_like(p.array)
            state["step"] += 1
            v = state["square_avg"]
            v *= alpha
            v += (1.0 - alpha) * (g * g)
            if centered:
                a = state.get("grad_avg")
                if a is None:
                    a = state["grad_avg"] = xp.zeros_like(p.array)
                a *= alpha
                a += (1.0 - alpha) * g
                denom = xp.sqrt(v - a * a)
            else:
                denom = xp.sqrt(v)
            denom += eps
            if momentum > 0:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = xp.zeros_like(p.array)
                buf *= momentum
                buf += g / denom
                p.array -= lr * buf
            else:
                p.array -= lr * (g / denom)
