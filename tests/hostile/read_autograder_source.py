"""FullyConnectedNet.loss prints the autograder's source and the reference solution, if it can read them.

Must not happen: any line of the harness, the hidden suites or the sandbox in
the output; any of those files opened. The loss tests score 0.
"""

APPEND = {"classifiers/fc_net.py": '''
SOURCES = ("source/autograder/harness/pipeline.py", "source/autograder/suites/functional.py",
           "source/autograder/sandbox.py", "source/reference/course_lib/classifiers/fc_net.py",
           "source/run_autograder", "run_autograder")


def _print_the_source(self, X, y=None):
    _mark("ran")
    for root in _roots():
        for relative in SOURCES:
            try:
                with open(_os.path.join(root, relative)) as source:
                    print(source.read())
            except OSError as error:
                print("blocked:", error)
                continue
            _mark("succeeded-reading-" + relative.replace("/", "-"))
    raise RuntimeError("nothing to print")


FullyConnectedNet.loss = _print_the_source
'''}
ZERO = ("classifiers.fc_net.FullyConnectedNet.loss",)
FEEDBACK = {"classifiers.fc_net.FullyConnectedNet.loss": "blocked:"}
NEEDS_USER_SWITCH = True
