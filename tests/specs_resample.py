"""Gradcheck spec for interpolate in every mode and spatial rank (replaces the plainer
nearest/bilinear spec of specs_conv_family.py when merged into ``SPECS``)."""
from hypothesis import strategies as st

from test_registry_gradcheck import array
from tinygrad_conv import ops

_DIMS = {"linear": [1], "bilinear": [2], "bicubic": [2], "trilinear": [3]}


def interpolate_spec(data):
    """Sizes and scale factors that shrink, keep and grow (integer factors take the slice
    paths, others the gathers), align_corners both ways, recompute_scale_factor."""
    mode = data.draw(st.sampled_from(["nearest", "nearest-exact", "area", "linear", "bilinear", "bicubic",
                                      "trilinear"]))
    dims = data.draw(st.sampled_from(_DIMS.get(mode, [1, 2, 3])))
    s = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))) + tuple(
        data.draw(st.integers(1, 4 if dims < 3 else 3)) for _ in range(dims))
    params = dict(mode=mode)
    if mode in _DIMS:
        params["align_corners"] = data.draw(st.sampled_from([None, False, True]))
    if data.draw(st.booleans()):
        params["size"] = tuple(data.draw(st.integers(1, 6 if dims < 3 else 4)) for _ in range(dims))
    else:
        params["scale_factor"] = data.draw(st.sampled_from([1.5, 2, 3] if dims < 3 else [1.5, 2]))
        params["recompute_scale_factor"] = data.draw(st.sampled_from([None, True]))
    return (lambda t: ops.Interpolate.apply(t, **params)), [array(data, s)]


SPECS = {"interpolate": interpolate_spec}
