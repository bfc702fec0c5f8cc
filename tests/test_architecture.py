"""The layers import one way: course_tools -> autograder -> course_lib, and no module imports in a circle.

Imports are read from the source (lazy ones inside functions included). A
package importing its own submodule (``from autograder.suites import draw``)
is not an edge.
"""
import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"course_lib": 1, "autograder": 2, "course_tools": 3}
MAX_LINES = 500


def modules():
    found = {}
    for layer in LAYERS:
        for path in sorted((REPO_ROOT / layer).rglob("*.py")):
            name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def imports(path, known):
    """The project modules ``path`` imports (a name imported from a package counts as that package's
    submodule when one exists, else as the package)."""
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                targets.add(submodule if submodule in known else node.module)
        elif isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
    return {target for target in targets if target in known}


def graph():
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def test_no_module_imports_a_layer_above_its_own():
    upward = [f"{name} imports {target}" for name, targets in graph().items() for target in targets
              if LAYERS[target.split(".")[0]] > LAYERS[name.split(".")[0]]]
    assert upward == []


def test_no_import_circle():
    edges = graph()
    circles = sorted({tuple(sorted((a, b))) for a, targets in edges.items() for b in targets
                      if a in edges.get(b, ()) and not (a.startswith(b + ".") or b.startswith(a + "."))})
    assert circles == []


def test_no_module_is_a_god_module():
    long = [f"{path.relative_to(REPO_ROOT)}: {len(path.read_text().splitlines())} lines"
            for path in modules().values() if len(path.read_text().splitlines()) > MAX_LINES]
    assert long == []
