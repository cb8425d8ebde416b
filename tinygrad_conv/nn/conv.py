"""Convolution layers: ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d`` (one class each over the
number of spatial axes, ``_ConvNd`` and ``_ConvTransposeNd``), ``Unfold`` and ``Fold``,
with PyTorch's constructor arguments, defaults and initialisation."""
from .. import checks
from .. import functional as F
from .layers import _factory, _make_parameters, _reset_weight_and_bias
from .module import Module

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _conv_arguments(layer, d, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias):
    """Check and store the arguments every conv layer shares (sizes as d-tuples)."""
    where = type(layer).__name__
    layer.in_channels = checks.positive_int(in_channels, "in_channels", where)
    layer.out_channels = checks.positive_int(out_channels, "out_channels", where)
    layer.kernel_size = checks.ntuple(kernel_size, d, "kernel_size", where)
    layer.stride = checks.ntuple(stride, d, "stride", where)
    layer.padding = checks.ntuple(padding, d, "padding", where, minimum=0)
    layer.dilation = checks.ntuple(dilation, d, "dilation", where)
    layer.groups = checks.positive_int(groups, "groups", where)
    for name, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
        if channels % groups:
            raise ValueError(f"{where}: {name}={channels} must be divisible by groups={groups}")
    checks.boolean(bias, "bias", where)


def _conv_repr(layer, *optional):
    """``in, out, kernel_size=..., stride=...`` and each ``(name, default)`` that differs."""
    s = f"{layer.in_channels}, {layer.out_channels}, kernel_size={layer.kernel_size}, stride={layer.stride}"
    for name, default in optional:
        if getattr(layer, name) != default:
            s += f", {name}={getattr(layer, name)}"
    if layer.groups != 1:
        s += f", groups={layer.groups}"
    s += ", bias=False" if layer.bias is None else ""
    return s + (f", padding_mode={layer.padding_mode}" if layer.padding_mode != "zeros" else "")


class _ConvNd(Module):
    """Convolution (cross-correlation) over ``d`` spatial axes of ``(N, C_in, *size)`` (or unbatched
    ``(C_in, *size)``) into ``(N, C_out, *out)``, as ``torch.nn.Conv{d}d`` (same arguments).

    ``padding``: an int, a d-tuple, ``"valid"`` (none) or ``"same"`` (output as large as the
    input, stride 1 only; an odd total goes to the end of the axis). ``padding_mode``:
    ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
    ``weight``: ``(C_out, C_in / groups, *kernel_size)``; weight and bias drawn as PyTorch does,
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with ``fan_in = C_in / groups * prod(kernel_size)``
    (for the weight that is ``kaiming_uniform_(a=sqrt(5))``).
    """

    d = None  # spatial axes, set by each subclass

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        where, d = type(self).__name__, self.d
        dtype, device = _factory(dtype, device, where)
        text = padding if isinstance(padding, str) else None
        if text is not None and text not in ("same", "valid"):
            raise ValueError(f"{where}: invalid padding string {padding!r}, should be 'same' or 'valid'")
        _conv_arguments(self, d, in_channels, out_channels, kernel_size, stride, 0 if text else padding, dilation,
                        groups, bias)
        self.padding_mode = checks.one_of(padding_mode, PADDING_MODES, "padding_mode", where)
        if text == "same" and self.stride != (1,) * d:
            raise ValueError(f"{where}: padding='same' is not supported for strided convolutions "
                             f"(stride {self.stride})")
        if text == "same":
            totals = [dl * (k - 1) for dl, k in zip(self.dilation, self.kernel_size)]
            before_after = [(t // 2, t - t // 2) for t in totals]
        else:
            before_after = [(p, p) for p in self.padding]
        self._pad = tuple(w for pair in before_after[::-1] for w in pair)  # F.pad's order: last axis first
        if text is not None:
            self.padding = text
        _make_parameters(self, (out_channels, in_channels // groups) + self.kernel_size, out_channels, bias, dtype,
                         device)

    def reset_parameters(self):
        _reset_weight_and_bias(self)

    def forward(self, x):
        padding = self.padding
        if self.padding_mode != "zeros":  # reflect, replicate, circular: F.pad's modes
            x, padding = F.pad(x, self._pad, mode=self.padding_mode), 0
        conv = (F.conv1d, F.conv2d, F.conv3d)[self.d - 1]
        return conv(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def extra_repr(self):
        return _conv_repr(self, ("padding", (0,) * self.d), ("dilation", (1,) * self.d))


class _ConvTransposeNd(Module):
    """Transposed convolution over ``d`` spatial axes, ``(N, C_in, *size) -> (N, C_out, *out)``, the
    adjoint of the conv (a learned upsampling with stride > 1), as ``torch.nn.ConvTranspose{d}d``.

    ``weight``: ``(C_in, C_out / groups, *kernel_size)``; weight and bias drawn as PyTorch does,
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with ``fan_in = C_out / groups * prod(kernel_size)``
    (for the weight that is ``kaiming_uniform_(a=sqrt(5))``). ``padding_mode`` must be
    ``"zeros"``, as in PyTorch.
    """

    d = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        where, d = type(self).__name__, self.d
        dtype, device = _factory(dtype, device, where)
        _conv_arguments(self, d, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
        if padding_mode != "zeros":
            raise ValueError(f"{where}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.padding_mode = padding_mode
        self.output_padding = checks.ntuple(output_padding, d, "output_padding", where, minimum=0)
        for o, s, dl in zip(self.output_padding, self.stride, self.dilation):
            if o >= s and o >= dl:
                raise ValueError(f"{where}: output_padding {self.output_padding} must be smaller than either "
                                 f"stride {self.stride} or dilation {self.dilation}")
        _make_parameters(self, (in_channels, out_channels // groups) + self.kernel_size, out_channels, bias, dtype,
                         device)

    def reset_parameters(self):
        _reset_weight_and_bias(self)

    def forward(self, x):
        conv_transpose = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[self.d - 1]
        return conv_transpose(x, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.groups,
                              self.dilation)

    def extra_repr(self):
        zeros, ones = (0,) * self.d, (1,) * self.d
        return _conv_repr(self, ("padding", zeros), ("output_padding", zeros), ("dilation", ones))


def _for_dims(base, d):
    """``base`` fixed to d spatial axes, under PyTorch's name (``_ConvNd``, 2 -> ``Conv2d``)."""
    name = base.__name__.lstrip("_").replace("Nd", f"{d}d")
    doc = base.__doc__.replace("{d}", str(d)).replace("``d``", str(d))
    return type(name, (base,), {"d": d, "__doc__": doc, "__module__": __name__, "__qualname__": name})


Conv1d, Conv2d, Conv3d = (_for_dims(_ConvNd, d) for d in (1, 2, 3))
ConvTranspose1d, ConvTranspose2d, ConvTranspose3d = (_for_dims(_ConvTransposeNd, d) for d in (1, 2, 3))


class Unfold(Module):
    """``F.unfold``: the sliding blocks of ``(N, C, H, W)`` as columns ``(N, C K_h K_w, L)``."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride
        F._patch_arguments("Unfold", kernel_size, dilation, padding, stride)  # fail here, not at the first call

    def forward(self, x):
        return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """``F.fold``: columns ``(N, C K_h K_w, L)`` summed back into ``(N, C, *output_size)``."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size = output_size
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride
        checks.pair(output_size, "output_size", "Fold")
        F._patch_arguments("Fold", kernel_size, dilation, padding, stride)

    def forward(self, x):
        return F.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
