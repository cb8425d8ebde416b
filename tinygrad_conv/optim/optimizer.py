"""``Optimizer``: the parameters in groups, their hyperparameters and per-parameter state.

An optimizer updates its parameters' ``.data`` in place from their ``.grad``
on ``step()`` (skipping those whose grad is None), step for step as the
``torch.optim`` class of the same name. As in PyTorch, ``params`` is an
iterable of Tensors or a list of dicts, ``[{"params": [...], "lr": 0.1},
{"params": [...]}]``, each dict a parameter group whose missing
hyperparameters take the constructor's values. ``opt.param_groups`` is that
list of dicts, each holding ``"params"`` and every hyperparameter: a learning
rate scheduler (or you) changes ``group["lr"]`` between steps. ``opt.lr`` reads
the first group's value, and assigning ``opt.lr = ...`` sets it in every group.
Hyperparameters are checked on construction and again at every ``step()``, so
a bad value assigned in between raises ``ValueError`` before anything moves.

Per-parameter state (momentum buffers, moments, step counts) is in
``self.state[i]``, a dict for parameter ``i`` of ``self.params`` (all groups'
parameters in order). Updates are whole-array ops in the parameter's dtype on
its device: float32 stays float32 (hyperparameters are Python floats, which
NumPy does not let widen an array), and state lives where its parameter lives
(moved along if the model moved).

``state_dict()`` is flat and holds only NumPy arrays, so ``tc.save`` writes it
as it is. With one group: ``{"lr": array(0.01), ..., "state.0.step": array(3),
"state.0.exp_avg": array([...]), ...}``; with several, each group's
hyperparameters are under ``"param_groups.G.<name>"`` and the indices of its
parameters under ``"param_groups.G.params"``.
"""
import re

import numpy as np

from .. import backend
from ..tensor import Tensor

_STATE_KEY = re.compile(r"state\.(\d+)\.(\w+)")


def _check_params(params, where):
    """The parameters as a list, checked: Tensors, leaves, at least one."""
    if isinstance(params, Tensor):
        raise TypeError(
            f"{where}: params must be an iterable of Tensors (e.g. model.parameters()), "
            "got a single Tensor; wrap it in a list"
        )
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
        if hasattr(value, "shape"):
            if type(value) is np.ndarray and type(data) is np.ndarray:
                return False
            return backend.device_of(value) != backend.device_of(data)
    return False


class Optimizer:
    """Base class: holds the parameter groups, the hyperparameters and the state.

    A subclass lists its ``hyperparameters`` and per-parameter ``state_names``,
    checks hyperparameter values in ``_check_hyperparameters`` (called on
    construction, at every step and on ``load_state_dict``) and writes
    ``_update_group(group, items)``, which updates the ``(param, grad, state)``
    triples of one group.
    """

    hyperparameters = ()
    state_names = ()
    # Weight decay added to the gradient (L2, as SGD/Adam/RMSprop); AdamW decays the weights instead.
    l2_weight_decay = True

    def __init__(self, params, **defaults):
        where = type(self).__name__
        checked = self._check_hyperparameters(**defaults)
        if not isinstance(params, Tensor):  # (a single Tensor: _check_params explains)
            try:
                params = list(params)
            except TypeError:
                raise TypeError(f"{where}: params must be an iterable of Tensors, got {type(params).__name__}") from None
        is_groups = isinstance(params, list) and params and all(isinstance(g, dict) for g in params)
        groups = [dict(g) for g in params] if is_groups else [{"params": params}]
        param_groups, flat, seen = [], [], {}
        for gi, group in enumerate(groups):
            if "params" not in group:
                raise KeyError(f"{where}: parameter group {gi} has no 'params'")
            unknown = sorted(set(group) - {"params"} - set(self.hyperparameters))
            if unknown:
                raise ValueError(f"{where}: parameter group {gi} has unknown keys {unknown}; expected {list(self.hyperparameters)}")
            group_params = _check_params(group.pop("params"), where if len(groups) == 1 else f"{where} group {gi}")
            for p in group_params:
                if id(p) in seen:
                    raise ValueError(f"{where}: parameters {seen[id(p)]} and {len(flat)} are the same Tensor; pass each parameter once")
                seen[id(p)] = len(flat)
                flat.append(p)
            values = self._check_hyperparameters(**dict(checked, **group))
            param_groups.append(dict(params=group_params, **values))
        object.__setattr__(self, "defaults", checked)
        object.__setattr__(self, "param_groups", param_groups)
        object.__setattr__(self, "params", flat)
        object.__setattr__(self, "state", [{} for _ in flat])

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
    def _check_hyperparameters(cls, **hyperparameters):
        raise NotImplementedError

    def _required_state(self, group):
        """The state names a parameter of ``group`` has once it has any state."""
        return self.state_names

    # ----- stepping --------------------------------------------------------------------------
    def step(self):
        """Update every parameter that has a gradient (all hyperparameters are checked first)."""
        checked = self.__dict__.setdefault("_checked", {})  # group index -> values that passed
        for i, group in enumerate(self.param_groups):  # every group before any parameter moves
            values = tuple(group[k] for k in self.hyperparameters)
            if values != checked.get(i):  # only what changed since the last step (NaN always does)
                group.update(self._check_hyperparameters(**dict(zip(self.hyperparameters, values))))
                checked[i] = tuple(group[k] for k in self.hyperparameters)
        offset = 0
        for group in self.param_groups:
            self._update_group(group, self._gradients(group, offset))
            offset += len(group["params"])

    def _update_group(self, group, items):
        raise NotImplementedError(f"{type(self).__name__} does not define _update_group()")

    def _gradients(self, group, offset):
        """``(param, gradient, state)`` for each parameter of ``group`` with a ``.grad``; the
        gradient includes L2 weight decay (``grad + weight_decay * param``) unless the
        optimizer decays weights itself."""
        weight_decay = group.get("weight_decay", 0.0) if self.l2_weight_decay else 0.0
        for i, p in enumerate(group["params"], offset):
            g, state = p.grad, self.state[i]
            if g is None:
                continue
            g = g.array
            if state and _moved(state, p.array):  # the model moved to another device since the last step
                for name, value in state.items():
                    if hasattr(value, "shape"):
                        state[name] = backend.like(value, p.array)
            if weight_decay:
                g = g + weight_decay * p.array
            yield p, g, state

    def zero_grad(self):
        """Set ``.grad`` of every parameter to None."""
        for p in self.params:
            p.grad = None

    # ----- checkpoints -------------------------------------------------------------------------
    def _group_prefix(self, g):
        return "" if len(self.param_groups) == 1 else f"param_groups.{g}."

    def state_dict(self):
        """Hyperparameters and per-parameter state as a flat dict of NumPy arrays (host copies)."""
        out, offset = {}, 0
        for g, group in enumerate(self.param_groups):
            prefix = self._group_prefix(g)
            out.update({prefix + name: np.array(group[name]) for name in self.hyperparameters})
            if prefix:
                out[prefix + "params"] = np.arange(offset, offset + len(group["params"]))
            offset += len(group["params"])
        for i, state in enumerate(self.state):
            for name, value in state.items():
                out[f"state.{i}.{name}"] = backend.to_numpy(value, copy=True)
        return out

    def load_state_dict(self, state_dict):
        """Restore what ``state_dict()`` returned, so training resumes exactly.

        Everything is checked before anything changes: missing or unexpected
        keys raise ``KeyError``, non-arrays ``TypeError``, bad values or
        shapes (or parameter groups laid out differently) ``ValueError``.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"{where}: expected a dict of arrays, got {type(state_dict).__name__}")
        group_keys = {}
        for g in range(len(self.param_groups)):
            prefix = self._group_prefix(g)
            names = self.hyperparameters + (("params",) if prefix else ())
            group_keys.update({prefix + name: (g, name) for name in names})
        missing = [key for key in group_keys if key not in state_dict]
        state_keys, unexpected = {}, []
        for key in state_dict.keys():
            if key in group_keys:
                continue
            match = _STATE_KEY.fullmatch(key) if isinstance(key, str) else None
            if match and int(match[1]) < len(self.params) and match[2] in self.state_names:
                state_keys[key] = int(match[1]), match[2]
            else:
                unexpected.append(key)
        if missing or unexpected:
            raise KeyError(f"{where}: missing keys {missing}, unexpected keys {unexpected}")

        def array(key):
            value = state_dict[key]
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
                what = f"array of dtype {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
                raise TypeError(f"{where}: {key!r} must be a numeric np.ndarray, got {what}")
            return value

        values = [{} for _ in self.param_groups]
        offset = 0
        for key, (g, name) in group_keys.items():
            value = array(key)
            if name == "params":
                expected = np.arange(offset, offset + len(self.param_groups[g]["params"]))
                offset += len(expected)
                if value.shape != expected.shape or not np.array_equal(value, expected):
                    raise ValueError(f"{where}: {key!r} is {value.tolist()} but this optimizer's group {g} holds parameters {expected.tolist()}")
            else:
                values[g][name] = value.item() if value.ndim == 0 else tuple(value.tolist())
        checked = [self._check_hyperparameters(**v) for v in values]
        group_of = [g for g, group in enumerate(self.param_groups) for _ in group["params"]]

        new_state = [{} for _ in self.params]
        for key, (i, name) in state_keys.items():
            value, p = array(key), self.params[i]
            if name == "step":
                if value.ndim != 0 or value.dtype.kind not in "iu" or value < 1:
                    raise ValueError(f"{where}: {key!r} must be an integer >= 1, got {value!r}")
                new_state[i][name] = int(value)
            else:
                if value.shape != p.shape:
                    raise ValueError(f"{where}: {key!r} has shape {value.shape} but parameter {i} has shape {p.shape}")
                new_state[i][name] = backend.like(value.astype(p.dtype, copy=True), p.array)
        for i, state in enumerate(new_state):
            absent = [name for name in self._required_state(checked[group_of[i]]) if state and name not in state]
            if absent:
                raise KeyError(f"{where}: parameter {i} has state {sorted(state)} but lacks {absent}")

        for group, values in zip(self.param_groups, checked):
            group.update(values)
        object.__setattr__(self, "state", new_state)

    def __repr__(self):
        args = ", ".join(f"{name}={self.param_groups[0][name]!r}" for name in self.hyperparameters)
        groups = f"{len(self.param_groups)} groups, " if len(self.param_groups) > 1 else ""
        return f"{type(self).__name__}({len(self.params)} parameters, {groups}{args})"
