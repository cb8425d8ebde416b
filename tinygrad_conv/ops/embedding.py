"""Embedding lookup: rows of a weight matrix picked by integer indices."""
import numpy as np

from .base import Op
from .movement import index_add
from .. import backend

_ROUNDS = 16  # scatters of the k-th occurrences; an index repeated more often is summed by reduceat
_SCATTER_MIN = 1 << 15  # gradient values from which row scatters beat add.at (its ~10 us fixed cost below)


class Embedding(Op):
    """``weight[indices]``: ``weight (V, D)`` and integer ``indices (*)`` give ``(*, D)``.

    Backward adds each output row's gradient into the row it came from (repeated
    indices add up, through ``index_add``), after multiplying it by ``row_scale``
    (a constant of the indices' shape, or None; ``1 / count`` for ``scale_grad_by_freq``).
    Row ``padding_idx`` (or None) gets a zero gradient, as in PyTorch, even where the
    upstream gradient is NaN or inf: its rows go to a spare row V that is dropped
    (multiplying them by 0 would give NaN).
    """

    saved = ()  # the gradient is linear in grad: indices and scales are constants

    def forward(self, weight, indices, row_scale=None, padding_idx=None):
        self.row_scale, self.shape = row_scale, weight.shape
        self.targets, self.rows = indices, weight.shape[0]  # rows the gradient is scattered into
        if padding_idx is not None:
            self.targets = backend.xp(indices).where(indices == padding_idx, self.rows, indices)
            self.rows += 1
        return backend.xp(weight).take(weight, indices, axis=0)  # (about twice as fast as weight[indices] here)

    def backward(self, grad):
        if self.row_scale is not None:
            grad = grad * self.row_scale[..., None]
        v, d = self.shape
        targets = self.targets
        if isinstance(grad, np.ndarray) and targets.size * d >= _SCATTER_MIN:
            return (_scatter_rows(self.rows, targets.reshape(-1), grad.reshape(targets.size, d))[:v],)
        # (CuPy, or a Tensor when differentiated again) add element by element into the flat
        # weight: add.at has a fast path for 1-D operands that rows of a 2-D one miss
        flat = (targets.reshape(-1, 1).astype("int64") * d + backend.xp(targets).arange(d)).reshape(-1)
        dw = backend.zeros((self.rows * d,), grad.dtype, like=grad)
        return (index_add(dw, flat, grad.reshape(-1)).reshape(self.rows, d)[:v],)


def _scatter_rows(v, indices, rows):
    """``(V, D)`` zeros with each row of ``rows (T, D)`` added at ``indices (T,)`` (NumPy).

    ``np.add.at`` costs ~4 ns an element; row scatters cost what a copy does. Round k
    scatters the k-th occurrence of every index (one row each, so no index repeats within
    a round), in order of occurrence, as ``add.at`` adds; round 0 assigns ``rows + 0.0``
    (``0 + -0.0`` is ``+0.0``). The rest of an index repeated more than ``_ROUNDS`` times is
    summed in one ``reduceat`` segment."""
    n = indices.size
    order = np.argsort(indices, kind="stable")  # by index, then by occurrence
    sorted_idx = indices[order]
    first = np.empty(n, bool)
    first[0] = True
    np.not_equal(sorted_idx[1:], sorted_idx[:-1], out=first[1:])
    position = np.arange(n)
    rank = position - np.maximum.accumulate(np.where(first, position, 0))  # k: the k-th occurrence
    by_rank = order[np.argsort(rank, kind="stable")]
    counts = np.bincount(rank)
    out = np.zeros((v, rows.shape[1]), rows.dtype)
    picked = np.take(rows, by_rank[:counts[0]], axis=0)
    picked += 0.0
    out[indices[by_rank[:counts[0]]]] = picked
    start = counts[0]
    for count in counts[1:_ROUNDS]:
        some = by_rank[start:start + count]
        out[indices[some]] += np.take(rows, some, axis=0)
        start += count
    if start < n:  # indices repeated more than _ROUNDS times: few, each one long segment
        tail = order[rank >= _ROUNDS]
        tail_idx = indices[tail]
        starts = np.flatnonzero(np.concatenate(([True], tail_idx[1:] != tail_idx[:-1])))
        out[tail_idx[starts]] += np.add.reduceat(np.take(rows, tail, axis=0), starts, axis=0)
    return out
