"""conv2d's data movement as CUDA kernels: the GPU mirror of ``conv.py``.

``Conv2d`` (in ``conv.py``) is written once; for a CuPy input it takes these
four functions instead of the CPU ones. The GEMMs are the same calls (cuBLAS
through CuPy). On the GPU the flat-layout tricks buy nothing, so columns use
the plain output grid, P = N H_o W_o::

    cols[g, (kh, kw, c), (n, i, j)] = x[n, g C/G + c, i s_h - p_h + kh d_h, j s_w - p_w + kw d_w]
                                      (0 where that pixel is padding)

One thread per column entry writes all of them in ONE launch (a loop of
K_h K_w strided copies would be K_h K_w launches, which dominate at these
sizes). ``col2im`` is a gather rather than a scatter: one thread per input
pixel sums the (at most K_h K_w) column entries that read it, so no two
threads write the same address and no atomics are needed.
"""
from .. import backend

# Each kernel runs one thread per element of its output; i is that element's flat
# index. Inputs are C-contiguous (``raw`` arrays are read by flat offset).
_IM2COL = """
const long long P = (long long)N * Ho * Wo;
const long long col = i % P, row = i / P;
const int j = col % Wo, oh = (col / Wo) % Ho, n = col / ((long long)Wo * Ho);
const int c = row % Cg, k = (row / Cg) % (KH * KW), grp = row / ((long long)Cg * KH * KW);
const int h = oh * sh - ph + (k / KW) * dh, w = j * sw - pw + (k % KW) * dw;
cols = (h >= 0 && h < H && w >= 0 && w < W) ? x[(((long long)n * C + grp * Cg + c) * H + h) * W + w] : (T)0;
"""

_COL2IM = """
const int w = i % W, h = (i / W) % H, ch = (i / ((long long)W * H)) % C, n = i / ((long long)W * H * C);
const int grp = ch / Cg, c = ch % Cg;
const long long P = (long long)N * Ho * Wo;
T sum = 0;
for (int kh = 0; kh < KH; ++kh) {
    const int hh = h + ph - kh * dh;          // = oh * sh for the output row that reads (h, w)
    if (hh < 0 || hh % sh != 0 || hh / sh >= Ho) continue;
    for (int kw = 0; kw < KW; ++kw) {
        const int ww = w + pw - kw * dw;
        if (ww < 0 || ww % sw != 0 || ww / sw >= Wo) continue;
        const long long row = ((long long)grp * KH * KW + kh * KW + kw) * Cg + c;
        sum += dcols[row * P + ((long long)n * Ho + hh / sh) * Wo + ww / sw];
    }
}
dx = sum;
"""

_OUTPUT = """
const long long HW = (long long)Ho * Wo;
const int o = (i / HW) % O, n = i / (HW * O);
out = y[((long long)o * N + n) * HW + i % HW] + (has_bias ? b[o] : (T)0);
"""

_GRAD_COLUMNS = """
const long long HW = (long long)Ho * Wo;
const int n = (i / HW) % N, o = i / (HW * N);
gq = grad[((long long)n * O + o) * HW + i % HW];
"""

_GEOMETRY = "int32 N, int32 C, int32 H, int32 W, int32 Ho, int32 Wo"
_KERNEL = "int32 Cg, int32 KH, int32 KW, int32 sh, int32 sw, int32 ph, int32 pw, int32 dh, int32 dw"


def _sizes(g):
    return g.N, g.C, g.H, g.W, g.Ho, g.Wo


def _kernel_sizes(g):
    return g.C // g.groups, g.KH, g.KW, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw


def im2col(x, geo):
    """Columns ``(G, K_h K_w C/G, N H_o W_o)`` of x ``(N, C, H, W)``, one kernel launch."""
    g = geo
    cols = backend.xp(x).empty((g.groups, g.KH * g.KW * (g.C // g.groups), g.N * g.Ho * g.Wo), x.dtype)
    kernel = backend.elementwise_kernel(f"raw T x, {_GEOMETRY}, {_KERNEL}", "T cols", _IM2COL, "tc_im2col")
    kernel(backend.xp(x).ascontiguousarray(x), *_sizes(g), *_kernel_sizes(g), cols)
    return cols


def col2im(dcols, geo, dtype):
    """The adjoint of ``im2col``: dx ``(N, C, H, W)`` from dcols ``(G, K_h K_w, C/G N H_o W_o)``."""
    g = geo
    dx = backend.xp(dcols).empty((g.N, g.C, g.H, g.W), dcols.dtype)
    kernel = backend.elementwise_kernel(f"raw T dcols, {_GEOMETRY}, {_KERNEL}", "T dx", _COL2IM, "tc_col2im")
    kernel(dcols, *_sizes(g), *_kernel_sizes(g), dx)
    return dx.astype(dtype, copy=False)


def output(y, bias, geo):
    """out ``(N, O, H_o, W_o)`` from y ``(G, O/G, N H_o W_o)`` plus bias: one launch."""
    g = geo
    out = backend.xp(y).empty((g.N, g.O, g.Ho, g.Wo), y.dtype)
    kernel = backend.elementwise_kernel(
        "raw T y, raw T b, int32 N, int32 O, int32 Ho, int32 Wo, bool has_bias", "T out", _OUTPUT, "tc_conv_output"
    )
    kernel(y, y if bias is None else bias, g.N, g.O, g.Ho, g.Wo, bias is not None, out)
    return out


def grad_columns(grad, geo):
    """The adjoint of ``output``: grad ``(N, O, H_o, W_o)`` as ``(G, O/G, N H_o W_o)``."""
    g = geo
    gq = backend.xp(grad).empty((g.groups, g.O // g.groups, g.N * g.Ho * g.Wo), grad.dtype)
    kernel = backend.elementwise_kernel(
        "raw T grad, int32 N, int32 O, int32 Ho, int32 Wo", "T gq", _GRAD_COLUMNS, "tc_conv_grad_columns"
    )
    kernel(backend.xp(grad).ascontiguousarray(grad), g.N, g.O, g.Ho, g.Wo, gq)
    return gq
