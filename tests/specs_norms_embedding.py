"""Gradcheck specs for issue 19's normalisations and embedding, merged into ``SPECS`` of
test_registry_gradcheck.py. Same contract: ``spec(data)`` draws float64 arrays and returns
``(fn, arrays)``."""
import numpy as np
from hypothesis import strategies as st

import tinygrad_conv as tc
from tinygrad_conv import functional as F
from test_registry_gradcheck import array

small = st.integers(1, 3)


def _weighted(out_fn, s):
    """``out_fn``'s output times fixed distinct weights: a plain sum of a normalised output
    has zero gradient, which would check nothing."""
    weights = np.cos(np.arange(1.0, 1 + np.prod(s))).reshape(s)
    return lambda *t: out_fn(*t) * weights.astype(t[0].dtype)


def group_norm_spec(data):
    """The one op behind group_norm, layer_norm and instance_norm (running statistics
    updated or not), with and without weight and bias; values spread out (variance > 0)."""
    kind = data.draw(st.sampled_from(["group", "layer", "instance"]))
    n, groups, per_group = data.draw(small), data.draw(small), data.draw(small)
    c = groups * per_group
    s = (n, c) + tuple(data.draw(st.lists(small, min_size=0 if kind != "instance" else 1, max_size=2)))
    if (kind == "instance" and np.prod(s[2:]) == 1) or n * per_group * np.prod(s[2:]) == 1:  # PyTorch refuses
        s = s + (2,)
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    x = array(data, s) + 2 * rng.standard_normal(s)
    k = data.draw(st.integers(1, len(s) - 1)) if kind == "layer" else 1  # PyTorch refuses an empty shape
    affine_shape = s[len(s) - k:] if kind == "layer" else (c,)
    affine = data.draw(st.booleans())
    arrays = [x] + ([array(data, affine_shape), array(data, affine_shape)] if affine else [])
    running = data.draw(st.booleans()) and kind == "instance"

    def out(x, *wb):
        if kind == "group":
            return F.group_norm(x, groups, *wb, eps=1e-3)
        if kind == "layer":
            return F.layer_norm(x, affine_shape, *wb, eps=1e-3)
        stats = [tc.zeros(c, dtype=x.dtype, device=x.device), tc.ones(c, dtype=x.dtype, device=x.device)] if running else [None, None]
        return F.instance_norm(x, *stats, *(wb or (None, None)), eps=1e-3)

    return _weighted(out, s), arrays


def embedding_spec(data):
    """Repeated indices (their gradients add) and a padding row. The padding row's zero
    gradient and ``scale_grad_by_freq`` are not derivatives of the forward (PyTorch's
    semantics), so here the padding row is one no index picks; test_norms_embedding.py
    compares both with PyTorch."""
    v, d = data.draw(st.integers(1, 5)), data.draw(small)
    idx_shape = tuple(data.draw(st.lists(small, min_size=0, max_size=2)))
    indices = np.array(data.draw(st.lists(st.integers(0, v - 1), min_size=int(np.prod(idx_shape)),
                                          max_size=int(np.prod(idx_shape)))), np.int64).reshape(idx_shape)
    unused = sorted(set(range(v)) - set(indices.ravel().tolist()))
    padding_idx = data.draw(st.sampled_from([None] + unused))
    fn = _weighted(lambda w: F.embedding(tc.tensor(indices), w, padding_idx), idx_shape + (d,))
    return fn, [array(data, (v, d))]


SPECS = {"group_norm": group_norm_spec, "embedding": embedding_spec}
