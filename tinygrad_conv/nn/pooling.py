"""Pooling layers, 1-, 2- and 3-D, with ``torch.nn``'s constructor arguments: each holds its
options (checked when the layer is built) and calls the functional op of its dimension."""
from .. import checks
from .. import functional as F
from .module import Module


class _PoolNd(Module):
    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        where, n = type(self).__name__, self.dims
        self.kernel_size = checks.ntuple(kernel_size, n, "kernel_size", where)
        self.stride = self.kernel_size if stride is None else checks.ntuple(stride, n, "stride", where)
        self.padding = checks.ntuple(padding, n, "padding", where, minimum=0)
        self.ceil_mode = checks.boolean(ceil_mode, "ceil_mode", where)

    def extra_repr(self):
        s = f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
        return s + (", ceil_mode=True" if self.ceil_mode else "")


class _AvgPoolNd(_PoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        where = type(self).__name__
        self.count_include_pad = checks.boolean(count_include_pad, "count_include_pad", where)
        self.divisor_override = (None if divisor_override is None
                                 else checks.integer(divisor_override, "divisor_override", where, minimum=1))

    def forward(self, x):
        extra = () if self.dims == 1 else (self.divisor_override,)
        return getattr(F, f"avg_pool{self.dims}d")(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                                   self.count_include_pad, *extra)

    def extra_repr(self):
        s = super().extra_repr() + ("" if self.count_include_pad else ", count_include_pad=False")
        return s + ("" if self.divisor_override is None else f", divisor_override={self.divisor_override}")


class AvgPool1d(_AvgPoolNd):
    """Mean over each window of ``(N, C, L)``, as ``torch.nn.AvgPool1d``."""

    dims = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Mean over each ``kernel_size`` window (stride defaults to kernel_size; zero padding
    counts in the mean unless ``count_include_pad=False``), as ``torch.nn.AvgPool2d``."""


class AvgPool3d(_AvgPoolNd):
    """Mean over each window of ``(N, C, D, H, W)``, as ``torch.nn.AvgPool3d``."""

    dims = 3


class _MaxPoolNd(_PoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        where = type(self).__name__
        self.dilation = checks.ntuple(dilation, self.dims, "dilation", where)
        self.return_indices = checks.boolean(return_indices, "return_indices", where)

    def forward(self, x):
        return getattr(F, f"max_pool{self.dims}d")(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                                   self.ceil_mode, self.return_indices)

    def extra_repr(self):
        s = super().extra_repr() + (f", dilation={self.dilation}" if set(self.dilation) != {1} else "")
        return s + (", return_indices=True" if self.return_indices else "")


class MaxPool1d(_MaxPoolNd):
    """Maximum over each window of ``(N, C, L)``, as ``torch.nn.MaxPool1d``."""

    dims = 1


class MaxPool2d(_MaxPoolNd):
    """Maximum over each ``kernel_size`` window (stride defaults to kernel_size), as
    ``torch.nn.MaxPool2d`` (same argument order); ``return_indices`` makes it return
    ``(out, indices)``."""


class MaxPool3d(_MaxPoolNd):
    """Maximum over each window of ``(N, C, D, H, W)``, as ``torch.nn.MaxPool3d``."""

    dims = 3


class _MaxUnpoolNd(Module):
    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        where, n = type(self).__name__, self.dims
        self.kernel_size = checks.ntuple(kernel_size, n, "kernel_size", where)
        self.stride = self.kernel_size if stride is None else checks.ntuple(stride, n, "stride", where)
        self.padding = checks.ntuple(padding, n, "padding", where, minimum=0)

    def forward(self, x, indices, output_size=None):
        return getattr(F, f"max_unpool{self.dims}d")(x, indices, self.kernel_size, self.stride, self.padding,
                                                     output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """``F.max_unpool1d``: values put back at max_pool1d's indices, zeros elsewhere."""

    dims = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """``F.max_unpool2d``: values put back at max_pool2d's indices, zeros elsewhere, as ``torch.nn.MaxUnpool2d``."""


class MaxUnpool3d(_MaxUnpoolNd):
    """``F.max_unpool3d``: values put back at max_pool3d's indices, zeros elsewhere."""

    dims = 3


class _AdaptivePoolNd(Module):
    dims = 2

    def __init__(self, output_size):
        super().__init__()
        where, n = type(self).__name__, self.dims
        if isinstance(output_size, (tuple, list)) and len(output_size) == n:
            self.output_size = tuple(None if s is None else checks.positive_int(s, "output_size", where)
                                     for s in output_size)
        else:
            self.output_size = checks.ntuple(output_size, n, "output_size", where)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class _AdaptiveAvgPoolNd(_AdaptivePoolNd):
    def forward(self, x):
        return getattr(F, f"adaptive_avg_pool{self.dims}d")(x, self.output_size)


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = checks.boolean(return_indices, "return_indices", type(self).__name__)

    def forward(self, x):
        return getattr(F, f"adaptive_max_pool{self.dims}d")(x, self.output_size, self.return_indices)


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Mean over PyTorch's adaptive windows: ``(N, C, L) -> (N, C, output_size)``."""

    dims = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Mean over PyTorch's adaptive windows: ``(N, C, H, W) -> (N, C, *output_size)``;
    ``output_size`` is an int or ``(h, w)``, None keeping that axis."""


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Mean over PyTorch's adaptive windows: ``(N, C, D, H, W) -> (N, C, *output_size)``."""

    dims = 3


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Maximum over PyTorch's adaptive windows: ``(N, C, L) -> (N, C, output_size)``."""

    dims = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Maximum over PyTorch's adaptive windows: ``(N, C, H, W) -> (N, C, *output_size)``."""


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Maximum over PyTorch's adaptive windows: ``(N, C, D, H, W) -> (N, C, *output_size)``."""

    dims = 3
