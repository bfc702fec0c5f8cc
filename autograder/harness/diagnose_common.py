"""What every diagnosis reads: the test's known quantities, one failing output, and exact comparisons.

A relation holds when it is true within CLOSE on the whole array; its message
states a fact about the student's output whose only numbers are shapes, axes,
counts and the test's own settings, never an expected value.
"""
import re

import numpy as np

from autograder.harness.programs import program_values

CLOSE = 1e-6  # relative error under which a relation holds
WEIGHT_NAME = re.compile(r"^[Ww]\d*$")


def diagnosis(kind, message):
    return {"kind": kind, "message": message}


def close(actual, wanted):
    """Same shape, finite, and equal within CLOSE (relative to the larger magnitude)."""
    actual, wanted = np.asarray(actual, dtype=np.float64), np.asarray(wanted, dtype=np.float64)
    if actual.shape != wanted.shape or not (np.all(np.isfinite(actual)) and np.all(np.isfinite(wanted))):
        return False
    scale = max(float(np.max(np.abs(wanted), initial=0.0)), float(np.max(np.abs(actual), initial=0.0)), 1e-12)
    return float(np.max(np.abs(actual - wanted), initial=0.0)) <= CLOSE * scale


def nontrivial(array):
    """An array a relation can be read on: some non-zero finite entries."""
    array = np.asarray(array, dtype=np.float64)
    return array.size > 0 and bool(np.all(np.isfinite(array))) and bool(np.any(array != 0))


def number(value):
    """A known quantity as written in a message: 4, 0.3, 1e-05."""
    return f"{value:g}"


# The test's known quantities ------------------------------------------------------------------


class Knowns:
    """Quantities a test fixes: batch size, number of classes, dropout probabilities, L2 strength."""

    def __init__(self, program, inputs, expected):
        self.inputs = inputs
        values = [(key, value) for key, value in program_values(program.get("calls", []))
                  if isinstance(value, (int, float)) and not isinstance(value, bool)]
        self.probabilities = sorted({(k, float(v)) for k, v in values if k in ("p", "keep_prob", "dropout") and 0 < v < 1})
        self.classes = next((int(v) for k, v in values if k in ("num_classes", "output_size")), None)
        if self.classes is None and np.ndim(expected.get("scores")) == 2:
            self.classes = int(expected["scores"].shape[1])
        self.reg = next((float(v) for k, v in values if k == "reg" and v), None)
        if self.reg is None:
            self.reg = loss_argument_reg(program)
        # The L2 strength as the test sets it, 0 included (a loss that adds an L2 term at reg = 0 is wrong too).
        self.reg_setting = self.reg if self.reg is not None else next(
            (float(v) for k, v in values if k == "reg"), None)
        self.weights = [(name, np.asarray(a, dtype=np.float64)) for name, a in sorted(inputs.items())
                        if WEIGHT_NAME.match(name) and np.ndim(a) >= 2]
        self.batch = batch_size(inputs)

    def factors(self):
        """(value, how it reads, the question it raises), one per distinct value."""
        found = [(2.0, "2", "is a factor 2 left over (from the derivative of a square?) or something counted twice?"),
                 (0.5, "1/2", "is a 0.5 missing somewhere, or something halved?")]
        if self.batch and self.batch > 2:
            n = self.batch
            found += [(1.0 / n, f"1/N (N = {n}, the batch size)", "did you divide by the batch size once too often?"),
                      (float(n), f"N = {n}, the batch size", "did you forget to divide by the batch size?")]
        if self.classes and self.classes > 2 and self.classes != self.batch:
            c = self.classes
            found += [(1.0 / c, f"1/C (C = {c}, the number of classes)", "did you divide by the number of classes?"),
                      (float(c), f"C = {c}, the number of classes", "did you sum over the classes?")]
        question = "is a dropout scale missing, applied twice, or written with the keep and drop probabilities swapped?"
        for name, p in self.probabilities:
            setting = f"{name} = {number(p)}"
            found += [(p, setting, question), (1 - p, f"1 - {name} ({setting})", question),
                      (1 / p, f"1/{name} ({setting})", question), (1 / (1 - p), f"1/(1 - {name}) ({setting})", question)]
        distinct = []
        for value, label, question in found:
            if value != 1.0 and not any(np.isclose(value, seen[0], rtol=1e-9) for seen in distinct):
                distinct.append((value, label, question))
        return distinct


def loss_argument_reg(program):
    """The L2 strength passed positionally to a ``loss(X, y, reg)`` method call, if any."""
    for item in program.get("calls", []):
        args = item.get("args", [])
        if item.get("method") == "loss" and len(args) >= 3 and isinstance(args[2], (int, float)) and args[2]:
            return float(args[2])
    return None


def batch_size(inputs):
    """The first dimension of the test's data arrays (x, X, dout, data...), else the most common one."""
    for name in ("x", "X", "dout", "data", "scores"):
        if np.ndim(inputs.get(name)) >= 1:
            return int(np.shape(inputs[name])[0])
    dims = [np.shape(a)[0] for a in inputs.values() if np.ndim(a) >= 2]
    return max(set(dims), key=dims.count) if dims else None


# Relations on one output -------------------------------------------------------------------------


class Output:
    """One failing output: the student's array, the one it is held to, and how to name both."""

    def __init__(self, key, actual, wanted, knowns, against=None):
        self.key = key
        self.actual = np.asarray(actual)
        self.wanted = np.asarray(wanted)
        self.knowns = knowns
        self.wanted_name = against or f"the expected {key}"  # what ``wanted`` is when not the fixture


