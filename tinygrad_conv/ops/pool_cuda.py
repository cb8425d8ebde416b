"""Pooling as CUDA kernels: the GPU mirror of ``pool.py``.

On the CPU, pooling loops over the k_h k_w window positions with one strided
view each; on the GPU that is k_h k_w launches forward and several per position
backward, which dominate a small network's step. Here each direction is ONE
launch, with PyTorch's semantics:

- forward: a thread per output element walks its window (dilation ``d``,
  ``-inf`` padding for max, the ``count_include_pad`` divisor for average, windows
  clipped at ``H + p`` as ``ceil_mode`` needs). Max pooling also writes the flat
  index ``h W + w`` of each window's first maximum (the last NaN if it holds one).
- backward: a gather. A thread per input pixel visits the windows that contain it
  and sums their gradients (max: where the index names this pixel; average: the
  window's gradient over its divisor), so no atomics are needed.

Sizes are compiled into the kernels as constants, as in ``conv_cuda.py``.
"""
import functools

import numpy as np

from .. import backend


_MAX_FORWARD = """
extern "C" __global__ void max_pool_forward(const T* x, T* out, int* index) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;  // over (n, c, i, j)
    if (t >= NC * Ho * Wo) return;
    const int j = t % Wo, i = t / Wo % Ho, nc = t / (Wo * Ho);
    const T* plane = x + (long long)nc * H * W;
    T best = 0;
    int arg = -1;
    for (int a = 0; a < KH; ++a) {
        const int h = i * SH - PH + a * DH;
        if (h < 0 || h >= H) continue;
        for (int b = 0; b < KW; ++b) {
            const int w = j * SW - PW + b * DW;
            if (w < 0 || w >= W) continue;
            const T v = plane[h * W + w];
            // the first maximum; a NaN beats every number, and the last NaN wins (as PyTorch)
            if (arg < 0 || v > best || v != v) { best = v; arg = h * W + w; }
        }
    }
    out[t] = best;
    index[t] = arg;
}
"""

_MAX_BACKWARD = """
extern "C" __global__ void max_pool_backward(const T* grad, const int* index, T* dx) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;  // over (n, c, h, w)
    if (t >= NC * H * W) return;
    const int w = t % W, h = t / W % H, nc = t / (W * H);
    const long long base = (long long)nc * Ho * Wo;
    T sum = 0;
    for (int a = 0; a < KH; ++a) {
        const int hh = h + PH - a * DH;  // = i s_h for a window i holding (h, w) at row a
        if (hh < 0 || hh % SH != 0 || hh / SH >= Ho) continue;
        for (int b = 0; b < KW; ++b) {
            const int ww = w + PW - b * DW;
            if (ww < 0 || ww % SW != 0 || ww / SW >= Wo) continue;
            const long long o = base + (hh / SH) * Wo + ww / SW;
            if (index[o] == h * W + w) sum += grad[o];
        }
    }
    dx[t] = sum;
}
"""

# The window of output (i, j) and its divisor, as PyTorch's avg_pool2d: clipped at
# H + p (ceil_mode windows may pass it), then at the input for the sum.
_AVG_WINDOW = """
__device__ void window(int i, int j, int* h0, int* h1, int* w0, int* w1, T* divisor) {
    int hs = i * SH - PH, ws = j * SW - PW;
    int he = min(hs + KH, H + PH), we = min(ws + KW, W + PW);
    const int padded = (he - hs) * (we - ws);
    hs = max(hs, 0); ws = max(ws, 0); he = min(he, H); we = min(we, W);
    *h0 = hs; *h1 = he; *w0 = ws; *w1 = we;
    *divisor = (T)(COUNT_PAD ? padded : (he - hs) * (we - ws));
}
"""

_AVG_FORWARD = """
extern "C" __global__ void avg_pool_forward(const T* x, T* out) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;  // over (n, c, i, j)
    if (t >= NC * Ho * Wo) return;
    const int j = t % Wo, i = t / Wo % Ho, nc = t / (Wo * Ho);
    const T* plane = x + (long long)nc * H * W;
    int h0, h1, w0, w1;
    T divisor;
    window(i, j, &h0, &h1, &w0, &w1, &divisor);
    T sum = 0;
    for (int h = h0; h < h1; ++h)
        for (int w = w0; w < w1; ++w) sum += plane[h * W + w];
    out[t] = sum / divisor;
}
"""

_AVG_BACKWARD = """
extern "C" __global__ void avg_pool_backward(const T* grad, T* dx) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;  // over (n, c, h, w)
    if (t >= NC * H * W) return;
    const int w = t % W, h = t / W % H, nc = t / (W * H);
    const long long base = (long long)nc * Ho * Wo;
    T sum = 0;
    for (int a = 0; a < KH; ++a) {
        const int hh = h + PH - a;
        if (hh < 0 || hh % SH != 0 || hh / SH >= Ho) continue;
        for (int b = 0; b < KW; ++b) {
            const int ww = w + PW - b;
            if (ww < 0 || ww % SW != 0 || ww / SW >= Wo) continue;
            int h0, h1, w0, w1;
            T divisor;
            window(hh / SH, ww / SW, &h0, &h1, &w0, &w1, &divisor);
            if (h < h1 && w < w1) sum += grad[base + (hh / SH) * Wo + ww / SW] / divisor;
        }
    }
    dx[t] = sum;
}
"""


@functools.lru_cache(maxsize=256)
def _kernel(name, source, dtype, **sizes):
    consts = "".join(f"const int {k} = {v};\n" for k, v in sizes.items())
    return backend.raw_kernel(f"typedef {backend.c_type(dtype)} T;\n{consts}{source}", name)


def _sizes(x, kernel_size, stride, padding, dilation, out_size):
    (N, C, H, W), (kh, kw), (sh, sw), (ph, pw), (dh, dw), (Ho, Wo) = (
        x.shape, kernel_size, stride, padding, dilation, out_size)
    if N * C * max(H * W, Ho * Wo) > 2**31 - 1:
        raise ValueError(f"pooling: input {x.shape} is too large for the CUDA kernels (2**31 elements)")
    return dict(NC=N * C, H=H, W=W, Ho=Ho, Wo=Wo, KH=kh, KW=kw, SH=sh, SW=sw, PH=ph, PW=pw, DH=dh, DW=dw)


def max_pool2d(x, kernel_size, stride, padding, dilation, out_size):
    """out ``(N, C, H_o, W_o)`` and the int32 flat index (``h W + w``) of each window's maximum."""
    xp, sizes = backend.xp(x), _sizes(x, kernel_size, stride, padding, dilation, out_size)
    out = xp.empty(x.shape[:2] + tuple(out_size), x.dtype)
    index = xp.empty(out.shape, np.int32)
    kernel = _kernel("max_pool_forward", _MAX_FORWARD, x.dtype, **sizes)
    backend.launch(kernel, out.size, xp.ascontiguousarray(x), out, index)
    return out, index


def max_pool2d_backward(grad, index, x_shape, kernel_size, stride, padding, dilation):
    """dx ``x_shape``: each window's gradient to the pixel its index names."""
    xp = backend.xp(grad)
    dx = xp.empty(x_shape, grad.dtype)
    sizes = _sizes(dx, kernel_size, stride, padding, dilation, grad.shape[2:])
    kernel = _kernel("max_pool_backward", _MAX_BACKWARD, grad.dtype, **sizes)
    backend.launch(kernel, dx.size, xp.ascontiguousarray(grad), index, dx)
    return dx


def avg_pool2d(x, kernel_size, stride, padding, out_size, count_include_pad=True):
    """out ``(N, C, H_o, W_o)``: each window's sum over its divisor."""
    xp, sizes = backend.xp(x), _sizes(x, kernel_size, stride, padding, (1, 1), out_size)
    out = xp.empty(x.shape[:2] + tuple(out_size), x.dtype)
    kernel = _kernel("avg_pool_forward", _AVG_WINDOW.replace("COUNT_PAD", str(int(count_include_pad))) + _AVG_FORWARD,
                     x.dtype, **sizes)
    backend.launch(kernel, out.size, xp.ascontiguousarray(x), out)
    return out


def avg_pool2d_backward(grad, x_shape, kernel_size, stride, padding, count_include_pad=True):
    """dx ``x_shape``: each pixel gets the gradient of every window holding it over that window's divisor."""
    xp = backend.xp(grad)
    dx = xp.empty(x_shape, grad.dtype)
    sizes = _sizes(dx, kernel_size, stride, padding, (1, 1), grad.shape[2:])
    kernel = _kernel("avg_pool_backward", _AVG_WINDOW.replace("COUNT_PAD", str(int(count_include_pad))) + _AVG_BACKWARD,
                     grad.dtype, **sizes)
    backend.launch(kernel, dx.size, xp.ascontiguousarray(grad), dx)
    return dx
