"""Containers whose contents the parent registers: ``ModuleList``, ``ModuleDict``,
``ParameterList``, ``ParameterDict`` (``Sequential`` is in layers.py: it also runs them)."""
import numpy as np

from ..tensor import Tensor
from .module import Module, Parameter


class ModuleList(Module):
    """Holds modules in a list, registered as children ``"0"``, ``"1"``, ... (so their
    parameters appear as ``"0.weight"``); indexable, iterable, ``append``/``extend``.
    Unlike ``Sequential`` it has no ``forward``: the parent decides how to call them."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def _checked(self, module, where):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.{where}: expected an nn.Module, got {type(module).__name__}")
        return module

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        setattr(self, str(len(self._modules)), self._checked(module, "append"))
        return self

    def extend(self, modules):
        """Append each module of an iterable; returns self."""
        if isinstance(modules, Module) and not isinstance(modules, ModuleList):
            raise TypeError(f"ModuleList: expected an iterable of modules, got one {type(modules).__name__}; wrap it in a list")
        for module in list(modules):
            self.append(self._checked(module, "extend"))
        return self

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(items[index])
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"ModuleList indices must be ints or slices, got {type(index).__name__}")
        if not -len(items) <= index < len(items):
            raise IndexError(f"ModuleList index {index} is out of range for {len(items)} modules")
        return items[index]

    def __setitem__(self, index, module):
        name = list(self._modules)[self._index(index)]
        setattr(self, name, self._checked(module, "__setitem__"))

    def _index(self, index):
        self[index]  # the same checks as reading
        return index % len(self)


class ModuleDict(Module):
    """Holds modules under string keys, registered as children of those names (so their
    parameters appear as ``"key.weight"``), in insertion order; a dict's methods."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        if key not in self._modules:
            raise KeyError(key)
        return self._modules[key]

    def __setitem__(self, key, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: {key!r} must be an nn.Module, got {type(module).__name__}")
        self.add_module(key, module)

    def __delitem__(self, key):
        if key not in self._modules:
            raise KeyError(key)
        delattr(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules))

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def clear(self):
        for key in list(self._modules):
            del self[key]

    def update(self, modules):
        """Add ``(key, module)`` pairs from a mapping (or an iterable of pairs)."""
        pairs = modules.items() if hasattr(modules, "items") else modules
        for i, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"ModuleDict.update: element {i} should be a (key, module) pair, got {pair!r}")
            self[pair[0]] = pair[1]


def _parameter(value, where):
    """A Parameter for a container: Parameters as they are, other Tensors wrapped (as PyTorch)."""
    if isinstance(value, Parameter) or value is None:
        return value
    if isinstance(value, Tensor):
        return Parameter(value.array)
    raise TypeError(f"{where}: expected an nn.Parameter or a Tensor, got {type(value).__name__}")


def _parameter_repr(p):
    kind = "Parameter" if isinstance(p, Parameter) else type(p).__name__
    device = "" if p.device == "cpu" else f" ({p.device})"
    return f"{kind} containing: [{p.dtype} of size {'x'.join(map(str, p.shape)) or '()'}{device}]"


class ParameterList(Module):
    """Holds parameters in a list, registered as ``"0"``, ``"1"``, ...; indexable, iterable,
    ``append``/``extend``. Plain Tensors are wrapped in ``nn.Parameter``."""

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def append(self, value):
        """Add ``value`` at the end; returns self."""
        self.register_parameter(str(len(self._parameters)), _parameter(value, "ParameterList.append"))
        return self

    def extend(self, values):
        """Append each value of an iterable; returns self."""
        if isinstance(values, Tensor):
            raise TypeError("ParameterList.extend: expected an iterable of parameters, got one Tensor; wrap it in a list")
        for value in list(values):
            self.append(value)
        return self

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(list(self._parameters.values()))

    def __getitem__(self, index):
        items = list(self._parameters.values())
        if isinstance(index, slice):
            return ParameterList(items[index])
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"ParameterList indices must be ints or slices, got {type(index).__name__}")
        if not -len(items) <= index < len(items):
            raise IndexError(f"ParameterList index {index} is out of range for {len(items)} parameters")
        return items[index]

    def __setitem__(self, index, value):
        self[index]  # the same checks as reading
        setattr(self, str(index % len(self)), _parameter(value, "ParameterList.__setitem__"))

    def extra_repr(self):
        return "\n".join(f"({i}): {_parameter_repr(p)}" for i, p in enumerate(self))


class ParameterDict(Module):
    """Holds parameters under string keys (registered under those names), in insertion
    order; a dict's methods. Plain Tensors are wrapped in ``nn.Parameter``."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        if key not in self._parameters:
            raise KeyError(key)
        return self._parameters[key]

    def __setitem__(self, key, value):
        self.register_parameter(key, _parameter(value, "ParameterDict"))

    def __delitem__(self, key):
        if key not in self._parameters:
            raise KeyError(key)
        delattr(self, key)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(list(self._parameters))

    def __contains__(self, key):
        return key in self._parameters

    def keys(self):
        return self._parameters.keys()

    def items(self):
        return self._parameters.items()

    def values(self):
        return self._parameters.values()

    def get(self, key, default=None):
        return self._parameters.get(key, default)

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def clear(self):
        for key in list(self._parameters):
            del self[key]

    def update(self, parameters):
        """Add ``(key, parameter)`` pairs from a mapping (or an iterable of pairs)."""
        pairs = parameters.items() if hasattr(parameters, "items") else parameters
        for i, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"ParameterDict.update: element {i} should be a (key, parameter) pair, got {pair!r}")
            self[pair[0]] = pair[1]

    def extra_repr(self):
        return "\n".join(f"({k}): {_parameter_repr(p)}" for k, p in self.items())
