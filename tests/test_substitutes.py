"""The reference in place of a failing prerequisite: the proxy's round trip and the service's limits.

The worker's side (autograder.proxy) runs in a thread here, against the
grading process's side (autograder.harness.substitutes) serving in the main
thread, over the same socket pair a worker inherits.
"""
import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from autograder import proxy
from autograder.harness import substitutes
from autograder.harness.reference import ReferenceLibrary
from autograder.suites import spec

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reference():
    return ReferenceLibrary(REPO)


def serve_while(service, work, seconds=20.0):
    """Run ``work(channel)`` in a thread as the worker would, serving its calls meanwhile; its result."""
    outcome = {}

    def worker():
        try:
            outcome["value"] = work(proxy.Channel(service.worker_descriptor))
        except Exception as error:  # handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=worker)
    thread.start()
    deadline = time.monotonic() + seconds
    while thread.is_alive() and time.monotonic() < deadline:
        service.serve(deadline, timeout=0.01)
    thread.join(timeout=5)
    service.finish()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_batchnorm_round_trip_returns_the_reference_result_and_updates_bn_param_in_place(reference):
    rng = np.random.default_rng(0)
    x, gamma, beta = rng.normal(size=(6, 4)), rng.normal(size=4), rng.normal(size=4)
    bn_param = {"mode": "train", "momentum": 0.8, "running_mean": np.ones(4)}
    expected_param = {key: value.copy() if isinstance(value, np.ndarray) else value for key, value in bn_param.items()}
    expected, cache = reference.attribute("layers.batchnorm_forward")(x, gamma, beta, expected_param)
    service = substitutes.ReferenceService(reference, [["layers.batchnorm_forward", "layers.batchnorm_backward"]])

    def work(channel):
        out, cache = proxy.call_reference(channel, "layers.batchnorm_forward", None, (x, gamma, beta, bn_param), {})
        grads = proxy.call_reference(channel, "layers.batchnorm_backward", None, (np.ones_like(out), cache), {})
        return out, cache, grads

    out, got_cache, grads = serve_while(service, work)
    np.testing.assert_array_equal(out, expected)
    assert type(got_cache) is type(cache)
    assert set(bn_param) == set(expected_param) and bn_param["mode"] == "train"
    np.testing.assert_array_equal(bn_param["running_mean"], expected_param["running_mean"])
    np.testing.assert_array_equal(bn_param["running_var"], expected_param["running_var"])
    want = reference.attribute("layers.batchnorm_backward")(np.ones_like(out), cache)
    assert isinstance(grads, tuple) and len(grads) == 3
    for got, wanted in zip(grads, want):
        np.testing.assert_array_equal(got, wanted)


@pytest.mark.parametrize("value", [
    (np.arange(6.0).reshape(2, 3), (np.float32(2.5), [1, 2.0, None, "train"]), {"w": np.ones(2, np.int32)}),
    {"nested": {"deeper": (np.zeros((0, 3)), True, np.int64(-7))}},
])
def test_encoding_round_trips_types_and_values(value):
    encoder = proxy.Encoder()
    meta = json.loads(json.dumps(encoder.encode(value)))
    decoded = proxy.Decoder(encoder.arrays).decode(meta)
    assert_same(decoded, value)


def assert_same(got, want):
    assert type(got) is type(want)
    if isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)
    elif isinstance(want, dict):
        assert list(got) == list(want)
        for key in want:
            assert_same(got[key], want[key])
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for one, other in zip(got, want):
            assert_same(one, other)
    else:
        assert got == want


@pytest.mark.parametrize("make", [np.random.default_rng, lambda seed: np.random.Generator(np.random.MT19937(seed)),
                                  lambda seed: np.random.Generator(np.random.Philox(seed)), np.random.RandomState])
def test_generators_travel_as_their_state_and_are_not_dicts_of_the_call(make):
    generator = make(5)
    generator.random(3)  # not at the seed's start
    value = {"layer": {"rng": generator, "keep_prob": 0.5}}
    encoder = proxy.Encoder()
    meta = json.loads(json.dumps(encoder.encode(value)))
    decoder = proxy.Decoder(encoder.arrays)
    decoded = decoder.decode(meta)
    assert len(encoder.dicts) == len(decoder.dicts) == 2, "a generator's state is not a dict of the call"
    copy = decoded["layer"]["rng"]
    assert type(copy) is type(generator) and copy is not generator
    expected = make(5)
    expected.random(3)
    np.testing.assert_array_equal(copy.random(4), expected.random(4))


@pytest.mark.parametrize("body", [["PCG64", {"state": "broken"}], ["os.system", {}], ["RandomState", [1, 2]]])
def test_bad_generator_states_are_refused(body):
    with pytest.raises(ValueError):
        proxy.Decoder({}).decode({"$g": [body[0], body[1]]})


class StudentDropout:
    """A student's dropout layer whose own forward is wrong; it draws from a generator of its own."""

    def __init__(self, keep_prob, seed):
        self.name, self.params, self.grads, self.meta = "dropout", {}, {}, None
        self.keep_prob, self.seed = keep_prob, seed
        self.rng = np.random.default_rng(seed)
        self.helper = lambda: "a function stays behind"

    def forward(self, x, is_training=True, seed=None):
        return x


def test_a_layer_method_draws_from_the_layers_own_generator_which_stays_the_same_object(reference):
    name = "mlp.layers.dropout.forward"
    x = np.ones((40, 30), dtype=np.float32)
    expected_layer = reference.build("mlp.layers.dropout", keep_prob=0.6, seed=4)
    expected = [expected_layer.forward(x) for _ in range(2)]
    student = StudentDropout(keep_prob=0.6, seed=4)
    own_generator = student.rng
    service = substitutes.ReferenceService(reference, [[name]])

    def work(channel):
        installed = proxy.Installed()
        proxy.install_method(installed, name, StudentDropout, StudentDropout.__dict__["forward"], channel)
        try:
            return [student.forward(x) for _ in range(2)]
        finally:
            installed.restore()

    outs = serve_while(service, work)
    for out, wanted in zip(outs, expected):
        np.testing.assert_array_equal(out, wanted)
    np.testing.assert_array_equal(student.meta, expected_layer.meta)
    assert student.rng is own_generator and student.helper() == "a function stays behind"
    np.testing.assert_array_equal(student.rng.random(5), expected_layer.rng.random(5))


@pytest.mark.parametrize("value", [object(), {1: np.ones(2)}, np.array(["a"]), lambda: 0])
def test_what_cannot_be_sent_falls_back_to_the_students_own_function(value):
    def own(*args, **kwargs):
        return "own"

    assert proxy.call_reference(None, "layers.relu_forward", own, (value,), {}) == "own"


def test_random_layers_draw_what_they_would_have_drawn_in_the_worker(reference):
    x = np.ones((50, 10))
    np.random.seed(3)
    expected = reference.attribute("layers.dropout_forward")(x, {"mode": "train", "p": 0.5})[0]
    after_expected = np.random.random_sample()
    service = substitutes.ReferenceService(reference, [["layers.dropout_forward"]])

    def work(channel):
        np.random.seed(3)
        out = proxy.call_reference(channel, "layers.dropout_forward", None, (x, {"mode": "train", "p": 0.5}), {})[0]
        return out, np.random.random_sample()

    out, after = serve_while(service, work)
    np.testing.assert_array_equal(out, expected)
    assert after == after_expected


def test_reference_errors_and_names_outside_the_test_are_raised_in_the_worker(reference):
    service = substitutes.ReferenceService(reference, [["layers.affine_forward"]])

    def work(channel):
        raised = []
        for name, args in [("layers.affine_forward", (np.ones((2, 3)), np.ones((4, 5)), np.ones(5))),
                           ("layers.relu_forward", (np.ones(3),)), ("checkpoint.load_model", ("/etc/passwd",))]:
            with pytest.raises(proxy.ReferenceUnavailable) as error:
                proxy.call_reference(channel, name, None, args, {})
            raised.append(str(error.value))
        return raised

    shapes, relu, load = serve_while(service, work)
    assert "affine_forward failed on these arguments" in shapes
    assert "not a function this test may call" in relu and "not a function this test may call" in load


def test_substitutes_are_the_function_prerequisites_once_one_failed(reference):
    requires = ("layers.affine_forward", "layers.affine_backward", "classifiers.fc_net.FullyConnectedNet.__init__")
    test = spec.Test("classifiers.fc_net.FullyConnectedNet.loss", "loss", spec.FORWARD, requires=requires)
    assert substitutes.substitutes_for(test, set(), reference) == []
    assert substitutes.substitutes_for(test, {"classifiers.fc_net.FullyConnectedNet.__init__"}, reference) == []
    assert substitutes.substitutes_for(test, {"layers.affine_backward"}, reference) == [
        "layers.affine_forward", "layers.affine_backward"]


def test_methods_other_than_constructors_are_substituted_too(reference):
    requires = ("classifiers.neural_net.TwoLayerNet.loss", "classifiers.neural_net.TwoLayerNet.predict",
                "classifiers.neural_net.TwoLayerNet.__init__", "classifiers.neural_net.TwoLayerNet")
    test = spec.Test("classifiers.neural_net.TwoLayerNet.train", "train", spec.BEHAVIOUR, requires=requires)
    assert substitutes.substitutes_for(test, {"classifiers.neural_net.TwoLayerNet.__init__"}, reference) == []
    assert substitutes.substitutes_for(test, {"classifiers.neural_net.TwoLayerNet.loss"}, reference) == [
        "classifiers.neural_net.TwoLayerNet.loss", "classifiers.neural_net.TwoLayerNet.predict"]


class StudentNet:
    """A student's class whose own loss is wrong; its instance state is what the reference's method reads."""

    def __init__(self, params):
        self.params = params

    def loss(self, X, y=None, reg=0.0):
        return 0.0, {}


def test_a_method_runs_the_reference_on_the_instance_attributes_and_writes_changes_back(reference):
    rng = np.random.default_rng(3)
    params = {"W1": rng.normal(size=(5, 4)), "b1": rng.normal(size=5), "W2": rng.normal(size=(3, 5)),
              "b2": rng.normal(size=3)}
    X, y = rng.normal(size=(6, 4)), np.array([0, 1, 2, 0, 1, 2])
    net = reference.build("classifiers.neural_net.TwoLayerNet", input_size=4, hidden_size=5, output_size=3)
    net.params = {key: value.copy() for key, value in params.items()}
    expected_loss, expected_grads = net.loss(X, y, reg=0.1)
    name = "classifiers.neural_net.TwoLayerNet.loss"
    service = substitutes.ReferenceService(reference, [[name]])
    student = StudentNet(params)

    def work(channel):
        installed = proxy.Installed()
        proxy.install_method(installed, name, StudentNet, StudentNet.__dict__["loss"], channel)
        try:
            outcome = student.loss(X, y, reg=0.1)
            student.extra = {"note": "kept"}  # attributes the reference never saw stay
            return outcome
        finally:
            installed.restore()

    loss, grads = serve_while(service, work)
    assert loss == pytest.approx(expected_loss, rel=1e-12) and set(grads) == set(expected_grads)
    for key in grads:
        np.testing.assert_array_equal(grads[key], expected_grads[key])
    assert student.params is params and student.extra == {"note": "kept"}
    assert StudentNet.loss(student, X) == (0.0, {}), "the student's method is back after restore"


def test_the_tested_method_is_never_replaced_even_through_another_region_of_it(reference):
    loss = "classifiers.fc_net.FullyConnectedNet.loss"
    requires = (loss, "layers.batchnorm_forward", "layers.batchnorm_backward_alt",
                "classifiers.fc_net.FullyConnectedNet.__init__[batchnorm]")
    test = spec.Test(loss + "[batchnorm]", "train mode", spec.NET, requires=requires)
    assert substitutes.substitutes_for(test, {"layers.batchnorm_forward", loss}, reference) == [
        "layers.batchnorm_forward", "layers.batchnorm_backward_alt"]
    assert substitutes.substitutes_for(test, {loss}, reference) == []


# A hostile worker: the grading process loses nothing and the channel closes at its limits ----------


def raw_service(reference):
    service = substitutes.ReferenceService(reference, [["layers.affine_forward"]])
    return service, socket.socket(fileno=service.worker_descriptor)


def pump(service, seconds=2.0):
    deadline = time.monotonic() + seconds
    while service.open and time.monotonic() < deadline:
        service.serve(deadline + 10, timeout=0.01)


@pytest.mark.parametrize("data", [
    proxy.HEADER.pack(substitutes.MAX_MESSAGE_BYTES + 1) + b"x" * 100,
    proxy.HEADER.pack(8) + b"garbage!" + proxy.HEADER.pack(8) + b"pipeline",
])
def test_oversized_or_pipelined_messages_close_the_channel(reference, data):
    service, worker = raw_service(reference)
    worker.sendall(data)
    pump(service)
    assert not service.open and service.problem
    assert worker.recv(100) == b""  # the worker sees the channel end (its proxies raise)
    worker.close()


def test_garbage_gets_an_error_answer_and_the_channel_stays_open(reference):
    service, worker = raw_service(reference)
    worker.sendall(proxy.HEADER.pack(8) + b"garbage!")
    pump(service, 0.5)
    size, = proxy.HEADER.unpack(worker.recv(4))
    answer, _ = proxy.unpack(worker.recv(size, socket.MSG_WAITALL))
    assert "unreadable request" in answer["error"]
    assert service.open
    service.finish()
    worker.close()


def test_a_worker_that_never_reads_cannot_block_the_grading_process(reference):
    service, worker = raw_service(reference)
    encoder = proxy.Encoder()
    # An answer of 8 MB: far more than the socket's buffer holds.
    request = {"fn": "layers.affine_forward",
               "args": encoder.encode([np.zeros((1000, 1)), np.zeros((1, 1000)), np.zeros(1000)]),
               "kwargs": encoder.encode({}), "rng": encoder.encode(proxy.rng_state())}
    worker.sendall(proxy.pack(request, encoder.arrays))
    started = time.monotonic()
    pump(service, 1.0)  # the answer is not read; serving must still return on time
    assert time.monotonic() - started < 5
    assert service.calls == 1 and len(service.outgoing) > 1 << 20
    service.finish()
    worker.close()


def test_a_call_that_outlives_the_wall_time_is_an_error_not_a_hang(reference):
    def slow(*args):
        time.sleep(30)

    started = time.monotonic()
    with pytest.raises(substitutes.TimeUp):
        substitutes.call_within(slow, [], {}, proxy.rng_state(), time.monotonic() + 0.3)
    assert time.monotonic() - started < 5


def body_of(meta, raw=b""):
    encoded = json.dumps(meta).encode()
    return proxy.HEADER.pack(len(encoded)) + encoded + raw


@pytest.mark.parametrize("body", [
    b"", b"\x00\x00\x00\xffshort",
    body_of({"message": {}, "arrays": [["a0", "|O", [1]]]}, b"\x00" * 8),
    body_of({"message": {}, "arrays": [["a0", "V8", [1]]]}, b"\x00" * 8),
    body_of({"message": {}, "arrays": [["a0", "(2,)f8", [1]]]}, b"\x00" * 16),
    body_of({"message": {}, "arrays": [["a0", "<f8", [1 << 30, 1 << 30]]]}, b"\x00" * 8),
    body_of({"message": {}, "arrays": [["a0", "<f8", [-1]]]}, b"\x00" * 8),
    body_of({"message": {}, "arrays": [["a0", "<f8", [2]]]}, b"\x00" * 8),
    body_of({"message": {}, "arrays": [["a0", "<f8", [1]]]}, b"\x00" * 9),
    body_of({"message": {}, "arrays": [["a0", "<f8", [True]]]}, b"\x00" * 8),
    body_of({"message": {}, "arrays": "all"}),
])
def test_malformed_messages_are_refused(body):
    with pytest.raises((ValueError, UnicodeDecodeError)):
        proxy.unpack(body)


@pytest.mark.parametrize("value", [{"$a": "missing"}, {"$x": 1}, {"$t": 3}, {"a": 1, "b": 2},
                                   [[[[[[[[[[[[[[0]]]]]]]]]]]]]]])
def test_decoding_refuses_unknown_or_too_deep_values(value):
    with pytest.raises(ValueError):
        proxy.Decoder({}).decode(value)


# Through a real worker, in each way the sandbox can start one ---------------------------------------

WRONG_LAYERS = '''
import numpy as np


def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b + 1.0, (x, w, b)


def batchnorm_forward(x, gamma, beta, bn_param):
    raise NotImplementedError
'''
LAYER_UTILS = '''
from course_lib.layers import affine_forward


def affine_twice(x, w, b):
    return affine_forward(affine_forward(x, w, b)[0], np.eye(w.shape[1]), np.zeros(w.shape[1]))[0]


import numpy as np
'''
HOSTILE = '''
import os
import socket
import struct
import time


def channel():
    for name in os.listdir("/proc/self/fd"):
        try:
            return socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue


def flood(x):
    connection = channel()
    connection.setblocking(True)
    while True:
        connection.sendall(struct.pack(">I", 64 << 20) + b"x" * (1 << 20))


def stall(x):
    connection = channel()
    connection.sendall(struct.pack(">I", 4) + b"junk")
    time.sleep(1000)
'''


@pytest.fixture
def submission(tmp_path):
    folder = tmp_path / "submission" / "course_lib"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "layers.py").write_text(WRONG_LAYERS)
    (folder / "layer_utils.py").write_text(LAYER_UTILS)
    (folder / "hostile.py").write_text(HOSTILE)
    return folder.parent


@pytest.fixture(params=["namespaces", "no namespaces", "no user switch"])
def worker_mode(request, monkeypatch):
    from autograder import isolation, sandbox

    if request.param == "no namespaces":
        monkeypatch.setattr(sandbox, "_namespaced", lambda identity: False)
    if request.param == "no user switch":
        monkeypatch.setenv(isolation.MODE_VARIABLE, "reduced")
    return request.param


def test_proxies_reach_the_reference_from_a_real_worker(submission, reference, worker_mode):
    from autograder.sandbox import Limits, run_worker
    from autograder.suites.spec import arg, call, inp, program, res

    rng = np.random.default_rng(1)
    inputs = {"x": rng.normal(size=(4, 3)), "w": rng.normal(size=(3, 5)), "b": rng.normal(size=5),
              "gamma": np.ones(5), "beta": np.zeros(5)}
    body = program([call("layer_utils.affine_twice", inp("x"), inp("w"), inp("b")),
                    call("layers.batchnorm_forward", res(0), inp("gamma"), inp("beta"), {"mode": "train"})],
                   {"out": res(0), "normalized": res(1, 0), "running_mean": arg(1, 3, "running_mean")})
    names = ["layers.affine_forward", "layers.batchnorm_forward"]
    service = substitutes.ReferenceService(reference, [names])
    result = run_worker({"programs": [dict(body, substitutes=names), body]}, [inputs, inputs], submission,
                        Limits(wall_seconds=30), service=service)
    assert result.status == "ok", result.problem
    (arrays, reply), (_, unsubstituted) = result.programs
    assert reply["status"] == "ok", reply["error"]
    affine = reference.attribute("layers.affine_forward")
    expected = affine(inputs["x"], inputs["w"], inputs["b"])[0]
    np.testing.assert_allclose(arrays["out"], expected, rtol=1e-12)
    bn_param = {"mode": "train"}
    normalized = reference.attribute("layers.batchnorm_forward")(expected, inputs["gamma"], inputs["beta"], bn_param)[0]
    np.testing.assert_allclose(arrays["normalized"], normalized, rtol=1e-12)
    np.testing.assert_allclose(arrays["running_mean"], bn_param["running_mean"], rtol=1e-12)
    # The student's own functions are back for the next program.
    assert unsubstituted["status"] == "error" and unsubstituted["error"]["not_implemented"]


@pytest.mark.parametrize("attack", ["flood", "stall"])
def test_a_worker_that_floods_or_stalls_its_channel_ends_at_its_wall_time(submission, reference, attack):
    from autograder.sandbox import Limits, run_worker
    from autograder.suites.spec import call, inp, program, res

    service = substitutes.ReferenceService(reference, [["layers.affine_forward"]])
    started = time.monotonic()
    result = run_worker({"programs": [dict(program([call(f"hostile.{attack}", inp("x"))], {"out": res(0)}),
                                           substitutes=["layers.affine_forward"])]},
                        [{"x": np.zeros(2)}], submission, Limits(wall_seconds=3), service=service)
    # The worker fails (its channel closed under it, or its wall time ran out); the grading process is fine.
    assert result.status in ("timeout", "crashed") or result.programs[0][1]["status"] == "error"
    assert time.monotonic() - started < 30
    assert not service.open
    if attack == "flood":
        assert "larger than 16 MB" in service.problem
