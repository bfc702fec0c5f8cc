"""neural_net.TwoLayerNet.train grows a bytearray a megabyte at a time until memory runs out.

Must not happen: the machine's memory used, or a vague reason. The address-space limit makes it fail with
a MemoryError that names the memory limit: the train test scores 0; nothing else is affected.
"""

APPEND = {"classifiers/neural_net.py": '''
def _grow(self, *args, **kwargs):
    _mark("ran")
    hoard = bytearray()
    while True:
        hoard += bytes(1 << 20)


TwoLayerNet.train = _grow
'''}
ZERO = ("classifiers.neural_net.TwoLayerNet.train",)
FEEDBACK = {"classifiers.neural_net.TwoLayerNet.train": "(out of memory: the worker may use 512 MB of memory)"}
