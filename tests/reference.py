"""Slow, obviously correct references: direct loops over the definitions, in float64.

These are the oracles the fast ops are tested against (and the speed baseline
of benchmarks/bench_conv.py). Every loop follows the formula in its docstring
term by term; nothing here is clever. Arguments are NumPy arrays; stride,
padding, dilation and kernel_size are ints or (h, w) pairs.
"""
import numpy as np


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _pad(x, ph, pw, value=0.0):
    N, C, H, W = x.shape
    xp = np.full((N, C, H + 2 * ph, W + 2 * pw), value, dtype=np.float64)
    xp[:, :, ph : ph + H, pw : pw + W] = x
    return xp


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """out[n, o, i, j] = bias[o] + sum_{c, kh, kw} weight[o, c, kh, kw]
    * x_pad[n, group(o) * C_g + c, i*sh + kh*dh, j*sw + kw*dw], with C_g = C_in // groups."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    x, weight = np.asarray(x, np.float64), np.asarray(weight, np.float64)
    N, C, H, W = x.shape
    O, Cg, KH, KW = weight.shape
    xp = _pad(x, ph, pw)
    Ho = (H + 2 * ph - dh * (KH - 1) - 1) // sh + 1
    Wo = (W + 2 * pw - dw * (KW - 1) - 1) // sw + 1
    Og = O // groups
    out = np.zeros((N, O, Ho, Wo))
    for o in range(O):
        first = (o // Og) * Cg  # first input channel of o's group
        for i in range(Ho):
            for j in range(Wo):
                for c in range(Cg):
                    for kh in range(KH):
                        for kw in range(KW):
                            # one term for every sample n at once
                            out[:, o, i, j] += weight[o, c, kh, kw] * xp[:, first + c, i * sh + kh * dh, j * sw + kw * dw]
        if bias is not None:
            out[:, o] += bias[o]
    return out


def conv2d_backward(x, weight, grad, stride=1, padding=0, dilation=1, groups=1):
    """(dx, dweight, dbias) of ``conv2d`` for dL/dout = grad: every term of the forward
    sum sends grad * weight to its input pixel and grad * input to its weight."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    x, weight, grad = (np.asarray(a, np.float64) for a in (x, weight, grad))
    N, C, H, W = x.shape
    O, Cg, KH, KW = weight.shape
    _, _, Ho, Wo = grad.shape
    xp = _pad(x, ph, pw)
    dxp = np.zeros_like(xp)
    dweight = np.zeros_like(weight)
    Og = O // groups
    for o in range(O):
        first = (o // Og) * Cg
        for i in range(Ho):
            for j in range(Wo):
                g = grad[:, o, i, j]  # (N,)
                for c in range(Cg):
                    for kh in range(KH):
                        for kw in range(KW):
                            r, s = i * sh + kh * dh, j * sw + kw * dw
                            dxp[:, first + c, r, s] += weight[o, c, kh, kw] * g
                            dweight[o, c, kh, kw] += np.sum(xp[:, first + c, r, s] * g)
    dbias = grad.sum(axis=(0, 2, 3))
    return dxp[:, :, ph : ph + H, pw : pw + W], dweight, dbias


def _pool_geometry(x, kernel_size, stride, padding):
    (kh, kw), (ph, pw) = _pair(kernel_size), _pair(padding)
    sh, sw = _pair(kernel_size if stride is None else stride)
    N, C, H, W = x.shape
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    return kh, kw, sh, sw, ph, pw, Ho, Wo


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """out[n, c, i, j] = mean over the kh*kw window at (i*sh, j*sw) of the zero-padded x
    (padding counts in the mean, as PyTorch's count_include_pad=True)."""
    x = np.asarray(x, np.float64)
    kh, kw, sh, sw, ph, pw, Ho, Wo = _pool_geometry(x, kernel_size, stride, padding)
    xp = _pad(x, ph, pw, 0.0)
    out = np.zeros(x.shape[:2] + (Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            total = np.zeros(x.shape[:2])
            for a in range(kh):
                for b in range(kw):
                    total += xp[:, :, i * sh + a, j * sw + b]
            out[:, :, i, j] = total / (kh * kw)
    return out


def _first_max(xp, n, c, top, left, kh, kw):
    """(value, row, col) of the first maximum, row-major, of one window of xp[n, c]."""
    best, at = -np.inf, None
    for a in range(kh):
        for b in range(kw):
            v = xp[n, c, top + a, left + b]
            if at is None or v > best:  # strictly greater: the first maximum wins ties
                best, at = v, (top + a, left + b)
    return best, at[0], at[1]


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """out[n, c, i, j] = max over the kh*kw window at (i*sh, j*sw) of the -inf-padded x."""
    x = np.asarray(x, np.float64)
    N, C, H, W = x.shape
    kh, kw, sh, sw, ph, pw, Ho, Wo = _pool_geometry(x, kernel_size, stride, padding)
    xp = _pad(x, ph, pw, -np.inf)
    out = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = _first_max(xp, n, c, i * sh, j * sw, kh, kw)[0]
    return out


def max_pool2d_backward(x, grad, kernel_size, stride=None, padding=0):
    """dL/dx of ``max_pool2d`` for dL/dout = grad: each window sends its gradient to its
    FIRST maximum in row-major order (as PyTorch); overlapping windows add up."""
    x, grad = np.asarray(x, np.float64), np.asarray(grad, np.float64)
    N, C, H, W = x.shape
    kh, kw, sh, sw, ph, pw, Ho, Wo = _pool_geometry(x, kernel_size, stride, padding)
    xp = _pad(x, ph, pw, -np.inf)
    dxp = np.zeros_like(xp)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    _, r, s = _first_max(xp, n, c, i * sh, j * sw, kh, kw)
                    dxp[n, c, r, s] += grad[n, c, i, j]
    return dxp[:, :, ph : ph + H, pw : pw + W]
