"""Group, layer and instance normalisation: one op, because each is the same computation
on a different view of its input (batch norm, which pools over the batch, is in norm.py)."""
from .. import backend
from .base import Op, half_in_float32


class GroupNorm(Op):
    """Normalise ``x`` viewed as ``(N, G, C, L)`` over each ``(n, g)``'s ``M = C * L`` values,
    then scale and shift each of the ``G * C`` rows (broadcast over ``n`` and ``l``)::

        xhat = (x - mean) * rstd,   rstd = 1 / sqrt(var + eps)    (var biased)
        out  = xhat * weight + bias                               (weight, bias: G * C values)

    PyTorch's three normalisations are three views (functional.py builds them):

        group_norm(x (N, C, *), G)            (N, G, C / G, prod(*))
        instance_norm(x (N, C, *))            (N, C, 1, prod(*))
        layer_norm(x (*, S), S)               (prod(*), 1, prod(S), 1)

    ``running_mean``/``running_var`` (arrays of ``G`` values, instance norm's) are updated
    in place with the batch average of the groups' mean and unbiased variance, as
    ``torch.nn.functional.instance_norm`` does.

    Backward, with ``g = dL/d out``, ``gw = g * weight`` and means over a group's M values::

        d bias = sum_{n,l} g      d weight = sum_{n,l} g * xhat
        d x    = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))

    Speed: NumPy's elementwise passes over the full-size arrays are the cost, so each
    direction makes as few as it can (an ``einsum`` reduces in one pass without a
    temporary); statistics and per-channel factors are small arrays.
    """

    name = "group_norm"

    @half_in_float32  # float16 in float32, rounded once (PyTorch's sums; var overflowed 65504)
    def forward(self, x, weight=None, bias=None, view=None, eps=1e-5, running_mean=None, running_var=None,
                momentum=0.1):
        xp = backend.xp(x)
        n, groups, c, l = view
        m = max(c * l, 1)  # (an empty group: 0 / 1, not a division warning)
        x4 = x.reshape(view)
        mean = xp.einsum("ngcl->ng", x4) / m
        xhat = x4 - mean[:, :, None, None]  # centred first, then var: no cancellation
        var = xp.einsum("ngcl,ngcl->ng", xhat, xhat) / m
        rstd = 1 / xp.sqrt(var + eps)
        xhat *= rstd[:, :, None, None]
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += (momentum * mean.mean(axis=0)).astype(running_mean.dtype, copy=False)
        if running_var is not None:
            running_var *= 1 - momentum
            unbiased = var.mean(axis=0) * (m / max(m - 1, 1))
            running_var += (momentum * unbiased).astype(running_var.dtype, copy=False)
        self.view, self.shape, self.eps, self.xhat, self.rstd = view, x.shape, eps, xhat, rstd
        self.weight = None if weight is None else weight.reshape(groups, c)
        self.weight_shape = None if weight is None else weight.shape
        if weight is None:
            return xhat.reshape(x.shape)
        out = xhat * self.weight[:, :, None]
        out += bias.reshape(groups, c, 1)
        return out.reshape(x.shape)

    @half_in_float32
    def backward(self, grad):
        g4 = grad.reshape(self.view)
        if self.view[3] == 1:  # layer norm: one value per (n, g, c), nothing to sum over l
            dx, dw, db = self._backward_rows(g4[..., 0], self.xhat[..., 0])
        else:
            dx, dw, db = self._backward_channels(g4)
        dx = None if dx is None else dx.reshape(self.shape)
        if self.weight is None:
            return (dx,)
        return dx, *(None if d is None else d.reshape(self.weight_shape) for d in (dw, db))

    def _backward_channels(self, g4):
        """``(N, G, C, L)``: every sum over ``l`` is taken once per ``(n, g, c)`` (two einsum
        passes); the rest works on those small arrays until the one dx pass."""
        xp, xhat, rstd, w = backend.xp(g4), self.xhat, self.rstd, self.weight
        m = max(self.view[2] * self.view[3], 1)
        sum_g = xp.einsum("ngcl->ngc", g4)
        sum_gx = xp.einsum("ngcl,ngcl->ngc", g4, xhat)
        dx = None
        if self.needs_input_grad[0]:
            if w is None:
                mean_gw, mean_gwx, a = sum_g.sum(axis=2) / m, sum_gx.sum(axis=2) / m, rstd[:, :, None, None]
            else:
                mean_gw = xp.einsum("ngc,gc->ng", sum_g, w) / m
                mean_gwx = xp.einsum("ngc,gc->ng", sum_gx, w) / m
                a = (rstd[:, :, None] * w)[..., None]  # d out / d x with the statistics fixed
            dx = g4 * a
            dx -= xhat * (rstd * mean_gwx)[:, :, None, None]
            dx -= (rstd * mean_gw)[:, :, None, None]
        dw = sum_gx.sum(axis=0) if w is not None and self.needs_input_grad[1] else None
        db = sum_g.sum(axis=0) if w is not None and self.needs_input_grad[2] else None
        return dx, dw, db

    def _backward_rows(self, g3, xhat):
        """``(N, G, C)`` with an elementwise weight: ``gw = g * weight`` is one full pass, and
        its two means over the group one einsum pass each."""
        xp, rstd, w = backend.xp(g3), self.rstd, self.weight
        m = max(self.view[2], 1)
        dx = dw = db = None
        if w is not None:
            dw = xp.einsum("ngc,ngc->gc", g3, xhat) if self.needs_input_grad[1] else None
            db = g3.sum(axis=0) if self.needs_input_grad[2] else None
        if self.needs_input_grad[0]:
            gw = g3 * rstd[:, :, None] if w is None else g3 * w
            mean_gw = xp.einsum("ngc->ng", gw) / m
            mean_gwx = xp.einsum("ngc,ngc->ng", gw, xhat) / m
            if w is not None:  # (without weight gw is already g * rstd: the means are rstd times theirs)
                gw *= rstd[:, :, None]
                mean_gw, mean_gwx = rstd * mean_gw, rstd * mean_gwx
            dx = xhat * -mean_gwx[:, :, None]
            dx += gw
            dx -= mean_gw[:, :, None]
        return dx, dw, db

    def backward_graph(self, grad, out):
        """The same gradients on Tensors, the statistics recomputed from ``x`` so the second
        derivatives include the paths through the mean and variance."""
        x = self.parents[0]
        n, groups, c, l = self.view
        x4 = x.reshape(self.view)
        centred = x4 - x4.mean(axis=(2, 3), keepdims=True)
        rstd = ((centred * centred).mean(axis=(2, 3), keepdims=True) + self.eps) ** -0.5
        xhat = centred * rstd
        g4 = grad.reshape(self.view)
        gw = g4 if self.weight is None else g4 * self.parents[1].reshape(1, groups, c, 1)
        dx = dw = db = None
        if self.needs_input_grad[0]:
            dx = gw - gw.mean(axis=(2, 3), keepdims=True) - xhat * (gw * xhat).mean(axis=(2, 3), keepdims=True)
            dx = (dx * rstd).reshape(self.shape)
        if self.weight is None:
            return (dx,)
        if self.needs_input_grad[1]:
            dw = (g4 * xhat).sum(axis=(0, 3)).reshape(self.weight_shape)
        if self.needs_input_grad[2]:
            db = g4.sum(axis=(0, 3)).reshape(self.weight_shape)
        return dx, dw, db
