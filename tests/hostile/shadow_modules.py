"""The upload shadows what the worker imports: numpy.py, json.py, os.py, socket.py, sitecustomize.py and
usercustomize.py in course_lib and at the top of the upload, .pth files beside them, and compiled files
(``__pycache__/layers.cpython-*.pyc`` and a sourceless ``layers.pyc``) holding code other than layers.py's.

Must not happen: any of them run (only course_lib's .py files are graded and only the submission's
course_lib package is imported; the worker starts with -I -S; compiled files are never copied). Full marks.
"""
import py_compile
import re
import sys

SHADOWS = ("numpy", "json", "os", "socket", "sitecustomize", "usercustomize")
SHADOW = '''
_mark("succeeded-shadowing-" + __name__)
'''
ADD = {f"{name}.py": SHADOW for name in SHADOWS}
RAN = False


def adjust(submission):
    library = submission / "course_lib"
    proof, case = re.search(r'_PROOF = "(.*)"\n_CASE = "(.*)"', (library / "numpy.py").read_text()).groups()
    for name in SHADOWS:
        (submission / f"{name}.py").write_text((library / f"{name}.py").read_text())
    mark = f"import os; open(os.path.join({proof!r}, {case!r} + '.succeeded-running-a-pth'), 'w').close()\n"
    for folder in (submission, library):
        (folder / "shadow.pth").write_text(mark)
    # Compiled layers whose relu_forward marks; layers.py itself stays the reference's.
    source = (library / "layers.py").read_text()
    compiled = library / "__pycache__"
    compiled.mkdir()
    other = submission / "other_layers.py"
    other.write_text(source + "\n" + mark)
    for version in {"310", "311", "312", "313", f"{sys.version_info[0]}{sys.version_info[1]}"}:
        py_compile.compile(str(other), cfile=str(compiled / f"layers.cpython-{version}.pyc"),
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    (library / "layers.pyc").write_bytes((compiled / f"layers.cpython-{sys.version_info[0]}{sys.version_info[1]}.pyc")
                                         .read_bytes())
    other.unlink()
