"""The cache-blocked, threaded CPU paths of the normalisations (ops/norm.py, ops/norms.py),
forced at small sizes by shrinking the block and the threshold for threads: the values
of PyTorch (in float64), and bit for bit the same results with 1 and 3 threads."""
import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import functional as F, parallel
from tinygrad_conv.ops import norm


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Blocks of 64 elements (rows of more are cut in chunks), threads from 1 element on."""
    threads = tc.get_num_threads()
    monkeypatch.setattr(norm, "_BLOCK", 64)
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 1)
    norm._blocks.cache_clear()  # (cached per shape, for the block size in force)
    yield
    norm._blocks.cache_clear()
    tc.set_num_threads(threads)


# (name, x shape, affine shape, keyword arguments, offset of the values)
CASES = [
    ("batch_norm", (3, 4, 150), (4,), {}, 0.0),  # rows of 150: chunks of one row
    ("batch_norm", (5, 3, 7, 5), (3,), {}, 0.0),  # rows of 35: several rows a block
    ("batch_norm", (4, 2, 40), (2,), {}, 300.0),  # mean >> spread: the two-pass statistics
    ("batch_norm", (53, 6), (6,), {}, 0.0),  # (N, C): column sums over blocks of 10 images, the last of 3
    ("group_norm", (4, 6, 9, 9), (6,), dict(num_groups=3), 0.0),
    ("instance_norm", (3, 4, 10, 10), (4,), {}, 0.0),
    ("layer_norm", (6, 5, 40), (40,), dict(normalized_shape=(40,)), 0.0),  # 40 per sample: one a block
    ("layer_norm", (7, 3, 30), (3, 30), dict(normalized_shape=(3, 30)), 0.0),  # 90 > 64 elements a sample
    ("layer_norm", (30, 20), (20,), dict(normalized_shape=(20,)), 50.0),  # three samples a block, offset
    ("group_norm", (40, 8), (8,), dict(num_groups=2), 0.0),  # (N, C): the elementwise-weight path with G = 2
    ("layer_norm", (9, 20), (20,), dict(normalized_shape=(20,)), 0.0),  # <= 4 blocks' worth: the xhat path
]


def _run(lib, name, x, w, b, g, kwargs):
    """Output and gradients of x, weight, bias as float64 arrays."""
    fn = getattr(F if lib is tc else lib.nn.functional, name)
    tensors = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
    if name == "batch_norm":
        c = x.shape[1]
        out = fn(tensors[0], lib.zeros(c, dtype=tensors[0].dtype), lib.ones(c, dtype=tensors[0].dtype),
                 tensors[1], tensors[2], training=True)
    else:
        out = fn(tensors[0], weight=tensors[1], bias=tensors[2], **kwargs)
    out.backward(lib.tensor(g))
    return [np.asarray(a.detach().numpy(), np.float64) for a in [out] + [t.grad for t in tensors]]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}{c[1]}")
def test_blocked_threaded_paths_match_torch_and_one_thread(tiny_blocks, case):
    torch = pytest.importorskip("torch")
    name, shape, affine, kwargs, offset = case
    rng = np.random.default_rng(len(shape) + shape[0])
    x = (rng.standard_normal(shape) * 2 + offset).astype(np.float32)
    w, b = (rng.standard_normal(affine).astype(np.float32) for _ in range(2))
    g = rng.standard_normal(shape).astype(np.float32)
    results = {}
    for threads in (1, 3):
        tc.set_num_threads(threads)
        results[threads] = _run(tc, name, x, w, b, g, kwargs)
    for one, three in zip(results[1], results[3]):
        np.testing.assert_array_equal(one, three)  # the same block boundaries and orders of summation
    want = _run(torch, name, *(a.astype(np.float64) for a in (x, w, b, g)), kwargs)
    for i, (mine, ref) in enumerate(zip(results[1], want)):
        np.testing.assert_allclose(mine, ref, rtol=2e-4, atol=2e-4 * max(1.0, np.abs(ref).max()), err_msg=f"result {i}")


@pytest.mark.parametrize("shape", [(2 * 256 + 3, 2, 3), (9, 5, 1), (8, 1, 63)])
def test_short_rows_are_summed_as_columns_over_every_image(shape):
    """Rows shorter than _DOT_ROW take _column_sums: blocks of up to _SUM_ROWS images (a
    partial last one here) summed in float64, each channel's values added up."""
    rng = np.random.default_rng(sum(shape))
    x, y = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    assert shape[2] < norm._DOT_ROW and shape[0] >= norm._COLUMN_IMAGES
    sum_x, sum_xy = norm._channel_sums(x, y)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    np.testing.assert_allclose(sum_x, x64.sum(axis=(0, 2)), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(sum_xy, (x64 * y64).sum(axis=(0, 2)), rtol=1e-6, atol=1e-5)
