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


def _pool_out(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size (pooling_output_shape in ATen)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside the input or left padding
        out -= 1
    return out


def _pool_geometry(x, kernel_size, stride, padding, dilation=1, ceil_mode=False):
    (kh, kw), (ph, pw), (dh, dw) = _pair(kernel_size), _pair(padding), _pair(dilation)
    sh, sw = _pair(kernel_size if stride is None else stride)
    N, C, H, W = x.shape
    Ho, Wo = _pool_out(H, kh, sh, ph, dh, ceil_mode), _pool_out(W, kw, sw, pw, dw, ceil_mode)
    return kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """out[n, c, i, j] = sum of x over the window at (i*sh - ph, j*sw - pw) / divisor, as ATen's
    CPU kernel: the window is cut at the right padding; the divisor counts the padding it
    covers when count_include_pad, else only the input pixels."""
    x = np.asarray(x, np.float64)
    N, C, H, W = x.shape
    kh, kw, sh, sw, ph, pw, _, _, Ho, Wo = _pool_geometry(x, kernel_size, stride, padding, 1, ceil_mode)
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            h0, w0 = i * sh - ph, j * sw - pw
            h1, w1 = min(h0 + kh, H + ph), min(w0 + kw, W + pw)
            pool_size = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
            total = np.zeros((N, C))
            for r in range(h0, h1):
                for t in range(w0, w1):
                    total += x[:, :, r, t]
            out[:, :, i, j] = total / (pool_size if count_include_pad else (h1 - h0) * (w1 - w0))
    return out


def _max_window(plane, top, left, kh, kw, dh, dw):
    """(value, flat index) of one window of a 2-D plane, as ATen's CPU kernel: taps outside
    the plane are skipped; a larger value or a NaN takes over (so the FIRST maximum wins
    ties and the LAST NaN wins). A window with no tap inside (dilation can skip the input)
    gives (-inf, -1): PyTorch returns -inf and an index outside the window there."""
    H, W = plane.shape
    best, at = -np.inf, None
    for a in range(kh):
        for b in range(kw):
            r, t = top + a * dh, left + b * dw
            if 0 <= r < H and 0 <= t < W:
                v = plane[r, t]
                if at is None or v > best or np.isnan(v):
                    best, at = v, r * W + t
    return best, -1 if at is None else at


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """out[n, c, i, j] = max over the window's taps (i*sh - ph + a*dh, j*sw - pw + b*dw) inside x;
    indices: the winner's flat position in its H*W plane."""
    x = np.asarray(x, np.float64)
    N, C, H, W = x.shape
    kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo = _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode)
    out = np.zeros((N, C, Ho, Wo))
    idx = np.zeros((N, C, Ho, Wo), np.int64)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j], idx[n, c, i, j] = _max_window(x[n, c], i * sh - ph, j * sw - pw, kh, kw, dh, dw)
    return (out, idx) if return_indices else out


def max_pool2d_backward(x, grad, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """dL/dx of ``max_pool2d`` for dL/dout = grad: each window sends its gradient to its
    winner (see ``_max_window``); overlapping windows add up."""
    x, grad = np.asarray(x, np.float64), np.asarray(grad, np.float64)
    N, C, H, W = x.shape
    _, idx = max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)
    dx = np.zeros((N, C, H * W))
    for n in range(N):
        for c in range(C):
            for i, j in np.ndindex(*idx.shape[2:]):
                dx[n, c, idx[n, c, i, j]] += grad[n, c, i, j]
    return dx.reshape(x.shape)


def _adaptive(size, n_out):
    """PyTorch's adaptive windows: [floor(i * size / n_out), ceil((i + 1) * size / n_out))."""
    return [(int(np.floor(i * size / n_out)), int(np.ceil((i + 1) * size / n_out))) for i in range(n_out)]


def adaptive_avg_pool2d(x, output_size):
    """out[n, c, i, j] = mean of x over adaptive window i (rows) by window j (columns)."""
    x = np.asarray(x, np.float64)
    Ho, Wo = _pair(output_size)
    out = np.zeros(x.shape[:2] + (Ho, Wo))
    for i, (h0, h1) in enumerate(_adaptive(x.shape[2], Ho)):
        for j, (w0, w1) in enumerate(_adaptive(x.shape[3], Wo)):
            out[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return out


def adaptive_max_pool2d(x, output_size):
    """(out, indices): max over adaptive window i by j, the winner chosen as in ``_max_window``."""
    x = np.asarray(x, np.float64)
    N, C, H, W = x.shape
    Ho, Wo = _pair(output_size)
    out, idx = np.zeros((N, C, Ho, Wo)), np.zeros((N, C, Ho, Wo), np.int64)
    for i, (h0, h1) in enumerate(_adaptive(H, Ho)):
        for j, (w0, w1) in enumerate(_adaptive(W, Wo)):
            for n in range(N):
                for c in range(C):
                    out[n, c, i, j], idx[n, c, i, j] = _max_window(x[n, c], h0, w0, h1 - h0, w1 - w0, 1, 1)
    return out, idx


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Every input pixel scatters its kernel-weighted copy into the output, cropped by padding:
    out[n, group(c) * C_out_g + o, i*sh - ph + kh*dh, j*sw - pw + kw*dw] += x[n, c, i, j] * weight[c, o, kh, kw],
    with C_out_g = weight.shape[1]; out has (H - 1)*sh - 2*ph + dh*(KH - 1) + oph + 1 rows."""
    (sh, sw), (ph, pw), (dh, dw), (oph, opw) = _pair(stride), _pair(padding), _pair(dilation), _pair(output_padding)
    x, weight = np.asarray(x, np.float64), np.asarray(weight, np.float64)
    N, C, H, W = x.shape
    _, Og, KH, KW = weight.shape
    Ho = (H - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1
    Wo = (W - 1) * sw - 2 * pw + dw * (KW - 1) + opw + 1
    Cg = C // groups
    out = np.zeros((N, Og * groups, Ho, Wo))
    for c in range(C):
        first = (c // Cg) * Og  # first output channel of c's group
        for i in range(H):
            for j in range(W):
                for o in range(Og):
                    for kh in range(KH):
                        for kw in range(KW):
                            r, t = i * sh - ph + kh * dh, j * sw - pw + kw * dw
                            if 0 <= r < Ho and 0 <= t < Wo:
                                out[:, first + o, r, t] += x[:, c, i, j] * weight[c, o, kh, kw]
    if bias is not None:
        out += np.asarray(bias, np.float64).reshape(1, -1, 1, 1)
    return out


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """out[n, c, i, j] pixel by pixel from PyTorch's source-position rules: nearest takes
    x[floor(i * s_h), floor(j * s_w)] (float32 arithmetic, as ATen; clamped to the last pixel),
    bilinear mixes the 4 pixels around (src_h(i), src_w(j)); s = in / out, or 1 / scale_factor."""
    x = np.asarray(x, np.float64)
    N, C, H, W = x.shape
    if size is not None:
        (Ho, Wo), factors = _pair(size), (None, None)
    else:
        factors = _pair(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
        Ho, Wo = int(np.floor(H * factors[0])), int(np.floor(W * factors[1]))

    def nearest(i, n_in, n_out, factor):
        scale = np.float32(1 / factor) if factor is not None else np.float32(n_in) / np.float32(n_out)
        return min(int(np.floor(np.float32(i) * scale)), n_in - 1)

    def source(i, n_in, n_out, factor):
        if align_corners:
            return i * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        scale = 1 / factor if factor is not None else n_in / n_out
        return max((i + 0.5) * scale - 0.5, 0.0)

    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            if mode == "nearest":
                out[:, :, i, j] = x[:, :, nearest(i, H, Ho, factors[0]), nearest(j, W, Wo, factors[1])]
                continue
            r, t = source(i, H, Ho, factors[0]), source(j, W, Wo, factors[1])
            r0, t0 = min(int(np.floor(r)), H - 1), min(int(np.floor(t)), W - 1)
            r1, t1 = min(r0 + 1, H - 1), min(t0 + 1, W - 1)
            fr, ft = r - r0, t - t0
            out[:, :, i, j] = ((1 - fr) * ((1 - ft) * x[:, :, r0, t0] + ft * x[:, :, r0, t1])
                               + fr * ((1 - ft) * x[:, :, r1, t0] + ft * x[:, :, r1, t1]))
    return out
