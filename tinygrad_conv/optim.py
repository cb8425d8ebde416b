"""Optimizers: ``SGD`` and ``Adam``, step for step PyTorch's ``torch.optim`` rules.

An optimizer holds a list of parameters, updates their ``.data`` in place
from their ``.grad`` on ``step()`` (skipping those whose grad is None), and
keeps per-parameter state (momentum buffers, Adam moments and step counts)
in ``self.state[i]``, a dict for parameter ``i``.

The hyperparameters are plain attributes (``opt.lr = 0.01`` changes the
learning rate of later steps). Updates are whole-array ops in the
parameters' dtype on the parameters' device: float32 stays float32
(hyperparameters are Python floats, which NumPy does not let widen an array),
and state lives where its parameter lives (moved along if the model moved).

``state_dict()`` is flat and holds only NumPy arrays, so ``tc.save`` writes it
as it is: ``{"lr": array(0.01), ..., "state.0.step": array(3),
"state.0.exp_avg": array([...]), ...}``.
"""
import math
import re

import numpy as np

from . import backend
from .checks import boolean, finite_number
from .tensor import Tensor

_STATE_KEY = re.compile(r"state\.(\d+)\.(\w+)")


def _check_params(params, where):
    """The parameters as a list, checked: Tensors, leaves, each once, at least one."""
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
    seen = {}
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: parameter {i} must be a Tensor, got {type(p).__name__}")
        if not p.is_leaf:
            raise ValueError(f"{where}: parameter {i} was computed by an op; an optimizer updates leaf tensors")
        if id(p) in seen:
            raise ValueError(f"{where}: parameters {seen[id(p)]} and {i} are the same Tensor; pass each parameter once")
        seen[id(p)] = i
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
    """Base class: holds the parameters, their state, and the hyperparameters.

    A subclass lists its ``hyperparameters`` and per-parameter ``state_names``,
    checks hyperparameter values in ``_check_hyperparameters`` (called on
    construction and on ``load_state_dict``) and writes ``step``.
    """

    hyperparameters = ()
    state_names = ()

    def __init__(self, params, **hyperparameters):
        where = type(self).__name__
        params = _check_params(params, where)
        checked = self._check_hyperparameters(**hyperparameters)
        self.params = params
        self.__dict__.update(checked)
        self.state = [{} for _ in params]

    @classmethod
    def _check_hyperparameters(cls, **hyperparameters):
        raise NotImplementedError

    def step(self):
        """Update every parameter that has a gradient."""
        raise NotImplementedError(f"{type(self).__name__} does not define step()")

    def _gradients(self):
        """``(param, gradient, state)`` for each parameter with a ``.grad``; the
        gradient includes L2 weight decay (``grad + weight_decay * param``), which
        SGD and Adam both apply first."""
        weight_decay = self.weight_decay
        for p, state in zip(self.params, self.state):
            g = p.grad
            if g is None:
                continue
            if state and _moved(state, p.data):  # the model moved to another device since the last step
                for name, value in state.items():
                    if hasattr(value, "shape"):
                        state[name] = backend.like(value, p.data)
            if weight_decay:
                g = g + weight_decay * p.data
            yield p, g, state

    def zero_grad(self):
        """Set ``.grad`` of every parameter to None."""
        for p in self.params:
            p.grad = None

    def state_dict(self):
        """Hyperparameters and per-parameter state as a flat dict of NumPy arrays (host copies)."""
        out = {name: np.array(getattr(self, name)) for name in self.hyperparameters}
        for i, state in enumerate(self.state):
            for name, value in state.items():
                out[f"state.{i}.{name}"] = backend.to_numpy(value, copy=True)
        return out

    def load_state_dict(self, state_dict):
        """Restore what ``state_dict()`` returned, so training resumes exactly.

        Everything is checked before anything changes: missing or unexpected
        keys raise ``KeyError``, non-arrays ``TypeError``, bad values or
        shapes ``ValueError``.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"{where}: expected a dict of arrays, got {type(state_dict).__name__}")
        missing = [name for name in self.hyperparameters if name not in state_dict]
        state_keys, unexpected = {}, []
        for key in state_dict.keys():
            if key in self.hyperparameters:
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

        values = {}
        for name in self.hyperparameters:
            value = array(name)
            values[name] = value.item() if value.ndim == 0 else tuple(value.tolist())
        checked = self._check_hyperparameters(**values)

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
                new_state[i][name] = backend.like(value.astype(p.dtype, copy=True), p.data)
        for i, state in enumerate(new_state):
            absent = [name for name in self.state_names if state and name not in state]
            if absent:
                raise KeyError(f"{where}: parameter {i} has state {sorted(state)} but lacks {absent}")

        self.__dict__.update(checked)
        self.state = new_state

    def __repr__(self):
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.hyperparameters)
        return f"{type(self).__name__}({len(self.params)} parameters, {args})"


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

    def step(self):
        lr, momentum, nesterov = self.lr, self.momentum, self.nesterov
        keep = 1.0 - self.dampening
        for p, g, state in self._gradients():
            if momentum:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = g.astype(p.dtype, copy=True)
                else:
                    buf *= momentum
                    buf += keep * g
                g = g + momentum * buf if nesterov else buf
            p.data -= lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with L2 weight decay, as ``torch.optim.Adam``::

        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g               (m, v start at zero)
        v = beta2 * v + (1 - beta2) * g**2
        p = p - lr * m_hat / (sqrt(v_hat) + eps),     m_hat = m / (1 - beta1**t),
                                                      v_hat = v / (1 - beta2**t)

    ``t`` counts this parameter's steps. Computed, like PyTorch, as
    ``p -= (lr / (1 - beta1**t)) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``
    so the bias corrections are scalars, not arrays.
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay")
    state_names = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    @classmethod
    def _check_hyperparameters(cls, lr, betas, eps, weight_decay):
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        beta1, beta2 = (finite_number(b, name, "Adam") for b, name in zip(betas, ("betas[0]", "betas[1]")))
        for name, beta in (("betas[0]", beta1), ("betas[1]", beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Adam: {name} must be in [0, 1), got {beta}")
        return dict(
            lr=finite_number(lr, "lr", "Adam", minimum=0),
            betas=(beta1, beta2),
            eps=finite_number(eps, "eps", "Adam", minimum=0),
            weight_decay=finite_number(weight_decay, "weight_decay", "Adam", minimum=0),
        )

    def step(self):
        lr, eps = self.lr, self.eps
        beta1, beta2 = self.betas
        for p, g, state in self._gradients():
            if state:
                t = state["step"] = state["step"] + 1
                m, v = state["exp_avg"], state["exp_avg_sq"]
            else:
                t = state["step"] = 1
                xp = backend.xp(p.data)
                m = state["exp_avg"] = xp.zeros_like(p.data)
                v = state["exp_avg_sq"] = xp.zeros_like(p.data)
            step_size, bias2 = lr / (1.0 - beta1**t), math.sqrt(1.0 - beta2**t)
            if backend.is_cuda(p.data):  # the same update as below, in one launch instead of ten
                f = p.dtype.type
                kernel = backend.elementwise_kernel(
                    "T g, T b1, T c1, T b2, T c2, T bias2, T eps, T step_size", "T p, T m, T v", _ADAM_CUDA, "tc_adam"
                )
                kernel(g, f(beta1), f(1.0 - beta1), f(beta2), f(1.0 - beta2), f(bias2), f(eps), f(step_size), p.data, m, v)
                continue
            m *= beta1
            m += (1.0 - beta1) * g
            v *= beta2
            v += (1.0 - beta2) * (g * g)
            denom = np.sqrt(v)
            denom /= bias2
            denom += eps
            p.data -= step_size * m / denom


# Adam's step for one element on the GPU (g already holds the weight decay).
_ADAM_CUDA = """
m = b1 * m + c1 * g;
v = b2 * v + c2 * (g * g);
p -= step_size * m / (sqrt(v) / bias2 + eps);
"""
