"""The large-array paths of relu, leaky_relu and batch_norm (bitwise selects, per-row
sums, work split over threads by parallel.py) against PyTorch, and the thread setting.

parallel.MIN_ELEMENTS is lowered so that the split runs on small arrays too; the
results must be the same bits with 1 thread and with several.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import functional as F, parallel

SHAPES = st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(5, 40), st.integers(5, 40))
LARGE = st.tuples(st.integers(2, 3), st.integers(2, 4), st.integers(33, 50), st.integers(33, 50))  # > 4096 elements
FIXTURE_OK = [HealthCheck.function_scoped_fixture]  # split_small holds for every example alike


@pytest.fixture(autouse=True)
def keep_thread_count():
    """Every test here may change the thread count: it is restored after each, failed or not."""
    threads = tc.get_num_threads()
    yield
    tc.set_num_threads(threads)


@pytest.fixture
def split_small(monkeypatch):
    """Split work of any size over threads."""
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 1)


def _with_specials(rng, shape, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[:6] = [np.nan, -np.inf, np.inf, 0.0, -0.0, 1e-30]  # edge values up front
    return x


def _run(fn, x, g, threads):
    tc.set_num_threads(threads)
    t = tc.tensor(x, requires_grad=True)
    out = fn(t)
    out.backward(tc.tensor(g))
    return out.numpy(), t.grad.numpy()


@settings(max_examples=6, suppress_health_check=FIXTURE_OK)
@given(shape=LARGE, dtype=st.sampled_from([np.float32, np.float64, np.float16]), seed=st.integers(0, 99))
def test_relu_and_leaky_relu_match_torch_on_large_arrays(split_small, shape, dtype, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x, g = _with_specials(rng, shape, dtype), _with_specials(rng, shape, dtype)[::-1].copy()
    cases = [(F.relu, torch.relu), (lambda t: F.leaky_relu(t, 0.2), lambda t: torch.nn.functional.leaky_relu(t, 0.2))]
    for ours, theirs in cases:
        tx = torch.tensor(x, requires_grad=True)
        want = theirs(tx)
        want.backward(torch.tensor(g))
        one, three = _run(ours, x, g, 1), _run(ours, x, g, 3)
        np.testing.assert_array_equal(one[0], three[0])  # the same bits with and without threads
        np.testing.assert_array_equal(one[1], three[1])
        assert one[0].dtype == dtype and one[1].dtype == dtype
        # exact, but PyTorch multiplies float16 by the slope in float32, then rounds
        tol = dict(rtol=1e-3, atol=0) if dtype == np.float16 else dict(rtol=0, atol=0)
        np.testing.assert_allclose(one[0], want.detach().numpy(), **tol)  # NaN == NaN here
        np.testing.assert_allclose(one[1], tx.grad.numpy(), **tol)


def test_tanh_on_threads_gives_the_same_bits(split_small):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 5, 7)) * 3).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    one, three = _run(lambda t: t.tanh(), x, g, 1), _run(lambda t: t.tanh(), x, g, 3)
    np.testing.assert_array_equal(one[0], three[0])
    np.testing.assert_array_equal(one[1], three[1])
    tx = torch.tensor(x, requires_grad=True)
    torch.tanh(tx).backward(torch.tensor(g))
    np.testing.assert_allclose(three[0], np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(three[1], tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_relu_large_noncontiguous_input_and_retained_graph():
    rng = np.random.default_rng(0)
    x = tc.tensor(rng.standard_normal((64, 130)).astype(np.float32), requires_grad=True)
    out = F.relu(x.T)  # a transposed view: no flat split, same result
    g = rng.standard_normal((130, 64)).astype(np.float32)
    out.backward(tc.tensor(g), retain_graph=True)
    first = x.grad.numpy().copy()
    out.backward(tc.tensor(g))  # the mask survives the first backward
    want = np.where(x.numpy().T > 0, g, 0).T
    np.testing.assert_array_equal(out.numpy(), np.maximum(x.numpy().T, 0))
    np.testing.assert_array_equal(first, want)
    np.testing.assert_array_equal(x.grad.numpy(), 2 * want)


@settings(max_examples=10, suppress_health_check=FIXTURE_OK)
@given(shape=SHAPES, training=st.booleans(), offset=st.sampled_from([0.0, 3.0, 1e4]), seed=st.integers(0, 99))
def test_batch_norm_split_over_threads_matches_torch(split_small, shape, training, offset, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.standard_normal(shape) * 2 + offset).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    w, b = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    rm, rv = rng.standard_normal(c).astype(np.float32) + offset, rng.uniform(0.5, 2, c).astype(np.float32)
    results = []
    for threads in (1, 2, 3):
        tc.set_num_threads(threads)
        xt, wt, bt = (tc.tensor(a, requires_grad=True) for a in (x, w, b))
        mean, var = rm.copy(), rv.copy()
        out = F.batch_norm(xt, mean, var, wt, bt, training=training, momentum=0.3)
        out.backward(tc.tensor(g))
        results.append([out.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy(), mean, var])
    for other in results[1:]:  # the same bits whatever the number of threads
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)
    txs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    tm, tv = torch.tensor(rm), torch.tensor(rv)
    want = torch.nn.functional.batch_norm(txs[0], tm, tv, txs[1], txs[2], training=training, momentum=0.3)
    want.backward(torch.tensor(g))
    expected = [want.detach().numpy()] + [t.grad.numpy() for t in txs] + [tm.numpy(), tv.numpy()]
    scale = 1 + np.abs(offset)
    for got, exp in zip(results[0], expected):
        np.testing.assert_allclose(got, exp, rtol=2e-3, atol=2e-3 * scale)


def test_set_num_threads_checks_its_argument():
    threads = tc.get_num_threads()
    with pytest.raises(TypeError, match="set_num_threads: n must be an int"):
        tc.set_num_threads(2.0)
    with pytest.raises(ValueError, match="set_num_threads: n must be >= 1, got 0"):
        tc.set_num_threads(0)
    assert tc.get_num_threads() == threads  # unchanged by the refusals
    tc.set_num_threads(1)
    assert tc.get_num_threads() == 1


def test_run_covers_every_row_once(split_small):
    seen = np.zeros(1001, int)

    def mark(i, j):
        seen[i:j] += 1

    for threads in (1, 2, 4):
        tc.set_num_threads(threads)
        parallel.run(mark, 1001, 3)
    np.testing.assert_array_equal(seen, 3)
