"""neural_net.TwoLayerNet.train leaves System V shared memory, a semaphore set and a message queue, and files
in /run/lock, /dev/shm, /var/tmp and /tmp, then trains correctly.

Must not happen: any of them surviving the grading (tests/test_isolation.py checks the workers' user owns
nothing afterwards); more shared memory than the worker's cap; any test affected. Full marks.
"""

APPEND = {"classifiers/neural_net.py": '''
import ctypes as _ctypes

_train_honestly = TwoLayerNet.train


def _litter(self, *args, **kwargs):
    _mark("ran")
    libc = _ctypes.CDLL(None, use_errno=True)
    private, create = 0, 0o1000 | 0o600  # IPC_PRIVATE, IPC_CREAT | rw
    if libc.shmget(private, 1 << 20, create) >= 0:
        _mark("left-shared-memory")
    if libc.shmget(private, 1 << 30, create) >= 0:
        _mark("succeeded-creating-1GB-of-shared-memory")
    if libc.semget(private, 4, create) >= 0:
        _mark("left-semaphores")
    if libc.msgget(private, create) >= 0:
        _mark("left-message-queue")
    for folder in ("/run/lock", "/dev/shm", "/var/tmp", "/tmp"):
        try:
            with open(_os.path.join(folder, "iso-leftover-" + _CASE), "w") as left:
                left.write("left behind")
        except OSError:
            continue
    return _train_honestly(self, *args, **kwargs)


TwoLayerNet.train = _litter
'''}
