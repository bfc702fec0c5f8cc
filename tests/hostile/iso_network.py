"""fc_net.FullyConnectedNet.loss tries to send the data it was given out over TCP: to the usual local
ports (22, 80, 443, 3128, 5432, 6379, 8000, 8080, 8888) and to 1.1.1.1:443 and 8.8.8.8:53.

Must not happen: any connection (workers have no network: tests/test_isolation.py also checks a real
local listener). The loss tests score 0 and say the network is unreachable.
"""

APPEND = {"classifiers/fc_net.py": '''
import socket as _socket

_TARGETS = [("127.0.0.1", port) for port in (22, 80, 443, 3128, 5432, 6379, 8000, 8080, 8888)]
_TARGETS += [("1.1.1.1", 443), ("8.8.8.8", 53)]


def _exfiltrate(self, X, y=None):
    _mark("ran")
    for address in _TARGETS:
        try:
            with _socket.create_connection(address, timeout=1):
                _mark(f"succeeded-connecting-{address[0]}-{address[1]}")
        except OSError:
            continue
    raise RuntimeError("the network is unreachable from here")


FullyConnectedNet.loss = _exfiltrate
'''}
ZERO = ("classifiers.fc_net.FullyConnectedNet.loss",)
FEEDBACK = {"classifiers.fc_net.FullyConnectedNet.loss": "the network is unreachable from here"}
NEEDS_USER_SWITCH = True
