"""The reference course_lib inside the grading process: for standard models and behaviour checks only.

It is imported from the autograder's own ``reference/`` folder, never from the
submission; the grading process imports no student code at all.
"""
import importlib
import sys
from pathlib import Path


class ReferenceLibrary:
    """Lazy access to the reference modules under ``root/course_lib``."""

    def __init__(self, root):
        self.root = Path(root).resolve()

    def module(self, name):
        """``course_lib.<name>`` of the reference (e.g. "classifiers.fc_net")."""
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        module = importlib.import_module(f"course_lib.{name}")
        origin = Path(module.__file__).resolve()
        if self.root not in origin.parents:
            raise ImportError(f"course_lib.{name} was imported from {origin}, not from the reference in {self.root}; "
                              "another course_lib is already loaded in this process")
        return module

    def attribute(self, qualname):
        """The object called ``qualname`` inside course_lib, e.g. "checkpoint.load_model"."""
        module_name, _, name = qualname.rpartition(".")
        return getattr(self.module(module_name), name)

    def build(self, qualname, **kwargs):
        """An instance of the reference class ``qualname`` (e.g. "classifiers.neural_net.TwoLayerNet")."""
        return self.attribute(qualname)(**kwargs)
