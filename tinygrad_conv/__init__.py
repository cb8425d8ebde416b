"""tinygrad_conv: a small, readable, fast autograd framework on NumPy for CNNs."""
from .grad_mode import is_grad_enabled, no_grad
from .random import manual_seed
from .tensor import GraphError, Tensor
from . import ops
from .gradcheck import GradcheckError, gradcheck

__version__ = "0.1.0"
from . import nn, optim, data, functional
from .serialization import save, load
