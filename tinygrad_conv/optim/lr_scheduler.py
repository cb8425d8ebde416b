"""Learning-rate schedules, equal to ``torch.optim.lr_scheduler``'s step for step.

A scheduler sets ``group["lr"]`` of every parameter group of its optimizer.
Creating one applies the schedule's first value; then call ``scheduler.step()``
once per epoch (or per batch for ``OneCycleLR``), after ``optimizer.step()``::

    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train(...)          # opt.step() inside
        sched.step()

``last_epoch`` counts the ``step()`` calls. Most schedules are written, as
PyTorch writes them, in recursive form: the new rate is computed from the
group's current ``lr``, so they compose with a user changing it.
``state_dict()`` is a flat dict of NumPy arrays (``tc.save`` writes it);
``load_state_dict`` restores it into a scheduler built with the same arguments.
"""
import math
from collections import Counter

import numpy as np

from ..checks import boolean, finite_number, integer, one_of, positive_int
from .optimizer import Optimizer


class LRScheduler:
    """Base class: subclasses write ``get_lr()`` (the new rate of every group) and list the
    attributes that define them in ``_saved`` (saved by ``state_dict``)."""

    _saved = ()

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self._step_count = 0
        self.step()  # the schedule's value at epoch 0

    def get_lr(self):
        raise NotImplementedError(f"{type(self).__name__} does not define get_lr()")

    def _lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self):
        """Advance one epoch (or batch) and set every group's ``lr``."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._lrs()

    def get_last_lr(self):
        """The learning rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self):
        """``last_epoch``, the base and last rates and the schedule's own settings, as NumPy arrays."""
        out = {"last_epoch": np.array(self.last_epoch), "step_count": np.array(self._step_count),
               "base_lrs": np.array(self.base_lrs, dtype=np.float64), "last_lr": np.array(self._last_lr, dtype=np.float64)}
        for name in self._saved:
            out[name] = np.array(self._save(name))
        return out

    def _save(self, name):
        return getattr(self, name)

    def _load(self, name, value):
        return value.item() if value.ndim == 0 else value.tolist()

    def load_state_dict(self, state_dict):
        """Restore ``state_dict()``'s values; missing or unexpected keys raise ``KeyError``,
        a different number of parameter groups ``ValueError``, both before anything changes."""
        where = f"{type(self).__name__}.load_state_dict"
        keys = ("last_epoch", "step_count", "base_lrs", "last_lr") + tuple(self._saved)
        missing = [k for k in keys if k not in state_dict]
        unexpected = [k for k in state_dict if k not in keys]
        if missing or unexpected:
            raise KeyError(f"{where}: missing keys {missing}, unexpected keys {unexpected}")
        for k in keys:
            if not isinstance(state_dict[k], np.ndarray) or state_dict[k].dtype.kind not in "biuf":
                raise TypeError(f"{where}: {k!r} must be a numeric np.ndarray, got {type(state_dict[k]).__name__}")
        n = len(self.optimizer.param_groups)
        for k in ("base_lrs", "last_lr"):
            if state_dict[k].shape != (n,):
                raise ValueError(f"{where}: {k!r} has shape {state_dict[k].shape} but the optimizer has {n} groups")
        self.last_epoch = integer(state_dict["last_epoch"].item(), "last_epoch", where, minimum=0)
        self._step_count = int(state_dict["step_count"])
        self.base_lrs = state_dict["base_lrs"].tolist()
        self._last_lr = state_dict["last_lr"].tolist()
        for name in self._saved:
            setattr(self, name, self._load(name, state_dict[name]))

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr})"


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs."""

    _saved = ("step_size", "gamma")

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size = positive_int(step_size, "step_size", "StepLR")
        self.gamma = finite_number(gamma, "gamma", "StepLR", minimum=0)
        super().__init__(optimizer)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each epoch listed in ``milestones`` (a
    milestone listed twice multiplies by ``gamma**2``)."""

    _saved = ("milestones", "gamma")

    def __init__(self, optimizer, milestones, gamma=0.1):
        if not isinstance(milestones, (list, tuple)):
            raise TypeError(f"MultiStepLR: milestones must be a list of ints, got {type(milestones).__name__}")
        self.milestones = Counter(integer(m, "milestones", "MultiStepLR", minimum=0) for m in milestones)
        self.gamma = finite_number(gamma, "gamma", "MultiStepLR", minimum=0)
        super().__init__(optimizer)

    def _save(self, name):
        return sorted(self.milestones.elements()) if name == "milestones" else super()._save(name)

    def _load(self, name, value):
        return Counter(int(m) for m in value.reshape(-1)) if name == "milestones" else super()._load(name, value)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._lrs()]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch."""

    _saved = ("gamma",)

    def __init__(self, optimizer, gamma):
        self.gamma = finite_number(gamma, "gamma", "ExponentialLR", minimum=0)
        super().__init__(optimizer)

    def get_lr(self):
        if self.last_epoch == 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]


class CosineAnnealingLR(LRScheduler):
    """Cosine from the base rate down to ``eta_min`` over ``T_max`` epochs (then back
    up, as PyTorch's), ``eta_min + (base - eta_min) (1 + cos(pi t / T_max)) / 2``,
    in PyTorch's recursive form (so it equals PyTorch's rates to the last bit)."""

    _saved = ("T_max", "eta_min")

    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max = positive_int(T_max, "T_max", "CosineAnnealingLR")
        self.eta_min = finite_number(eta_min, "eta_min", "CosineAnnealingLR", minimum=0)
        super().__init__(optimizer)

    def get_lr(self):
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if t == 0:
            return self._lrs()
        if (t - 1 - T) % (2 * T) == 0:  # at the bottom: the recursive ratio would divide by 0
            return [lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2 for lr, base in zip(self._lrs(), self.base_lrs)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._lrs()]


class LinearLR(LRScheduler):
    """Scale the base rate by a factor going linearly from ``start_factor`` to
    ``end_factor`` over ``total_iters`` epochs (a warm-up), then keep it."""

    _saved = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        self.start_factor = finite_number(start_factor, "start_factor", "LinearLR")
        self.end_factor = finite_number(end_factor, "end_factor", "LinearLR")
        if not 0.0 < self.start_factor <= 1.0:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if not 0.0 <= self.end_factor <= 1.0:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        self.total_iters = positive_int(total_iters, "total_iters", "LinearLR")
        super().__init__(optimizer)

    def get_lr(self):
        t, start, end = self.last_epoch, self.start_factor, self.end_factor
        if t == 0:
            return [lr * start for lr in self._lrs()]
        if t > self.total_iters:
            return self._lrs()
        factor = 1.0 + (end - start) / (self.total_iters * start + (t - 1) * (end - start))
        return [lr * factor for lr in self._lrs()]


class OneCycleLR(LRScheduler):
    """The one-cycle policy (Smith & Topin, 2018), stepped once per batch, as PyTorch's:
    the rate rises from ``max_lr / div_factor`` to ``max_lr`` over the first
    ``pct_start`` of ``total_steps``, then anneals to ``initial / final_div_factor``
    (cosine or linear); momentum (or Adam's ``betas[0]``) moves the opposite way
    between ``max_momentum`` and ``base_momentum`` when ``cycle_momentum``.
    ``three_phase`` anneals back to the initial rate before the final descent.
    Give ``total_steps``, or ``epochs`` and ``steps_per_epoch``. Stepping past
    ``total_steps`` raises ``ValueError``.
    """

    _saved = ("total_steps", "pct_start", "cosine", "cycle_momentum", "three_phase")

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False):
        where = "OneCycleLR"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{where}: expected an optimizer, got {type(optimizer).__name__}")
        if total_steps is not None:
            self.total_steps = positive_int(total_steps, "total_steps", where)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = positive_int(epochs, "epochs", where) * positive_int(steps_per_epoch, "steps_per_epoch", where)
        else:
            raise ValueError(f"{where}: give total_steps, or epochs and steps_per_epoch")
        self.pct_start = finite_number(pct_start, "pct_start", where)
        if not 0.0 <= self.pct_start <= 1.0:
            raise ValueError(f"{where}: pct_start must be in [0, 1], got {pct_start}")
        self.cosine = one_of(anneal_strategy, ("cos", "linear"), "anneal_strategy", where) == "cos"
        self.cycle_momentum = boolean(cycle_momentum, "cycle_momentum", where)
        self.three_phase = boolean(three_phase, "three_phase", where)
        div_factor = finite_number(div_factor, "div_factor", where)
        final_div_factor = finite_number(final_div_factor, "final_div_factor", where)
        groups = optimizer.param_groups
        max_lrs = self._per_group(max_lr, "max_lr", len(groups))
        if self.cycle_momentum:
            if "betas" not in optimizer.defaults and "momentum" not in optimizer.defaults:
                raise ValueError(f"{where}: cycle_momentum needs an optimizer with momentum or betas, got {type(optimizer).__name__}")
            self.use_beta1 = "betas" in optimizer.defaults
            max_moms = self._per_group(max_momentum, "max_momentum", len(groups))
            base_moms = self._per_group(base_momentum, "base_momentum", len(groups))
        for i, group in enumerate(groups):
            group["initial_lr"] = max_lrs[i] / div_factor
            group["max_lr"] = max_lrs[i]
            group["min_lr"] = group["initial_lr"] / final_div_factor
            if self.cycle_momentum:
                self._set_momentum(group, max_moms[i])
                group["max_momentum"], group["base_momentum"] = max_moms[i], base_moms[i]
        super().__init__(optimizer)

    @staticmethod
    def _per_group(value, name, n):
        if isinstance(value, (list, tuple)):
            if len(value) != n:
                raise ValueError(f"OneCycleLR: {name} has {len(value)} values but the optimizer has {n} groups")
            return [finite_number(v, name, "OneCycleLR") for v in value]
        return [finite_number(value, name, "OneCycleLR")] * n

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value,) + tuple(group["betas"][1:])
        else:
            group["momentum"] = value

    def _phases(self):
        """``(end_step, start, end)`` of each phase; start/end name group keys (lr, momentum)."""
        n, pct = self.total_steps, self.pct_start
        if self.three_phase:
            return [
                (pct * n - 1, ("initial_lr", "max_momentum"), ("max_lr", "base_momentum")),
                (2 * pct * n - 2, ("max_lr", "base_momentum"), ("initial_lr", "max_momentum")),
                (n - 1, ("initial_lr", "max_momentum"), ("min_lr", "max_momentum")),
            ]
        return [
            (pct * n - 1, ("initial_lr", "max_momentum"), ("max_lr", "base_momentum")),
            (n - 1, ("max_lr", "base_momentum"), ("min_lr", "max_momentum")),
        ]

    def _anneal(self, start, end, pct):
        if self.cosine:
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times but total_steps is {self.total_steps}")
        phases = self._phases()
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, (end_step, start, end) in enumerate(phases):
                if step <= end_step or i == len(phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[start[0]], group[end[0]], pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(group[start[1]], group[end[1]], pct))
                    break
                start_step = end_step
        return lrs
