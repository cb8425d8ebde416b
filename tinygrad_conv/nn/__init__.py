"""Neural-network building blocks: ``Module``, ``Parameter``, layers, losses, ``init``,
and ``functional`` (the same module object as ``tinygrad_conv.functional``, so
``import tinygrad_conv.nn.functional as F`` works as ``torch.nn.functional`` does)."""
import sys

from .. import functional
from . import init
from .layers import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Flatten,
    GlobalAvgPool2d,
    L1Loss,
    Linear,
    LogSoftmax,
    MSELoss,
    NLLLoss,
    ReLU,
    Sequential,
    Sigmoid,
    SmoothL1Loss,
    Softmax,
    Tanh,
    Unflatten,
    Upsample,
)
from .module import IncompatibleKeys, Module, Parameter
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d, Fold, Unfold
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
                      AdaptiveMaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d, MaxPool3d, MaxUnpool1d,
                      MaxUnpool2d, MaxUnpool3d)
from .activations import ELU, GELU, Identity, LeakyReLU, SiLU
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList
from .norm import BatchNorm1d, BatchNorm2d, Dropout, Dropout2d
from .norm import BatchNorm3d, GroupNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, LayerNorm  # issue 19
from .embedding import Embedding, PixelShuffle, PixelUnshuffle
from .padding import (
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)
from . import utils
# issue 19
from .loss import BCELoss, CosineSimilarity, HuberLoss, KLDivLoss
from .activations import CELU, SELU, Hardsigmoid, Hardswish, Hardtanh, LogSigmoid, Mish, ReLU6, Softplus, Softsign

# `import tinygrad_conv.nn.functional` finds the one functional module under this name too.
sys.modules[__name__ + ".functional"] = functional
