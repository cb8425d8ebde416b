"""Gradcheck specs for the convolution family's ops (transposed conv, pooling options,
adaptive pooling, interpolation, losses): merged into ``SPECS`` of
test_registry_gradcheck.py, replacing its plainer pooling specs."""
import numpy as np
from hypothesis import strategies as st

from test_registry_gradcheck import array, distinct_array, shape
from tinygrad_conv import ops


def pool_spec(name):
    def spec(data):
        op = ops.registry[name]
        kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
        params = dict(
            kernel_size=(kh, kw),
            stride=data.draw(st.one_of(st.none(), st.tuples(st.integers(1, 2), st.integers(1, 2)))),
            padding=(data.draw(st.integers(0, kh // 2)), data.draw(st.integers(0, kw // 2))),
            ceil_mode=data.draw(st.booleans()),
        )
        dh, dw = 1, 1
        if name == "max_pool2d":
            dh, dw = params["dilation"] = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
        else:
            params["count_include_pad"] = data.draw(st.booleans())
        h = data.draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * params["padding"][0]), 5))
        w = data.draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * params["padding"][1]), 5))
        s = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)), h, w)
        x = distinct_array(data, s) if name == "max_pool2d" else array(data, s)
        return (lambda t: op.apply(t, **params)), [x]

    return spec


def adaptive_spec(name):
    def spec(data):
        op = ops.registry[name]
        s = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)), data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6)))
        size = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
        x = distinct_array(data, s) if "max" in name else array(data, s)
        return (lambda t: op.apply(t, output_size=size)), [x]

    return spec


def class_shape(data):
    """Logits shape: (N, C) or per-pixel (N, C, H, W)."""
    n, c = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4))
    return data.draw(st.sampled_from([(n, c), (n, c, data.draw(st.integers(1, 3)), data.draw(st.integers(1, 2)))]))


def class_loss_spec(name):
    def spec(data):
        s = class_shape(data)
        c = s[1]
        if name == "cross_entropy" and data.draw(st.booleans()):  # probabilities
            p = np.array(data.draw(st.lists(st.floats(0.01, 1), min_size=int(np.prod(s)), max_size=int(np.prod(s)))))
            target = p.reshape(s) / p.reshape(s).sum(axis=1, keepdims=True)
        else:
            target = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=s[0], max_size=s[0])))
            target = np.broadcast_to(target.reshape((-1,) + (1,) * (len(s) - 2)), s[:1] + s[2:]).copy()
        params = dict(target=target, reduction=data.draw(st.sampled_from(["mean", "sum", "none"])))
        if data.draw(st.booleans()):
            params["weight"] = np.array(data.draw(st.lists(st.floats(0.1, 2), min_size=c, max_size=c)))
        if name == "cross_entropy":
            params["label_smoothing"] = data.draw(st.sampled_from([0.0, 0.1, 0.5]))
        return (lambda z: ops.registry[name].apply(z, **params)), [array(data, s)]

    return spec


def bce_spec(data):
    s = shape(data, min_dims=1)
    params = dict(reduction=data.draw(st.sampled_from(["mean", "sum", "none"])))
    if data.draw(st.booleans()):
        params["pos_weight"] = np.array(data.draw(st.lists(st.floats(0.1, 3), min_size=s[-1], max_size=s[-1])))
    op = ops.registry["binary_cross_entropy_with_logits"]
    return (lambda x, y: op.apply(x, y, **params)), [array(data, s), array(data, s, st.floats(0, 1))]


def pointwise_spec(name):
    def spec(data):
        s = shape(data)
        params = dict(reduction=data.draw(st.sampled_from(["mean", "sum", "none"])))
        if name == "smooth_l1_loss":
            params["beta"] = data.draw(st.sampled_from([0.0, 0.5, 1.0]))
        # pred - target stays >= 0.1 away from the kinks at 0 (and at +-beta)
        target = 0.3 * np.array(data.draw(st.lists(st.integers(-5, 5), min_size=int(np.prod(s)), max_size=int(np.prod(s)))))
        pred = target.reshape(s) + 0.3 * np.array(data.draw(st.sampled_from([-2.5, -1.37, 0.37, 1.37, 2.63])))
        return (lambda p, t: ops.registry[name].apply(p, t, **params)), [pred, target.reshape(s)]

    return spec


SPECS = {
    "cross_entropy": class_loss_spec("cross_entropy"),
    "nll_loss": class_loss_spec("nll_loss"),
    "binary_cross_entropy_with_logits": bce_spec,
    "l1_loss": pointwise_spec("l1_loss"),
    "smooth_l1_loss": pointwise_spec("smooth_l1_loss"),
    "avg_pool2d": pool_spec("avg_pool2d"),
    "max_pool2d": pool_spec("max_pool2d"),
    "adaptive_avg_pool2d": adaptive_spec("adaptive_avg_pool2d"),
    "adaptive_max_pool2d": adaptive_spec("adaptive_max_pool2d"),
}
