"""Learning-rate schedules, equal to ``torch.optim.lr_scheduler``'s step for step.

A scheduler sets ``group["lr"]`` of every parameter group of its optimizer.
Creating one applies the schedule's first value; then call ``scheduler.step()``
once per epoch (or per batch for ``OneCycleLR`` and ``CyclicLR``), after
``optimizer.step()``::

    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train(...)          # opt.step() inside
        sched.step()

``ReduceLROnPlateau`` is stepped with the metric it watches,
``sched.step(val_loss)``. ``SequentialLR`` runs schedulers one after another,
``ChainedScheduler`` steps several at once (their factors multiply).

``last_epoch`` counts the ``step()`` calls. Most schedules are written, as
PyTorch writes them, in recursive form: the new rate is computed from the
group's current ``lr``, so they compose with a user (or another scheduler)
changing it; ``step(epoch)`` (deprecated in PyTorch, and warned about as
there) jumps to ``epoch`` with the closed form where there is one.
``last_epoch=k`` resumes a schedule at epoch ``k``, and needs every group's
``"initial_lr"`` (which the first scheduler on an optimizer writes), as in PyTorch.

``state_dict()`` is a flat dict of NumPy arrays (``tc.save`` writes it), keyed
by PyTorch's attribute names (``last_epoch``, ``_step_count``, ``base_lrs``,
``_last_lr``, then the schedule's own); the schedulers of ``SequentialLR`` and
``ChainedScheduler`` are under ``_schedulers.<i>.``. Functions (``lr_lambda``,
``CyclicLR``'s scale function) are not saved, as in PyTorch: ``load_state_dict``
restores into a scheduler built with the same arguments, and checks every value
before it changes anything.
"""
import math
import numbers
import warnings
from bisect import bisect_right
from collections import Counter

import numpy as np

from ..checks import boolean, finite_number, integer, one_of, positive_int
from .optimizer import Optimizer

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "SequentialLR", "CosineAnnealingLR", "ChainedScheduler", "ReduceLROnPlateau",
           "CyclicLR", "CosineAnnealingWarmRestarts", "OneCycleLR", "PolynomialLR"]

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` is deprecated in PyTorch: call `scheduler.step()` without it. "
    "With an epoch, the closed form is used instead of the recursive one, where there is one."
)


# ----- checks of arguments and of loaded values, each (value, name, where) -> value -----------
def _nonnegative(value, name, where):
    return finite_number(value, name, where, minimum=0)


def _real(value, name, where):
    """A finite number, kept an int when it is one (epochs may be fractional)."""
    finite_number(value, name, where)
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _positive(value, name, where):
    value = finite_number(value, name, where)
    if value <= 0:
        raise ValueError(f"{where}: {name} must be > 0, got {value}")
    return value


def _fraction(value, name, where):
    """A number in (0, 1] (CyclicLR's rising share of a cycle)."""
    value = _positive(value, name, where)
    if value > 1:
        raise ValueError(f"{where}: {name} must be in (0, 1], got {value}")
    return value


def _epoch(value, name, where):
    return integer(value, name, where, minimum=-1)


def _count(value, name, where):
    return integer(value, name, where, minimum=0)


def _numbers(value, name, where):
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{where}: {name} must be a list of numbers, got {type(value).__name__}")
    return [finite_number(v, name, where) for v in value]


def _nonnegatives(value, name, where):
    return [_nonnegative(v, name, where) for v in _numbers(value, name, where)]


def _best(value, name, where):
    """ReduceLROnPlateau's best metric: a number, +-inf before the first step."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise TypeError(f"{where}: {name} must be a number, got {value!r}")
    return float(value)


def _choice(options):
    """A string option, saved as its index into ``options``."""
    def check(value, name, where):
        index = integer(value, name, where, minimum=0)
        if index >= len(options):
            raise ValueError(f"{where}: {name} must be an index into {options}, got {index}")
        return options[index]
    check.options = options
    return check


def _per_group(value, name, where, n, check=_nonnegative):
    """``value`` (one number, or a list/tuple of one per group) as a list of ``n`` checked numbers."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{where}: {name} has {len(value)} values but the optimizer has {n} parameter groups")
        return [check(v, name, where) for v in value]
    return [check(value, name, where)] * n


def _lambdas(lr_lambda, n, where):
    lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
    if len(lambdas) != n:
        raise ValueError(f"{where}: expected {n} lr_lambdas (one per parameter group), got {len(lambdas)}")
    for f in lambdas:
        if not callable(f):
            raise TypeError(f"{where}: lr_lambda must be a function of the epoch, got {type(f).__name__}")
    return lambdas


def _check_optimizer(optimizer, last_epoch, where, keys=("initial_lr",)):
    """The checks every scheduler makes before it changes anything: an optimizer, and
    ``last_epoch`` -1 (start) or the epoch to resume at, whose groups then hold ``keys``."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{where}: expected an optimizer, got {type(optimizer).__name__}")
    last_epoch = integer(last_epoch, "last_epoch", where, minimum=-1)
    if last_epoch != -1:
        for i, group in enumerate(optimizer.param_groups):
            for key in keys:
                if key not in group:
                    raise KeyError(f"{where}: resuming at last_epoch={last_epoch} needs {key!r} in param_groups[{i}] "
                                   "(written by the scheduler that started the run: load the optimizer's state "
                                   "first, or start with last_epoch=-1)")
    return last_epoch


class LRScheduler:
    """Base class: subclasses write ``get_lr()`` (the new rate of every group), and
    ``_closed_form()`` where the schedule has one (used by ``step(epoch)``).

    ``_saved`` maps each attribute ``state_dict`` saves (beyond the base ones) to
    its check, re-run on the loaded value; ``_per_group`` names those holding one
    value per parameter group.
    """

    _base_saved = {"last_epoch": _epoch, "_step_count": _count, "base_lrs": _numbers, "_last_lr": _numbers}
    _saved = {}
    _per_group = ("base_lrs", "_last_lr")
    _is_initial = False

    def __init__(self, optimizer, last_epoch=-1):
        where = type(self).__name__
        last_epoch = _check_optimizer(optimizer, last_epoch, where)
        self.optimizer = optimizer
        added = [group for group in optimizer.param_groups if "initial_lr" not in group]
        for group in added:
            group["initial_lr"] = group["lr"]
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        try:
            self._initial_step()
        except Exception:
            for group in added:  # nothing changes when the first value cannot be computed
                del group["initial_lr"]
            raise

    def _initial_step(self):
        """The schedule's first value; ``get_lr`` sees ``_is_initial`` (as PyTorch's)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        raise NotImplementedError(f"{type(self).__name__} does not define get_lr()")

    def _lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self, epoch=None):
        """Advance one epoch (or batch) and set every group's ``lr``. ``epoch`` (deprecated,
        as in PyTorch) jumps to that epoch, with the closed form where there is one."""
        if epoch is not None:
            epoch = _real(epoch, "epoch", f"{type(self).__name__}.step")
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._step_count += 1
        try:
            self._update_lr(epoch)
        except Exception:
            self._step_count -= 1
            raise

    def _update_lr(self, epoch=None):
        """Move to ``epoch`` (the next one when None) and write the rates; an error leaves all as it was."""
        previous = self.last_epoch
        self.last_epoch = previous + 1 if epoch is None else epoch
        try:
            if epoch is not None and hasattr(self, "_closed_form"):
                values = self._closed_form()
            else:
                values = self.get_lr()
        except Exception:
            self.last_epoch = previous
            raise
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = self._lrs()

    def get_last_lr(self):
        """The learning rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    # ----- state_dict ----------------------------------------------------------------------
    def _fields(self):
        return {**self._base_saved, **self._saved}

    def _save(self, name):
        value = getattr(self, name)
        options = getattr(self._fields()[name], "options", None)
        return options.index(value) if options else value

    def state_dict(self):
        """The schedule's state and settings as NumPy arrays, by PyTorch's attribute names."""
        return {name: np.asarray(self._save(name)) for name in self._fields()}

    def load_state_dict(self, state_dict):
        """Restore ``state_dict()``'s values. Missing or unexpected keys raise ``KeyError``,
        a value of the wrong type ``TypeError``, of the wrong size or range ``ValueError``,
        all before anything changes."""
        self._apply(self._parse(state_dict, f"{type(self).__name__}.load_state_dict"))

    def _parse(self, state_dict, where, others=(), prefix=""):
        """Every loaded value, checked; ``others`` are keys a subclass parses itself,
        ``prefix`` where a composite scheduler keeps this one's keys (for messages)."""
        if not hasattr(state_dict, "items"):
            raise TypeError(f"{where}: expected a dict of arrays, got {type(state_dict).__name__}")
        fields = self._fields()
        missing = [prefix + k for k in fields if k not in state_dict]
        unexpected = [prefix + k for k in state_dict if k not in fields and k not in others]
        if missing or unexpected:
            raise KeyError(f"{where}: missing keys {missing}, unexpected keys {unexpected}")
        n = len(self.optimizer.param_groups)
        values = {}
        for name, check in fields.items():
            array, key = state_dict[name], prefix + name
            if isinstance(array, (numbers.Real, list, tuple)):
                array = np.asarray(array)
            if not isinstance(array, np.ndarray) or (array.size and array.dtype.kind not in "biuf"):
                raise TypeError(f"{where}: {key!r} must be a numeric np.ndarray, got {type(array).__name__}"
                                + (f" of dtype {array.dtype}" if isinstance(array, np.ndarray) else ""))
            if name in self._per_group and array.shape != (n,):
                raise ValueError(f"{where}: {key!r} has shape {array.shape} but the optimizer has {n} parameter groups")
            values[name] = check(array.item() if array.ndim == 0 else array.tolist(), key, where)
        return values

    def _apply(self, values):
        for name, value in values.items():
            setattr(self, name, value)

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr})"


class _LRScheduler(LRScheduler):
    """The old name of ``LRScheduler``, kept (as in PyTorch) for code that subclasses it."""


def _lambda_value(f, epoch, where):
    value = f(epoch)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: lr_lambda({epoch}) must return a number, got {type(value).__name__}")
    return value


class LambdaLR(LRScheduler):
    """The base rate times ``lr_lambda(epoch)`` (one function, or one per group).
    The functions are not saved by ``state_dict``."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_optimizer(optimizer, last_epoch, "LambdaLR")
        self.lr_lambdas = _lambdas(lr_lambda, len(optimizer.param_groups), "LambdaLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * _lambda_value(f, self.last_epoch, "LambdaLR") for f, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(LRScheduler):
    """Multiply the rate by ``lr_lambda(epoch)`` every epoch (one function, or one per group).
    The functions are not saved by ``state_dict``."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_optimizer(optimizer, last_epoch, "MultiplicativeLR")
        self.lr_lambdas = _lambdas(lr_lambda, len(optimizer.param_groups), "MultiplicativeLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._lrs()
        return [lr * _lambda_value(f, self.last_epoch, "MultiplicativeLR") for f, lr in zip(self.lr_lambdas, self._lrs())]


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs."""

    _saved = {"step_size": positive_int, "gamma": _nonnegative}

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = positive_int(step_size, "step_size", "StepLR")
        self.gamma = _nonnegative(gamma, "gamma", "StepLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _closed_form(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


def _milestones(value, name, where):
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{where}: {name} must be a list of ints, got {type(value).__name__}")
    return Counter(integer(m, name, where, minimum=0) for m in value)


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each epoch listed in ``milestones`` (a
    milestone listed twice multiplies by ``gamma**2``)."""

    _saved = {"milestones": _milestones, "gamma": _nonnegative}

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = _milestones(milestones, "milestones", "MultiStepLR")
        self.gamma = _nonnegative(gamma, "gamma", "MultiStepLR")
        super().__init__(optimizer, last_epoch)

    def _save(self, name):
        return sorted(self.milestones.elements()) if name == "milestones" else super()._save(name)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._lrs()]

    def _closed_form(self):
        milestones = sorted(self.milestones.elements())
        return [base * self.gamma ** bisect_right(milestones, self.last_epoch) for base in self.base_lrs]


def _constant_factor(value, name, where):
    value = finite_number(value, name, where)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{where}: {name} must be in (0, 1], got {value}")
    return value


class ConstantLR(LRScheduler):
    """The base rate times ``factor`` for the first ``total_iters`` epochs, then the base rate."""

    _saved = {"factor": _constant_factor, "total_iters": positive_int}

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        self.factor = _constant_factor(factor, "factor", "ConstantLR")
        self.total_iters = positive_int(total_iters, "total_iters", "ConstantLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._lrs()]
        if self.last_epoch != self.total_iters:
            return self._lrs()
        return [lr * (1.0 / self.factor) for lr in self._lrs()]

    def _closed_form(self):
        return [base * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor)) for base in self.base_lrs]


def _start_factor(value, name, where):
    value = finite_number(value, name, where)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{where}: {name} must be in (0, 1], got {value}")
    return value


def _end_factor(value, name, where):
    value = finite_number(value, name, where)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}: {name} must be in [0, 1], got {value}")
    return value


class LinearLR(LRScheduler):
    """Scale the base rate by a factor going linearly from ``start_factor`` to
    ``end_factor`` over ``total_iters`` epochs (a warm-up), then keep it."""

    _saved = {"start_factor": _start_factor, "end_factor": _end_factor, "total_iters": positive_int}

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        self.start_factor = _start_factor(start_factor, "start_factor", "LinearLR")
        self.end_factor = _end_factor(end_factor, "end_factor", "LinearLR")
        self.total_iters = positive_int(total_iters, "total_iters", "LinearLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, start, end = self.last_epoch, self.start_factor, self.end_factor
        if t == 0:
            return [lr * start for lr in self._lrs()]
        if self._is_initial or t > self.total_iters:
            return self._lrs()
        factor = 1.0 + (end - start) / (self.total_iters * start + (t - 1) * (end - start))
        return [lr * factor for lr in self._lrs()]

    def _closed_form(self):
        t, start, end = self.last_epoch, self.start_factor, self.end_factor
        return [base * (start + (end - start) * min(self.total_iters, t) / self.total_iters) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch."""

    _saved = {"gamma": _nonnegative}

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = _nonnegative(gamma, "gamma", "ExponentialLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _closed_form(self):
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """The base rate times ``(1 - t / total_iters) ** power``, reaching 0 at ``total_iters``."""

    _saved = {"total_iters": positive_int, "power": _nonnegative}

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        self.total_iters = positive_int(total_iters, "total_iters", "PolynomialLR")
        self.power = _nonnegative(power, "power", "PolynomialLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, T = self.last_epoch, self.total_iters
        if self._is_initial or t > T:
            return self._lrs()
        decay = ((1.0 - t / T) / (1.0 - (t - 1) / T)) ** self.power
        return [lr * decay for lr in self._lrs()]

    def _closed_form(self):
        return [base * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
                for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine from the base rate down to ``eta_min`` over ``T_max`` epochs (then back
    up, as PyTorch's), ``eta_min + (base - eta_min) (1 + cos(pi t / T_max)) / 2``,
    in PyTorch's recursive form (so it equals PyTorch's rates to the last bit)."""

    _saved = {"T_max": positive_int, "eta_min": _nonnegative}

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = positive_int(T_max, "T_max", "CosineAnnealingLR")
        self.eta_min = _nonnegative(eta_min, "eta_min", "CosineAnnealingLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._lrs()
        if self._step_count == 1 and t > 0:
            return self._closed_form()
        if (t - 1 - T) % (2 * T) == 0:  # at the bottom: the recursive ratio would divide by 0
            return [lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2 for lr, base in zip(self._lrs(), self.base_lrs)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._lrs()]

    def _closed_form(self):
        return [self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine from the base rate to ``eta_min`` over ``T_0`` epochs, then a restart at the
    base rate, each period ``T_mult`` times the last (SGDR, Loshchilov & Hutter, 2017).
    ``step(epoch)`` takes a fractional epoch (``epoch + i / iters`` per batch), as PyTorch's."""

    _saved = {"T_0": positive_int, "T_i": positive_int, "T_mult": positive_int, "eta_min": _nonnegative, "T_cur": _real}

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        self.T_0 = positive_int(T_0, "T_0", "CosineAnnealingWarmRestarts")
        self.T_i = self.T_0
        self.T_mult = positive_int(T_mult, "T_mult", "CosineAnnealingWarmRestarts")
        self.eta_min = _nonnegative(eta_min, "eta_min", "CosineAnnealingWarmRestarts")
        self.T_cur = integer(last_epoch, "last_epoch", "CosineAnnealingWarmRestarts", minimum=-1)
        super().__init__(optimizer, last_epoch)

    def _cosine(self, T_cur, T_i):
        return [self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * T_cur / T_i)) / 2 for base in self.base_lrs]

    def get_lr(self):
        return self._cosine(self.T_cur, self.T_i)

    def step(self, epoch=None):
        """Advance one epoch, or go to ``epoch`` (a number >= 0, fractional for per-batch steps)."""
        T_0, T_mult, T_cur, T_i = self.T_0, self.T_mult, self.T_cur, self.T_i
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            T_cur += 1
            if T_cur >= T_i:
                T_cur, T_i = T_cur % T_i, T_i * T_mult
        else:
            epoch = _real(epoch, "epoch", "CosineAnnealingWarmRestarts.step")
            if epoch < 0:
                raise ValueError(f"CosineAnnealingWarmRestarts.step: epoch must be >= 0, got {epoch}")
            if epoch >= T_0:
                if T_mult == 1:
                    T_cur = epoch % T_0
                else:
                    n = int(math.log(epoch / T_0 * (T_mult - 1) + 1, T_mult))
                    T_cur = epoch - T_0 * (T_mult**n - 1) / (T_mult - 1)
                    T_i = T_0 * T_mult**n
            else:
                T_i, T_cur = T_0, epoch
        lrs = self._cosine(T_cur, T_i)
        self.T_cur, self.T_i, self.last_epoch = T_cur, T_i, math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = self._lrs()


def _set_momentum(group, value, use_beta1):
    if use_beta1:
        group["betas"] = (value,) + tuple(group["betas"][1:])
    else:
        group["momentum"] = value


def _momentum_kind(optimizer, where):
    """True when the optimizer's momentum is Adam's ``betas[0]``."""
    if "betas" not in optimizer.defaults and "momentum" not in optimizer.defaults:
        raise ValueError(f"{where}: cycle_momentum needs an optimizer with momentum or betas, "
                         f"got {type(optimizer).__name__} (pass cycle_momentum=False)")
    return "betas" in optimizer.defaults


class CyclicLR(LRScheduler):
    """The rate cycles between ``base_lr`` and ``max_lr`` (Smith, 2017), stepped once per
    batch: up over ``step_size_up`` steps, down over ``step_size_down`` (default the same).
    ``mode`` scales each cycle's amplitude: ``"triangular"`` (constant), ``"triangular2"``
    (halved every cycle), ``"exp_range"`` (``gamma ** iteration``), or ``scale_fn(x)``
    of the cycle (``scale_mode="cycle"``) or the iteration. With ``cycle_momentum``, the
    momentum (or Adam's ``betas[0]``) cycles the opposite way between ``max_momentum``
    and ``base_momentum``. The scale function (``mode``, ``gamma``, ``scale_fn``,
    ``scale_mode``) is not saved by ``state_dict``.
    """

    _saved = {"max_lrs": _nonnegatives, "total_size": _positive, "step_ratio": _fraction,
              "base_momentums": _nonnegatives, "max_momentums": _nonnegatives}
    _per_group = ("base_lrs", "_last_lr", "max_lrs", "base_momentums", "max_momentums")
    _modes = ("triangular", "triangular2", "exp_range")

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
                 gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=True, base_momentum=0.8,
                 max_momentum=0.9, last_epoch=-1):
        where = "CyclicLR"
        last_epoch = _check_optimizer(optimizer, last_epoch, where)
        n = len(optimizer.param_groups)
        base_lrs = _per_group(base_lr, "base_lr", where, n)
        self.max_lrs = _per_group(max_lr, "max_lr", where, n)
        up = finite_number(step_size_up, "step_size_up", where)
        down = up if step_size_down is None else finite_number(step_size_down, "step_size_down", where)
        if up <= 0 or down < 0:
            raise ValueError(f"{where}: step_size_up must be > 0 and step_size_down >= 0, "
                             f"got {step_size_up} and {step_size_down}")
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if scale_fn is None:
            one_of(mode, self._modes, "mode", where)
        elif not callable(scale_fn):
            raise TypeError(f"{where}: scale_fn must be a function, got {type(scale_fn).__name__}")
        self.mode = mode
        self.gamma = finite_number(gamma, "gamma", where)
        self._scale_fn_custom = scale_fn
        self.scale_mode = one_of(scale_mode, ("cycle", "iterations"), "scale_mode", where)
        if scale_fn is None:
            self.scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self.cycle_momentum = boolean(cycle_momentum, "cycle_momentum", where)
        self.base_momentums = _per_group(base_momentum, "base_momentum", where, n)
        self.max_momentums = _per_group(max_momentum, "max_momentum", where, n)
        if self.cycle_momentum:
            self.use_beta1 = _momentum_kind(optimizer, where)
        # checked: now the groups change, as PyTorch's
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
            if self.cycle_momentum:
                for top, bottom, group in zip(self.max_momentums, self.base_momentums, optimizer.param_groups):
                    _set_momentum(group, top, self.use_beta1)
                    group["max_momentum"], group["base_momentum"] = top, bottom
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x):
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle  # position in the cycle, 0..1
        scale_factor = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base + (top - base) * scale_factor * scale for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for bottom, top, group in zip(self.base_momentums, self.max_momentums, self.optimizer.param_groups):
                _set_momentum(group, top - (top - bottom) * scale_factor * scale, self.use_beta1)
        return lrs


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

    _saved = {"total_steps": positive_int, "pct_start": _end_factor, "cosine": boolean, "three_phase": boolean}

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        where = "OneCycleLR"
        self.cycle_momentum = boolean(cycle_momentum, "cycle_momentum", where)
        keys = ("initial_lr", "max_lr", "min_lr") + (("max_momentum", "base_momentum") if self.cycle_momentum else ())
        last_epoch = _check_optimizer(optimizer, last_epoch, where, keys)
        if total_steps is not None:
            self.total_steps = positive_int(total_steps, "total_steps", where)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = positive_int(epochs, "epochs", where) * positive_int(steps_per_epoch, "steps_per_epoch", where)
        else:
            raise ValueError(f"{where}: give total_steps, or epochs and steps_per_epoch")
        self.pct_start = _end_factor(pct_start, "pct_start", where)
        self.cosine = one_of(anneal_strategy, ("cos", "linear"), "anneal_strategy", where) == "cos"
        self.three_phase = boolean(three_phase, "three_phase", where)
        div_factor, final_div_factor = (_positive(v, name, where) for v, name in
                                        ((div_factor, "div_factor"), (final_div_factor, "final_div_factor")))
        n = len(optimizer.param_groups)
        max_lrs = _per_group(max_lr, "max_lr", where, n)  # >= 0: lr = max_lr / div_factor
        if self.cycle_momentum:
            self.use_beta1 = _momentum_kind(optimizer, where)
            max_moms = _per_group(max_momentum, "max_momentum", where, n, finite_number)
            base_moms = _per_group(base_momentum, "base_momentum", where, n, finite_number)
        if last_epoch == -1:  # checked: now the groups change, as PyTorch's
            for i, group in enumerate(optimizer.param_groups):
                group["initial_lr"] = max_lrs[i] / div_factor
                group["max_lr"] = max_lrs[i]
                group["min_lr"] = group["initial_lr"] / final_div_factor
                if self.cycle_momentum:
                    _set_momentum(group, max_moms[i], self.use_beta1)
                    group["max_momentum"], group["base_momentum"] = max_moms[i], base_moms[i]
        super().__init__(optimizer, last_epoch)

    def _phases(self):
        """``(end_step, start, end)`` of each phase; start/end name group keys (lr, momentum)."""
        n, pct = self.total_steps, self.pct_start
        if self.three_phase:
            return [
                (float(pct * n) - 1, ("initial_lr", "max_momentum"), ("max_lr", "base_momentum")),
                (float(2 * pct * n) - 2, ("max_lr", "base_momentum"), ("initial_lr", "max_momentum")),
                (n - 1, ("initial_lr", "max_momentum"), ("min_lr", "max_momentum")),
            ]
        return [
            (float(pct * n) - 1, ("initial_lr", "max_momentum"), ("max_lr", "base_momentum")),
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
                        _set_momentum(group, self._anneal(group[start[1]], group[end[1]], pct), self.use_beta1)
                    break
                start_step = end_step
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Multiply the rate by ``factor`` when the metric given to ``step(metric)`` has not
    improved for ``patience`` epochs, then wait ``cooldown`` epochs before counting again.

    An improvement beats the best so far by ``threshold``: relative
    (``best * (1 - threshold)`` in ``mode="min"``, ``best * (1 + threshold)`` in
    ``"max"``) or absolute (``best -+ threshold``) by ``threshold_mode``. The rate
    never goes below ``min_lr`` (one, or one per group), and a change smaller than
    ``eps`` is skipped. As PyTorch's, a NaN metric counts as no improvement.
    """

    _base_saved = {"last_epoch": _count, "_last_lr": _numbers}
    _saved = {"factor": _nonnegative, "patience": _count, "threshold": _nonnegative, "cooldown": _count,
              "eps": _nonnegative, "min_lrs": _nonnegatives, "mode": _choice(("min", "max")),
              "threshold_mode": _choice(("rel", "abs")), "best": _best, "num_bad_epochs": _count,
              "cooldown_counter": _count}
    _per_group = ("_last_lr", "min_lrs")

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        where = "ReduceLROnPlateau"
        _check_optimizer(optimizer, -1, where)
        self.factor = _nonnegative(factor, "factor", where)
        if self.factor >= 1.0:
            raise ValueError(f"{where}: factor must be < 1.0 (it multiplies the rate), got {factor}")
        n = len(optimizer.param_groups)
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else _nonnegative(min_lr, "min_lr", where)
        self.min_lrs = _per_group(min_lr, "min_lr", where, n)
        self.patience = _count(patience, "patience", where)
        self.cooldown = _count(cooldown, "cooldown", where)
        self.eps = _nonnegative(eps, "eps", where)
        self.mode = one_of(mode, ("min", "max"), "mode", where)
        self.threshold = _nonnegative(threshold, "threshold", where)
        self.threshold_mode = one_of(threshold_mode, ("rel", "abs"), "threshold_mode", where)
        self.optimizer = optimizer
        self.last_epoch = 0
        self._last_lr = self._lrs()
        self.best = self._worst()
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _worst(self):
        return math.inf if self.mode == "min" else -math.inf

    def _is_better(self, a, best):
        if self.mode == "min":
            return a < best * (1.0 - self.threshold) if self.threshold_mode == "rel" else a < best - self.threshold
        return a > best * (self.threshold + 1.0) if self.threshold_mode == "rel" else a > best + self.threshold

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def step(self, metrics, epoch=None):
        """Record this epoch's metric (a number, or a one-element Tensor) and reduce the rates
        if it has not improved for more than ``patience`` epochs."""
        where = "ReduceLROnPlateau.step"
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(f"{where}: metrics must be a number (e.g. the validation loss), "
                            f"got {type(metrics).__name__}") from None
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            epoch = integer(epoch, "epoch", where, minimum=0)
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ValueError(f"{where}: the optimizer has {len(groups)} parameter groups but min_lr has "
                                 f"{len(self.min_lrs)} values (a group was added?): set min_lrs to match")
            self.min_lrs = [self.default_min_lr] * len(groups)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs are not counted during cooldown
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(groups, self.min_lrs):
                old_lr = float(group["lr"])
                new_lr = max(old_lr * self.factor, min_lr)
                if old_lr - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._lrs()

    def __repr__(self):
        return (f"ReduceLROnPlateau(mode={self.mode!r}, best={self.best}, num_bad_epochs={self.num_bad_epochs}, "
                f"last_lr={self._last_lr})")


def _check_schedulers(schedulers, optimizer, where):
    if not isinstance(schedulers, (list, tuple)) or not schedulers:
        raise ValueError(f"{where}: expected a non-empty list of schedulers, got {schedulers!r}")
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{where}: schedulers[{i}] must be a scheduler, got {type(s).__name__}")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(f"{where}: schedulers[{i}] is a ReduceLROnPlateau, which needs the metric at each "
                             "step; step it on its own")
        if s.optimizer is not optimizer:
            raise ValueError(f"{where}: schedulers[{i}] ({type(s).__name__}) belongs to another optimizer")
    return list(schedulers)


class _Composite(LRScheduler):
    """State of a scheduler of schedulers: its own keys, then each one's under ``_schedulers.<i>.``."""

    def state_dict(self):
        out = super().state_dict()
        for i, s in enumerate(self._schedulers):
            out.update({f"_schedulers.{i}.{k}": v for k, v in s.state_dict().items()})
        return out

    def _parse(self, state_dict, where, others=(), prefix=""):
        if not hasattr(state_dict, "items"):
            raise TypeError(f"{where}: expected a dict of arrays, got {type(state_dict).__name__}")
        prefixes = [f"_schedulers.{i}." for i in range(len(self._schedulers))]
        nested = [k for k in state_dict if any(k.startswith(p) for p in prefixes)]
        values = super()._parse(state_dict, where, nested, prefix)
        children = []
        for p, s in zip(prefixes, self._schedulers):
            sub = {k[len(p):]: v for k, v in state_dict.items() if k.startswith(p)}
            children.append(s._parse(sub, where, prefix=prefix + p))
        return values, children

    def _apply(self, parsed):
        values, children = parsed
        super()._apply(values)
        for s, v in zip(self._schedulers, children):
            s._apply(v)


def _sequence_milestones(value, name, where):
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{where}: {name} must be a list of ints, got {type(value).__name__}")
    value = [integer(m, name, where, minimum=0) for m in value]
    if value != sorted(value):
        raise ValueError(f"{where}: {name} must be increasing, got {value}")
    return value


class SequentialLR(_Composite):
    """Run ``schedulers`` one after another, switching at the epochs in ``milestones``
    (one fewer than the schedulers); each starts afresh from the base rate."""

    _base_saved = {"last_epoch": _epoch, "_last_lr": _numbers}
    _saved = {"_milestones": _sequence_milestones}
    _per_group = ("_last_lr",)

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        where = "SequentialLR"
        last_epoch = _check_optimizer(optimizer, last_epoch, where)
        self._schedulers = _check_schedulers(schedulers, optimizer, where)
        self._milestones = _sequence_milestones(milestones, "milestones", where)
        if len(self._milestones) != len(self._schedulers) - 1:
            raise ValueError(f"{where}: expected {len(self._schedulers) - 1} milestones for "
                             f"{len(self._schedulers)} schedulers, got {len(self._milestones)}")
        if any("initial_lr" not in group for group in optimizer.param_groups):
            raise KeyError(f"{where}: the optimizer's groups have no 'initial_lr': build the schedulers first")
        self.optimizer = optimizer
        self.last_epoch = last_epoch + 1
        for group in optimizer.param_groups:  # undo the schedulers' first steps ...
            group["lr"] = group["initial_lr"]
        self._undo(self)
        idx = bisect_right(self._milestones, 0)  # ... and take the first one's again
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def _parse(self, state_dict, where, others=(), prefix=""):
        values, children = super()._parse(state_dict, where, others, prefix)
        if len(values["_milestones"]) != len(self._schedulers) - 1:  # one fewer than the schedulers
            raise ValueError(f"{where}: {prefix}_milestones has {len(values['_milestones'])} values for "
                             f"{len(self._schedulers)} schedulers (expected {len(self._schedulers) - 1})")
        return values, children

    @staticmethod
    def _undo(scheduler):
        """Take one epoch off every scheduler inside (nested ones included), as PyTorch's."""
        if hasattr(scheduler, "_schedulers"):
            for s in scheduler._schedulers:
                SequentialLR._undo(s)
        elif hasattr(scheduler, "last_epoch"):
            scheduler.last_epoch -= 1

    def step(self):
        """Advance one epoch: the current scheduler steps, or, at a milestone, the next one starts."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        try:
            if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
                scheduler._update_lr(0)
            else:
                scheduler.step()
        except Exception:
            self.last_epoch -= 1
            raise
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Composite):
    """Step every one of ``schedulers`` at each ``step()``: their changes compose
    (e.g. a warm-up ``LinearLR`` with an ``ExponentialLR`` decay)."""

    _base_saved = {"_last_lr": _numbers}
    _per_group = ("_last_lr",)

    def __init__(self, schedulers, optimizer=None):
        where = "ChainedScheduler"
        if not isinstance(schedulers, (list, tuple)) or not schedulers:
            raise ValueError(f"{where}: expected a non-empty list of schedulers, got {schedulers!r}")
        if optimizer is None:
            optimizer = getattr(schedulers[0], "optimizer", None)
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{where}: expected an optimizer, got {type(optimizer).__name__}")
        self._schedulers = _check_schedulers(schedulers, optimizer, where)
        self.optimizer = optimizer
        self._last_lr = self._lrs()

    def step(self):
        """Step every scheduler, in order."""
        for s in self._schedulers:
            s.step()
        self._last_lr = self._lrs()

    def __repr__(self):
        return f"ChainedScheduler({[type(s).__name__ for s in self._schedulers]}, last_lr={self._last_lr})"
