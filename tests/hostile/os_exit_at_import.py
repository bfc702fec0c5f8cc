"""neural_net.py calls os._exit(0) while it is imported: the worker vanishes without answering.

Must not happen: exit code 0 taken for success, or any other test affected.
Every neural_net test scores 0.
"""
from tests.hostile import NEURAL_NET

APPEND = {"classifiers/neural_net.py": '''
_mark("ran")
_os._exit(0)
'''}
ZERO = NEURAL_NET
FEEDBACK = {name: "ended without answering" for name in NEURAL_NET}
