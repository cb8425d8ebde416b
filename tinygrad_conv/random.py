"""The library's one random generator, seeded by ``tc.manual_seed``.

Every random draw the library makes (weight initialisation, data and
shuffling when no seed is given) comes from ``generator()``, so one
``manual_seed`` call makes a whole run reproducible.
"""
import numbers

import numpy as np

_generator = np.random.default_rng()


def _check_seed(seed, where):
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{where}: seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{where}: seed must be >= 0, got {seed}")
    return int(seed)


def manual_seed(seed):
    """Seed every random draw the library makes. ``seed``: a non-negative int."""
    global _generator
    _generator = np.random.default_rng(_check_seed(seed, "manual_seed"))


def generator(seed=None, where="generator"):
    """The library's ``np.random.Generator``, or a fresh one seeded by ``seed``
    (an int) for a function that takes its own ``seed`` argument."""
    if seed is None:
        return _generator
    return np.random.default_rng(_check_seed(seed, where))
