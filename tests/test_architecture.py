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


def circles(edges):
    """The import circles of ``edges`` (its strongly connected components of more than one module), each
    sorted; a package and its own submodules are not a circle."""
    edges = {name: {target for target in targets if not (target.startswith(name + ".") or
                                                         name.startswith(target + "."))}
             for name, targets in edges.items()}
    order, lowest, stack, found, counter = {}, {}, [], [], iter(range(len(edges)))

    def visit(name):
        order[name] = lowest[name] = next(counter)
        stack.append(name)
        for target in sorted(edges[name]):
            if target not in order:
                visit(target)
                lowest[name] = min(lowest[name], lowest[target])
            elif target in stack:
                lowest[name] = min(lowest[name], order[target])
        if lowest[name] == order[name]:
            component = stack[stack.index(name):]
            del stack[stack.index(name):]
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(edges):
        if name not in order:
            visit(name)
    return sorted(found)


def test_circles_are_found_whatever_their_length():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d.e"}, "d.e": {"d"}, "f": {"a"}}
    assert circles(edges) == [["a", "b", "c"]]


def test_no_import_circle():
    assert circles(graph()) == []


def test_no_module_is_a_god_module():
    long = [f"{path.relative_to(REPO_ROOT)}: {len(path.read_text().splitlines())} lines"
            for path in modules().values() if len(path.read_text().splitlines()) > MAX_LINES]
    assert long == []
