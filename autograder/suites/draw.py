"""Drawing test inputs from a per-test random generator (float64 throughout)."""
import numpy as np


def normal(rng, *shape, scale=1.0, shift=0.0):
    return shift + scale * rng.standard_normal(shape)


def away_from_zero(rng, *shape, margin=0.05):
    """Normal values pushed at least ``margin`` away from 0 (kinks of ReLU-like functions)."""
    values = rng.standard_normal(shape)
    return np.sign(values) * (margin + np.abs(values))


def distinct(rng, *shape):
    """A random permutation of well-separated values (no ties for max pooling)."""
    return rng.permutation(np.arange(int(np.prod(shape)), dtype=np.float64)).reshape(shape) * 0.1 - 1.0


def labels(rng, n, num_classes):
    return rng.integers(0, num_classes, size=n)


def clusters(rng, n, dim, num_classes, spread=0.3):
    """An easy classification set: one well-separated Gaussian blob per class."""
    centers = 2.0 * rng.standard_normal((num_classes, dim))
    y = np.arange(n) % num_classes
    return centers[y] + spread * rng.standard_normal((n, dim)), y
