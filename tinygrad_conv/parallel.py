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
it at import. Default: the cores this process may use, at most ``MAX_DEFAULT``
(PyTorch also uses every core; NumPy's memory-bound passes gain little past a few).
Measured on the idle 2-core development machine, 2 threads against 1 on (2,8,512,512)
float32 forward + backward: relu 2.2 -> 1.6x PyTorch, tanh 1.7 -> 1.2x, sigmoid
5.7 -> 3.7x, batch norm 1.5 -> 1.4x. Below ``MIN_ELEMENTS`` a handoff (~50-70 us to
wake the worker on this VM, up to ms under load: it waits for a core and the GIL) costs
more than it saves: at 2**18 values 2 threads made relu and batch norm 1.2-1.4x slower;
at 2**20 (a ResNet batch of 32x32x32x32) relu's passes, one call per thread, took 0.8-0.95x
one thread's time.

Cache blocking: ``blocked(kernel, ...)`` runs a pointwise kernel of many NumPy passes on
arrays of ``LARGE`` values or more (``elementwise``, whose kernels make two or three
cheap passes: ``ELEMENTWISE_LARGE``) in blocks of ``BLOCK`` values, each block through
all of its passes while it is in the core's L2 cache (on whole arrays larger than the
caches every pass goes to main memory), the blocks spread over the threads. Smaller
arrays: ``blocked`` makes one call, ``elementwise`` one per thread.
Blocks are cut at multiples of 64 values, so each value sits in the same SIMD lane as
in one call on the whole array: the same bits.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import checks

MIN_ELEMENTS = 1 << 20  # below this one thread (see above)
MAX_DEFAULT = 4


def _default_threads():
    env = os.environ.get("TINYGRAD_CONV_NUM_THREADS")
    if env:
        return max(1, int(env))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_DEFAULT, cores or 1))


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
    argument), in blocks spread over threads (see ``splits``) when all are C-contiguous.
    Returns ``out``."""
    if not (out.flags.c_contiguous and all(a.flags.c_contiguous for a in arrays)):
        fn(*arrays, out)
        return out
    flat = [a.reshape(-1) for a in arrays] + [out.reshape(-1)]
    block = _block_size(out.size)

    def blocks(first, stop):
        for i in range(first * block, min(stop * block, out.size), block):
            fn(*[a[i:i + block] for a in flat])
    run(blocks, -(-out.size // block), block)
    return out


# ----- cache blocking -----------------------------------------------------------------------------
# Values per block: 256K float32 are 1 MiB an array, so a kernel's input, output and a
# few temporaries stay in L3 (32 MiB here); smaller blocks pay NumPy's ~1-5 us a call, and
# on two threads a GIL handoff (~50 us to wake the other thread), more often (4M values,
# loaded machine: gelu's forward 94 ms whole, 55 ms in blocks of 64K, 67 of 32K, 99 of 4K;
# the backwards of silu, tanh 10-30% faster at 64K than 16K; then silu, gelu, sigmoid, elu
# fwd+bwd on 2 threads at 2**20 and 2**22 values: 0.65-0.85x the time of 64K at 256K,
# 256K as fast as or faster than 128K and 512K).
BLOCK = 1 << 18  # a multiple of 64: see the module docstring
# From how many values on to cut blocks: below, the arrays of a kernel fit in L3 and one
# call is faster (524K values: silu's forward 2.4 ms whole, 2.9 in blocks of 64K; 1M: 6.8
# and 5.5; 4M: 36 and 22; CPU time). ``blocked`` splits nothing below: one block per
# thread, copied back, made sigmoid, silu, gelu, elu fwd+bwd at 262K-524K values 1.2-1.6x
# slower on 2 threads than one call (A/B, fairly idle machine).
LARGE = 1 << 20


# From how many values on ``elementwise`` cuts blocks: its kernels are two or three cheap
# passes, and below this one call per thread and pass was faster than blocks of BLOCK
# (relu's mask and select on 2 threads, 2**20 - 2**22 float32 values: 0.5-0.9x the time;
# each block's calls hand the GIL between the threads, and on this VM waking the
# waiting thread costs ~50 us). At 2**24 (64 MB a float32 array) blocks were as fast or faster.
ELEMENTWISE_LARGE = 1 << 23


def _block_size(size):
    """Values per block of ``elementwise`` for arrays of ``size`` values: BLOCK from
    ELEMENTWISE_LARGE on, else one block per thread (a multiple of 64, as BLOCK: the same
    SIMD lanes)."""
    if size >= ELEMENTWISE_LARGE:
        return BLOCK
    parts = _threads if size >= MIN_ELEMENTS else 1
    return -(-size // (64 * parts)) * 64


def splits(a):
    """Whether ``elementwise`` cuts an array like ``a`` into blocks (else: one call)."""
    return type(a) is np.ndarray and _block_size(a.size) < a.size


def _leaves(tree):
    """The NumPy arrays in ``tree`` (an array, or a tuple nesting arrays and other things), in order."""
    if isinstance(tree, tuple):
        return [leaf for t in tree for leaf in _leaves(t)]
    return [tree] if type(tree) is np.ndarray else []


def _map(fn, tree):
    """``tree`` with ``fn(array)`` in place of each NumPy array in it."""
    if isinstance(tree, tuple):
        return tuple(_map(fn, t) for t in tree)
    return fn(tree) if type(tree) is np.ndarray else tree


def _slicer(tree, block):
    """``at(i)``: ``tree`` with each NumPy array in it replaced by values ``i:i + block`` of
    its flattened values (built once: a block costs a few calls, not a walk of the tree)."""
    if isinstance(tree, tuple):
        parts = [_slicer(t, block) for t in tree]
        return lambda i: tuple(p(i) for p in parts)
    if type(tree) is np.ndarray:
        flat = tree.reshape(-1)
        return lambda i: flat[i:i + block]
    return lambda i: tree


def blocked(kernel, *args, **params):
    """``kernel(*args, **params)``, computed block by block when it pays: ``kernel`` is
    pointwise (value i of each result depends only on value i of each array in ``args``)
    and returns an array of its input's shape, or a tuple nesting such arrays and other
    things (or None). Where the NumPy arrays in ``args`` (which may nest in tuples) are
    all C-contiguous, of one size, at least ``LARGE``, the kernel runs on consecutive
    blocks of BLOCK of their flattened values, each result copied into a full-size array
    of the first array's shape, the blocks spread over the threads. A kernel with the
    attribute ``into = True`` takes ``out=`` (its results' tree of arrays to write) and gets
    the full arrays' slices after the first block: no copy of its results. Otherwise (CuPy,
    Tensors, smaller or strided arrays): one call."""
    arrays = _leaves(args)
    size, block = (arrays[0].size if arrays else 0), BLOCK
    if size < LARGE or not all(a.size == size and a.flags.c_contiguous for a in arrays):
        return kernel(*args, **params)
    block_args = _slicer(args, block)
    into = getattr(kernel, "into", False)
    # the first block done says which arrays to allocate: (full arrays, their block slicer),
    # appended as one item, so another thread sees both or neither
    full, lock = [], threading.Lock()

    def blocks(first_block, stop_block):
        for i in range(first_block * block, min(stop_block * block, size), block):
            if into and full:  # the kernel writes its results straight into the full arrays
                kernel(*block_args(i), out=full[0][1](i), **params)
                continue
            results = kernel(*block_args(i), **params)
            with lock:
                if not full:
                    arrays_out = _map(lambda r: np.empty(arrays[0].shape, r.dtype), results)
                    full.append((arrays_out, _slicer(arrays_out, block)))
            for target, r in zip(_leaves(full[0][0]), _leaves(results)):
                target.reshape(-1)[i:i + block] = r
    run(blocks, -(-size // block), block)
    return full[0][0]  # (None where the kernel declines these parameters)
