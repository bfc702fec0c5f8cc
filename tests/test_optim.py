"""course_lib.optim: defaults, state kept in config, dtypes, convergence and bad configs.

The published single-step numbers are in test_oracle_layers.py.
"""

import numpy as np
import pytest

from course_lib import optim

RULES = ["sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam"]

DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "sgd_nesterov_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 1},
}

STATE_KEYS = {
    "sgd": [],
    "sgd_momentum": ["velocity"],
    "sgd_nesterov_momentum": ["velocity"],
    "rmsprop": ["a"],
    "adam": ["v", "a"],
}


def _w_and_dw(dtype=np.float64):
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype)


@pytest.mark.parametrize("rule", RULES)
def test_missing_config_gets_the_documented_defaults(rule):
    w, dw = _w_and_dw()
    _, config = getattr(optim, rule)(w, dw)
    for key, value in DEFAULTS[rule].items():
        assert config[key] == value, key
    for key in STATE_KEYS[rule]:
        assert config[key].shape == w.shape


@pytest.mark.parametrize("rule", RULES)
def test_update_does_not_modify_its_inputs_and_keeps_given_settings(rule):
    w, dw = _w_and_dw()
    w_before, dw_before = w.copy(), dw.copy()
    config = {"learning_rate": 0.5, "unrelated_key": "kept"}
    next_w, returned = getattr(optim, rule)(w, dw, config)
    assert returned is config
    assert config["learning_rate"] == 0.5 and config["unrelated_key"] == "kept"
    np.testing.assert_array_equal(w, w_before)
    np.testing.assert_array_equal(dw, dw_before)
    assert not np.allclose(next_w, w)


def test_sgd_formula():
    w, dw = _w_and_dw()
    next_w, _ = optim.sgd(w, dw, {"learning_rate": 0.1})
    np.testing.assert_allclose(next_w, w - 0.1 * dw)


def test_momentum_state_carries_over_to_the_next_step():
    w, dw = _w_and_dw()
    config = {"learning_rate": 0.1, "momentum": 0.5}
    w1, config = optim.sgd_momentum(w, dw, config)
    w2, config = optim.sgd_momentum(w1, dw, config)
    # From zero velocity: v1 = -0.1 dw, v2 = 0.5 v1 - 0.1 dw = -0.15 dw.
    np.testing.assert_allclose(config["velocity"], -0.15 * dw)
    np.testing.assert_allclose(w2, w - 0.25 * dw)


def test_adam_counts_steps_before_correcting_the_bias():
    w, dw = _w_and_dw()
    config = {"learning_rate": 0.01}
    next_w, config = optim.adam(w, dw, config)
    assert config["t"] == 1
    # With t = 1 the corrected moments are dw and dw**2, so the first step is lr * sign(dw).
    np.testing.assert_allclose(next_w, w - 0.01 * np.sign(dw), rtol=1e-6)
    optim.adam(next_w, dw, config)
    assert config["t"] == 2


def test_rmsprop_first_step_from_zero_average():
    w, dw = _w_and_dw()
    next_w, config = optim.rmsprop(w, dw, {"learning_rate": 0.01, "decay_rate": 0.75})
    np.testing.assert_allclose(config["a"], 0.25 * dw**2)
    np.testing.assert_allclose(next_w, w - 0.01 * dw / (0.5 * np.abs(dw) + 1e-8))


@pytest.mark.parametrize("rule", RULES)
def test_float32_weights_keep_float32_state(rule):
    w, dw = _w_and_dw(np.float32)
    next_w, config = getattr(optim, rule)(w, dw)
    assert next_w.dtype == np.float32
    for key in STATE_KEYS[rule]:
        assert config[key].dtype == np.float32, key


@pytest.mark.parametrize("rule", RULES)
def test_rule_minimizes_a_quadratic(rule):
    target = np.array([1.0, -2.0, 3.0])
    w, config = np.zeros(3), {"learning_rate": 0.05}
    for _ in range(500):
        w, config = getattr(optim, rule)(w, w - target, config)
    np.testing.assert_allclose(w, target, atol=0.05)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("config", [[("learning_rate", 0.1)], "lr=0.1", 0.1])
def test_config_that_is_not_a_dict_is_a_type_error(rule, config):
    w, dw = _w_and_dw()
    with pytest.raises(TypeError, match="config must be a dict"):
        getattr(optim, rule)(w, dw, config)


@pytest.mark.parametrize("rule", RULES)
def test_numpy_float64_hyperparameters_keep_float32_weights_and_state_float32(rule):
    # A random search hands out NumPy float64 scalars, e.g. the points of np.logspace; under
    # NumPy 2 promotion they would turn float32 arrays into float64 if used as they are.
    config = {key: np.float64(value) for key, value in DEFAULTS[rule].items() if key != "t"}
    config["learning_rate"] = np.logspace(-3, -2, 4)[1]
    w, dw = _w_and_dw(np.float32)
    for _ in range(3):
        w, config = getattr(optim, rule)(w, dw, config)
        assert w.dtype == np.float32
        for key in STATE_KEYS[rule]:
            assert config[key].dtype == np.float32, key
    assert all(type(config[key]) is float for key in DEFAULTS[rule] if key != "t")


@pytest.mark.parametrize("key, value", [("learning_rate", "0.1"), ("momentum", None), ("learning_rate", True)])
def test_hyperparameter_that_is_not_a_number_is_named(key, value):
    w, dw = _w_and_dw()
    with pytest.raises(TypeError, match=rf"config\['{key}'\] must be a number"):
        optim.sgd_momentum(w, dw, {key: value})
