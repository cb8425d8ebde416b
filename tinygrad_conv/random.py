"""The library's one random generator, seeded by ``tc.manual_seed``.

Every random draw the library makes (weight initialisation, shuffling when no
seed is given) comes from ``generator()``, so one ``manual_seed`` call makes a
whole run reproducible.
"""
import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed):
    """Seed every random draw the library makes. ``seed``: a non-negative int."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be >= 0, got {seed}")
    _generator = np.random.default_rng(int(seed))


def generator():
    """The current ``np.random.Generator``."""
    return _generator
