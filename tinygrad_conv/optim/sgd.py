"""``SGD``, as ``torch.optim.SGD``."""
from .optimizer import Optimizer, flag, implementation_switch, nonnegative, number


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, as ``torch.optim.SGD``::

        g = (-grad if maximize else grad) + weight_decay * p
        if momentum:
            b = g                                         (first step)
            b = momentum * b + (1 - dampening) * g        (later steps)
            g = g + momentum * b if nesterov else b
        p = p - lr * g
    """

    hyperparameters = dict(lr=nonnegative, momentum=nonnegative, dampening=number, weight_decay=nonnegative,
                           nesterov=flag, maximize=flag, foreach=implementation_switch,
                           differentiable=implementation_switch, fused=implementation_switch)
    state_names = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                         fused=fused)

    @classmethod
    def _check_group(cls, values):
        if values["nesterov"] and (values["momentum"] <= 0 or values["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov momentum needs momentum > 0 and dampening = 0, "
                f"got momentum={values['momentum']}, dampening={values['dampening']}"
            )

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
