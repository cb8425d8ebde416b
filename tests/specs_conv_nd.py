"""Gradcheck specs for the N-d convolution ops (issue 19): ``conv``, ``conv_transpose`` and
``conv_weight_grad`` over 1, 2 and 3 spatial axes, merged into ``SPECS`` of
test_registry_gradcheck.py (replacing the 2-d-only specs of the same ops)."""
from hypothesis import strategies as st

from tinygrad_conv import ops, testing


def array(data, shape):
    return data.draw(testing.arrays(shape, elements=testing.floats()))  # as test_registry_gradcheck's


def conv_case(data, transposed=False):
    """One valid N-d conv: ``(d, params, x shape, weight shape, out channels)``, small enough
    for a numerical gradient (at most a few hundred input elements)."""
    d = data.draw(st.sampled_from([1, 2, 3]))
    axis = lambda lo, hi: tuple(data.draw(st.integers(lo, hi)) for _ in range(d))  # noqa: E731
    groups = data.draw(st.integers(1, 2))
    c_in, c_out = groups * data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    kernel = axis(1, 3 if d < 3 else 2)
    stride, dilation = axis(1, 2), axis(1, 2)
    padding = tuple(data.draw(st.integers(0, (k - 1) * dl // 2 + (0 if transposed else 1)))
                    for k, dl in zip(kernel, dilation))
    n = data.draw(st.integers(1, 2))
    if transposed:
        extra = tuple(data.draw(st.integers(0, max(s, dl) - 1)) for s, dl in zip(stride, dilation))
        # output (size - 1) s - 2 p + dl (k - 1) + extra + 1 >= 1
        size = tuple(data.draw(st.integers(max(1, -(-(2 * p - dl * (k - 1) - e) // s) + 1), 3 if d < 3 else 2))
                     for p, dl, k, e, s in zip(padding, dilation, kernel, extra, stride))
        params = dict(stride=stride, padding=padding, output_padding=extra, groups=groups, dilation=dilation)
        return d, params, (n, c_in) + size, (c_in, c_out // groups) + kernel, c_out
    least = [max(1, dl * (k - 1) + 1 - 2 * p) for k, dl, p in zip(kernel, dilation, padding)]
    size = tuple(data.draw(st.integers(lo, lo + (3 if d < 3 else 1))) for lo in least)
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return d, params, (n, c_in) + size, (c_out, c_in // groups) + kernel, c_out


def conv_spec(name, transposed):
    def spec(data):
        _, params, x_shape, w_shape, c_out = conv_case(data, transposed)
        arrays = [array(data, x_shape), array(data, w_shape)]
        if data.draw(st.booleans()):
            arrays.append(array(data, (c_out,)))
        return (lambda *t: ops.registry[name].apply(*t, **params)), arrays

    return spec


def weight_grad_spec(data):
    _, params, x_shape, w_shape, c_out = conv_case(data)
    out = tuple((n + 2 * p - dl * (k - 1) - 1) // s + 1 for n, p, dl, k, s in
                zip(x_shape[2:], params["padding"], params["dilation"], w_shape[2:], params["stride"]))
    arrays = [array(data, x_shape), array(data, (x_shape[0], c_out) + out)]
    return (lambda x, g: ops.ConvWeightGrad.apply(x, g, kernel=w_shape[2:], **params)), arrays


SPECS = {
    "conv": conv_spec("conv", False),
    "conv_transpose": conv_spec("conv_transpose", True),
    "conv_weight_grad": weight_grad_spec,
}
