"""``Adagrad``, as ``torch.optim.Adagrad``."""
from .. import backend
from .optimizer import Optimizer, flag, implementation_switch, nonnegative


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), as ``torch.optim.Adagrad``::

        g = (-grad if maximize else grad) + weight_decay * p
        s = s + g**2                           (s starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    As in PyTorch, the state of the constructor's parameters exists from the
    start (``step`` 0, ``sum`` filled with ``initial_accumulator_value``), and
    a group added later starts its sums at the constructor's value.
    """

    hyperparameters = dict(lr=nonnegative, lr_decay=nonnegative, eps=nonnegative, weight_decay=nonnegative,
                           initial_accumulator_value=nonnegative, foreach=implementation_switch, maximize=flag,
                           differentiable=implementation_switch, fused=implementation_switch)
    state_names = ("step", "sum")

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        super().__init__(params, lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                         differentiable=differentiable, fused=fused)
        for p, state in zip(self.params, self.state):
            self._init_state(p, state)

    def _init_state(self, p, state):
        state["step"] = 0
        state["sum"] = backend.xp(p.array).full_like(p.array, self.defaults["initial_accumulator_value"])

    def _update_group(self, group, items):
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        for p, g, state in items:
            if not state:
                self._init_state(p, state)
            t = state["step"] = state["step"] + 1
            s = state["sum"]
            s += g * g
            std = backend.xp(s).sqrt(s)
            std += eps
            p.array -= (lr / (1.0 + (t - 1) * lr_decay)) * (g / std)
