"""The chunked CPU conv (ops/conv_chunked.py, chosen for large column matrices) forced onto
small convs, many chunks each, against PyTorch: values and all gradients, 1-3 spatial axes,
stride, dilation, groups, NaN/inf, and only one of the input/weight gradients."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import functional as F
from tinygrad_conv.ops import conv, conv_chunked


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (NaN/inf inputs)
@settings(max_examples=30, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_chunked_conv_matches_torch(data, dtype):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv, "CHUNK_MIN_BYTES", 0)  # every CPU conv takes the chunked path ...
        patch.setattr(conv_chunked, "CHUNK_BYTES", 1)  # ... in chunks of 16 pixels
        patch.setattr(conv, "GARBAGE_LIMIT", float("inf"))  # (even mostly-garbage grids)
        check_against_torch(data, dtype)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (NaN/inf inputs)
@settings(max_examples=20, deadline=None)
@given(data=st.data(), chunked=st.booleans())
def test_wrapped_rows_match_torch(data, chunked):
    """Stride-1 convs whose last axis keeps its size (conv.py's wrapped rows: no padding columns,
    the reads past a row end zeroed in the columns), whole and chunked. float64: PyTorch's
    float32 conv skips padding, so a NaN weight over padding differs there (see test_nonfinite)."""
    dtype = np.float64
    with pytest.MonkeyPatch.context() as patch:
        if chunked:
            patch.setattr(conv, "CHUNK_MIN_BYTES", 0)
            patch.setattr(conv_chunked, "CHUNK_BYTES", 1)  # (chunks of whole rows)
        check_against_torch(data, dtype, wrapped=True, layout=conv_chunked if chunked else conv)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (NaN/inf inputs)
@settings(max_examples=30, deadline=None)
@given(data=st.data(), wrapped=st.booleans())
def test_input_grad_by_correlation_matches_torch(data, wrapped):
    """conv_chunked._input_grad (dx of a stride-1 conv as the correlation of the gradient's
    columns with the weight) for every ratio of channels, not only the fewer outputs it is
    chosen for, wrapped rows included, in chunks of 16 pixels; NaN/inf in x (a NaN/inf
    weight takes col2im: see _correlates)."""
    def correlates(geo, w):  # _correlates without its channel condition
        return all(s == 1 for s in geo.stride) and len(geo.starts) > 1 and bool(np.isfinite(w).all())

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv, "CHUNK_MIN_BYTES", 0)
        patch.setattr(conv_chunked, "CHUNK_BYTES", 1)
        patch.setattr(conv, "GARBAGE_LIMIT", float("inf"))
        patch.setattr(conv_chunked, "_correlates", correlates)
        check_against_torch(data, np.float64, wrapped=wrapped)


def test_input_grad_by_correlation_is_chosen_for_fewer_outputs():
    geo = conv.geometry(np.zeros((2, 8, 9, 9)), np.zeros((4, 8, 3, 3)), None, 1, 1, 1, 1, np.float64)
    w = np.ones((1, 4, 72))
    assert conv_chunked._correlates(geo, w)
    assert not conv_chunked._correlates(geo, np.where(np.arange(72) == 5, np.inf, w))  # (col2im keeps NaN/inf exact)
    same = conv.geometry(np.zeros((2, 8, 9, 9)), np.zeros((8, 8, 3, 3)), None, 1, 1, 1, 1, np.float64)
    assert not conv_chunked._correlates(same, np.ones((1, 8, 72)))
    strided = conv.geometry(np.zeros((2, 8, 9, 9)), np.zeros((4, 8, 3, 3)), None, 2, 1, 1, 1, np.float64)
    assert not conv_chunked._correlates(strided, w)


def check_against_torch(data, dtype, wrapped=False, layout=conv_chunked):
    torch = pytest.importorskip("torch")
    d = data.draw(st.sampled_from([1, 2, 3]))
    axis = lambda lo, hi: tuple(data.draw(st.integers(lo, hi)) for _ in range(d))  # noqa: E731
    groups = data.draw(st.integers(1, 2))
    c_in, c_out = groups * data.draw(st.integers(1, 3)), groups * data.draw(st.integers(1, 3))
    kernel, stride, dilation = axis(1, 3), axis(1, 2), axis(1, 2)
    padding = tuple(data.draw(st.integers(0, k)) for k in kernel)
    if wrapped:  # stride 1, and the last axis padded to keep its size: 2 p = dilation (kernel - 1) > 0
        k, dl = data.draw(st.sampled_from([(3, 1), (3, 2), (2, 2)]))
        kernel, stride, dilation = kernel[:-1] + (k,), (1,) * d, dilation[:-1] + (dl,)
        padding = padding[:-1] + (dl * (k - 1) // 2,)
    size = tuple(max(1, dl * (k - 1) + 1 - 2 * p) + data.draw(st.integers(0, 9 if d < 3 else 3))
                 for k, dl, p in zip(kernel, dilation, padding))
    rng = np.random.default_rng(d)
    x = rng.standard_normal((data.draw(st.integers(1, 2)), c_in) + size).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups) + kernel).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    for a in (x, w):  # a NaN/inf must reach only what PyTorch's reaches
        for _ in range(data.draw(st.integers(0, 3))):
            a.flat[data.draw(st.integers(0, a.size - 1))] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    needs = data.draw(st.sampled_from([(True, True), (True, False), (False, True)]))  # x, weight
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    ours = [tc.tensor(a, requires_grad=r) for a, r in zip((x, w, b), needs + (True,))]
    theirs = [torch.tensor(a, requires_grad=r) for a, r in zip((x, w, b), needs + (True,))]
    out = getattr(F, f"conv{d}d")(*ours, **params)
    ref = getattr(torch.nn.functional, f"conv{d}d")(*theirs, **params)
    geo = conv.geometry(x, w, b, **params, dtype=dtype)
    assert conv.layout_of(x, geo) is layout and (geo.keep is not None or not wrapped)
    assert out.dtype == dtype
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **tol)
    g = rng.standard_normal(out.shape).astype(dtype)
    out.backward(tc.tensor(g))
    ref.backward(torch.tensor(g))
    for t, r in zip(ours, theirs):
        assert (t.grad is None) == (r.grad is None)
        if r.grad is not None:
            assert t.grad.dtype == dtype
            np.testing.assert_allclose(t.grad.numpy(), r.grad.numpy(), **tol)


def test_large_convs_choose_the_chunked_path(monkeypatch):
    monkeypatch.setattr(conv, "CHUNK_MIN_BYTES", 32 << 20)  # (off by default: see conv.py)
    x = np.zeros((1, 16, 512, 512), np.float32)
    w = np.zeros((16, 16, 3, 3), np.float32)
    assert conv.layout_of(x, conv.geometry(x, w, None, 1, 1, 1, 1, np.float32)) is conv_chunked
    small = x[:, :, :64, :64]
    assert conv.layout_of(small, conv.geometry(small, w, None, 1, 1, 1, 1, np.float32)) is conv
    wide = np.zeros((64, 16, 3, 3), np.float32)  # many output channels: the GEMMs are not memory-bound
    assert conv.layout_of(x, conv.geometry(x, wide, None, 1, 1, 1, 1, np.float32)) is conv
