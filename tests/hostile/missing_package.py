"""neural_net.py imports a package that does not exist.

Must not happen: any other test affected. Every neural_net test scores 0 and
names the missing module.
"""
from tests.hostile import NEURAL_NET

APPEND = {"classifiers/neural_net.py": '''
_mark("ran")
import tensorflow_for_grading_that_does_not_exist  # noqa: E402,F401
'''}
ZERO = NEURAL_NET
FEEDBACK = {name: "tensorflow_for_grading_that_does_not_exist" for name in NEURAL_NET}
