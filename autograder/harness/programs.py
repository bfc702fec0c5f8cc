"""Reading and rewriting a test's program for the diagnoses: which call made an output, probes, the mode swap.

A program runs with *probes*: every input array a call receives is read back
after the call (``probe/<call>/<input>``), so that an input modified in place
(or state updated) shows. The builder also runs each program that has a
train/test mode with the modes swapped and keeps its outputs as
``swapped/<output>`` fixtures: what the other mode gives.
"""

PROBE_PREFIX = "probe/"
SWAPPED_PREFIX = "swapped/"


def program_values(value, key=None):
    """(key, value) of every keyword and dict entry in a program, at any depth."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from program_values(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from program_values(item, key)
    elif key is not None:
        yield key, value


def producing_call(program, key):
    """The call whose result (or argument) output ``key`` reads, or None."""
    ref = program.get("outputs", {}).get(key.split("/")[0])
    if isinstance(ref, dict) and len(ref) == 1:
        path = next(iter(ref.values()))
        if isinstance(path, list) and path and isinstance(path[0], int) and path[0] < len(program.get("calls", [])):
            return program["calls"][path[0]]
    return None


def call_inputs(program, key):
    """Names of the input arrays the call producing ``key`` receives."""
    found = producing_call(program, key)
    return [name for _, name in input_references(found.get("args", []))] if found else []


def call_mode(program, key):
    found = producing_call(program, key)
    if found is None:
        return None
    for name, value in program_values(found.get("args", []) + [found.get("kwargs", {})]):
        if name == "mode" and value in ("train", "test"):
            return value
    flags = [value for value in found.get("args", []) if isinstance(value, bool)]
    if found.get("method") == "forward" and flags:
        return "train" if flags[0] else "test"
    return None


def input_references(value, path=()):
    """(path, input name) of every ``{"$in": name}`` inside a call argument."""
    if isinstance(value, dict):
        if len(value) == 1 and "$in" in value:
            yield path, value["$in"]
        elif not any(key.startswith("$") for key in value):
            for key, item in value.items():
                yield from input_references(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from input_references(item, path + (index,))


def with_probes(program):
    """``program`` that also sends back every input array a call receives positionally, as it is after the call
    (``probe/<call>/<input>``): a change there is an input modified in place, or state updated."""
    outputs = dict(program.get("outputs", {}))
    for index, item in enumerate(program.get("calls", [])):
        if "assign" in item:
            continue
        for position, value in enumerate(item.get("args", [])):
            for path, name in input_references(value):
                outputs.setdefault(f"{PROBE_PREFIX}{index}/{name}", {"$a": [index, position, *path]})
    return {**program, "outputs": outputs}


def swapped_modes(program):
    """``program`` with train and test mode exchanged in every call (without numerical gradients, seeded), or
    None when no call has a mode."""
    changed = False

    def swap(value, key=None, flag_position=False):
        nonlocal changed
        if key == "mode" and value in ("train", "test"):
            changed = True
            return "test" if value == "train" else "train"
        if flag_position and isinstance(value, bool):
            changed = True
            return not value
        if isinstance(value, dict):
            return {name: swap(item, name) for name, item in value.items()}
        if isinstance(value, list):
            return [swap(item, key) for item in value]
        return value

    calls = []
    for item in program.get("calls", []):
        item = swap(item)
        if item.get("method") == "forward" and len(item.get("args", [])) >= 2:
            item["args"] = [item["args"][0], swap(item["args"][1], flag_position=True), *item["args"][2:]]
        calls.append(item)
    if not changed:
        return None
    return {"calls": calls, "outputs": dict(program.get("outputs", {})), "numeric": [],
            "seed": program.get("seed", 0)}


def probed_input(key):
    """The input name of probe ``probe/<call>/<input>``."""
    return key[len(PROBE_PREFIX):].split("/", 1)[1]
