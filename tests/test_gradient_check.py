"""course_lib.gradient_check against functions whose gradients are known in closed form."""

import numpy as np
import pytest

from course_lib.gradient_check import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)
from tests.helpers import assert_close


def cubic_sum(x):
    return np.sum(x**3)


@pytest.mark.parametrize(
    "x, y, expected",
    [
        (1.0, 1.0, 0.0),
        (0.0, 0.0, 0.0),
        ([1.0, 2.0], [3.0, 2.0], 0.5),
        ([-1.0], [1.0], 1.0),
        (1e-9, 0.0, 0.1),
    ],
)
def test_rel_error_definition(x, y, expected):
    assert rel_error(x, y) == pytest.approx(expected)


def test_eval_numerical_gradient_of_a_scalar_function(capsys):
    x = np.random.default_rng(0).standard_normal((3, 4))
    before = x.copy()
    grad = eval_numerical_gradient(cubic_sum, x, verbose=True)
    assert_close(grad, 3 * before**2, tol=1e-7)
    np.testing.assert_array_equal(x, before)
    assert len(capsys.readouterr().out.splitlines()) == x.size


def test_eval_numerical_gradient_is_quiet_when_asked(capsys):
    eval_numerical_gradient(cubic_sum, np.ones(3), verbose=False)
    assert capsys.readouterr().out == ""


def test_eval_numerical_gradient_array_contracts_with_upstream_gradient():
    rng = np.random.default_rng(1)
    x, df = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    grad = eval_numerical_gradient_array(np.sin, x, df)
    assert_close(grad, np.cos(x) * df, tol=1e-8)


def test_eval_numerical_gradient_array_copies_outputs_that_alias_x():
    # f returns x itself, so its value changes when x is perturbed again.
    x, df = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    assert_close(eval_numerical_gradient_array(lambda v: v, x, df), df, tol=1e-8)


def test_x_is_restored_when_f_raises():
    x = np.array([1.0, 2.0])

    def failing(v):
        if v[0] < 1.0:
            raise RuntimeError("boom")
        return v.sum()

    with pytest.raises(RuntimeError):
        eval_numerical_gradient(failing, x, verbose=False)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_grad_check_sparse_reports_small_errors_for_right_gradient_only(capsys):
    x = np.random.default_rng(2).standard_normal((6, 7)) + 3
    right = grad_check_sparse(cubic_sum, x, 3 * x**2, num_checks=5, seed=0)
    wrong = grad_check_sparse(cubic_sum, x, 6 * x**2, num_checks=5, seed=0)
    assert right.shape == (5,) and np.all(right < 1e-7)
    # Twice the true gradient: |g - 2g| / (|g| + |2g|) = 1/3.
    np.testing.assert_allclose(wrong, 1 / 3, rtol=1e-5)
    assert len(capsys.readouterr().out.splitlines()) == 10


def test_grad_check_sparse_seed_picks_the_same_entries(capsys):
    x = np.arange(20, dtype=np.float64).reshape(4, 5)
    # A gradient that is wrong by a different amount at every entry reveals which entries were checked.
    fingerprint = 3 * x**2 + np.arange(1, 21).reshape(4, 5)
    first = grad_check_sparse(cubic_sum, x, fingerprint, num_checks=4, seed=7)
    second = grad_check_sparse(cubic_sum, x, fingerprint, num_checks=4, seed=7)
    np.testing.assert_array_equal(first, second)


def test_grad_check_sparse_rejects_mismatched_gradient_shape():
    with pytest.raises(ValueError, match=r"analytic_grad has shape \(3,\)"):
        grad_check_sparse(cubic_sum, np.ones(4), np.ones(3))


@pytest.mark.parametrize("check", [
    lambda: rel_error(np.zeros((4, 5)), np.zeros(5)),
    lambda: eval_numerical_gradient_array(lambda x: x.sum(axis=0), np.zeros((4, 5)), np.ones((4, 5))),
])
def test_shape_mismatch_is_named_instead_of_broadcast(check):
    with pytest.raises(ValueError, match=r"has shape \(\d+(, \d+)?,?\) but .* has shape"):
        check()
