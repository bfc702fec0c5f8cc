"""Numerical gradients by centered differences, to check analytic backward passes.

Every checker perturbs the input array in place, one entry at a time, and puts
the original value back before moving on; f must read x each time it is called.
"""
import numpy as np


def rel_error(x, y):
    """Largest elementwise relative error max(|x - y| / max(1e-8, |x| + |y|)), a float.

    x and y: numbers or arrays of the same shape; different shapes are a ValueError
    naming both (numpy would broadcast them, or fail with a cryptic message).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    _same_shape("rel_error", "the first argument", x.shape, "the second", y.shape)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Numerical gradient of a scalar function.

    Inputs:
    - f: function of one argument (x) returning a scalar.
    - x: float array of any shape, the point at which to evaluate the gradient.
    - verbose: print each index and its gradient entry.
    - h: step of the centered difference.

    Returns:
    - grad: float64 array of x's shape.
    """
    return _centered_differences(f, x, 1.0, h, verbose)


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numerical gradient of sum(f(x) * df) for an array-valued f.

    Inputs:
    - f: function of one argument (x) returning an array of df's shape.
    - x: float array of any shape.
    - df: upstream gradient, of f(x)'s shape.
    - h: step of the centered difference.

    Returns:
    - grad: float64 array of x's shape.
    """
    df = np.asarray(df)

    def checked(x):
        out = np.asarray(f(x))
        _same_shape("eval_numerical_gradient_array", "f(x)", out.shape, "df", df.shape)
        return out

    return _centered_differences(checked, x, df, h, verbose=False)


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=None):
    """Compare an analytic gradient with the numerical one at a few random entries.

    Inputs:
    - f: function of one argument (x) returning a scalar.
    - x: float array of any shape.
    - analytic_grad: array of x's shape.
    - num_checks: number of entries to check (drawn with replacement).
    - h: step of the centered difference.
    - seed: seed of the choice of entries; None draws from fresh entropy.

    Prints one line per checked entry and returns the relative errors as an
    array of shape (num_checks,).
    """
    _same_shape("grad_check_sparse", "analytic_grad", np.shape(analytic_grad), "x", x.shape)
    rng = np.random.default_rng(seed)
    errors = np.empty(num_checks)
    for k in range(num_checks):
        idx = tuple(int(rng.integers(size)) for size in x.shape)
        plus, minus = _evaluate_around(f, x, idx, h)
        numerical = float((plus - minus) / (2 * h))
        analytic = float(analytic_grad[idx])
        errors[k] = rel_error(numerical, analytic)
        print(f"numerical: {numerical:f} analytic: {analytic:f}, relative error: {errors[k]:e}")
    return errors


def _same_shape(checker, first, first_shape, second, second_shape):
    if first_shape != second_shape:
        raise ValueError(f"{checker}: {first} has shape {first_shape} but {second} has shape "
                         f"{second_shape}; they must match (look for a missing axis, a transpose "
                         "or a wrong size in the code that produced them)")


def _centered_differences(f, x, df, h, verbose):
    """Gradient of sum(f(x) * df), float64 of x's shape, one entry of x at a time."""
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(*x.shape):
        plus, minus = _evaluate_around(f, x, idx, h)
        grad[idx] = np.sum((plus - minus) * df) / (2 * h)
        if verbose:
            print(idx, grad[idx])
    return grad


def _evaluate_around(f, x, idx, h):
    """Return f at x with x[idx] raised by h and lowered by h, as float64 copies; x is restored."""
    original = x[idx]
    try:
        x[idx] = original + h
        plus = np.array(f(x), dtype=np.float64)
        x[idx] = original - h
        minus = np.array(f(x), dtype=np.float64)
    finally:
        x[idx] = original
    return plus, minus
