"""Resizing NCHW images (PyTorch's ``interpolate``), as two small matrix products.

Nearest and bilinear resizing act on rows and columns separately, and linearly, so
``out = M_h @ x @ M_w.T`` with one ``(out, in)`` matrix per axis, and the backward
is the transpose, ``dx = M_h.T @ grad @ M_w``. Row i of M holds the weights output
pixel i takes from the input pixels, by PyTorch's rules for the source position
(``scale = in / out``, or ``1 / scale_factor`` when a scale factor is given)::

    nearest                    M[i, min(floor(i * scale), in - 1)] = 1      (float32, as ATen)
    bilinear                   src = max((i + 0.5) * scale - 0.5, 0)
    bilinear, align_corners    src = i * (in - 1) / (out - 1)   (0 when out == 1)
                               M[i, floor(src)] += 1 - f,  M[i, min(floor(src) + 1, in - 1)] += f,
                               f = src - floor(src)

The matrices are tiny for the images a small CNN sees (16 x 8 for a U-Net's
8 -> 16 up-step); a product costs ``out * in`` per column instead of ``out``,
which only matters for images of hundreds of pixels a side.
"""
import math

import numpy as np

from .. import backend, checks
from .base import Op

MODES = ("nearest", "bilinear")


class Separable:
    """An op ``out = M_h @ x @ M_w.T`` on NCHW x (mixed into an Op): ``forward`` calls
    ``separable(x, M_h, M_w)`` with NumPy matrices; the backward is the transposed products."""

    def separable(self, x, Mh, Mw):
        self.Mh, self.Mw = backend.like(Mh.astype(x.dtype), x), backend.like(Mw.astype(x.dtype), x)
        return self.Mh @ x @ self.Mw.T

    def backward(self, grad):
        return (self.Mh.T @ grad @ self.Mw,)


def output_size(x, size, scale_factor, op):
    """Check ``size`` / ``scale_factor`` (exactly one given) -> ((H_o, W_o), (scale_h, scale_w) or None)."""
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor, got size={size!r}, scale_factor={scale_factor!r}")
    if size is not None:
        return checks.pair(size, "size", op), None
    factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
    if len(factors) != 2:
        raise ValueError(f"{op}: scale_factor must be a number or an (h, w) pair, got {scale_factor!r}")
    factors = tuple(checks.finite_number(f, "scale_factor", op) for f in factors)
    out = tuple(math.floor(n * f) for n, f in zip(x.shape[2:], factors))
    if min(factors) <= 0 or min(out) < 1:
        raise ValueError(
            f"{op}: scale_factor {scale_factor!r} gives output size {out} for input size {x.shape[2:]}; "
            f"it must be at least 1"
        )
    return out, factors


def resize_matrix(n_in, n_out, factor, mode, align_corners):
    """The ``(n_out, n_in)`` matrix of one axis (see the module docstring)."""
    M = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    if mode == "nearest":
        scale = np.float32(1 / factor if factor is not None else n_in / n_out)
        M[rows, np.minimum(np.floor(rows.astype(np.float32) * scale).astype(np.int64), n_in - 1)] = 1
        return M
    if align_corners:
        src = rows * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        scale = 1 / factor if factor is not None else n_in / n_out
        src = np.maximum((rows + 0.5) * scale - 0.5, 0)
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    frac = src - lo
    np.add.at(M, (rows, lo), 1 - frac)
    np.add.at(M, (rows, np.minimum(lo + 1, n_in - 1)), frac)
    return M


class Interpolate(Separable, Op):
    """Resize ``(N, C, H, W) -> (N, C, H_o, W_o)`` by ``"nearest"`` or ``"bilinear"``
    interpolation, as ``torch.nn.functional.interpolate``: ``Interpolate.apply(x, size=None,
    scale_factor=None, mode="nearest", align_corners=None)``."""

    def forward(self, x, size=None, scale_factor=None, mode="nearest", align_corners=None):
        op = "interpolate"
        checks.ndim(x, 4, op, "input", "(N, C, H, W)")
        checks.one_of(mode, MODES, "mode", op)
        if align_corners is not None:
            checks.boolean(align_corners, "align_corners", op)
            if mode == "nearest":
                raise ValueError(f"{op}: align_corners can only be set with mode 'bilinear', got mode {mode!r}")
        (Ho, Wo), factors = output_size(x, size, scale_factor, op)
        factors = factors or (None, None)
        H, W = x.shape[2:]
        return self.separable(
            x,
            resize_matrix(H, Ho, factors[0], mode, bool(align_corners)),
            resize_matrix(W, Wo, factors[1], mode, bool(align_corners)),
        )

    def backward_graph(self, grad, out):
        """``M_h.T @ grad @ M_w`` on Tensors: linear in grad with the matrices as constants (on
        grad's device: CuPy, unlike NumPy, may not hand ``array @ Tensor`` to the Tensor), two
        recorded matmuls whose own backward is the forward again."""
        Mh, Mw = grad._wrap(self.Mh), grad._wrap(self.Mw)
        return (Mh.T @ grad @ Mw,)
