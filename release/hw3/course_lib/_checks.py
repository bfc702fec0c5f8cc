"""Input checks shared by the modules of course_lib.

Each check raises an error that names the offending argument and what was
expected; the ones that convert return the value in the form the caller
computes with (a Python int or float).
"""
import numbers

import numpy as np


def check_positive_int(name, value):
    """value as an int; a ValueError naming `name` unless it is a whole number >= 1 (2.0 passes)."""
    return whole_number(name, value, minimum=1)


def whole_number(name, value, minimum=0):
    """value as an int; a ValueError naming `name` unless it is a whole number >= minimum."""
    is_whole = (isinstance(value, numbers.Real) and not isinstance(value, bool)
                and float(value).is_integer())
    if not is_whole or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def check_shape(what, value, expected_shape, reason=""):
    """A ValueError "<what> has shape ..., expected ...<reason>" unless value has expected_shape."""
    if np.shape(value) != tuple(expected_shape):
        raise ValueError(f"{what} has shape {np.shape(value)}, expected {tuple(expected_shape)}{reason}")


def int_setting(param, param_name, key, minimum):
    """param[key], which must be an int >= minimum; a float would break index arithmetic even if whole."""
    if not isinstance(param, dict):
        raise ValueError(f"{param_name} must be a dict, got {type(param).__name__}")
    if key not in param:
        raise ValueError(f"{param_name} has no {key!r} key")
    value = param[key]
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{param_name}[{key!r}] must be an int >= {minimum}, got {value!r}")
    return int(value)


def python_number(name, value, kind=float):
    """value as a Python float (or int, with kind=int); a TypeError naming `name` if it is not one.

    NumPy 2 lets a NumPy float64 scalar (say a learning rate picked from an
    np.logspace grid) turn a float32 array into float64, while a Python float
    takes the array's dtype: hyperparameters are kept as Python numbers so that
    float32 weights and their optimizer state stay float32.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    expected = numbers.Integral if kind is int else numbers.Real
    if not isinstance(value, expected) or isinstance(value, bool):
        article = "an integer" if kind is int else "a number"
        raise TypeError(f"{name} must be {article}, got {value!r}")
    return kind(value)


def check_image_batch(x, layer):
    """A ValueError naming `layer` unless x is 4-dimensional, (N, C, H, W)."""
    if np.ndim(x) != 4:
        raise ValueError(f"{layer} expects x of shape (N, C, H, W), got {np.shape(x)}")


def check_scores_and_labels(x, y, loss_name):
    """Clear errors unless x is (N, C) scores and y holds N integer labels in [0, C)."""
    if np.ndim(x) != 2:
        raise ValueError(f"{loss_name} expects scores x of shape (N, C), got {np.shape(x)}")
    n, num_classes = np.shape(x)
    if np.shape(y) != (n,):
        raise ValueError(f"{loss_name}: labels y have shape {np.shape(y)}, expected ({n},) for x {np.shape(x)}")
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{loss_name}: labels y must be integers, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{loss_name}: labels must be in [0, {num_classes}), got {y.min()}..{y.max()}")


def check_training_data(data, splits, who):
    """A KeyError or ValueError naming `who` unless the dict data holds, for every (examples key,
    labels key) pair in splits, examples and labels of the same non-zero length."""
    keys = [key for split in splits for key in split]
    missing = [key for key in keys if key not in data]
    if missing:
        raise KeyError(f"{who}: the data dict lacks {', '.join(missing)}; it needs {', '.join(keys)}")
    for examples, labels in splits:
        num_examples, num_labels = len(data[examples]), len(data[labels])
        if num_examples != num_labels:
            raise ValueError(f"{who}: {examples} has {num_examples} examples but {labels} has {num_labels} labels")
        if num_examples == 0:
            raise ValueError(f"{who}: {examples} is empty")


def float_array(array, layer, name):
    """``array`` as a NumPy array; a ValueError naming ``layer`` unless it is float32 or float64."""
    array = np.asarray(array)
    if array.dtype not in (np.float32, np.float64):
        raise ValueError(f"{layer}: {name} must be float32 or float64, got {array.dtype}")
    return array


def check_window_fits(layer, axis, size, pad, window):
    """A ValueError naming ``layer`` when a window does not fit the padded ``axis``."""
    if size + 2 * pad < window:
        raise ValueError(
            f"{layer}: a window of {window} does not fit the {axis} {size} padded by {pad} on each side"
        )
