"""conv2d's data movement as CUDA kernels: the GPU mirror of ``conv.py``.

``ConvNd`` (in ``conv.py``) is written once; for a CuPy input with 1 or 2 spatial
axes it takes these functions instead of the CPU ones (a 1-d conv runs as a 2-d one
with H = 1, same memory; 3-d convs take the plain xp code of ``conv_xp.py``), and the GEMMs are the same calls (cuBLAS,
through ``backend.matmul``). The flat-layout tricks of the CPU buy nothing
here, so the columns use the plain output grid, P = N H_o W_o, and rows in the
weight's own order (c, kh, kw), so the weight needs no reordering::

    cols[g, (c, kh, kw), (n, i, j)] = x[n, g C/G + c, i s_h - p_h + kh d_h, j s_w - p_w + kw d_w]
                                      (0 where that pixel is padding)

- ``im2col``: ONE launch; a thread per (channel, output pixel) writes its K_h K_w
  column entries. (A loop of K_h K_w strided copies would be K_h K_w launches,
  which dominate at these sizes.)
- ``col2im`` is a gather, not a scatter: a thread per input pixel sums the (at
  most K_h K_w) column entries that read it, so no two threads write one address
  and no atomics are needed.
- ``output``/``grad_columns`` move the channel axis between y's ``(O, N, H_o W_o)``
  and the tensors' ``(N, O, H_o W_o)``, adding the bias on the way out.

The sizes are compiled into each kernel as constants: integer division and
modulo by a constant are a multiply and a shift, by a variable ~20 instructions,
and the index maths is most of the work. A network has a handful of layer
shapes, so it compiles a handful of kernels once (CuPy caches them on disk).
"""
import functools
from collections import namedtuple

from .. import backend

_Sizes = namedtuple("_Sizes", "N C H W O KH KW sh sw ph pw dh dw groups Ho Wo")
_INT_MAX = 2**31 - 1


def _sizes(geo):
    """conv.py's ``Geometry`` (tuples per spatial axis) as the kernels' 2-d sizes: a 1-d conv
    is a 2-d one with one row (H = K_h = H_o = 1, stride and dilation 1, no padding)."""
    g = geo

    def two(values, fill):
        return (fill,) * (2 - len(values)) + tuple(values)

    (H, W), (KH, KW), (Ho, Wo) = two(g.size, 1), two(g.kernel, 1), two(g.out, 1)
    (sh, sw), (ph, pw), (dh, dw) = two(g.stride, 1), two(g.padding, 0), two(g.dilation, 1)
    return _Sizes(g.N, g.C, H, W, g.O, KH, KW, sh, sw, ph, pw, dh, dw, g.groups, Ho, Wo)


def _header(g, dtype):
    """The sizes (``_Sizes``) as C ``int`` constants, and T, the element type."""
    sizes = dict(N=g.N, C=g.C, H=g.H, W=g.W, O=g.O, Ho=g.Ho, Wo=g.Wo, KH=g.KH, KW=g.KW, sh=g.sh, sw=g.sw,
                 ph=g.ph, pw=g.pw, dh=g.dh, dw=g.dw, Cg=g.C // g.groups, P=g.N * g.Ho * g.Wo)
    # Thread indices are split into (n, c, h, w) in 32-bit arithmetic; offsets into the
    # columns, which can be larger, are computed in 64 bits.
    if max(g.C * sizes["P"], g.N * g.C * g.H * g.W, g.N * g.O * g.Ho * g.Wo) > _INT_MAX:
        raise ValueError(f"conv2d: input {(g.N, g.C, g.H, g.W)} is too large for the CUDA kernels (2**31 elements)")
    consts = "".join(f"const int {k} = {v};\n" for k, v in sizes.items())
    return f"typedef {backend.c_type(dtype)} T;\n{consts}"


# In each kernel, t is the flat index of the element the thread computes.
_IM2COL = """
extern "C" __global__ void im2col(const T* x, T* cols) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;  // over (c, n, i, j)
    if (t >= C * P) return;
    const int p = t % P;  // (n, i, j), the column
    const int j = p % Wo, i = p / Wo % Ho, n = p / (Wo * Ho), c = t / P;
    const T* plane = x + ((long long)n * C + c) * H * W;
    T* dst = cols + (long long)c * KH * KW * P + p;  // row (c, kh = 0, kw = 0)
    for (int kh = 0; kh < KH; ++kh) {
        const int h = i * sh - ph + kh * dh;
        for (int kw = 0; kw < KW; ++kw) {
            const int w = j * sw - pw + kw * dw;
            dst[(long long)(kh * KW + kw) * P] = (h >= 0 && h < H && w >= 0 && w < W) ? plane[h * W + w] : (T)0;
        }
    }
}
"""

_COL2IM = """
extern "C" __global__ void col2im(const T* dcols, T* dx) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;  // over (n, c, h, w)
    if (t >= N * C * H * W) return;
    const int w = t % W, h = t / W % H, c = t / (W * H) % C, n = t / (W * H * C);
    const T* src = dcols + (long long)c * KH * KW * P + (long long)n * Ho * Wo;
    T sum = 0;
    for (int kh = 0; kh < KH; ++kh) {
        const int hh = h + ph - kh * dh;  // = i s_h for the output row i whose window reads (h, w)
        if (hh < 0 || hh % sh != 0 || hh / sh >= Ho) continue;
        for (int kw = 0; kw < KW; ++kw) {
            const int ww = w + pw - kw * dw;
            if (ww < 0 || ww % sw != 0 || ww / sw >= Wo) continue;
            sum += src[(long long)(kh * KW + kw) * P + (hh / sh) * Wo + ww / sw];
        }
    }
    dx[t] = sum;
}
"""

_OUTPUT = """  // HAS_BIAS: 0 or 1
extern "C" __global__ void conv_output(const T* y, const T* bias, T* out) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;  // over (n, o, i, j)
    if (t >= N * O * Ho * Wo) return;
    const int ij = t % (Ho * Wo);
    const int o = t / (Ho * Wo) % O, n = t / (Ho * Wo * O);
    out[t] = y[(o * N + n) * Ho * Wo + ij] + (HAS_BIAS ? bias[o] : (T)0);
}
"""

_GRAD_COLUMNS = """
extern "C" __global__ void grad_columns(const T* grad, T* gq) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;  // over (o, n, i, j)
    if (t >= N * O * Ho * Wo) return;
    const int ij = t % (Ho * Wo);
    const int n = t / (Ho * Wo) % N, o = t / (Ho * Wo * N);
    gq[t] = grad[(n * O + o) * Ho * Wo + ij];
}
"""


@functools.lru_cache(maxsize=512)
def _kernel(name, sizes, dtype, has_bias=False):
    """The kernel ``name`` compiled for one geometry (``sizes``: a ``_Sizes`` tuple of 16 ints)."""
    g = _Sizes(*sizes)
    source = _header(g, dtype) + f"#define HAS_BIAS {int(has_bias)}\n" + _SOURCES[name]
    return backend.raw_kernel(source, name)


def _contiguous(a):
    return a if a.flags.c_contiguous else backend.xp(a).ascontiguousarray(a)


def _run(name, g, dtype, n, *arrays, has_bias=False):
    backend.launch(_kernel(name, tuple(_sizes(g)), dtype, has_bias), n, *arrays)


def im2col(x, geo):
    """Columns ``(G, C/G K_h K_w, N H_o W_o)`` of x ``(N, C, H, W)``, one launch."""
    g, xp, s = geo, backend.xp(x), _sizes(geo)
    cols = xp.ndarray((g.groups, g.C // g.groups * s.KH * s.KW, g.N * s.Ho * s.Wo), x.dtype)
    _run("im2col", g, x.dtype, g.C * g.N * s.Ho * s.Wo, _contiguous(x), cols)
    return cols


def weight_rows(weight, geo):
    """The weight as ``(G, O/G, C/G K_h K_w)`` matrices, rows in the columns' order: a view."""
    g = geo
    return _contiguous(weight).reshape(g.groups, g.O // g.groups, -1)


def output(y, bias, geo):
    """out ``(N, O, H_o, W_o)`` from y ``(G, O/G, N H_o W_o)`` plus bias: one launch."""
    g = geo
    out = backend.xp(y).ndarray((g.N, g.O) + g.out, y.dtype)
    _run("conv_output", g, y.dtype, out.size, y, y if bias is None else bias, out, has_bias=bias is not None)
    return out


def grad_columns(grad, geo):
    """The adjoint of ``output``: grad ``(N, O, H_o, W_o)`` as ``(G, O/G, N H_o W_o)``."""
    g, xp = geo, backend.xp(grad)
    gq = xp.ndarray((g.groups, g.O // g.groups, grad.size // g.O), grad.dtype)
    _run("grad_columns", g, grad.dtype, gq.size, _contiguous(grad), gq)
    return gq


def weight_grad(cols, gq, geo):
    """dW ``(O, C/G, K_h, K_w)`` = grad @ cols.T, already in the weight's layout."""
    g = geo
    return backend.matmul(gq, cols.transpose(0, 2, 1)).reshape((g.O, g.C // g.groups) + g.kernel)


def col2im(dcols, geo, dtype):
    """The adjoint of ``im2col``: dx ``(N, C, H, W)`` from dcols ``(G, C/G K_h K_w, N H_o W_o)``."""
    g = geo
    dx = backend.xp(dcols).ndarray((g.N, g.C) + g.size, dcols.dtype)
    _run("col2im", g, dcols.dtype, dx.size, dcols, dx)
    return backend.cast(dx, dtype)


_SOURCES = {"im2col": _IM2COL, "col2im": _COL2IM, "conv_output": _OUTPUT, "grad_columns": _GRAD_COLUMNS}
