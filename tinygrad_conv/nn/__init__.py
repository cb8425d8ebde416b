"""Neural-network building blocks: ``Module``, ``Parameter``, layers, losses, ``init``."""
from . import init
from .layers import (
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool2d,
    BCEWithLogitsLoss,
    Conv2d,
    ConvTranspose2d,
    CrossEntropyLoss,
    Flatten,
    GlobalAvgPool2d,
    L1Loss,
    Linear,
    MaxPool2d,
    MSELoss,
    NLLLoss,
    ReLU,
    Sequential,
    Sigmoid,
    SmoothL1Loss,
    Tanh,
    Upsample,
)
from .module import Module, Parameter
from .activations import ELU, GELU, Identity, LeakyReLU, SiLU
from .containers import ModuleList
from .norm import BatchNorm1d, BatchNorm2d, Dropout, Dropout2d
from . import utils
