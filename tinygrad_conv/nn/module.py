"""``Module`` (a container of parameters, buffers and sub-modules) and ``Parameter``.

A module registers what is assigned to it: ``self.weight = Parameter(...)``
lists ``weight`` in ``named_parameters()``, ``self.features = Sequential(...)``
lists ``features`` as a child, in assignment order, as in PyTorch. Tensors that
are state but not trained (batch norm's running statistics) are registered
with ``register_buffer``: they are saved in ``state_dict`` and moved by ``to``.
"""
from collections import namedtuple

import numpy as np

from .. import backend, checks, dtypes, hooks
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


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the model's keys the dict lacked, and the dict's
    keys the model lacks (both empty after a strict load)."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


class StateDictKeyError(RuntimeError, KeyError):
    """A strict ``load_state_dict`` with missing or unexpected keys (PyTorch raises
    ``RuntimeError``; a missing name is this library's ``KeyError``)."""

    __str__ = RuntimeError.__str__  # the message as written, not KeyError's repr of it


class StateDictShapeError(RuntimeError, ValueError):
    """A state dict value whose shape differs from the model's (PyTorch's ``RuntimeError``,
    this library's ``ValueError`` for a bad value)."""


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
        # Registered parameters, buffers and sub-modules, in assignment order. Their
        # values are also kept as ordinary instance attributes, so reading
        # `self.weight` in forward is a plain attribute lookup (no __getattr__).
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers", set())
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
            value = buffers[name] = _buffer_tensor(value, name)
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

    def _check_new_name(self, name, where, kind):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot {where} before Module.__init__() is called")
        if not isinstance(name, str):
            raise TypeError(f"{where}: {kind} name must be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{where}: {kind} name must be non-empty and without '.', got {name!r}")
        registered = (self._parameters, self._modules, self._buffers)
        if hasattr(self, name) and not any(name in d for d in registered):
            raise KeyError(f"{where}: attribute {name!r} already exists")

    def add_module(self, name, module):
        """Register ``module`` (or None) as the child ``name``, as ``self.<name> = module``."""
        self._check_new_name(name, "add_module", "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        if module is None:
            self._parameters.pop(name, None)
            self._buffers.pop(name, None)
            self._modules[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, module)

    register_module = add_module

    def register_parameter(self, name, param):
        """Register ``param`` (an ``nn.Parameter`` or None) as ``self.<name>``."""
        self._check_new_name(name, "register_parameter", "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: cannot assign {type(param).__name__} as parameter {name!r} "
                            "(an nn.Parameter or None expected)")
        if param is None:
            self._modules.pop(name, None)
            self._buffers.pop(name, None)
            self._parameters[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """Register ``tensor`` (a Tensor, a NumPy/CuPy array wrapped without a copy, or None)
        as state that is not trained: readable as ``self.<name>``, listed by
        ``named_buffers()``, moved by ``to`` and, if ``persistent``, saved in
        ``state_dict``. Assigning to the name replaces it."""
        if "_buffers" not in self.__dict__:
            raise AttributeError(f"cannot register buffer {name!r} before Module.__init__() is called")
        if not isinstance(name, str) or not name or "." in name:
            raise TypeError(f"register_buffer: name must be a non-empty string without '.', got {name!r}")
        if name in self._parameters or name in self._modules or (hasattr(self, name) and name not in self._buffers):
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        self._buffers[name] = _buffer_tensor(tensor, name)
        if checks.boolean(persistent, "persistent", "register_buffer"):
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)
        object.__setattr__(self, name, self._buffers[name])

    def get_submodule(self, target):
        """The module at the dotted path ``target`` (``""`` is this module), e.g. ``"features.0"``."""
        if not isinstance(target, str):
            raise TypeError(f"get_submodule: target must be a string, got {type(target).__name__}")
        module = self
        for item in target.split(".") if target else ():
            if item not in module._modules or module._modules[item] is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {item!r} (looking up {target!r})")
            module = module._modules[item]
        return module

    def get_parameter(self, target):
        """The parameter at the dotted path ``target``, e.g. ``"features.0.weight"``."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._parameters or module._parameters[name] is None:
            raise AttributeError(f"{type(module).__name__} has no parameter {name!r} (looking up {target!r})")
        return module._parameters[name]

    def get_buffer(self, target):
        """The buffer at the dotted path ``target``, e.g. ``"1.running_mean"``."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._buffers or module._buffers[name] is None:
            raise AttributeError(f"{type(module).__name__} has no buffer {name!r} (looking up {target!r})")
        return module._buffers[name]

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
        """``(name, module)`` for each direct sub-module, in registration order (once each)."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """``(dotted_name, module)`` for this module (name ``prefix``) and every module
        below it, depth first; each once unless ``remove_duplicate=False``."""
        seen = set() if memo is None else memo  # modules hash by identity
        stack = [(prefix, self)]
        while stack:  # depth-first, children in registration order
            name, module = stack.pop()
            if remove_duplicate:
                if module in seen:
                    continue
                seen.add(module)
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def _named_members(self, kind, prefix, recurse, remove_duplicate):
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        seen = set()
        for module_prefix, module in modules:
            for name, value in getattr(module, kind).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """``(dotted_name, parameter)`` for every parameter, e.g. ``"features.0.weight"``.

        A parameter shared by two modules is listed once, under its first name.
        """
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """Every parameter once (what an optimizer takes)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """``(dotted_name, tensor)`` for every buffer, e.g. ``"1.running_mean"``."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module (children first) and then on this one; returns self.
        ``model.apply(init_weights)`` is the usual way to re-initialise a model."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad=True):
        """Freeze (``False``) or unfreeze every parameter; returns self."""
        requires_grad = checks.boolean(requires_grad, "requires_grad", "requires_grad_")
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Set ``.grad`` of every parameter to None (``set_to_none=False``: fill it with zeros
        in place, detached from any graph, as PyTorch does)."""
        set_to_none = checks.boolean(set_to_none, "set_to_none", "zero_grad")
        for p in self.parameters():
            p.zero_grad(set_to_none)

    def train(self, mode=True):
        """Set ``.training`` on this module and every sub-module; returns self."""
        mode = checks.boolean(mode, "mode", "train")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self):
        """``train(False)``."""
        return self.train(False)

    # ----- devices and dtypes --------------------------------------------------------------
    def to(self, *args, device=None, dtype=None, non_blocking=False, memory_format=None):
        """Move and/or cast every parameter (and its gradient) and buffer, in place; returns
        self. ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``; a dtype
        applies to floating point tensors only (``num_batches_tracked`` stays int64), as
        in PyTorch. ``memory_format`` (``tc.channels_last``, ...) is checked and changes nothing.

        The Parameter objects stay the same, so an optimizer built before the
        move keeps working (its state follows on its next step).
        """
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, str) or (isinstance(a, int) and not isinstance(a, bool)):
                device = a
            else:
                dtype = a
        device = None if device is None else backend.device(device)
        checks.memory_format(memory_format, "Module.to")
        if dtype is not None:
            dtype = _float_dtype(dtype, "Module.to")

        def convert(array):
            if dtype is not None and array.dtype.kind == "f":
                array = backend.cast(array, dtype)
            return array if device is None else backend.to_device(array, device)

        for p in self.parameters():
            p.array = convert(p.array)
            if p.grad is not None:
                p.grad.array = convert(p.grad.array)
        for module in self.modules():
            for name, buf in list(module._buffers.items()):
                if buf is not None:
                    array = convert(buf.array)
                    if array is not buf.array:  # a new buffer Tensor, as PyTorch's
                        setattr(module, name, Tensor._make(array, None))
        return self

    def cpu(self):
        """``self.to("cpu")``."""
        return self.to(backend.CPU)

    def cuda(self, index=None):
        """``self.to("cuda")`` (or ``"cuda:index"``)."""
        return self.to("cuda" if index is None else f"cuda:{index}")

    def float(self):
        """Cast floating point parameters and buffers to float32; returns self."""
        return self.to(dtypes.float32)

    def double(self):
        """Cast floating point parameters and buffers to float64; returns self."""
        return self.to(dtypes.float64)

    def half(self):
        raise NotImplementedError("Module.half: float16 is not supported (there are no float16 kernels); "
                                  "keep the model in float32")

    # ----- checkpoints ---------------------------------------------------------------------
    def _state_items(self, prefix=""):
        """``(dotted_name, tensor)`` for every parameter and persistent buffer, module by module
        (each module's parameters, then its buffers, then its children), in PyTorch's order.
        As in PyTorch, a tensor reachable under two names (tied weights, a module used twice)
        is listed under both."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, p
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers:
                yield prefix + name, buf
        for name, module in self._modules.items():
            if module is not None:
                yield from module._state_items(f"{prefix}{name}.")

    def state_dict(self, *, destination=None, prefix="", keep_vars=False):
        """``{dotted_name: Tensor}`` for every parameter and persistent buffer, under PyTorch's
        names and in its order (e.g. ``"1.weight"``, ``"1.running_mean"``). The Tensors are
        detached and share memory with the model (``keep_vars=True``: the parameters
        themselves); ``tc.save(model.state_dict(), path)`` writes them as arrays."""
        out = {} if destination is None else destination
        for name, t in self._state_items(prefix):
            out[name] = t if keep_vars else t.detach()
        return out

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy ``state_dict``'s values (Tensors or NumPy arrays, e.g. from ``tc.load``) into the
        parameters and buffers, in place, each cast to the tensor's dtype and moved to its
        device. Returns ``(missing_keys, unexpected_keys)``.

        ``strict=True`` refuses missing or unexpected keys (``RuntimeError``, also a
        ``KeyError``); ``strict=False`` loads the keys that match. A shape mismatch is
        an error either way (``RuntimeError``, also a ``ValueError``), a non-numeric value
        a ``TypeError``. Everything is checked before anything is copied, so a refused
        dict changes nothing.
        """
        where = f"load_state_dict for {type(self).__name__}"
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"{where}: expected a dict of Tensors or arrays, got {type(state_dict).__name__}")
        strict = checks.boolean(strict, "strict", "load_state_dict")
        if assign:
            raise NotImplementedError("load_state_dict: assign=True is not supported; values are copied into "
                                      "the existing parameters")
        targets = list(self._state_items())
        names = {name for name, _ in targets}
        missing = [name for name, _ in targets if name not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in names]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise StateDictKeyError(f"load_state_dict: {' and '.join(parts)} for {type(self).__name__}")
        values = []
        for name, t in targets:
            if name not in state_dict:
                continue
            value = _state_value(state_dict[name], name)
            if tuple(value.shape) != t.shape:
                raise StateDictShapeError(
                    f"load_state_dict: size mismatch: {name!r} has shape {tuple(value.shape)} in the state dict "
                    f"but {t.shape} in the model"
                )
            values.append((t, value))
        for t, value in values:
            array = backend.like(backend.cast(value, t.dtype), t.array)
            if isinstance(t.array, np.generic):
                t.array = np.array(array, t.dtype)
            else:
                t.array[...] = array
        return IncompatibleKeys(missing, unexpected)

    # ----- printing --------------------------------------------------------------------------
    def extra_repr(self):
        """The arguments shown inside ``Name(...)``; layers override it."""
        return ""

    def __repr__(self):
        lines = [line for line in self.extra_repr().split("\n") if line]
        for name, module in self._modules.items():
            if module is not None:
                child = repr(module).replace("\n", "\n  ")
                lines.append(f"({name}): {child}")
        if not lines:
            return f"{type(self).__name__}()"
        if len(lines) == 1 and not self._modules:
            return f"{type(self).__name__}({lines[0]})"
        body = "\n  ".join(lines)
        return f"{type(self).__name__}(\n  {body}\n)"


# ----- helpers ---------------------------------------------------------------------------------
def _float_dtype(dtype, where):
    """A parameter dtype: float32 or float64 (float16 has no kernels here; integers cannot be trained)."""
    dt = dtypes.dtype(dtype, where)
    if dt == dtypes.float16:
        raise NotImplementedError(f"{where}: float16 is not supported (there are no float16 kernels); use float32")
    if dt.kind != "f":
        raise TypeError(f"{where}: parameters need a floating point dtype (float32 or float64), got {dt}")
    return dt


def _buffer_tensor(value, name):
    """A buffer's value: a Tensor (an array is wrapped without a copy, as the module's own state), or None."""
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray) or backend.is_cuda(value):
        return Tensor._make(value, None)
    raise TypeError(f"buffer {name!r} must be a Tensor, an array or None, got {type(value).__name__}")


def _state_value(value, name):
    """A state dict value as an array (NumPy or CuPy): Tensors, arrays and objects NumPy can
    read (a PyTorch CPU tensor); numbers of any kind but not strings or objects."""
    if isinstance(value, Tensor):
        value = value.array
    elif isinstance(value, np.generic):
        value = np.asarray(value)
    elif not (isinstance(value, np.ndarray) or backend.is_cuda(value)):
        if not hasattr(value, "__array__"):  # lists and numbers are not tensors, as in PyTorch
            raise TypeError(f"load_state_dict: {name!r} must be a Tensor or an array, got {type(value).__name__}")
        try:
            value = np.asarray(value)
        except Exception as e:
            raise TypeError(f"load_state_dict: {name!r} ({type(value).__name__}) cannot be read as an array: {e}") from None
    if value.dtype.kind not in "biuf":
        raise TypeError(f"load_state_dict: {name!r} must hold numbers, got an array of dtype {value.dtype}")
    return value
