"""layers.relu_forward is wrong, so relu_backward's tests run with the reference's relu_forward behind the
worker's channel to the grading process; relu_backward uses that channel itself, on a copy of its
descriptor: it asks for its own reference, for functions no test of it relies on, for names that are no
function of the library at all, and sends garbage and arrays larger than the message holding them.

Must not happen: any answer but an error to those (only the functions a test relies on are computed, and
only from well-formed messages); the grading process failing or its channel closing on garbage. Only
relu_forward's tests score 0: relu_backward itself is right.
"""

APPEND = {"layers.py": '''
import json as _json
import socket as _socket
import struct as _struct
import sys as _sys

_right_relu_forward = relu_forward
_right_relu_backward = relu_backward
_FORBIDDEN = ("layers.relu_backward", "layers.affine_backward", "classifiers.neural_net.TwoLayerNet.train",
              "classifiers.fc_net.FullyConnectedNet.loss", "os.system", "builtins.eval",
              "autograder.harness.judge.Judge", "layers.np.load", "layers.__builtins__")


def relu_forward(x):
    out, cache = _right_relu_forward(x)
    return out * 1.5, cache


def _received(channel, count):
    data = b""
    while len(data) < count:
        chunk = channel.recv(count - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


def _exchange(channel, proxy, data):
    channel.sendall(data)
    size, = proxy.HEADER.unpack(_received(channel, proxy.HEADER.size))
    return proxy.unpack(_received(channel, size))[0]


def _request(proxy, name, args):
    encoder = proxy.Encoder()
    message = {"fn": name, "args": encoder.encode(list(args)), "kwargs": encoder.encode({}),
               "rng": encoder.encode(proxy.rng_state())}
    return proxy.pack(message, encoder.arrays)


def _abuse_the_channel(x):
    try:
        with open(_os.path.join(_os.path.dirname(_os.getcwd()), "request.json")) as file:
            request = _json.load(file)
    except (OSError, ValueError):
        return
    if not isinstance(request.get("channel"), int):
        return
    allowed = {name for program in request["programs"] for name in program.get("substitutes", [])}
    proxy = _sys.modules["__main__"].proxy
    channel = _socket.socket(fileno=_os.dup(request["channel"]))
    try:
        for name in _FORBIDDEN:
            if name not in allowed and "error" not in _exchange(channel, proxy, _request(proxy, name, [x])):
                _mark("succeeded-calling-" + name)
        meta = _json.dumps({"message": {"fn": "layers.relu_forward"}, "arrays": [["a0", "<f8", [1 << 30]]]})
        body = _struct.pack(">I", len(meta)) + meta.encode() + bytes(64)
        for garbage in (b"not even json", body):
            if "error" not in _exchange(channel, proxy, _struct.pack(">I", len(garbage)) + garbage):
                _mark("succeeded-sending-garbage")
    finally:
        channel.close()


def relu_backward(dout, cache):
    _mark("ran")
    _abuse_the_channel(cache)
    return _right_relu_backward(dout, cache)
'''}
ZERO = ("layers.relu_forward",)
