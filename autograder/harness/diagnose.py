"""Likely causes of a failing check: exact relations between a student's output and the one it is held to.

Runs in the grading process (Python 3.10, numpy only) on every failing check.
A relation fires only when it holds within CLOSE on the whole array, on data
that can tell it apart (non-zero, non-symmetric...), so it never fires on a
right output. Each diagnosis states a fact about the student's output and a
question; its only numbers are shapes, axes, counts and the test's own known
quantities (batch size, number of classes, dropout probability, ...), never
an expected value.

Besides the relations, a test's program is run with *probes* and, at build
time, with train and test mode swapped (see ``autograder.harness.programs``).
Known mistakes are the outputs of the fidelity corpus' wrong variants on the
same inputs, stored in the zip by the builder.
"""
import numpy as np

from autograder.harness import diagnose_layout as layout
from autograder.harness import diagnose_parts as parts
from autograder.harness import diagnose_values as values
from autograder.harness.diagnose_common import CLOSE, Knowns, Output, close, diagnosis, nontrivial
from autograder.harness.programs import PROBE_PREFIX

MAX_PER_CHECK = 3
NUMERIC_PREFIX = "numeric/"


def output_relations(out, expected, program):
    """Every relation that holds for one failing output, most specific first."""
    if out.actual.dtype.kind not in "biuf" or out.wanted.dtype.kind not in "biuf":
        return []
    if out.actual.shape != out.wanted.shape:
        return layout.shape_relations(out) or layout.reduction_relations(out) or layout.shape_patterns(out)
    if not np.all(np.isfinite(out.actual.astype(np.float64))):
        return values.nonfinite_relations(out, program)
    if not nontrivial(out.wanted) or close(out.actual, out.wanted):
        return values.dtype_relation(out)
    found = values.dtype_relation(out) + values.mode_relation(out, expected, program) + values.state_relation(out)
    for relation in (values.sign_relation, values.factor_relations, values.additive_relations,
                     values.masked_relations, values.dropped_relation, layout.reduction_relations,
                     parts.equal_relation, parts.step_relations, parts.l2_relation, parts.multiple_relation,
                     parts.located_relation, parts.label_relation, parts.threshold_relation,
                     parts.sign_pieces_relation, parts.columnwise_relation):
        if found:
            break
        found += relation(out)
    return found


def probe_relations(outputs, expected, inputs, program):
    """Inputs the student's code modified in place where the reference leaves them as they were (the fixtures
    hold only the probes of inputs the reference changes)."""
    found = []
    for key in sorted(outputs):
        if not key.startswith(PROBE_PREFIX) or key in expected:
            continue
        index, name = key[len(PROBE_PREFIX):].split("/", 1)
        given = inputs.get(name)
        if given is None or outputs[key].shape != np.shape(given) or close(outputs[key], given):
            continue
        item = program["calls"][int(index)]
        where = item.get("fn") or item.get("method", "your code")
        found.append(diagnosis("inplace", f"your {where} changed {name}, which it received and must leave as it "
                                          "was here: work on a copy (x = x.copy(), out = x * mask), and update "
                                          "state only where the call asks for it"))
    return found


# Known mistakes -----------------------------------------------------------------------------


def matches_known(outputs, expected, known_outputs, tolerances):
    """Whether the student's outputs equal a known mistake's on every output it produced, and that mistake's
    outputs are wrong somewhere (otherwise matching it says nothing)."""
    differs = False
    for key, value in known_outputs.items():
        got = outputs.get(key)
        tol = tolerances.get(key.split("/")[0], 1e-7)
        if got is None or got.shape != value.shape:
            return False
        want = expected.get(key)
        # A mistake of dtype only (a float64 buffer) is matched by its dtype, not by its values.
        wrong_dtype = want is not None and want.dtype != value.dtype
        if wrong_dtype and got.dtype != value.dtype:
            return False
        if value.dtype.kind in "biu" or tol == 0:
            if not np.array_equal(got, value):
                return False
        elif not within(got, value, max(tol, CLOSE)):
            return False
        if want is None or want.shape != value.shape or wrong_dtype or not within(value, want, max(tol, CLOSE)):
            differs = True
    return differs


def within(actual, wanted, tol):
    actual, wanted = np.asarray(actual, dtype=np.float64), np.asarray(wanted, dtype=np.float64)
    if not (np.all(np.isfinite(actual)) and np.all(np.isfinite(wanted))):
        return bool(np.array_equal(actual, wanted, equal_nan=True))
    scale = max(float(np.max(np.abs(wanted), initial=0.0)), float(np.max(np.abs(actual), initial=0.0)), 1e-8)
    return float(np.max(np.abs(actual - wanted), initial=0.0)) <= tol * scale


def known_relations(outputs, expected, known, tolerances):
    return [diagnosis(f"known:{name}", f"your outputs are those of a known mistake: {hint}")
            for name, hint, known_outputs in known
            if known_outputs and matches_known(outputs, expected, known_outputs, tolerances)]


# Entry point ----------------------------------------------------------------------------------


def diagnose_checks(checks, results, outputs, expected, inputs, program, known=(), numerical=None, implied=None):
    """Fill ``diagnoses`` of every failing CheckResult in ``results`` (one per Check of ``checks``).

    Per-output relations go on the check of that output; test-wide ones (known
    mistakes, inputs modified in place) on the first failing check.
    """
    failing = [(check, result) for check, result in zip(checks, results) if not result.passed]
    if not failing:
        return
    knowns = Knowns(program, inputs, expected)
    for check, result in failing:
        if check.kind == "init" and check.output:
            result.diagnoses = layout.init_relations(check.output, outputs, expected)[:MAX_PER_CHECK]
            continue
        found = []
        for out in failing_outputs(check, result, outputs, expected, knowns, numerical, implied):
            found += output_relations(out, expected, program)
        result.diagnoses = found[:MAX_PER_CHECK]
    tolerances = {check.output: (0.0 if check.kind == "exact" else check.tol) for check in checks if check.output}
    first = failing[0][1]
    first.diagnoses = (known_relations(outputs, expected, known, tolerances)
                       + probe_relations(outputs, expected, inputs, program) + first.diagnoses)


def failing_outputs(check, result, outputs, expected, knowns, numerical=None, implied=None):
    """The Output pairs of a failing check: student's array against the fixture, against the gradient the
    student's own forward implies (``implied``: {output: array}), or against the student's own numerical
    gradient (``numerical``: the judge's) when that is what failed."""
    if check.kind not in ("match", "gradient", "exact", "numeric") or not check.output:
        return []
    actual = outputs.get(check.output)
    if actual is not None and result.problem != "numeric" and isinstance((implied or {}).get(check.output), np.ndarray):
        return [Output(check.output, actual, implied[check.output], knowns,
                       against="the gradient your own forward pass implies")]
    if check.kind == "numeric" or result.problem == "numeric":
        wanted = (numerical or {}).get(check.output)
        if actual is None or not isinstance(wanted, np.ndarray):
            return []
        return [Output(check.output, actual, wanted, knowns,
                       against=f"the numerical gradient of your own code for {check.output}")]
    prefix = check.output + "/"
    return [Output(key, outputs[key], expected[key], knowns) for key in sorted(expected)
            if (key == check.output or key.startswith(prefix)) and key in outputs]
