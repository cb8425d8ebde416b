"""``SGD``, as ``torch.optim.SGD``."""
from ..checks import boolean, finite_number
from .optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, as ``torch.optim.SGD``::

        g = grad + weight_decay * p
        if momentum:
            b = g                                         (first step)
            b = momentum * b + (1 - dampening) * g        (later steps)
            g = g + momentum * b if nesterov else b
        p = p - lr * g
    """

    hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov")
    state_names = ("momentum_buffer",)

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(
            params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov
        )

    @classmethod
    def _check_hyperparameters(cls, lr, momentum, dampening, weight_decay, nesterov):
        checked = dict(
            lr=finite_number(lr, "lr", "SGD", minimum=0),
            momentum=finite_number(momentum, "momentum", "SGD", minimum=0),
            dampening=finite_number(dampening, "dampening", "SGD"),
            weight_decay=finite_number(weight_decay, "weight_decay", "SGD", minimum=0),
        )
        nesterov = boolean(nesterov, "nesterov", "SGD")
        if nesterov and (checked["momentum"] <= 0 or checked["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov momentum needs momentum > 0 and dampening = 0, "
                f"got momentum={momentum}, dampening={dampening}"
            )
        return dict(checked, nesterov=nesterov)

    def _update_group(self, group, items):
        lr, momentum, nesterov = group["lr"], group["momentum"], group["nesterov"]
        keep = 1.0 - group["dampening"]
        for p, g, state in items:
            if momentum:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = g.astype(p.dtype, copy=True)
                else:
                    buf *= momentum
                    buf += keep * g
                g = g + momentum * buf if nesterov else buf
            p.array -= lr * g
