"""Neural-network building blocks: ``Module``, ``Parameter``, layers, losses, ``init``."""
from . import init
from .layers import (
    AvgPool2d,
    Conv2d,
    CrossEntropyLoss,
    Flatten,
    GlobalAvgPool2d,
    Linear,
    MaxPool2d,
    MSELoss,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from .module import Module, Parameter
from .activations import ELU, GELU, Identity, LeakyReLU, SiLU
from .containers import ModuleList
from .norm import BatchNorm1d, BatchNorm2d, Dropout, Dropout2d
from . import utils
