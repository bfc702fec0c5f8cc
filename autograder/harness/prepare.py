"""One-time preparation of an unpacked autograder (run by setup.sh): the Cython kernels.

Each ``course_lib`` copy (stubs and reference) gets its ``_im2col`` extension
built in place when Cython and a C compiler are available; otherwise the
library's pure-NumPy fallback is used and this says so.
"""
import os
import shutil
import sys
from pathlib import Path

from autograder import layout

EXTENSION_SOURCE = "course_lib/_im2col.pyx"


def build_extension(library_parent):
    """Compile course_lib/_im2col.pyx in place under ``library_parent``; True on success."""
    if not (library_parent / EXTENSION_SOURCE).is_file():
        return False
    try:
        import numpy
        from Cython.Build import cythonize
        from setuptools import Extension, setup
    except ImportError as error:
        print(f"not compiling the fast-layer kernels ({error}); the NumPy fallback will be used")
        return False
    extension = Extension("course_lib._im2col", [EXTENSION_SOURCE], include_dirs=[numpy.get_include()])
    previous = Path.cwd()
    os.chdir(library_parent)
    try:
        setup(script_args=["build_ext", "--inplace", "--quiet"],
              ext_modules=cythonize([extension], language_level=3, quiet=True))
    except (SystemExit, Exception) as error:  # setuptools reports compiler failures as SystemExit
        print(f"compiling the fast-layer kernels in {library_parent} failed ({error}); "
              "the NumPy fallback will be used")
        return False
    finally:
        os.chdir(previous)
    return True


def main(source):
    """Compile (or, for local runs, copy AUTOGRADER_PREBUILT_EXT) the kernels into both libraries.

    AUTOGRADER_BUILD_EXT=0 skips compiling (local runs whose Python has no compiled copy).
    """
    source = Path(source)
    prebuilt = os.environ.get("AUTOGRADER_PREBUILT_EXT")
    for folder in (layout.STUBS, layout.REFERENCE):
        if prebuilt:
            shutil.copy2(prebuilt, source / folder / "course_lib" / Path(prebuilt).name)
            print(f"copied the prebuilt fast-layer kernels into {folder}/course_lib")
        elif os.environ.get("AUTOGRADER_BUILD_EXT") == "0":
            print(f"not compiling the fast-layer kernels in {folder}/course_lib (AUTOGRADER_BUILD_EXT=0)")
        elif build_extension(source / folder):
            print(f"compiled the fast-layer kernels in {folder}/course_lib")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
