"""neural_net.py ends in a syntax error.

Must not happen: any test outside neural_net affected. Every neural_net test
scores 0 and names the SyntaxError.
"""
from tests.hostile import NEURAL_NET

APPEND = {"classifiers/neural_net.py": '''
def unfinished(:
    pass
'''}
ZERO = NEURAL_NET
FEEDBACK = {name: "SyntaxError" for name in NEURAL_NET}
RAN = False
