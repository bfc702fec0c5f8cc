"""Recognising a file a student saved under a near-miss name.

Students keep their work in ``layers_final.py`` or ``fc_nets (1).ipynb`` (a
browser's second download, an editor's "save as") while the grader and the
submission helper look for ``layers.py`` and ``fc_nets.ipynb``. ``near_misses``
finds such names so that both can say "did you mean ...".

Standard library only: the release's ``make_submission.py`` ships a copy of this
file (as ``submission_names.py``) and runs on any Python 3.10+.
"""
import difflib
import re
from pathlib import PurePosixPath

# What a renamed copy adds to the original name: "layers_final", "fc_nets (1)", "optim-old", "cnn copy 2".
# Only such words: "cnn_batchnorm" is another notebook, not a copy of "cnn".
COPY_TAIL = re.compile(r"(?:[ _.-]*(?:\(\d+\)|v?\d+|copy|final|old|new|backup|bak|orig|original|mine|draft"
                       r"|edited|fixed|working|done|submitted|submission))+")
# How close two names must be to count as a typo of each other ("layer.py", "fc_net.ipynb").
TYPO_RATIO = 0.85


def is_near_miss(wanted, candidate):
    """True when file name ``candidate`` looks like ``wanted`` renamed: same suffix, not the same name,
    and either ``wanted``'s stem followed by what copies add (see COPY_TAIL), or a small typo of it."""
    wanted, candidate = PurePosixPath(wanted), PurePosixPath(candidate)
    if candidate.suffix.lower() != wanted.suffix.lower() or candidate.name == wanted.name:
        return False
    stem, other = wanted.stem.lower(), candidate.stem.lower()
    if other.startswith(stem) and COPY_TAIL.fullmatch(other[len(stem):]):
        return True
    return difflib.SequenceMatcher(None, stem, other).ratio() >= TYPO_RATIO


def near_misses(wanted, candidates):
    """The paths among ``candidates`` whose file name is a near miss of ``wanted``'s, in their order."""
    name = PurePosixPath(wanted).name
    return [path for path in candidates if is_near_miss(name, PurePosixPath(path).name)]


def did_you_mean(wanted, candidates):
    """" (did you mean X? rename it to Y)" for the first near miss of a missing file, or ""."""
    found = near_misses(wanted, candidates)
    if not found:
        return ""
    return f" (did you mean {found[0]}? rename it to {PurePosixPath(wanted).name})"


def copy_of(path, originals):
    """" (a copy of X? only X is graded)" when ``path`` is a near-miss name of one of ``originals``, or ""."""
    name = PurePosixPath(path).name
    found = [original for original in originals if is_near_miss(PurePosixPath(original).name, name)]
    return f" (a copy of {found[0]}? only {found[0]} is graded)" if found else ""
