"""A custom architecture (classifiers/spy.py) in the two_layer_best_net checkpoint reads the held-out labels as its scores.

Custom classes run the student's code in the worker, which gets only the
images. Must not happen: the held-out labels (or anything of the autograder)
read. Its scores are all zeros, so the checkpoint scores 0; nothing else is affected.
"""
import json

import numpy as np

ADD = {"classifiers/spy.py": '''
import numpy as np


class HeldoutSpy:
    """Scores that are the true labels, one-hot, if the held-out file can be read."""

    def __init__(self):
        self.params = {"W": np.zeros(1)}
        self.seen = 0

    def loss(self, X, y=None):
        _mark("ran")
        scores = np.zeros((len(X), 10))
        for root in _roots():
            try:
                with np.load(_os.path.join(root, "source", "heldout", "cifar10.npz")) as heldout:
                    labels = heldout["y"][self.seen:self.seen + len(X)]
            except OSError as error:
                print("blocked:", error)
                continue
            _mark("succeeded-reading-the-labels")
            scores[np.arange(len(X)), labels] = 1.0
        self.seen += len(X)
        return scores
'''}
ZERO = ("checkpoint two_layer_best_net",)
FEEDBACK = {"checkpoint two_layer_best_net": "custom architecture"}
NEEDS_USER_SWITCH = True


def adjust(submission):
    """The checkpoint names the spy class; its one array is the spy's only parameter."""
    meta = {"format": 1, "class": "course_lib.classifiers.spy.HeldoutSpy", "kwargs": {}}
    np.savez(submission / "checkpoints" / "two_layer_best_net.npz", meta=np.array(json.dumps(meta)),
             **{"param/W": np.zeros(1)})
