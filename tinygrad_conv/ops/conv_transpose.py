"""N-d transposed convolution (PyTorch's ``conv_transpose1d/2d/3d``): the conv run backwards.

Written for d = 2 below; every size is a tuple over the spatial axes, as in conv.py.

Shapes: x ``(N, C_in, H, W)``, weight ``(C_in, C_out/G, K_h, K_w)`` (G = groups), bias
``(C_out,)``, out ``(N, C_out, H_o, W_o)`` with
``H_o = (H - 1) s_h - 2 p_h + d_h (K_h - 1) + output_padding_h + 1``.

It is the adjoint of conv2d: take the conv2d ("the forward conv") whose INPUT has the
shape of our output, ``(N, C_out, H_o, W_o)``, with the same weight read as conv2d's
``(O = C_in, C/G = C_out/G, K_h, K_w)``; its output then has our input's shape
``(N, C_in, H, W)``. Our three rules are that conv's three rules with roles swapped,
built from conv.py's steps (so the CPU flat layout and the CUDA kernels both serve)::

    out = col2im(W.T @ grad_columns(x))        conv2d's input gradient, x as its output grad
    dx  = output(W @ im2col(grad))             conv2d's forward on our output gradient
    dW  = im2col(grad) @ grad_columns(x).T     conv2d's weight gradient, same swap

``output_padding`` only adds rows/columns at the bottom/right that the forward conv's
windows reach but no stride step starts from; it must be smaller than the stride or the
dilation, as in PyTorch. When it is not smaller than the stride, the forward conv has
more output rows than x: x is padded with zero rows for them (zero gradient there). A
NaN/inf weight (or upstream gradient) times those zeros would be NaN where PyTorch has no
term at all, so then the GEMM's columns there are zeroed (``zero_past``; finite values pay
one sum over the weight or gradient).
"""
import numpy as np

from .. import backend, checks
from .base import Op
from .conv import (ConvNd, ConvWeightGrad, _as_dtype, _crop, _finite, _pad_to, _spatial_axes, conv_params, layout,
                   layout_of, op_name, spatial_layout, zero_past)


def transpose_geometry(x, weight, bias, stride, padding, output_padding, groups, dilation, dtype):
    """Check every argument (raising before any work) and return the forward conv's ``Geometry``."""
    d = weight.ndim - 2
    if d < 1:
        raise ValueError(f"conv_transpose: weight must be (C_in, C_out // groups, *kernel) with at least one "
                         f"kernel axis, got shape {weight.shape}")
    op, axes = op_name(d, transposed=True), spatial_layout(d)
    checks.ndim(x, d + 2, op, "input", f"(N, C_in, {axes})")
    stride = checks.ntuple(stride, d, "stride", op)
    padding = checks.ntuple(padding, d, "padding", op, minimum=0)
    extra = checks.ntuple(output_padding, d, "output_padding", op, minimum=0)
    dilation = checks.ntuple(dilation, d, "dilation", op)
    groups = checks.positive_int(groups, "groups", op)
    if any(o >= s and o >= dl for o, s, dl in zip(extra, stride, dilation)):
        raise ValueError(f"{op}: output_padding {extra} must be smaller than either stride {stride} "
                         f"or dilation {dilation}")
    N, C, size = x.shape[0], x.shape[1], tuple(x.shape[2:])
    Ci, Cg, kernel = weight.shape[0], weight.shape[1], tuple(weight.shape[2:])
    if min(kernel) < 1:
        raise ValueError(f"{op}: kernel size must be >= 1, got weight shape {weight.shape}")
    if C != Ci:
        raise ValueError(f"{op}: input has {C} channels but weight expects {Ci} (weight shape {weight.shape})")
    if C % groups:
        raise ValueError(f"{op}: input channels {C} are not divisible by groups {groups}")
    O = Cg * groups
    if bias is not None and bias.shape != (O,):
        raise ValueError(f"{op}: bias must have shape ({O},) (one per output channel), got {bias.shape}")
    out = tuple((n - 1) * s - 2 * p + dl * (k - 1) + e + 1
                for n, s, p, dl, k, e in zip(size, stride, padding, dilation, kernel, extra))
    if min(out) < 1:
        raise ValueError(
            f"{op}: output size {out} is too small for input {size}, weight shape {weight.shape}, "
            f"stride {stride}, padding {padding}, output_padding {extra}, dilation {dilation}"
        )
    # the forward conv: input (N, O, *out), weight (C, O/G, *kernel) as the conv's (O', C'/G, ...)
    return layout(N, O, out, C, kernel, stride, padding, dilation, groups, np.dtype(dtype).itemsize)


class ConvTransposeNd(Op):
    """Transposed N-d convolution of ``x (N, C_in, *size)`` with ``weight (C_in, C_out/groups,
    *kernel)`` plus ``bias (C_out,)`` if given -> ``(N, C_out, *out)``, as
    ``torch.nn.functional.conv_transpose1d/2d/3d``: ``ConvTransposeNd.apply(x, weight[, bias],
    stride=1, padding=0, output_padding=0, groups=1, dilation=1)``."""

    name = "conv_transpose"

    def forward(self, x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        dtype = self.dtype = np.result_type(x, weight) if bias is None else np.result_type(x, weight, bias)
        g = self.geo = transpose_geometry(x, weight, bias, stride, padding, output_padding, groups, dilation, dtype)
        self.name = op_name(len(g.size), transposed=True)  # as in graphs (the registry: "conv_transpose")
        lay = self.layout = layout_of(x, g)
        self.dtypes = (x.dtype, weight.dtype, None if bias is None else bias.dtype)
        self.in_size = tuple(x.shape[2:])
        x = _pad_to(backend.cast(x, dtype), g)
        w = lay.weight_rows(backend.cast(weight, dtype), g)  # (G, C_in/G, rows)
        gq = lay.grad_columns(x, g)  # (G, C_in/G, P)
        dcols = backend.matmul(w.transpose(0, 2, 1), gq)  # (G, rows, P)
        if self.in_size != g.out and not _finite(w):  # NaN/inf weights meet x's zero padding
            zero_past(dcols, self.in_size, g, lay)
        out = lay.col2im(dcols, g, dtype)
        if bias is not None:
            out += backend.cast(bias, dtype).reshape((1, -1) + (1,) * len(g.size))

        self.has_bias = bias is not None
        self.gq = gq if self.needs_input_grad[1] else None
        self.w = w if self.needs_input_grad[0] else None
        return out

    def backward(self, grad):
        g, lay = self.geo, self.layout
        need_x, need_w = self.needs_input_grad[:2]
        need_b = self.has_bias and self.needs_input_grad[2]
        grad = backend.cast(grad, self.dtype)
        dx = dw = db = None
        if need_b:
            db = backend.cast(grad.sum(axis=_spatial_axes(g)), self.dtypes[2])
        if need_x or need_w:
            cols = lay.im2col(grad, g)  # (G, rows, P)
            if self.in_size != g.out and not _finite(grad):  # NaN/inf grad meets x's zero padding
                zero_past(cols, self.in_size, g, lay)
            if need_w:
                dw = backend.cast(lay.weight_grad(cols, self.gq, g), self.dtypes[1])
            if need_x:
                dx = lay.output(backend.matmul(self.w, cols), None, g)
                if dx.shape[2:] != self.in_size:
                    dx = backend.xp(dx).ascontiguousarray(_crop(dx, self.in_size))
                dx = backend.cast(dx, self.dtypes[0])
        if not self.retained:
            self.gq = self.w = None
        return (dx, dw, db) if self.has_bias else (dx, dw)

    def backward_graph(self, grad, out):
        """The gradients on Tensors, built from registered convs (as PyTorch does): the forward
        conv (see the top) run on ``grad`` gives dx, and its weight gradient with x as the
        output gradient gives dW; differentiable again to any order."""
        g = self.geo
        x, weight = self.parents[0], self.parents[1]
        need_x, need_w = self.needs_input_grad[:2]
        need_b = self.has_bias and self.needs_input_grad[2]
        grad = _as_dtype(grad, self.dtype)
        dx = dw = db = None
        if need_b:
            db = _as_dtype(grad.sum(axis=_spatial_axes(g)), self.dtypes[2])
        if need_w:  # x plays the forward conv's output gradient (zero past its size)
            dw = ConvWeightGrad.apply(grad, _as_dtype(x, self.dtype), kernel=g.kernel, **conv_params(g))
            dw = _as_dtype(dw, self.dtypes[1])
        if need_x:
            dx = ConvNd.apply(grad, _as_dtype(weight, self.dtype), **conv_params(g))
            if self.in_size != g.out:
                dx = _crop(dx, self.in_size)
            dx = _as_dtype(dx, self.dtypes[0])
        return (dx, dw, db) if self.has_bias else (dx, dw)


ConvTranspose2d = ConvTransposeNd  # the name of the 2-d op before the N-d machinery
