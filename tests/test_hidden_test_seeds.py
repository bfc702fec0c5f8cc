"""The reference passes every gradient check of the hidden tests whatever the term's seed.

A seed whose inputs made the reference fail one of its own checks (a tolerance too tight for those
inputs, a numerical gradient that is rounding noise where dropout's gradient is held to it) would make
``course build`` refuse the term's seed. Each test is run on
the reference in this process (as the worker runs it) for several seeds, its fixtures being its own outputs.
"""
import pytest

from autograder import worker
from autograder.build import draw_inputs
from autograder.harness.judge import Judge
from autograder.suites import CATALOG
from autograder.suites.spec import GRADIENT, NET
from tests.autograder_support.releases import REPO_ROOT

SEEDS = range(12)
GRADIENT_TESTS = [test for tests in CATALOG.values() for test in tests
                  if any(check.kind == "gradient" for check in test.checks) and test.kind in (NET, GRADIENT)]


@pytest.mark.parametrize("test", GRADIENT_TESTS, ids=[test.id for test in GRADIENT_TESTS])
def test_the_reference_passes_its_gradient_checks_for_every_seed(test, tmp_path):
    failing = {}
    for seed in SEEDS:
        inputs = draw_inputs(test, seed)
        job = worker.Job(tmp_path, REPO_ROOT)
        job.inputs = dict(inputs)
        arrays, reply = worker.run_program(job, test.program)
        assert reply["status"] == "ok", reply.get("error")
        verdict = Judge(arrays, reply.get("outputs"), arrays, inputs, None,
                        numerics=test.program.get("numeric", ())).run(test.checks)
        if verdict.fraction < 1:
            failing[seed] = [check.message for check in verdict.checks if not check.passed]
    assert not failing, failing
