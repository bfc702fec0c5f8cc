"""fc_net.TwoLayerNet.loss tries to read the fixtures, the manifest and the held-out data instead of computing.

Must not happen: any of those files opened by the worker; any fixture key
(``test::out::name``) or harness path in the output. The loss tests score 0.
"""

APPEND = {"classifiers/fc_net.py": '''
STOLEN = ("source/fixtures.npz", "source/manifest.json", "source/heldout/cifar10.npz", "results/results.json")


def _copy_the_answers(self, X, y=None):
    _mark("ran")
    for root in _roots():
        for relative in STOLEN:
            try:
                with open(_os.path.join(root, relative), "rb") as stolen:
                    print(stolen.read(4000))
            except OSError as error:
                print("blocked:", error)
                continue
            _mark("succeeded-reading-" + relative.replace("/", "-"))
        for folder, _, names in _os.walk(root):
            _mark("succeeded-listing-" + _os.path.basename(folder))
    raise RuntimeError("no answers to copy")


TwoLayerNet.loss = _copy_the_answers
'''}
ZERO = ("classifiers.fc_net.TwoLayerNet.loss",)
FEEDBACK = {"classifiers.fc_net.TwoLayerNet.loss": "no answers to copy"}
NEEDS_USER_SWITCH = True
