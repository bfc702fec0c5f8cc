"""Reference library of the course: numpy layers, networks, optimizers and the Solver.

Submodules are imported explicitly (``from course_lib.layers import affine_forward``);
importing the package itself loads nothing heavy.
"""

__version__ = "0.1.0"
