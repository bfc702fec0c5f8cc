"""neural_net.TwoLayerNet.train fills 10 GB, 256 MB at a time, touching every page.

Must not happen: the machine's memory used (the address-space limit stops it
at about 1 GB with a MemoryError); any other test affected. The train test scores 0.
"""

APPEND = {"classifiers/neural_net.py": '''
def _hoard(self, *args, **kwargs):
    _mark("ran")
    blocks = [np.ones(1 << 25) for _ in range(40)]
    _mark("succeeded-allocating-10GB")
    return blocks


TwoLayerNet.train = _hoard
'''}
ZERO = ("classifiers.neural_net.TwoLayerNet.train",)
FEEDBACK = {"classifiers.neural_net.TwoLayerNet.train": "MemoryError"}
