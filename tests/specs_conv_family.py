"""Gradcheck specs for the convolution family's ops (transposed conv, pooling options,
adaptive pooling, interpolation, losses): merged into ``SPECS`` of
test_registry_gradcheck.py, replacing its plainer pooling specs."""
import numpy as np
from hypothesis import strategies as st

from test_registry_gradcheck import array, distinct_array
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


def conv_transpose_spec(data):
    groups = data.draw(st.integers(1, 2))
    c_in, c_out = groups * data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    stride = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
    dilation = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
    output_padding = tuple(data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    padding = (data.draw(st.integers(0, (kh - 1) // 2)), data.draw(st.integers(0, (kw - 1) // 2)))
    h, w, n = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)), data.draw(st.integers(1, 2))
    arrays = [array(data, (n, c_in, h, w)), array(data, (c_in, c_out // groups, kh, kw))]
    if data.draw(st.booleans()):
        arrays.append(array(data, (c_out,)))
    params = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    return (lambda *t: ops.registry["conv_transpose2d"].apply(*t, **params)), arrays


SPECS = {
    "conv_transpose2d": conv_transpose_spec,
    "avg_pool2d": pool_spec("avg_pool2d"),
    "max_pool2d": pool_spec("max_pool2d"),
    "adaptive_avg_pool2d": adaptive_spec("adaptive_avg_pool2d"),
    "adaptive_max_pool2d": adaptive_spec("adaptive_max_pool2d"),
}
