"""Shared assertions for the test suite: one helper per kind of check.

The numerical gradient here is independent of ``course_lib.gradient_check`` so
that the library's own checker is never the only witness of its correctness.
"""
import numpy as np
import pytest

from course_lib.data_utils import StandInDataWarning

# Entropy that sets the upstream gradients' random stream apart from default_rng(seed) streams.
DOUT_STREAM = 7919


def rel_error(x, y):
    """Largest elementwise relative error, as the courses define it."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def lin(lo, hi, *shape):
    """np.linspace(lo, hi) over as many points as the shape holds, reshaped: how the courses build inputs."""
    return np.linspace(lo, hi, num=int(np.prod(shape))).reshape(shape)


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


def assert_layer_gradients(forward, backward, inputs, dout=None, tol=1e-7, h=1e-6, seed=0,
                           no_effect=()):
    """Gradient check of a forward/backward pair, one gradient per input.

    forward(**inputs) returns (out, cache); backward(dout, cache) returns the
    gradients of the inputs in the order of ``inputs`` (a lone array for a
    single input). dout defaults to standard normal draws from a stream of its
    own, seeded by ``seed``: a dout repeating the draws that made the inputs
    can be nearly orthogonal to what the backward lets through. Inputs named in
    ``no_effect`` cannot change the output (see assert_no_effect).
    Returns the gradients by input name.
    """
    out, cache = forward(**inputs)
    if dout is None:
        dout = np.random.default_rng([DOUT_STREAM, seed]).standard_normal(out.shape)
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert len(grads) == len(inputs), f"backward returned {len(grads)} gradients for inputs {list(inputs)}"
    grads = dict(zip(inputs, grads))
    checked = assert_no_effect(grads, no_effect)
    assert_gradients(lambda **kw: forward(**kw)[0], inputs, checked, dout, tol=tol, h=h)
    return grads


def assert_loss_gradients(loss_fn, params, grads, tol=1e-6, h=1e-6, no_effect=()):
    """Gradient check of a scalar loss: loss_fn() reads the arrays in params, which are perturbed in place.

    grads must hold a gradient for every parameter; those named in ``no_effect``
    must be zero (see assert_no_effect).
    """
    assert grads.keys() == params.keys(), f"gradients for {sorted(grads)}, parameters {sorted(params)}"
    for name, grad in assert_no_effect(grads, no_effect).items():
        numeric = numerical_gradient(lambda _x: loss_fn(), params[name], np.float64(1.0), h=h)
        assert_close(grad, numeric, tol=tol, name=name)


def assert_model_gradients(model, X, y, tol=1e-6, h=1e-6, no_effect=(), **loss_kwargs):
    """Gradient check of a functional-API model: the grads of model.loss(X, y, **loss_kwargs)
    against numerical gradients of its loss with respect to every array in model.params."""
    _, grads = model.loss(X, y, **loss_kwargs)
    assert_loss_gradients(lambda: model.loss(X, y, **loss_kwargs)[0], model.params, grads, tol=tol, h=h,
                          no_effect=no_effect)


def assert_no_effect(grads, names, atol=1e-12):
    """Assert that the gradients of ``names`` are zero; return the other gradients.

    An input that cannot change the output (a bias just before batchnorm, which
    subtracts the batch mean) has an exact gradient of 0, whose numerical
    estimate is pure rounding noise: a relative error would be meaningless.
    """
    for name in names:
        largest = np.abs(grads[name]).max()
        assert largest < atol, f"d{name} should be 0, got max |d{name}| {largest:.1e}"
    return {name: grad for name, grad in grads.items() if name not in names}


def assert_torch_gradients(grads, tensors, names, tol=1e-7):
    """Parity check: each gradient equals the .grad that torch's backward left on the matching tensor."""
    assert len(grads) == len(tensors) == len(names), f"{len(grads)} gradients for tensors {names}"
    for grad, tensor, name in zip(grads, tensors, names):
        assert_close(grad, tensor.grad.numpy(), tol=tol, name=name)


def load_standin(standin_dir, load, *args, **kwargs):
    """load(*args, **kwargs) with $COURSE_DATA_DIR at standin_dir, asserting the loader's stand-in warning."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_DATA_DIR", str(standin_dir))
        with pytest.warns(StandInDataWarning, match="STAND-IN"):
            return load(*args, **kwargs)
