"""The op registry: every op is a class with ``forward`` and ``backward``.

``registry`` maps each op's name to its class. Subclassing ``Op`` registers a
new op; see ``base.py`` for the contract.
"""
from .base import Op, registry, unbroadcast
from .elementwise import Add, Div, Exp, Log, Mul, Neg, Pow, ReLU, Sigmoid, Sub, Tanh
from .matmul import MatMul
from .movement import GetItem, Reshape, ToDevice, Transpose
from .reduce import Max, Mean, Sum
from .nn_ops import Linear, LogSoftmax, Softmax
from .losses import BinaryCrossEntropyWithLogits, CrossEntropy, L1Loss, MSELoss, NLLLoss, SmoothL1Loss
from .conv import Conv2d, ConvNd, ConvWeightGrad
from .conv_transpose import ConvTranspose2d, ConvTransposeNd
from .interpolate import Interpolate
from .pool import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
                   AdaptiveMaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d, MaxPool3d, MaxUnpool1d,
                   MaxUnpool2d, MaxUnpool3d)
# version 2: building blocks of real CNNs
from .elementwise import Abs, Clip, Maximum, Minimum, Sqrt, Where
from .movement import Cat, Stack
from .reduce import Min, Var
from .padding import Pad
from .activation import ELU, GELU, LeakyReLU, SiLU
from .norm import BatchNorm, Dropout
# version 3: PyTorch's tensor methods
from .movement import Cast, Clone, Expand, Gather, Repeat, SetItem
from .reduce import CumSum, Prod
from .movement import IndexAdd
# issue 19: PyTorch's op set for CNN code
from .activation import CELU, Hardsigmoid, Hardswish, Hardtanh, LogSigmoid, Mish, Softplus, Softsign
from .elementwise import ClampTensor, Cos, PowTensor, Sin
from .einsum import Einsum
from .losses import BinaryCrossEntropy, HuberLoss, KLDiv
# issue 19: group/layer/instance norm (one op), embedding
from .norms import GroupNorm
from .embedding import Embedding
