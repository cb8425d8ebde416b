"""Cross-entropy on the GPU in two launches: the common case of ``CrossEntropy`` in losses.py
(logits ``(N, C)``, class indices, no weights, no smoothing, the mean).

As a chain of CuPy calls (max, subtract, exp, sum, log, subtract, gather, mean,
then exp, scatter, multiply) it is a dozen launches of ~10-30 us of Python
each, more than the whole rest of a small network's step. Here:

- forward: one block; each thread takes rows ``r``, computes the stable
  ``log_softmax`` of the row (shift by its maximum) and ``-log_probs[r, target[r]]``;
  the block adds the rows' losses and writes their mean.
- backward: ``softmax * g - onehot(target) * g`` with ``g = grad / N``, a thread per element.
"""
import functools

from .. import backend

_THREADS = 256

_FORWARD = """
extern "C" __global__ void cross_entropy_forward(const T* logits, const long long* target, T* log_probs, T* loss) {
    __shared__ T partial[THREADS];
    T total = 0;
    for (int r = threadIdx.x; r < N; r += THREADS) {
        const T* row = logits + (long long)r * C;
        T* out = log_probs + (long long)r * C;
        T top = row[0];
        for (int c = 1; c < C; ++c) top = (row[c] > top || row[c] != row[c]) ? row[c] : top;  // NaN wins
        T sum = 0;
        for (int c = 0; c < C; ++c) sum += exp(row[c] - top);
        const T shift = top + log(sum);
        for (int c = 0; c < C; ++c) out[c] = row[c] - shift;
        total -= out[target[r]];
    }
    partial[threadIdx.x] = total;
    __syncthreads();
    for (int half = THREADS / 2; half > 0; half /= 2) {  // tree sum of the threads' totals
        if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) loss[0] = partial[0] / N;
}
"""

_BACKWARD = """
extern "C" __global__ void cross_entropy_backward(const T* log_probs, const long long* target, const T* grad, T* out) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;  // over (r, c)
    if (i >= N * C) return;
    const int r = i / C, c = i % C;
    const T scale = grad[0] / N;  // softmax * scale - onehot * scale: PyTorch's order (inf - inf = NaN)
    out[i] = exp(log_probs[i]) * scale - (c == target[r] ? scale : (T)0);
}
"""


@functools.lru_cache(maxsize=64)
def _kernel(name, source, n, c, dtype):
    header = f"typedef {backend.c_type(dtype)} T;\nconst int N = {n}, C = {c}, THREADS = {_THREADS};\n"
    return backend.raw_kernel(header + source, name)


def cross_entropy(logits, target):
    """(mean loss as a 0-d array, log_probs) for logits ``(N, C)`` and int64 targets ``(N,)``."""
    xp, (n, c) = backend.xp(logits), logits.shape
    logits = xp.ascontiguousarray(logits)
    log_probs, loss = xp.empty_like(logits), xp.empty((), logits.dtype)
    kernel = _kernel("cross_entropy_forward", _FORWARD, n, c, logits.dtype)
    kernel((1,), (_THREADS,), (logits, target, log_probs, loss))
    return loss, log_probs


def cross_entropy_backward(log_probs, target, grad):
    """dlogits ``(N, C)`` for dL/dloss ``grad`` (a 0-d array)."""
    n, c = log_probs.shape
    out = backend.xp(log_probs).empty_like(log_probs)
    backend.launch(_kernel("cross_entropy_backward", _BACKWARD, n, c, log_probs.dtype), out.size,
                   log_probs, target, backend.cast(grad, log_probs.dtype), out)
    return out
