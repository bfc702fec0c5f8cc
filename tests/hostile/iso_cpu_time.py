"""neural_net.TwoLayerNet.train lowers its own CPU-time limit to one second more than it used, then spins.

Must not happen: a vague reason. The kernel's SIGXCPU ends it: the train test scores 0 and says the
CPU-time limit was hit; nothing else is affected.
"""

APPEND = {"classifiers/neural_net.py": '''
import resource as _resource


def _spin(self, *args, **kwargs):
    _mark("ran")
    used = _resource.getrusage(_resource.RUSAGE_SELF)
    _, hard = _resource.getrlimit(_resource.RLIMIT_CPU)
    _resource.setrlimit(_resource.RLIMIT_CPU, (int(used.ru_utime + used.ru_stime) + 1, hard))
    while True:
        pass


TwoLayerNet.train = _spin
'''}
ZERO = ("classifiers.neural_net.TwoLayerNet.train",)
FEEDBACK = {"classifiers.neural_net.TwoLayerNet.train": "the process ended without answering: it used up its CPU-time limit"}
