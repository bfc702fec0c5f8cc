"""The reference in place of a student's failing prerequisite: which functions, and the service that computes them.

When a test relies on functions whose own tests already failed in this
grading, its program runs with those functions replaced by proxies
(``autograder.proxy``) that ask this process for the reference's result, so
that a mistake costs only the tests of the function that has it. Forward and
backward passes share a private cache format, so the whole family goes
together: when any prerequisite of a test failed, every prerequisite that is
a module-level function (``layers.affine_forward``) or a method other than a
constructor (``TwoLayerNet.loss``, whose instance's attributes travel with
the call and come back changed) is replaced; constructors and classes are
left as they are.

The worker is hostile: every message is bounded in size, its arrays are raw
numeric bytes checked against the message's length (never pickles), only the allowed functions are called,
each call runs within the program's wall time and a memory budget, answers
are written without blocking, and a worker that exceeds the limits of a
program loses its channel (its proxies then raise).
"""
import inspect
import signal
import socket
import threading
import time
import warnings
from contextlib import contextmanager

import numpy as np

from autograder import proxy
from autograder.harness.accuracy import memory_budget

MAX_MESSAGE_BYTES = 16 << 20
MAX_ARRAYS = 200
MAX_TOTAL_BYTES = 4 << 30  # received from one worker
MAX_CALLS = 400_000  # per worker; a numerical gradient of a net makes tens of thousands
CALL_MEMORY_BYTES = 256 << 20
READ_CHUNK = 1 << 20


def reference_callable(reference, name):
    """(the reference's function, its class or None) for a substitutable ``name``: a module-level function
    ("layers.affine_forward") or a method other than ``__init__`` of a class of the library
    ("classifiers.neural_net.TwoLayerNet.loss"); None when ``name`` is neither."""
    owner_name, _, attribute = name.rpartition(".")
    try:
        module = reference.module(owner_name)
    except ImportError:
        module = None
    if module is not None:
        function = getattr(module, attribute, None)
        if inspect.isfunction(function) and function.__module__ == module.__name__:
            return function, None
        return None
    module_name, _, class_name = owner_name.rpartition(".")
    try:
        module = reference.module(module_name)
    except ImportError:
        return None
    owner = getattr(module, class_name, None)
    if not inspect.isclass(owner) or owner.__module__ != module.__name__ or attribute == "__init__":
        return None
    function = owner.__dict__.get(attribute)
    return (function, owner) if inspect.isfunction(function) else None


def substitutable(reference, names):
    """Those of ``names`` that the reference can stand in for (functions and methods, not constructors)."""
    return [name for name in names if reference_callable(reference, name) is not None]


def substitutes_for(test, failed, reference):
    """The functions and methods a test runs with the reference's in place of the student's: all its
    substitutable prerequisites when any of them failed its own tests, else none (a failing constructor
    is the student's to carry, as before)."""
    if not any(name in failed for name in test.requires):
        return []
    tested = untagged(test.function)
    # The tested code itself never: loss[batchnorm] relies on the rest of loss, the same method.
    names = [name for name in substitutable(reference, test.requires) if untagged(name) != tested]
    return names if any(name in failed for name in names) else []


def untagged(key):
    """The function a manifest key names: "...FullyConnectedNet.loss" for "...FullyConnectedNet.loss[batchnorm]"."""
    return key.split("[", 1)[0]


class Closed(Exception):
    """The worker broke a rule of the channel; it is closed."""


class TimeUp(Exception):
    """A reference call outlived the program's wall time."""


class ReferenceService:
    """The grading process's end of one worker's channel.

    ``allowed``: for each program of the request, the names it substitutes; the worker may call any of
    them (the grading process cannot tell exactly when one program ends and the next starts).
    ``serve`` is called in the sandbox's wait loop.
    """

    def __init__(self, reference, allowed):
        self.reference = reference
        self.allowed = {name for names in allowed for name in names}
        self.callables = {}  # resolved on first use: a numerical gradient asks thousands of times
        self.ours, theirs = socket.socketpair()
        self.ours.setblocking(False)
        self.worker_descriptor = theirs.detach()
        self.incoming = bytearray()
        self.outgoing = b""
        self.received = 0
        self.calls = 0
        self.open = True
        self.problem = ""

    def serve(self, deadline, timeout):
        """Answer what the worker asks for ``timeout`` s (the reference calls end by ``deadline``)."""
        import select

        end = time.monotonic() + timeout
        while self.open and time.monotonic() < end:
            writing = [self.ours] if self.outgoing else []
            reading = [] if self.outgoing else [self.ours]
            readable, writable, _ = select.select(reading, writing, [], max(0.0, end - time.monotonic()))
            try:
                if writable:
                    self.write()
                if readable:
                    self.read(deadline)
            except Closed as reason:
                self.close(str(reason))
        time.sleep(max(0.0, end - time.monotonic()))

    def write(self):
        try:
            sent = self.ours.send(self.outgoing)
        except BlockingIOError:
            return
        except OSError as error:
            raise Closed(f"the worker closed its channel ({error})") from None
        self.outgoing = self.outgoing[sent:]

    def read(self, deadline):
        try:
            chunk = self.ours.recv(READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as error:
            raise Closed(f"the worker closed its channel ({error})") from None
        if not chunk:
            raise Closed("the worker closed its channel")
        self.received += len(chunk)
        if self.received > MAX_TOTAL_BYTES:
            raise Closed(f"the worker sent more than {MAX_TOTAL_BYTES >> 20} MB")
        self.incoming += chunk
        if len(self.incoming) < proxy.HEADER.size:
            return
        size, = proxy.HEADER.unpack(self.incoming[:proxy.HEADER.size])
        if size > MAX_MESSAGE_BYTES:
            raise Closed(f"a message of the worker was larger than {MAX_MESSAGE_BYTES >> 20} MB")
        end = proxy.HEADER.size + size
        if len(self.incoming) < end:
            return
        if len(self.incoming) > end:
            raise Closed("the worker sent a request before reading the answer to the last")
        body, self.incoming = bytes(self.incoming[proxy.HEADER.size:end]), bytearray()
        self.calls += 1
        if self.calls > MAX_CALLS:
            raise Closed(f"the worker made more than {MAX_CALLS} calls")
        self.outgoing = self.answer(body, self.allowed, deadline)
        self.write()

    def answer(self, body, allowed, deadline):
        """The packed answer to one request: the reference's result, or an error for the worker to raise."""
        try:
            try:
                message, arrays = proxy.unpack(body, MAX_ARRAYS)
            except (ValueError, UnicodeDecodeError, RecursionError) as problem:
                raise ValueError(f"unreadable request ({problem})") from None
            request = proxy.Decoder(arrays)
            name = message.get("fn") if isinstance(message, dict) else None
            if name not in allowed:
                raise ValueError(f"{name!r} is not a function this test may call through the reference")
            args = request.decode(message.get("args"))
            kwargs = request.decode(message.get("kwargs"))
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise ValueError("the arguments are not a list and a dict")
            if name not in self.callables:
                self.callables[name] = reference_callable(self.reference, name)
            function, owner = self.callables[name]
            if owner is not None:  # a method: the first argument is the instance's attributes
                if not args or not isinstance(args[0], dict):
                    raise ValueError("a method's request starts with the instance's attributes")
                instance = object.__new__(owner)
                instance.__dict__ = args[0]  # changed in place: sent back with the other dicts
                args[0] = instance
            state = request.decode(message.get("rng"))
            result, state = call_within(function, args, kwargs, state, deadline)
            answer = proxy.Encoder()
            reply = {"result": answer.encode(result), "dicts": [answer.encode(item) for item in request.dicts],
                     "rng": answer.encode(state)}
            packed = proxy.pack(reply, answer.arrays)
        except Closed:
            raise
        except Exception as error:  # the worker's arguments may break anything
            packed = proxy.pack({"error": f"{type(error).__name__}: {str(error)[:300]}"}, {})
        if len(packed) > MAX_MESSAGE_BYTES + proxy.HEADER.size:
            packed = proxy.pack({"error": "the result is too large to send back"}, {})
        return packed

    def close(self, problem):
        self.open, self.problem = False, problem
        self.outgoing = b""
        self.ours.close()

    def finish(self):
        if self.open:
            self.close("")


def call_within(function, args, kwargs, state, deadline):
    """(function(*args, **kwargs), the random state after it), computed with the worker's random state,
    within the time left before ``deadline`` and a memory budget; the grading process's own random state
    and warning filters are left as they were."""
    own_state = np.random.get_state()
    try:
        proxy.set_rng_state(state)
        with warnings.catch_warnings(), np.errstate(all="ignore"), time_limit(deadline - time.monotonic()), \
                memory_budget(CALL_MEMORY_BYTES):
            warnings.simplefilter("ignore")
            result = function(*args, **kwargs)
        return result, proxy.rng_state()
    finally:
        np.random.set_state(own_state)


@contextmanager
def time_limit(seconds):
    """Raise TimeUp in the code running after ``seconds`` (where this is the main thread)."""
    if seconds <= 0:
        raise TimeUp("the program's wall time is used up")
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise TimeUp("the reference call outlived the program's wall time")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
