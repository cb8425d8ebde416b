"""The library's one random generator, seeded by ``tc.manual_seed``.

Every random draw the library makes (weight initialisation, data and
shuffling when no seed is given) comes from ``generator()``, so one
``manual_seed`` call makes a whole run reproducible.
"""
import numpy as np

from . import checks

_generator = np.random.default_rng()


def manual_seed(seed):
    """Seed every random draw the library makes. ``seed``: a non-negative int."""
    global _generator
    _generator = np.random.default_rng(checks.integer(seed, "seed", "manual_seed", minimum=0))


def generator(seed=None, where="generator"):
    """The library's ``np.random.Generator``, or a fresh one seeded by ``seed``
    (an int) for a function that takes its own ``seed`` argument."""
    if seed is None:
        return _generator
    return np.random.default_rng(checks.integer(seed, "seed", where, minimum=0))
