"""Import a release's stub modules and call its stubs, from inside the release folder.

This file is not imported: the builder passes its text to ``python -c`` with the
release folder as the working directory, so that ``import course_lib`` resolves
the way it will for a student there (the current directory comes first on
``sys.path`` for ``-c``; a script path would put this folder there instead).
Reads a JSON request on stdin, prints a JSON report as its last stdout line.
"""
import importlib
import inspect
import json
import sys
import traceback


def dummy_arguments(function):
    """None for every parameter that has no default (``self`` excluded by the caller)."""
    positional, keyword = [], {}
    for parameter in inspect.signature(function).parameters.values():
        if parameter.default is not inspect.Parameter.empty:
            continue
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            positional.append(None)
        elif parameter.kind == parameter.KEYWORD_ONLY:
            keyword[parameter.name] = None
    return positional, keyword


def resolve_callable(module, attribute_path):
    """The object to call for ``Class.method`` or ``function``, bound to a bare instance if needed."""
    owner, target = None, module
    for name in attribute_path.split("."):
        owner, target = target, getattr(target, name)
    if inspect.isclass(owner) and isinstance(inspect.getattr_static(owner, attribute_path.split(".")[-1]),
                                             (staticmethod, classmethod)):
        return target
    if inspect.isclass(owner):
        # __init__ never ran: the stub raises before touching any attribute
        return getattr(owner.__new__(owner), attribute_path.split(".")[-1])
    return target


def call_stub(module_name, attribute_path, message):
    """None when the stub raises NotImplementedError(message), else what went wrong."""
    module = importlib.import_module(f"course_lib.{module_name}")
    function = resolve_callable(module, attribute_path)
    positional, keyword = dummy_arguments(function)
    try:
        function(*positional, **keyword)
    except NotImplementedError as exc:
        if str(exc) != message:
            return f"raised NotImplementedError({str(exc)!r}), expected {message!r}"
        return None
    except Exception as exc:  # the report names whatever the stub did instead
        return f"raised {type(exc).__name__}: {exc} instead of NotImplementedError({message!r})"
    return f"returned instead of raising NotImplementedError({message!r})"


def main():
    request = json.loads(sys.stdin.read())
    problems = []
    import course_lib

    for module_name in request["modules"]:
        try:
            importlib.import_module(f"course_lib.{module_name}")
        except Exception:
            problems.append(f"course_lib.{module_name} does not import:\n{traceback.format_exc()}")
    for module_name, attribute_path, message in request["calls"]:
        try:
            problem = call_stub(module_name, attribute_path, message)
        except Exception:
            problem = f"could not be called:\n{traceback.format_exc()}"
        if problem:
            problems.append(f"course_lib.{module_name}.{attribute_path}: {problem}")
    print(json.dumps({"course_lib_file": course_lib.__file__, "problems": problems}))


if __name__ == "__main__":
    main()
