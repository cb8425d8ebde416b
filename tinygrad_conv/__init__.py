"""tinygrad_conv: a small, readable, fast autograd framework on NumPy for CNNs."""
from . import allocator  # noqa: F401  (reuse freed memory: see allocator.py)
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .anomaly import AnomalyError, detect_anomaly
from .random import manual_seed
from .tensor import GraphError, Tensor
from . import ops
from .gradcheck import GradcheckError, gradcheck
from . import cuda, data, functional, nn, optim
from .serialization import load, save
from . import viz
from .summary import summary
from .combine import cat, concat, concatenate, maximum, minimum, stack, where
# version 3: PyTorch's names at the top level (import tinygrad_conv as torch)
from .backend import Device as device
from .checks import channels_last, contiguous_format, preserve_format  # memory formats, accepted and ignored
from .dtypes import (bool, double, float, float16, float32, float64, half, int, int8, int16, int32,  # noqa: A004
                     int64, long, short, uint8)
from .factories import *  # noqa: F401,F403  (tensor, zeros, arange, rand, ...: see factories.__all__)
from .functions import *  # noqa: F401,F403  (flatten, sum, max, ...: the Tensor methods as functions)
from .tensor import GradError
from . import dtypes
from . import autograd  # noqa: E402  (version 3: higher-order gradients)
from . import utils  # noqa: E402  (tc.utils.data: Dataset, DataLoader)
from .gradcheck import gradgradcheck  # noqa: E402
from .combine import einsum  # noqa: E402  (issue 19)
from .parallel import get_num_threads, set_num_threads  # noqa: E402

__version__ = "0.1.0"


def __getattr__(name):
    # tc.testing imports hypothesis (an optional dependency): load it on first use only.
    if name == "testing":
        import importlib

        return importlib.import_module(f"{__name__}.testing")
    raise AttributeError(f"module 'tinygrad_conv' has no attribute {name!r}")
