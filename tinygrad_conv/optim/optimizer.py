"""``Optimizer``: the parameters in groups, their hyperparameters and per-parameter state.

An optimizer updates its parameters in place from their ``.grad`` on
``step()`` (skipping those whose grad is None), step for step as the
``torch.optim`` class of the same name, with the same constructor arguments
and defaults. As in PyTorch, ``params`` is an iterable of Tensors or a list of
dicts, ``[{"params": [...], "lr": 0.1}, {"params": [...]}]``, each dict a
parameter group whose missing hyperparameters take the constructor's values;
``add_param_group(dict)`` adds one later. ``opt.param_groups`` is that list of
dicts, each holding ``"params"`` and every hyperparameter: a learning rate
scheduler (or you) changes ``group["lr"]`` between steps. ``opt.lr`` reads the
first group's value, and assigning ``opt.lr = ...`` sets it in every group.
Hyperparameters are checked on construction and again at every ``step()``, so
a bad value assigned in between raises ``ValueError`` before anything moves.

Every update rule starts from ``g = -grad if maximize else grad`` and, with
``weight_decay``, either adds the L2 term (``g + weight_decay * p``) or, with
decoupled weight decay (AdamW, ``decoupled_weight_decay=True``), shrinks the
weights (``p *= 1 - lr * weight_decay``); ``_gradients`` does both, once for
every optimizer. PyTorch's implementation switches ``foreach``, ``fused``,
``capturable`` and ``differentiable`` are accepted when they are None/False
(they change nothing here) and refused with ``ValueError`` otherwise.

Per-parameter state (momentum buffers, moments, step counts) is in
``self.state[i]``, a dict for parameter ``i`` of ``self.params`` (all groups'
parameters in order), under PyTorch's names. Updates are whole-array ops in
the parameter's dtype on its device: float32 stays float32 (hyperparameters
are Python floats, which NumPy does not let widen an array), and state lives
where its parameter lives (moved along if the model moved).

``state_dict()`` has PyTorch's structure::

    {"state": {0: {"step": tensor(3.), "exp_avg": Tensor, ...}, 1: {...}},
     "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1]}]}

with copies of the state as Tensors (``step`` a float32 scalar, as PyTorch's).
``load_state_dict`` takes that, with Tensors or NumPy arrays as values (a
PyTorch checkpoint converted with ``.numpy()`` loads), checks all of it, and
changes nothing when any of it is wrong.
"""
import numbers

import numpy as np

from .. import backend, dtypes
from ..checks import boolean, callable_, finite_number
from ..engine import GradError, check_grad
from ..grad_mode import enable_grad
from ..tensor import Tensor


# ----- hyperparameter checks: (value, name, where) -> the value kept in the group ------------
def nonnegative(value, name, where):
    return finite_number(value, name, where, minimum=0)


def number(value, name, where):
    return finite_number(value, name, where)


def unit_interval(value, name, where):
    """A number in [0, 1] (Adadelta's rho)."""
    value = finite_number(value, name, where)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}: {name} must be in [0, 1], got {value}")
    return value


def flag(value, name, where):
    return boolean(value, name, where)


def betas(value, name, where):
    """A pair ``(beta1, beta2)``, each in [0, 1)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{where}: {name} must be a pair (beta1, beta2), got {value!r}")
    out = tuple(finite_number(b, f"{name}[{i}]", where) for i, b in enumerate(value))
    for i, beta in enumerate(out):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{where}: {name}[{i}] must be in [0, 1), got {beta}")
    return out


_CHANGES_NOTHING = {
    "fused": "there are no fused multi-tensor kernels here",
    "capturable": "there is no CUDA graph capture here",
    "differentiable": "the optimizer step is not recorded in the autograd graph",
}


def implementation_switch(value, name, where):
    """PyTorch's foreach/fused/capturable/differentiable: None or False (they choose how
    PyTorch computes the same update); True asks for something this library does not do,
    except ``foreach=True`` (milesial's U-Net passes it): it only batches the same update
    across parameters, which here is a few whole-array operations per parameter anyway."""
    if value is None or value is False or value is np.False_:
        return None if value is None else False
    if name == "foreach" and (value is True or value is np.True_):
        return True
    if value is True or value is np.True_:
        raise ValueError(f"{where}: {name}=True is not supported ({_CHANGES_NOTHING[name]}); "
                         f"leave it at None or False, which computes the same update")
    raise TypeError(f"{where}: {name} must be None or a bool, got {type(value).__name__} {value!r}")


# Group keys PyTorch added over the years; a saved group without one gets the default.
_OPTIONAL_KEYS = {"maximize", "foreach", "fused", "capturable", "differentiable", "amsgrad",
                  "decoupled_weight_decay"}
# Group keys a learning-rate scheduler writes; allowed in a group besides the hyperparameters.
_SCHEDULER_KEYS = ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum")


def _params_list(params, where):
    """The parameters of one group as a list, checked: Tensors, leaves, at least one."""
    if isinstance(params, Tensor):
        raise TypeError(
            f"{where}: params must be an iterable of Tensors (e.g. model.parameters()), "
            "got a single Tensor; wrap it in a list"
        )
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{where}: params must be an ordered collection (a list), not a set: "
                        "a set's order changes between runs, and state dicts refer to parameters by position")
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"{where}: params must be an iterable of Tensors, got {type(params).__name__}") from None
    if not params:
        raise ValueError(f"{where}: got an empty parameter list")
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: parameter {i} must be a Tensor, got {type(p).__name__}")
        if not p.is_leaf:
            raise ValueError(f"{where}: parameter {i} was computed by an op; an optimizer updates leaf tensors")
    return params


def _moved(state, data):
    """True when the arrays in ``state`` are on another device than ``data``."""
    for value in state.values():
        if hasattr(value, "shape") and not isinstance(value, np.generic):
            if type(value) is np.ndarray and type(data) is np.ndarray:
                return False
            return backend.device_of(value) != backend.device_of(data)
    return False


def _plain(value, key, where):
    """A loaded group value as a Python value: 0-d arrays/Tensors as numbers, 1-d as tuples."""
    if isinstance(value, Tensor):
        value = value.numpy()
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{where}: {key!r} must be numeric, got an array of dtype {value.dtype}")
        return value.item() if value.ndim == 0 else tuple(value.tolist())
    if isinstance(value, list):
        return tuple(value)
    if value is None or isinstance(value, (numbers.Real, tuple, str)):
        return value
    raise TypeError(f"{where}: {key!r} must be a number, a bool, None or a tuple, got {type(value).__name__}")


class Optimizer:
    """Base class: holds the parameter groups, the hyperparameters and the state.

    A subclass lists its ``hyperparameters`` (name -> check, in PyTorch's
    order) and per-parameter ``state_names``, may check combinations of values
    in ``_check_group``, and writes ``_update_group(group, items)``, which
    updates the ``(param, gradient, state)`` triples of one group.
    """

    hyperparameters = {}
    state_names = ()
    scalar_state = ()  # state kept as a NumPy scalar in the default float dtype, as PyTorch's (NAdam's mu_product)

    def __init__(self, params, **defaults):
        where = type(self).__name__
        object.__setattr__(self, "defaults", self._check_hyperparameters(**defaults))
        object.__setattr__(self, "param_groups", [])
        object.__setattr__(self, "params", [])
        object.__setattr__(self, "state", [])
        if isinstance(params, (Tensor, set, frozenset)):
            _params_list(params, where)  # raises: a single Tensor or a set, not a list
        else:
            try:
                params = list(params)
            except TypeError:
                raise TypeError(f"{where}: params must be an iterable of Tensors, got {type(params).__name__}") from None
        groups = params if params and all(isinstance(g, dict) for g in params) else [{"params": params}]
        for gi, group in enumerate(groups):
            self._add_group(group, where if len(groups) == 1 else f"{where} group {gi}")

    def add_param_group(self, param_group):
        """Add a parameter group (a dict with ``"params"``; missing hyperparameters take the
        constructor's values), e.g. to train layers that were frozen so far."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{type(self).__name__}.add_param_group: expected a dict, got {type(param_group).__name__}")
        self._add_group(param_group, f"{type(self).__name__}.add_param_group")

    def _add_group(self, group, where):
        """Check ``group`` completely, then append it (its parameters get empty state)."""
        if "params" not in group:
            raise KeyError(f"{where}: the parameter group has no 'params'")
        unknown = sorted(set(group) - {"params"} - set(self.hyperparameters) - set(_SCHEDULER_KEYS))
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown}; expected {list(self.hyperparameters)}")
        params = group["params"]
        params = _params_list([params] if isinstance(params, Tensor) else params, where)
        seen = {id(p): i for i, p in enumerate(self.params)}
        for i, p in enumerate(params):
            if id(p) in seen:
                raise ValueError(f"{where}: parameter {i} is already optimized (as parameter {seen[id(p)]}); "
                                 "pass each parameter once")
            seen[id(p)] = len(self.params) + i
        values = self._check_hyperparameters(**{k: group.get(k, v) for k, v in self.defaults.items()})
        extras = {k: group[k] for k in _SCHEDULER_KEYS if k in group}
        self.param_groups.append(dict(params=params, **values, **extras))
        self.params.extend(params)
        self.state.extend({} for _ in params)

    # ----- hyperparameters as attributes: read group 0, write every group ----------------------
    def __getattr__(self, name):
        if name in type(self).hyperparameters and "param_groups" in self.__dict__:
            return self.param_groups[0][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name, value):
        if name in type(self).hyperparameters:
            for group in self.param_groups:
                group[name] = value
        else:
            object.__setattr__(self, name, value)

    @classmethod
    def _check_hyperparameters(cls, **values):
        """Every hyperparameter checked (and normalised) by its rule, then ``_check_group``."""
        where = cls.__name__
        missing = [k for k in cls.hyperparameters if k not in values]
        if missing:
            raise KeyError(f"{where}: missing hyperparameters {missing}")
        checked = {name: check(values[name], name, where) for name, check in cls.hyperparameters.items()}
        cls._check_group(checked)
        return checked

    @classmethod
    def _check_group(cls, values):
        """Checks of several hyperparameters together (SGD's nesterov); raise ``ValueError``."""

    def _required_state(self, group):
        """The state names a parameter of ``group`` has once it has any state."""
        return self.state_names

    # ----- stepping --------------------------------------------------------------------------
    def step(self, closure=None):
        """Update every parameter that has a gradient (all hyperparameters are checked first).

        ``closure``, as in PyTorch, is a function that recomputes the loss (it
        runs with gradients enabled first); its value is returned.
        """
        loss = None
        if callable_(closure, "closure", f"{type(self).__name__}.step") is not None:
            with enable_grad():
                loss = closure()
        checked = self.__dict__.setdefault("_checked", {})  # group index -> values that passed
        for i, group in enumerate(self.param_groups):  # every group before any parameter moves
            values = tuple(group[k] for k in self.hyperparameters)
            if values != checked.get(i):  # only what changed since the last step (NaN always does)
                group.update(self._check_hyperparameters(**dict(zip(self.hyperparameters, values))))
                checked[i] = tuple(group[k] for k in self.hyperparameters)
        where = f"{type(self).__name__}.step"
        for k, group in enumerate(self.param_groups):  # every gradient too (shape, dtype, device): before any
            for j, p in enumerate(group["params"]):     # parameter moves or any state is made
                if p.grad is not None:
                    try:
                        check_grad(p.grad, p, where)
                    except GradError as e:
                        raise GradError(f"{e} (parameter {j} of param group {k})") from None
        offset = 0
        for group in self.param_groups:
            self._update_group(group, self._gradients(group, offset))
            offset += len(group["params"])
        return loss

    def _update_group(self, group, items):
        raise NotImplementedError(f"{type(self).__name__} does not define _update_group()")

    @staticmethod
    def _first_step(state, p, *buffers):
        """On a parameter's first step: ``step`` 0 and each named buffer zeros like ``p``
        (in the order given: PyTorch's state_dict order)."""
        if not state:
            state["step"] = 0
            for name in buffers:
                state[name] = backend.xp(p.array).zeros_like(p.array)

    def _gradients(self, group, offset):
        """``(param, g, state)`` for each parameter of ``group`` with a ``.grad``, where ``g``
        is the gradient negated under ``maximize`` plus any L2 weight decay; decoupled weight
        decay is applied to the parameter here, before the update, as PyTorch does."""
        weight_decay, maximize = group.get("weight_decay", 0.0), group.get("maximize", False)
        decoupled = group.get("decoupled_weight_decay", False)
        for i, p in enumerate(group["params"], offset):
            g, state = p.grad, self.state[i]
            if g is None:
                continue
            g = g.array
            if state and _moved(state, p.array):  # the model moved to another device since the last step
                for name, value in state.items():
                    if hasattr(value, "shape") and not isinstance(value, np.generic):
                        state[name] = backend.like(value, p.array)
            if maximize:
                g = -g
            if weight_decay and decoupled:
                p.array *= 1.0 - group["lr"] * weight_decay
            elif weight_decay:
                g = g + weight_decay * p.array
            yield p, g, state

    def zero_grad(self, set_to_none=True):
        """Set ``.grad`` of every parameter to None (``set_to_none=False``: fill it with zeros,
        in place, detached from any graph, as PyTorch does)."""
        set_to_none = boolean(set_to_none, "set_to_none", f"{type(self).__name__}.zero_grad")
        for p in self.params:
            p.zero_grad(set_to_none)

    # ----- checkpoints -------------------------------------------------------------------------
    def state_dict(self):
        """PyTorch's structure: ``{"state": {index: {name: Tensor}}, "param_groups": [...]}``,
        a copy (later steps do not change it); ``step`` is a float32 scalar Tensor as PyTorch's."""
        state = {}
        for i, s in enumerate(self.state):
            if s:
                state[i] = {name: self._saved(name, value) for name, value in s.items()}
        groups, offset = [], 0
        for group in self.param_groups:
            saved = {k: v for k, v in group.items() if k != "params"}
            saved["params"] = list(range(offset, offset + len(group["params"])))
            offset += len(group["params"])
            groups.append(saved)
        return {"state": state, "param_groups": groups}

    @staticmethod
    def _saved(name, value):
        if name == "step":
            return Tensor(np.array(value, np.float32))
        if isinstance(value, np.generic):
            return Tensor(np.array(value))
        return Tensor._make(value.copy(), None)

    def load_state_dict(self, state_dict):
        """Restore what ``state_dict()`` returned (or PyTorch's, values as Tensors or NumPy
        arrays), so training resumes exactly.

        Everything is checked before anything changes: missing keys raise
        ``KeyError``, wrong types ``TypeError``, bad values or shapes (or
        parameter groups laid out differently) ``ValueError``.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{where}: expected a dict with 'state' and 'param_groups', got {type(state_dict).__name__}")
        missing = [k for k in ("state", "param_groups") if k not in state_dict]
        unexpected = sorted(map(str, set(state_dict) - {"state", "param_groups"}))
        if missing or unexpected:
            raise KeyError(f"{where}: expected the keys 'state' and 'param_groups' (PyTorch's layout); "
                           f"missing {missing}, unexpected {unexpected}")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(saved_groups, (list, tuple)) or not all(isinstance(g, dict) for g in saved_groups):
            raise TypeError(f"{where}: 'param_groups' must be a list of dicts, got {type(saved_groups).__name__}")
        if not isinstance(saved_state, dict):
            raise TypeError(f"{where}: 'state' must be a dict of per-parameter dicts, got {type(saved_state).__name__}")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{where}: the state dict has {len(saved_groups)} parameter groups, "
                             f"this optimizer {len(self.param_groups)}")

        new_groups, index_of, group_of = [], {}, []  # saved parameter id -> position in self.params
        for g, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            ids = saved.get("params")
            if ids is None:
                raise KeyError(f"{where}: parameter group {g} has no 'params'")
            ids = list(ids.tolist() if isinstance(ids, np.ndarray) else ids)
            if len(ids) != len(group["params"]):
                raise ValueError(f"{where}: group {g} of the state dict holds {len(ids)} parameters, "
                                 f"this optimizer's group {g} holds {len(group['params'])}")
            for pid in ids:
                if isinstance(pid, bool) or not isinstance(pid, numbers.Integral) or int(pid) in index_of:
                    raise ValueError(f"{where}: group {g}'s 'params' must be distinct integer ids, got {ids}")
                index_of[int(pid)] = len(group_of)
                group_of.append(g)
            lacking = [k for k in self.hyperparameters if k not in saved and k not in _OPTIONAL_KEYS]
            if lacking:
                raise KeyError(f"{where}: parameter group {g} lacks {lacking}")
            values = {k: _plain(saved[k], k, where) if k in saved else self.defaults[k] for k in self.hyperparameters}
            extras = {k: _plain(v, k, where) for k, v in saved.items() if k != "params" and k not in self.hyperparameters}
            new_groups.append(dict(params=group["params"], **self._check_hyperparameters(**values), **extras))

        new_state = [{} for _ in self.params]
        for key, values in saved_state.items():
            pid = int(key) if isinstance(key, str) and key.isdigit() else key
            if pid not in index_of:
                raise KeyError(f"{where}: state for parameter id {key!r}, which no parameter group lists")
            if not isinstance(values, dict):
                raise TypeError(f"{where}: state {key!r} must be a dict, got {type(values).__name__}")
            i = index_of[pid]
            for name, value in values.items():
                if name not in self.state_names:
                    raise KeyError(f"{where}: state {key!r} has {name!r}; {type(self).__name__} keeps {list(self.state_names)}")
                new_state[i][name] = self._loaded(name, value, self.params[i], f"{where}: state {key!r} {name!r}")
        for i, state in enumerate(new_state):
            absent = [name for name in self._required_state(new_groups[group_of[i]]) if state and name not in state]
            if absent:
                raise KeyError(f"{where}: parameter {i} has state {sorted(state)} but lacks {absent}")

        for group, new in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new)
        self.__dict__.pop("_checked", None)
        object.__setattr__(self, "state", new_state)

    def _loaded(self, name, value, p, where):
        """One saved state value, checked, as it is kept: ``step`` an int, scalars in the default
        float dtype, arrays in the parameter's dtype on its device."""
        if isinstance(value, Tensor):
            value = value.array
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = np.asarray(value)
        if not (isinstance(value, (np.ndarray, np.generic)) or backend.is_cuda(value)) or value.dtype.kind not in "biuf":
            what = f"an array of dtype {value.dtype}" if hasattr(value, "dtype") else type(value).__name__
            raise TypeError(f"{where} must be a Tensor, a numeric array or a number, got {what}")
        if name == "step" or name in self.scalar_state:
            if value.size != 1:
                raise ValueError(f"{where} must be a scalar, got shape {value.shape}")
            scalar = backend.to_numpy(value).reshape(()).item()
            if name == "step" and not (float(scalar).is_integer() and scalar >= 0):
                raise ValueError(f"{where} must be a whole number >= 0, got {scalar}")
            if not np.isfinite(scalar):
                raise ValueError(f"{where} must be finite, got {scalar}")
            return int(scalar) if name == "step" else dtypes.DEFAULT_FLOAT.type(scalar)
        if value.shape != p.shape:
            raise ValueError(f"{where} has shape {value.shape} but the parameter has shape {p.shape}")
        return backend.like(backend.cast(value, p.dtype).copy(), p.array)

    def __repr__(self):
        args = ", ".join(f"{name}={self.param_groups[0][name]!r}" for name in self.hyperparameters)
        groups = f"{len(self.param_groups)} groups, " if len(self.param_groups) > 1 else ""
        return f"{type(self).__name__}({len(self.params)} parameters, {groups}{args})"
