"""The seed notebook's toy data set and a mini-batch iterator.

``make_lines`` draws noisy images holding one vertical or horizontal line;
``batches`` walks through a data set in (shuffled) mini-batches.
"""
import numpy as np

from . import checks, random
from .tensor import Tensor


def make_lines(n, size=16, noise=0.1, seed=None, return_masks=False):
    """``n`` images of one 3-pixel wide line of +1 on ``noise * N(0, 1)`` background.

    Returns ``X`` float32 ``(n, 1, size, size)`` and ``y`` int64 ``(n,)``,
    1 for a vertical line, 0 for a horizontal one (each with probability 1/2).
    The line's centre row or column is uniform in ``[2, size - 2)``, as in the
    seed notebook. ``seed`` (an int) makes the set reproducible; None draws
    from the library generator. With ``return_masks`` it returns ``(X, y, masks)``,
    ``masks`` int64 ``(n, size, size)``: 1 on the line's pixels, 0 elsewhere (targets
    for per-pixel segmentation); X and y are the same as without it.
    """
    n = checks.positive_int(n, "n", "make_lines")
    size = checks.positive_int(size, "size", "make_lines")
    if size < 5:
        raise ValueError(f"make_lines: size must be >= 5 for a 3-pixel line to fit away from the border, got {size}")
    noise = checks.finite_number(noise, "noise", "make_lines", minimum=0)
    return_masks = checks.boolean(return_masks, "return_masks", "make_lines")
    rng = random.generator(seed, "make_lines")

    X = rng.standard_normal((n, size, size), dtype=np.float32)
    X *= noise
    y = rng.integers(0, 2, size=n, dtype=np.int64)
    centre = rng.integers(2, size - 2, size=n)
    # profile[i, j] = 1 where row/column j belongs to image i's line (centre - 1 .. centre + 1).
    profile = np.zeros((n, size), np.float32)
    profile[np.arange(n)[:, None], centre[:, None] + np.arange(-1, 2)] = 1.0
    vertical = y[:, None, None] == 1
    # A vertical line fills the same columns in every row: the profile along
    # the last (width) axis; a horizontal one along the height axis.
    line = np.where(vertical, profile[:, None, :], profile[:, :, None])  # (n, size, size)
    X += line
    return (X[:, None], y, line.astype(np.int64)) if return_masks else (X[:, None], y)


def batches(X, y, batch_size, shuffle=True, seed=None):
    """Yield ``(X[idx], y[idx])`` NumPy mini-batches covering every sample once.

    The last batch is smaller when ``batch_size`` does not divide ``len(X)``.
    With ``shuffle`` the order is a random permutation (from ``seed``, or the
    library generator when None), drawn when ``batches`` is called.
    """
    X = X.array if isinstance(X, Tensor) else np.asarray(X)
    y = y.array if isinstance(y, Tensor) else np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"batches: X and y must have a sample axis, got shapes {X.shape} and {y.shape}")
    if len(X) != len(y):
        raise ValueError(f"batches: X has {len(X)} samples but y has {len(y)} (shapes {X.shape} and {y.shape})")
    batch_size = checks.positive_int(batch_size, "batch_size", "batches")
    shuffle = checks.boolean(shuffle, "shuffle", "batches")
    order = random.generator(seed, "batches").permutation(len(X)) if shuffle else None
    return _batches(X, y, batch_size, order)


def _batches(X, y, batch_size, order):
    # A separate generator so that `batches` checks its arguments when called,
    # not at the first `next()`.
    for start in range(0, len(X), batch_size):
        if order is None:
            yield X[start : start + batch_size], y[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            yield X[idx], y[idx]
