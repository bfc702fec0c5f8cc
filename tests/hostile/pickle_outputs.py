"""fc_net.py replaces numpy.savez so that the worker's output files hold pickles that run code when loaded.

Must not happen: the grading process unpickling anything (the pickle would
leave a success mark). The outputs are unreadable, so every fc_net test scores 0.
"""
from tests.hostile import FC_NET

APPEND = {"classifiers/fc_net.py": '''
_savez = np.savez


class _Trap:
    """Unpickling this runs _mark: proof that someone loaded a pickle."""

    def __reduce__(self):
        return (exec, ("import os; open(os.path.join(%r, %r), 'w').close()" % (_PROOF, _CASE + ".succeeded-unpickled"),))


def _savez_with_a_trap(file, *args, **arrays):
    _mark("ran")
    arrays["trap"] = np.array([_Trap()], dtype=object)
    return _savez(file, *args, **arrays)


np.savez = _savez_with_a_trap
'''}
ZERO = FC_NET
