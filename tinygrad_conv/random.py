"""The library's one random generator, seeded by ``tc.manual_seed``.

Every random draw the library makes (weight initialisation, data and
shuffling when no seed is given) comes from ``generator()``, so one
``manual_seed`` call makes a whole run reproducible.
"""
import numpy as np

from . import checks

_generator = np.random.default_rng()


def manual_seed(seed):
    """Seed every random draw the library makes. ``seed``: an int; a negative one counts
    modulo 2**64, as PyTorch's (which takes -2**63 .. 2**64 - 1)."""
    global _generator
    seed = checks.integer(seed, "seed", "manual_seed", minimum=-2 ** 63)
    if seed >= 2 ** 64:
        raise ValueError(f"manual_seed: seed must be < 2**64, got {seed}")
    _generator = np.random.default_rng(seed % 2 ** 64)


def generator(seed=None, where="generator"):
    """The library's ``np.random.Generator``, or a fresh one seeded by ``seed``
    (an int) for a function that takes its own ``seed`` argument."""
    if seed is None:
        return _generator
    return np.random.default_rng(checks.integer(seed, "seed", where, minimum=0))
