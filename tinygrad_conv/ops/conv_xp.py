"""conv.py's layout steps in plain array code (any number of spatial axes, any xp): the
CUDA path of 3-d convs, which ``conv_cuda.py``'s 2-d kernels do not serve.

Columns use the plain output grid, ``P = N prod(out)``, and rows in the weight's own
order (c, kernel offset), as ``conv_cuda`` does::

    cols[g, (c, k), (n, i)] = x_pad[n, g C/G + c, i s + k dl]     (per spatial axis)

im2col is one strided copy per kernel offset and col2im one strided add per offset
(K launches each, where the 2-d CUDA kernels need one): simple and correct first.
"""
import itertools

from .. import backend


def _windows(geo):
    """For each kernel offset (C order), the strided slices of x_pad it reads, ``(N, C, *out)``."""
    g = geo
    for offset in itertools.product(*(range(k) for k in g.kernel)):
        yield (slice(None), slice(None)) + tuple(
            slice(k * dl, k * dl + (o - 1) * s + 1, s) for k, dl, o, s in zip(offset, g.dilation, g.out, g.stride))


def im2col(x, geo):
    """Columns ``(G, C/G K, N P)`` of x ``(N, C, *size)``, K = prod(kernel)."""
    g, xp = geo, backend.xp(x)
    x_pad = xp.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in g.padding))
    K = len(g.starts)
    cols = xp.empty((g.C, K, g.N) + g.out, x.dtype)
    for k, window in enumerate(_windows(g)):
        cols[:, k] = x_pad[window].swapaxes(0, 1)
    return cols.reshape(g.groups, g.C // g.groups * K, -1)


def weight_rows(weight, geo):
    """The weight as ``(G, O/G, C/G K)`` matrices, rows in the columns' order: a view."""
    g = geo
    return backend.xp(weight).ascontiguousarray(weight).reshape(g.groups, g.O // g.groups, -1)


def output(y, bias, geo):
    """out ``(N, O, *out)`` from y ``(G, O/G, N P)`` plus bias."""
    g = geo
    out = y.reshape((g.O, g.N) + g.out).swapaxes(0, 1)
    if bias is not None:
        out = out + bias.reshape((1, -1) + (1,) * len(g.out))
    return backend.xp(y).ascontiguousarray(out)


def grad_columns(grad, geo):
    """The adjoint of ``output``: grad ``(N, O, *out)`` as ``(G, O/G, N P)``."""
    g = geo
    return backend.xp(grad).ascontiguousarray(grad.swapaxes(0, 1)).reshape(g.groups, g.O // g.groups, -1)


def weight_grad(cols, gq, geo):
    """dW ``(O, C/G, *kernel)`` = grad @ cols.T, already in the weight's layout."""
    g = geo
    return backend.matmul(gq, cols.transpose(0, 2, 1)).reshape((g.O, g.C // g.groups) + g.kernel)


def col2im(dcols, geo, dtype):
    """The adjoint of ``im2col``: dx ``(N, C, *size)`` from dcols ``(G, C/G K, N P)``."""
    g, xp = geo, backend.xp(dcols)
    dcols = dcols.reshape((g.C, len(g.starts), g.N) + g.out)
    dx_pad = xp.zeros((g.N, g.C) + tuple(n + 2 * p for n, p in zip(g.size, g.padding)), dcols.dtype)
    for k, window in enumerate(_windows(g)):
        dx_pad[window] += dcols[:, k].swapaxes(0, 1)
    inner = (slice(None), slice(None)) + tuple(slice(p, p + n) for n, p in zip(g.size, g.padding))
    return backend.cast(xp.ascontiguousarray(dx_pad[inner]), dtype)
