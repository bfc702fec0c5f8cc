"""The upload has no classifiers/neural_net.py: the released stub stands in for it.

Must not happen: any other test affected. Every neural_net test scores 0 as
not implemented yet, and the summary says the file was not found.
"""
from tests.hostile import NEURAL_NET

REMOVE = ("classifiers/neural_net.py",)
ZERO = NEURAL_NET
FEEDBACK = {name: "not implemented yet" for name in NEURAL_NET}
RAN = False
