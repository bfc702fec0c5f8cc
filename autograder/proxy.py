"""Proxies for student functions whose own tests failed, and the wire format they speak.

The worker side (``install``) runs inside the worker, next to ``worker.py``
(which loads this file from the job folder): it needs only the standard
library and numpy. A proxy sends its arguments to the grading process over an
inherited socket and returns what the reference function answered; the
grading process (``autograder.harness.substitutes``) computes it out of the
worker's reach, so the reference's code never enters the worker.

A message is a 4-byte big-endian length and a body: the 4-byte length of
its UTF-8 JSON ``{"message": ..., "arrays": [[name, dtype, shape], ...]}``,
the JSON, then the raw bytes of those arrays in order (numeric dtypes only:
never a pickle, and faster than an ``.npz`` for the thousands of calls of a
numerical gradient). In the message, ``{"$a": name}`` is
an array, ``{"$s": name}`` a numpy scalar (a 0-d array), ``{"$t": [...]}`` a
tuple and ``{"$d": {...}}`` a dict with string keys; lists, strings,
numbers, booleans and None are themselves; ``{"$g": [kind, state]}`` is a
random generator (``np.random.Generator`` of one of numpy's bit generators,
or a ``RandomState``: a dropout layer may hold one) carried as its state, and
written back into the caller's own generator. Anything else cannot be sent
(``Unsendable``): the proxy then calls the student's own function.

A request is ``{"fn": name, "args": [...], "kwargs": {...}, "rng": state}``
(``rng``: the worker's ``np.random`` state, so that random layers draw what
they would have drawn in the worker); an answer is ``{"result": value,
"dicts": [...], "rng": state}`` (the after-state of every dict argument, in
the order they were sent, applied to the caller's dicts in place) or
``{"error": text}``.
"""
import json
import struct
import sys

import numpy as np

HEADER = struct.Struct(">I")
MAX_DEPTH = 12
MAX_NODES = 20000
NUMERIC_KINDS = "biuf"
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class Unsendable(Exception):
    """A value that the wire format does not carry."""


class Encoder:
    """Turns a value into JSON and arrays; remembers the dicts it met, in order (a generator's state is
    not one of them: it is written back into the generator itself)."""

    def __init__(self):
        self.arrays = {}
        self.dicts = []
        self.nodes = 0

    def encode(self, value, depth=0, record=True):
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            raise Unsendable("nested too deeply or too large")
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if type(value) is np.ndarray or isinstance(value, np.generic):
            if value.dtype.kind not in NUMERIC_KINDS:
                raise Unsendable(f"dtype {value.dtype}")
            name = f"a{len(self.arrays)}"
            self.arrays[name] = np.asarray(value)
            return {"$a" if type(value) is np.ndarray else "$s": name}
        if isinstance(value, (tuple, list)) and type(value) in (tuple, list):
            items = [self.encode(item, depth + 1, record) for item in value]
            return {"$t": items} if type(value) is tuple else items
        if type(value) is dict:
            if not all(isinstance(key, str) for key in value):
                raise Unsendable("a dict with keys that are not strings")
            if record:
                self.dicts.append(value)
            return {"$d": {key: self.encode(item, depth + 1, record) for key, item in value.items()}}
        if type(value) in (np.random.Generator, np.random.RandomState):
            kind, state = generator_state(value)
            return {"$g": [kind, self.encode(state, depth + 1, record=False)]}
        raise Unsendable(type(value).__name__)

    def encode_fields(self, fields):
        """(the encoding of the dict of those ``fields`` the wire format carries, that dict): an instance
        may also hold a class or a function, which stays behind. The dict is recorded as sent."""
        sent, encoded = {}, {}
        self.dicts.append(sent)
        for key, value in fields.items():
            if not isinstance(key, str):
                continue
            arrays, dicts, nodes = len(self.arrays), len(self.dicts), self.nodes
            try:
                encoded[key] = self.encode(value, 1)
            except Unsendable:
                for name in list(self.arrays)[arrays:]:
                    del self.arrays[name]
                del self.dicts[dicts:]
                self.nodes = nodes
                continue
            sent[key] = value
        return {"$d": encoded}, sent


def generator_state(generator):
    """(kind, state) of a numpy random generator: its bit generator's name, or "RandomState"."""
    if type(generator) is np.random.RandomState:
        return "RandomState", generator.get_state(legacy=False)
    bit_generator = type(generator.bit_generator).__name__
    if bit_generator not in BIT_GENERATORS:
        raise Unsendable(f"a generator of {bit_generator}")
    return bit_generator, generator.bit_generator.state


def generator_of(kind, state):
    """The generator ``generator_state`` described; ValueError for anything else."""
    if kind not in BIT_GENERATORS + ("RandomState",) or not isinstance(state, dict):
        raise ValueError("the message holds an unknown random generator")
    try:
        if kind == "RandomState":
            generator = np.random.RandomState()
            generator.set_state(state)
            return generator
        bit_generator = getattr(np.random, kind)()
        bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as problem:
        raise ValueError(f"the message holds a bad generator state ({problem})") from None
    return np.random.Generator(bit_generator)


class Decoder:
    """The value of JSON and arrays; collects the dicts it builds, in the order they were sent."""

    def __init__(self, arrays):
        self.arrays = arrays
        self.dicts = []
        self.nodes = 0

    def decode(self, value, depth=0, record=True):
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            raise ValueError("the message is nested too deeply or too large")
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list):
            return [self.decode(item, depth + 1, record) for item in value]
        if not isinstance(value, dict) or len(value) != 1:
            raise ValueError("the message holds an unknown value")
        (tag, body), = value.items()
        if tag in ("$a", "$s") and isinstance(body, str) and body in self.arrays:
            array = self.arrays[body]
            return array.copy() if tag == "$a" else array[()]
        if tag == "$t" and isinstance(body, list):
            return tuple(self.decode(item, depth + 1, record) for item in body)
        if tag == "$d" and isinstance(body, dict):
            built = {}
            if record:
                self.dicts.append(built)
            for key, item in body.items():
                built[key] = self.decode(item, depth + 1, record)
            return built
        if tag == "$g" and isinstance(body, list) and len(body) == 2:
            return generator_of(body[0], self.decode(body[1], depth + 1, record=False))
        raise ValueError("the message holds an unknown value")


def pack(message, arrays):
    """The bytes of a message: its length, the length of its JSON, the JSON, the arrays' bytes."""
    listed, chunks = [], []
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        listed.append([name, array.dtype.str, list(array.shape)])
        chunks.append(array.tobytes())
    meta = json.dumps({"message": message, "arrays": listed}).encode()
    body = HEADER.pack(len(meta)) + meta + b"".join(chunks)
    return HEADER.pack(len(body)) + body


def unpack(body, max_arrays=MAX_NODES):
    """(message, {name: read-only array}) of a message's body; ValueError for anything malformed.

    Arrays are raw bytes of a numeric dtype (never pickles), each checked against what is left."""
    if len(body) < HEADER.size:
        raise ValueError("the message is shorter than its header")
    meta_size, = HEADER.unpack_from(body)
    offset = HEADER.size + meta_size
    if offset > len(body):
        raise ValueError("the message is shorter than its header says")
    meta = json.loads(body[HEADER.size:offset].decode("utf-8"))
    listed = meta.get("arrays") if isinstance(meta, dict) else None
    if not isinstance(listed, list) or len(listed) > max_arrays:
        raise ValueError("the message lists no arrays, or too many")
    arrays = {}
    for entry in listed:
        name, dtype, shape = array_entry(entry)
        count = 1
        for size in shape:
            count *= size
        end = offset + count * dtype.itemsize
        if end > len(body):
            raise ValueError("the message is shorter than its arrays")
        arrays[name] = np.frombuffer(body, dtype, count, offset).reshape(shape)
        offset = end
    if offset != len(body):
        raise ValueError("the message is longer than its arrays")
    return meta.get("message"), arrays


def array_entry(entry):
    """(name, dtype, shape) of one listed array, all checked."""
    if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
            and isinstance(entry[1], str) and len(entry[1]) <= 8 and isinstance(entry[2], list)
            and len(entry[2]) <= 32 and all(type(size) is int and 0 <= size < 1 << 40 for size in entry[2])):
        raise ValueError("the message lists an array badly")
    try:
        dtype = np.dtype(entry[1])
    except TypeError:
        raise ValueError(f"unknown dtype {entry[1]!r}") from None
    if dtype.kind not in NUMERIC_KINDS or dtype.subdtype is not None:
        raise ValueError(f"dtype {dtype} is not numeric")
    return entry[0], dtype, tuple(entry[2])


def rng_state():
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return [kind, keys, int(position), int(has_gauss), float(cached)]


def set_rng_state(state):
    kind, keys, position, has_gauss, cached = state
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))


# The worker's side ----------------------------------------------------------


class ReferenceUnavailable(Exception):
    """The grading process did not compute the reference function; the message says why."""


class Channel:
    """The worker's end of the socket to the grading process: one request, then its answer."""

    def __init__(self, descriptor):
        import socket

        self.socket = socket.socket(fileno=descriptor)
        self.socket.setblocking(True)

    def ask(self, data):
        try:
            self.socket.sendall(data)
            size, = HEADER.unpack(self.receive(HEADER.size))
            return self.receive(size)
        except OSError as error:
            raise ReferenceUnavailable(f"the grading process stopped answering ({error})") from None

    def receive(self, count):
        chunks, left = [], count
        while left:
            chunk = self.socket.recv(min(left, 1 << 20))
            if not chunk:
                raise ReferenceUnavailable("the grading process stopped answering (the calls of this test "
                                           "went beyond the autograder's limits)")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


def call_reference(channel, name, own, args, kwargs, fields=None):
    """The reference's ``name(*args, **kwargs)`` computed by the grading process; ``own`` when the
    arguments cannot be sent. A method's instance travels first as its ``fields`` (its attributes):
    returns (result, the keys of the fields sent, those fields as the call left them), or (own's result,
    None, None)."""
    encoder = Encoder()
    try:
        sent, encoded_args = None, []
        if fields is not None:  # first, as the grading process decodes it: both list the dicts in one order
            instance, sent = encoder.encode_fields(fields)
            encoded_args.append(instance)
        encoded_args += encoder.encode(list(args))
        message = {"fn": name, "args": encoded_args, "kwargs": encoder.encode(dict(kwargs)), "rng": None}
    except Unsendable:
        result = own(*args, **kwargs)
        return result if fields is None else (result, None, None)
    message["rng"] = encoder.encode(rng_state())
    keys = None if sent is None else set(sent)
    reply, arrays = unpack(channel.ask(pack(message, encoder.arrays)))
    if "error" in reply:
        raise ReferenceUnavailable(f"the reference's {name} failed on these arguments: {reply['error']}")
    decoder = Decoder(arrays)
    result = decoder.decode(reply["result"])
    set_rng_state(decoder.decode(reply["rng"]))
    changes = list(zip(encoder.dicts, [decoder.decode(item) for item in reply["dicts"]]))
    for caller_dict, after in reversed(changes):  # outer dicts last: their content is what the call left
        apply_changes(caller_dict, after)
    return result if fields is None else (result, keys, sent)


def apply_changes(target, after):
    """Make ``target`` hold what ``after`` holds, replacing only the entries that changed; a dict inside
    stays the same object (an instance's ``params`` may be shared with an optimizer)."""
    for key in [key for key in target if key not in after]:
        del target[key]
    for key, value in after.items():
        if type(target.get(key)) is dict and type(value) is dict:
            apply_changes(target[key], value)
        elif type(target.get(key)) is type(value) and type(value) in (np.random.Generator, np.random.RandomState):
            set_generator_state(target[key], value)
        elif key not in target or not same_value(target[key], value):
            target[key] = value


def set_generator_state(generator, source):
    """Give ``generator`` the state of ``source``: a layer's generator stays the same object."""
    if type(generator) is np.random.RandomState:
        generator.set_state(source.get_state())
    else:
        generator.bit_generator.state = source.bit_generator.state


def same_value(old, new):
    if isinstance(old, np.ndarray) or isinstance(new, np.ndarray):
        return (type(old) is type(new) and old.dtype == new.dtype and old.shape == new.shape
                and bool(np.array_equal(old, new, equal_nan=True)))
    return type(old) is type(new) and not isinstance(old, (dict, list, tuple)) and old == new


def make_proxy(name, own, channel):
    def proxy(*args, **kwargs):
        return call_reference(channel, name, own, args, kwargs)

    proxy.__name__ = getattr(own, "__name__", name)
    proxy.__doc__ = getattr(own, "__doc__", None)
    return proxy


def make_method_proxy(name, own, channel):
    """A method whose instance travels as its attributes (those the wire format carries: an instance may
    also hold a class or a function), written back to the instance on return."""
    def method(self, *args, **kwargs):
        attributes = getattr(self, "__dict__", None)
        if type(attributes) is not dict:
            return own(self, *args, **kwargs)
        result, keys, sent = call_reference(channel, name, lambda *rest, **named: own(self, *rest, **named),
                                            args, kwargs, fields=attributes)
        if sent is None:
            return result
        for key in keys - set(sent):
            attributes.pop(key, None)
        for key, value in sent.items():
            if key not in attributes or attributes[key] is not value:
                attributes[key] = value
        return result

    method.__name__ = getattr(own, "__name__", name)
    method.__doc__ = getattr(own, "__doc__", None)
    return method


class Installed:
    """Proxies in place of the student's functions, until ``restore``."""

    def __init__(self):
        self.originals = {}  # id(proxy) -> (proxy, the student's function)
        self.methods = []  # (class, attribute, the student's method)

    def restore(self):
        for module in course_lib_modules():
            for key, value in list(vars(module).items()):
                if id(value) in self.originals and self.originals[id(value)][0] is value:
                    vars(module)[key] = self.originals[id(value)][1]
        for owner, attribute, own in reversed(self.methods):
            try:
                setattr(owner, attribute, own)
            except (Exception, SystemExit):  # the student's class may refuse; its program is over anyway
                pass


def course_lib_modules():
    """The loaded modules of course_lib (whatever else the student's code put in sys.modules is skipped)."""
    return [module for name, module in list(sys.modules.items())
            if (name == "course_lib" or name.startswith("course_lib."))
            and isinstance(module, type(sys)) and isinstance(getattr(module, "__dict__", None), dict)]


def install(names, channel, find):
    """Put a proxy in place of each function ``names`` ("layers.affine_forward"), wherever a loaded
    course_lib module holds it; ``find(name)`` returns the student's function (and imports its module).
    A function that cannot be found is left alone: its call then fails as it would have."""
    installed = Installed()
    for name in names:
        try:
            own = find(name)
        except (Exception, SystemExit):
            continue
        try:
            owner = find(name.rpartition(".")[0])
        except (Exception, SystemExit):  # a module, not a class: "layers" of "layers.affine_forward"
            owner = None
        if not callable(own):
            continue
        if isinstance(owner, type):
            install_method(installed, name, owner, own, channel)
            continue
        proxy = make_proxy(name, own, channel)
        installed.originals[id(proxy)] = (proxy, own)
        for module in course_lib_modules():
            for key, value in list(vars(module).items()):
                if value is own:
                    vars(module)[key] = proxy
    return installed


def install_method(installed, name, owner, own, channel):
    """A proxy in place of method ``name`` of the student's class ``owner`` (where the class defines it)."""
    attribute = name.rpartition(".")[2]
    if owner.__dict__.get(attribute) is not own:
        return
    try:
        setattr(owner, attribute, make_method_proxy(name, own, channel))
    except (Exception, SystemExit):
        return
    installed.methods.append((owner, attribute, own))
