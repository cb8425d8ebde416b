"""2-D transposed convolution (PyTorch's ``conv_transpose2d``): conv2d run backwards.

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
more output rows than x: x is padded with zero rows for them (zero gradient there).
"""
import numpy as np

from .. import backend, checks
from .base import Op
from .conv import _as_dtype, layout, layout_of, weight_grad_conv

OP = "conv_transpose2d"


def transpose_geometry(x, weight, bias, stride, padding, output_padding, groups, dilation, dtype):
    """Check every argument (raising before any work) and return the forward conv's ``Geometry``."""
    checks.ndim(x, 4, OP, "input", "(N, C_in, H, W)")
    checks.ndim(weight, 4, OP, "weight", "(C_in, C_out // groups, K_h, K_w)")
    sh, sw = checks.pair(stride, "stride", OP)
    ph, pw = checks.pair(padding, "padding", OP, minimum=0)
    oh, ow = checks.pair(output_padding, "output_padding", OP, minimum=0)
    dh, dw = checks.pair(dilation, "dilation", OP)
    groups = checks.positive_int(groups, "groups", OP)
    for o, s, d in ((oh, sh, dh), (ow, sw, dw)):
        if o >= s and o >= d:
            raise ValueError(
                f"{OP}: output_padding ({oh}, {ow}) must be smaller than either stride ({sh}, {sw}) "
                f"or dilation ({dh}, {dw})"
            )
    N, C, H, W = x.shape
    Ci, Cg, KH, KW = weight.shape
    if KH < 1 or KW < 1:
        raise ValueError(f"{OP}: kernel size must be >= 1, got weight shape {weight.shape}")
    if C != Ci:
        raise ValueError(f"{OP}: input has {C} channels but weight expects {Ci} (weight shape {weight.shape})")
    if C % groups:
        raise ValueError(f"{OP}: input channels {C} are not divisible by groups {groups}")
    O = Cg * groups
    if bias is not None and bias.shape != (O,):
        raise ValueError(f"{OP}: bias must have shape ({O},) (one per output channel), got {bias.shape}")
    Ho = (H - 1) * sh - 2 * ph + dh * (KH - 1) + oh + 1
    Wo = (W - 1) * sw - 2 * pw + dw * (KW - 1) + ow + 1
    if Ho < 1 or Wo < 1:
        raise ValueError(
            f"{OP}: output size ({Ho}, {Wo}) is too small for input ({H}, {W}), weight shape {weight.shape}, "
            f"stride ({sh}, {sw}), padding ({ph}, {pw}), output_padding ({oh}, {ow}), dilation ({dh}, {dw})"
        )
    # the forward conv: input (N, O, H_o, W_o), weight (C, O/G, K_h, K_w) as conv2d's (O', C'/G, ...)
    return layout(N, O, Ho, Wo, C, KH, KW, sh, sw, ph, pw, dh, dw, groups, np.dtype(dtype).itemsize)


class ConvTranspose2d(Op):
    """Transposed 2-D convolution of ``x (N, C_in, H, W)`` with ``weight (C_in, C_out/groups,
    K_h, K_w)`` plus ``bias (C_out,)`` if given -> ``(N, C_out, H_o, W_o)``, as
    ``torch.nn.functional.conv_transpose2d``: ``ConvTranspose2d.apply(x, weight[, bias],
    stride=1, padding=0, output_padding=0, groups=1, dilation=1)``."""

    name = "conv_transpose2d"

    def forward(self, x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        dtype = self.dtype = np.result_type(x, weight) if bias is None else np.result_type(x, weight, bias)
        g = self.geo = transpose_geometry(x, weight, bias, stride, padding, output_padding, groups, dilation, dtype)
        xp, lay = backend.xp(x), layout_of(x)
        self.layout = lay
        self.dtypes = (x.dtype, weight.dtype, None if bias is None else bias.dtype)
        x = backend.cast(x, dtype)
        self.in_hw = x.shape[2:]
        if x.shape[2:] != (g.Ho, g.Wo):  # output_padding >= stride: outputs x does not cover
            x = xp.pad(x, ((0, 0), (0, 0), (0, g.Ho - x.shape[2]), (0, g.Wo - x.shape[3])))
        w = lay.weight_rows(backend.cast(weight, dtype), g)  # (G, C_in/G, rows)
        gq = lay.grad_columns(x, g)  # (G, C_in/G, P)
        out = lay.col2im(backend.matmul(w.transpose(0, 2, 1), gq), g, dtype)  # dcols (G, rows, P)
        if bias is not None:
            out += backend.cast(bias, dtype).reshape(1, -1, 1, 1)

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
            db = backend.cast(grad.sum(axis=(0, 2, 3)), self.dtypes[2])
        if need_x or need_w:
            cols = lay.im2col(grad, g)  # (G, rows, P)
            if need_w:
                dw = backend.cast(lay.weight_grad(cols, self.gq, g), self.dtypes[1])
            if need_x:
                dx = lay.output(backend.matmul(self.w, cols), None, g)
                H, W = self.in_hw
                if dx.shape[2:] != (H, W):
                    dx = backend.xp(dx).ascontiguousarray(dx[:, :, :H, :W])
                dx = backend.cast(dx, self.dtypes[0])
        if not self.retained:
            self.gq = self.w = None
        return (dx, dw, db) if self.has_bias else (dx, dw)

    def backward_graph(self, grad, out):
        """The gradients on Tensors, built from conv2d (as PyTorch does): the forward conv
        (see the top) run on ``grad`` gives dx, and its weight gradient with x as the output
        gradient gives dW; differentiable again to any order."""
        from .. import functional as F

        g = self.geo
        x, weight = self.parents[0], self.parents[1]
        need_x, need_w = self.needs_input_grad[:2]
        need_b = self.has_bias and self.needs_input_grad[2]
        grad = _as_dtype(grad, self.dtype)
        dx = dw = db = None
        if need_b:
            db = _as_dtype(grad.sum(axis=(0, 2, 3)), self.dtypes[2])
        if need_w:  # x plays the forward conv's output gradient (rows past H are zero: left out)
            dw = weight_grad_conv(grad, _as_dtype(x, self.dtype), (g.sh, g.sw), (g.ph, g.pw), (g.dh, g.dw),
                                  g.groups, g.KH, g.KW)
            dw = _as_dtype(dw, self.dtypes[1])
        if need_x:
            dx = F.conv2d(grad, _as_dtype(weight, self.dtype), stride=(g.sh, g.sw), padding=(g.ph, g.pw),
                          dilation=(g.dh, g.dw), groups=g.groups)
            H, W = self.in_hw
            if dx.shape[2:] != (H, W):
                dx = dx[:, :, :H, :W]
            dx = _as_dtype(dx, self.dtypes[0])
        return (dx, dw, db) if self.has_bias else (dx, dw)
