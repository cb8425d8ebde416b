"""tinygrad_conv: a small, readable, fast autograd framework on NumPy for CNNs."""
from . import allocator  # noqa: F401  (reuse freed memory: see allocator.py)
from .grad_mode import is_grad_enabled, no_grad
from .anomaly import AnomalyError, detect_anomaly
from .random import manual_seed
from .tensor import GraphError, Tensor
from . import ops
from .gradcheck import GradcheckError, gradcheck
from . import cuda, data, functional, nn, optim
from .serialization import load, save
from . import viz
from .summary import summary
from .combine import cat, maximum, minimum, stack, where

__version__ = "0.1.0"


def __getattr__(name):
    # tc.testing imports hypothesis (an optional dependency): load it on first use only.
    if name == "testing":
        import importlib

        return importlib.import_module(f"{__name__}.testing")
    raise AttributeError(f"module 'tinygrad_conv' has no attribute {name!r}")
