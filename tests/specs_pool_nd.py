"""Gradcheck specs of the pooling family in 1, 2 and 3 dimensions (avg, max, adaptive,
max_unpool): merged into ``SPECS`` of test_registry_gradcheck.py, replacing the 2-D pooling
specs of specs_conv_family.py. Every option is drawn, unbatched inputs included."""
import numpy as np
from hypothesis import strategies as st

from test_registry_gradcheck import array, distinct_array
from tinygrad_conv import ops

MAX_SIDE = {1: 6, 2: 5, 3: 4}


def _lead(data):
    """Batch and channel axes: (N, C), or (C,) for an unbatched input."""
    n, c = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    return (c,) if data.draw(st.booleans()) else (n, c)


def pool_spec(family, dims):
    def spec(data):
        op = ops.registry[f"{family}_pool{dims}d"]
        ints = lambda lo, hi: tuple(data.draw(st.integers(lo, hi)) for _ in range(dims))  # noqa: E731
        k = ints(1, 3)
        s = data.draw(st.one_of(st.none(), st.just(ints(1, 2))))
        d = ints(1, 2) if family == "max" else (1,) * dims
        p = [data.draw(st.integers(0, ki // 2)) for ki in k]
        ceil_mode = data.draw(st.booleans())
        sizes = []
        for i in range(dims):
            span = d[i] * (k[i] - 1) + 1
            sizes.append(data.draw(st.integers(max(1, span - 2 * p[i]), max(MAX_SIDE[dims], span))))
            stride = (s or k)[i]
            out = (sizes[i] + 2 * p[i] - span + (stride - 1 if ceil_mode else 0)) // stride + 1
            if any(all(not 0 <= j * stride - p[i] + a * d[i] < sizes[i] for a in range(k[i])) for j in range(out)):
                p[i], sizes[i] = 0, max(sizes[i], span)  # no window wholly in the padding (it gives -inf)
        params = dict(kernel_size=k, stride=s, padding=tuple(p), ceil_mode=ceil_mode)
        if family == "max":
            params["dilation"] = d
        else:
            params["count_include_pad"] = data.draw(st.booleans())
            if dims > 1:
                params["divisor_override"] = data.draw(st.one_of(st.none(), st.integers(1, 5)))
        shape = _lead(data) + tuple(sizes)
        x = distinct_array(data, shape) if family == "max" else array(data, shape)
        return (lambda t: op.apply(t, **params)), [x]

    return spec


def adaptive_spec(family, dims):
    def spec(data):
        op = ops.registry[f"adaptive_{family}_pool{dims}d"]
        shape = _lead(data) + tuple(data.draw(st.integers(1, MAX_SIDE[dims] + 1)) for _ in range(dims))
        size = tuple(data.draw(st.integers(1, 4)) for _ in range(dims))
        x = distinct_array(data, shape) if family == "max" else array(data, shape)
        return (lambda t: op.apply(t, output_size=size)), [x]

    return spec


def unpool_spec(dims):
    def spec(data):
        op = ops.registry[f"max_unpool{dims}d"]
        k = tuple(data.draw(st.integers(1, 3)) for _ in range(dims))
        s = tuple(data.draw(st.integers(1, 2)) for _ in range(dims))
        lead = _lead(data)
        sizes = tuple(data.draw(st.integers(1, MAX_SIDE[dims] - 1)) for _ in range(dims))
        plane = int(np.prod([(n - 1) * si + ki for n, si, ki in zip(sizes, s, k)]))
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
        # distinct indices in each plane (repeated ones would make the forward's last write and
        # the backward's gather disagree, in PyTorch too)
        idx = np.stack([rng.permutation(plane)[: int(np.prod(sizes))] for _ in range(int(np.prod(lead)))])
        idx = idx.reshape(lead + sizes)
        return (lambda t: op.apply(t, indices=idx, kernel_size=k, stride=s)), [array(data, lead + sizes)]

    return spec


SPECS = {}
for _dims in (1, 2, 3):
    SPECS[f"avg_pool{_dims}d"] = pool_spec("avg", _dims)
    SPECS[f"max_pool{_dims}d"] = pool_spec("max", _dims)
    SPECS[f"adaptive_avg_pool{_dims}d"] = adaptive_spec("avg", _dims)
    SPECS[f"adaptive_max_pool{_dims}d"] = adaptive_spec("max", _dims)
    SPECS[f"max_unpool{_dims}d"] = unpool_spec(_dims)
