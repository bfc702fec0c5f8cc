"""neural_net.py calls sys.exit(0) while it is imported.

Must not happen: the exit taken for success, or any test outside neural_net
affected. Every neural_net test scores 0 and says the code called exit.
"""
from tests.hostile import NEURAL_NET

APPEND = {"classifiers/neural_net.py": '''
import sys as _sys

_mark("ran")
_sys.exit(0)
'''}
ZERO = NEURAL_NET
FEEDBACK = {name: "called exit(0)" for name in NEURAL_NET}
