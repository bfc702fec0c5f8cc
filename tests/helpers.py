"""Shared assertions for the test suite: one helper per kind of check.

The numerical gradient here is independent of ``course_lib.gradient_check`` so
that the library's own checker is never the only witness of its correctness.
"""
import numpy as np


def rel_error(x, y):
    """Largest elementwise relative error, as the courses define it."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def numerical_gradient(f, x, dout, h=1e-6):
    """Central-difference gradient of sum(f(x) * dout) with respect to x (modified in place and restored)."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        idx = it.multi_index
        original = x[idx]
        x[idx] = original + h
        plus = np.sum(np.asarray(f(x), dtype=np.float64) * dout)
        x[idx] = original - h
        minus = np.sum(np.asarray(f(x), dtype=np.float64) * dout)
        x[idx] = original
        grad[idx] = (plus - minus) / (2 * h)
        it.iternext()
    return grad


def assert_close(actual, expected, tol=1e-7, name="value"):
    """Forward check: same shape and rel_error below tol."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    err = rel_error(actual, expected)
    assert err < tol, f"{name}: rel_error {err:.3e} >= {tol:.0e}"


def assert_gradients(forward, inputs, analytic, dout, tol=1e-7, h=1e-6):
    """Gradient check: for each named input, the analytic gradient matches the numerical one.

    forward(**inputs) returns the output whose upstream gradient is dout;
    analytic maps input names to the gradients the backward pass returned.
    """
    for name, grad in analytic.items():
        def f(value, name=name):
            return forward(**{**inputs, name: value})
        numeric = numerical_gradient(f, inputs[name], dout, h=h)
        assert_close(grad, numeric, tol=tol, name=f"d{name}")


def assert_loss_gradients(loss_fn, params, grads, tol=1e-6, h=1e-6):
    """Gradient check of a scalar loss: loss_fn() reads the arrays in params, which are perturbed in place."""
    for name, grad in grads.items():
        numeric = numerical_gradient(lambda _x: loss_fn(), params[name], np.float64(1.0), h=h)
        assert_close(grad, numeric, tol=tol, name=name)
