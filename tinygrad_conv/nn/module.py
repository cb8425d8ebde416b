"""``Module`` (a container of parameters and sub-modules) and ``Parameter``.

A module registers what is assigned to it: ``self.weight = Parameter(...)``
lists ``weight`` in ``named_parameters()``, ``self.features = Sequential(...)``
lists ``features`` as a child, in assignment order, as in PyTorch. Arrays that
are state but not trained (batch norm's running statistics) are registered
with ``register_buffer``: they are saved in ``state_dict`` and moved by ``to``.
"""
import numpy as np

from .. import backend, checks, hooks
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers and an optimizer updates.

    ``Parameter(data, requires_grad=True, dtype=None)`` copies ``data``: float
    data keeps its dtype, anything else becomes float32 (a parameter must be
    differentiable). ``requires_grad=False`` freezes it.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True, dtype=None):
        super().__init__(np.empty(0, np.float32) if data is None else data, dtype=dtype)
        if self.array.dtype.kind != "f":
            self.array = self.array.astype(np.float32)
        self.requires_grad_(requires_grad)

    def __repr__(self):
        body = np.array2string(self.numpy(), precision=4, separator=", ", prefix="Parameter(")
        dtype = f", dtype={self.dtype}" if self.dtype != np.float32 else ""
        device = f", device={self.device!r}" if self.device != backend.CPU else ""
        return f"Parameter({body}{dtype}{device})"


class Module:
    """Base class of layers and models: write ``__init__`` (call ``super().__init__()``
    first) and ``forward``; call the module like a function.

    >>> class TwoLayer(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = nn.Linear(4, 8)
    ...         self.out = nn.Linear(8, 2)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).relu())
    """

    def __init__(self):
        # Registered parameters and sub-modules, in assignment order. Their
        # values are also kept as ordinary instance attributes, so reading
        # `self.weight` in forward is a plain attribute lookup (no __getattr__).
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "training", True)

    # ----- registration ------------------------------------------------------------------
    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        modules = self.__dict__.get("_modules")
        if params is None or modules is None:
            if isinstance(value, (Parameter, Module)):
                raise AttributeError(
                    f"cannot assign {type(value).__name__} {name!r} before Module.__init__() is called; "
                    f"call super().__init__() first in {type(self).__name__}.__init__"
                )
            return object.__setattr__(self, name, value)
        buffers = self.__dict__.get("_buffers", {})
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in buffers:
            buffers[name] = _buffer_array(value, name)
        elif name in params:
            # A registered slot keeps its kind, as in PyTorch (`bias = None` is fine).
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} "
                    "(an nn.Parameter or None expected)"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module {name!r} "
                    "(an nn.Module or None expected)"
                )
            modules[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        object.__delattr__(self, name)

    # ----- running -------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        """The computation; every module overrides it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    _forward_hooks = ()  # a dict on the instance once a hook is registered

    def __call__(self, *args, **kwargs):
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                result = hook(self, args, out)
                if result is not None:  # as in PyTorch, a returned value replaces the output
                    out = result
        return out

    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after every forward of this module
        (``inputs`` the tuple of positional arguments); a returned value replaces
        the output. Returns a handle whose ``.remove()`` unregisters it."""
        if "_forward_hooks" not in self.__dict__:
            object.__setattr__(self, "_forward_hooks", {})
        return hooks.add(self._forward_hooks, hook, "register_forward_hook")

    # ----- walking the tree ----------------------------------------------------------------
    def named_children(self):
        """``(name, module)`` for each direct sub-module, in registration order."""
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix=""):
        """``(dotted_name, module)`` for this module (name ``prefix``) and every
        module below it, each once even if it is reachable twice."""
        seen = set()
        stack = [(prefix, self)]
        while stack:  # depth-first, children in registration order
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
            stack.extend(reversed(children))

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_parameters(self):
        """``(dotted_name, parameter)`` for every parameter, e.g. ``"features.0.weight"``.

        A parameter shared by two modules is listed once, under its first name.
        """
        seen = set()
        for prefix, module in self.named_modules():
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self):
        """Every parameter once (what an optimizer takes)."""
        for _, p in self.named_parameters():
            yield p

    def zero_grad(self):
        """Set ``.grad`` of every parameter to None."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode=True):
        """Set ``.training`` on this module and every sub-module; returns self."""
        mode = checks.boolean(mode, "mode", "train")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self):
        """``train(False)``."""
        return self.train(False)

    # ----- devices -------------------------------------------------------------------------
    def to(self, device):
        """Move every parameter (and its gradient) to ``device`` in place and return self.

        The Parameter objects stay the same, so an optimizer built before the
        move keeps working (its state follows on its next step).
        """
        device = backend.device(device)
        for p in self.parameters():
            p.array = backend.to_device(p.array, device)
            if p.grad is not None:
                p.grad.array = backend.to_device(p.grad.array, device)
        for module in self.modules():
            for name, buf in list(module._buffers.items()):
                if buf is not None:
                    setattr(module, name, backend.to_device(buf, device))
        return self

    def cpu(self):
        """``self.to("cpu")``."""
        return self.to(backend.CPU)

    def cuda(self, index=None):
        """``self.to("cuda")`` (or ``"cuda:index"``)."""
        return self.to("cuda" if index is None else f"cuda:{index}")

    # ----- checkpoints ---------------------------------------------------------------------
    def _named_state(self):
        """``(dotted_name, array)`` for every parameter and buffer, module by module
        (each module's parameters, then its buffers), in PyTorch's order."""
        params = {id(p): name for name, p in self.named_parameters()}
        for prefix, module in self.named_modules():
            for name, p in module._parameters.items():
                if p is not None and params.get(id(p)) == (f"{prefix}.{name}" if prefix else name):
                    yield params[id(p)], p.array
            for name, buf in module._buffers.items():
                if buf is not None:
                    yield (f"{prefix}.{name}" if prefix else name), buf

    def state_dict(self):
        """``{dotted_name: np.ndarray}``: a host copy of every parameter's and buffer's data,
        whatever its device (buffers under PyTorch's names, e.g. ``"1.running_mean"``)."""
        return {name: backend.to_numpy(a, copy=True) for name, a in self._named_state()}

    def load_state_dict(self, state_dict):
        """Copy ``state_dict``'s arrays into the parameters and buffers, in place, keeping their dtypes
        and devices (a NumPy checkpoint loads onto a model on the GPU).

        Everything is checked before anything is copied, so a bad dict changes
        nothing: missing or unexpected keys raise ``KeyError``, a value that is
        not a numeric array ``TypeError``, a shape mismatch ``ValueError``.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"load_state_dict: expected a dict of arrays, got {type(state_dict).__name__}")
        params = dict(self._named_state())  # name -> the parameter's data or the buffer
        missing = [k for k in params if k not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in params]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise KeyError(f"load_state_dict: {' and '.join(parts)} for {type(self).__name__}")
        values = {}
        for name, p in params.items():
            value = state_dict[name]
            if isinstance(value, Tensor):
                value = value.numpy()
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "iuf":
                what = f"array of dtype {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
                raise TypeError(f"load_state_dict: {name!r} must be a numeric np.ndarray, got {what}")
            if value.shape != p.shape:
                raise ValueError(
                    f"load_state_dict: {name!r} has shape {value.shape} in the state dict "
                    f"but {p.shape} in the model"
                )
            values[name] = value
        for name, a in params.items():
            a[...] = backend.like(values[name].astype(a.dtype, copy=False), a)

    # ----- buffers -----------------------------------------------------------------------------
    def register_buffer(self, name, array):
        """Register ``array`` (NumPy/CuPy array, or None) as state that is not trained:
        readable as ``self.<name>``, listed by ``named_buffers()``, saved in
        ``state_dict`` and moved by ``to``. Assigning to the name replaces it."""
        if "_buffers" not in self.__dict__:
            raise AttributeError(f"cannot register buffer {name!r} before Module.__init__() is called")
        if not isinstance(name, str) or not name or "." in name:
            raise TypeError(f"register_buffer: name must be a non-empty string without '.', got {name!r}")
        if name in self._parameters or name in self._modules or (hasattr(self, name) and name not in self._buffers):
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        self._buffers[name] = _buffer_array(array, name)
        object.__setattr__(self, name, self._buffers[name])

    def named_buffers(self):
        """``(dotted_name, array)`` for every buffer, e.g. ``"1.running_mean"``."""
        for prefix, module in self.named_modules():
            for name, buf in module._buffers.items():
                if buf is not None:
                    yield (f"{prefix}.{name}" if prefix else name), buf

    def buffers(self):
        for _, buf in self.named_buffers():
            yield buf

    # ----- printing --------------------------------------------------------------------------
    def extra_repr(self):
        """The arguments shown inside ``Name(...)``; layers override it."""
        return ""

    def __repr__(self):
        lines = [line for line in self.extra_repr().split("\n") if line]
        for name, module in self.named_children():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        if not lines:
            return f"{type(self).__name__}()"
        if len(lines) == 1 and not self._modules:
            return f"{type(self).__name__}({lines[0]})"
        body = "\n  ".join(lines)
        return f"{type(self).__name__}(\n  {body}\n)"


def _buffer_array(value, name):
    """A buffer's value: an array on either device (a Tensor gives its data), or None."""
    if isinstance(value, Tensor):
        value = value.array
    if value is not None and not (isinstance(value, np.ndarray) or backend.is_cuda(value)):
        raise TypeError(f"buffer {name!r} must be an array or None, got {type(value).__name__}")
    return value
