"""Large elementwise work spread over a few threads (CPU only).

NumPy runs each ufunc on one thread, where PyTorch uses every core.
``run(fn, rows, row_size)`` calls ``fn(start, stop)`` on consecutive row ranges:
above ``MIN_ELEMENTS`` elements, one contiguous range per thread, all at once
(NumPy releases the GIL inside its loops); below, ``fn(0, rows)`` on the calling
thread. ``elementwise`` does it for arrays of one shape.

Deterministic: every element is computed by the same ufunc calls whatever the
number of threads; a range only writes its own rows, and per-row results are
combined by the caller in a fixed order.

``tc.set_num_threads(n)`` (as ``torch.set_num_threads``) sets the thread count; 1
turns the threads off. The environment variable ``TINYGRAD_CONV_NUM_THREADS`` sets
it at import. Default: 1. Measured on the shared 2-core development machine under
load, handing a range to a worker thread cost up to ~5 ms (the worker waits for a
core and for the GIL), more than the elementwise work it saved; on an idle machine
2 threads halve the time of large ``tanh`` and batch-norm passes.
"""
import os
from concurrent.futures import ThreadPoolExecutor

from . import checks

MIN_ELEMENTS = 1 << 18  # below this one thread: handing work to another costs ~20-50 us


def _default_threads():
    env = os.environ.get("TINYGRAD_CONV_NUM_THREADS")
    return max(1, int(env)) if env else 1


_threads = _default_threads()
_pool, _pool_size = None, 0


def set_num_threads(n):
    """Use ``n`` threads (an int >= 1) for large elementwise work; 1: no extra threads."""
    global _threads
    _threads = checks.positive_int(n, "n", "set_num_threads")


def get_num_threads():
    """The number of threads large elementwise work is spread over."""
    return _threads


def _pool_of(workers):
    global _pool, _pool_size
    if _pool is None or _pool_size < workers:
        _pool, _pool_size = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tinygrad_conv"), workers
    return _pool


def run(fn, rows, row_size):
    """Call ``fn(start, stop)`` for row ranges covering ``range(rows)`` (rows of
    ``row_size`` elements): one range per thread, run at once, when the work is large."""
    parts = min(_threads, rows) if rows * row_size >= MIN_ELEMENTS else 1
    if parts <= 1:
        return fn(0, rows)
    bounds = [rows * p // parts for p in range(parts + 1)]
    futures = [_pool_of(parts - 1).submit(fn, bounds[p], bounds[p + 1]) for p in range(1, parts)]
    fn(bounds[0], bounds[1])
    for f in futures:
        f.result()


def elementwise(fn, out, *arrays):
    """``fn(*arrays, out)`` (NumPy arrays of one shape; ``fn`` writes its result into its last
    argument), split over threads along the flattened arrays when all are C-contiguous.
    Returns ``out``."""
    if not (out.flags.c_contiguous and all(a.flags.c_contiguous for a in arrays)):
        fn(*arrays, out)
        return out
    flat = [a.reshape(-1) for a in arrays] + [out.reshape(-1)]
    run(lambda i, j: fn(*[a[i:j] for a in flat]), out.size, 1)
    return out
