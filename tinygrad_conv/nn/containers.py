"""``ModuleList``: a list of modules whose parameters the parent registers."""
import numpy as np

from .module import Module


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
