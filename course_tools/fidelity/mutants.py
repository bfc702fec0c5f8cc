"""Systematic mutants of the reference's solution regions: one small edit each, with a stable id.

Only code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` is mutated,
one expression or statement at a time. Each operator below mimics a slip a
student makes: a swapped operator or sign, a changed constant, the wrong axis,
a dropped term, an in-place update or a missing copy, an off-by-one slice,
swapped arguments, the wrong variable returned. The edit replaces the source
text of that one node with ``ast.unparse`` of the mutated node (in parentheses
when precedence needs them), so every other line keeps its exact text.

A mutant's id is ``<manifest key>:<operator>:<hash>``, the hash taken over the
changed line(s) before and after: it stays the same while that line does,
whatever else changes in the file, so the list of equivalent mutants
(``fidelity/equivalent_mutants.toml``) survives unrelated edits.
"""
import ast
import copy
import hashlib
import random
import textwrap
from dataclasses import dataclass
from pathlib import Path

from course_tools.regions import find_regions

# Swaps a student makes between related NumPy reductions and elementwise functions.
FUNCTION_SWAPS = {"sum": "mean", "mean": "sum", "max": "min", "min": "max", "maximum": "minimum",
                  "minimum": "maximum", "argmax": "argmin", "argmin": "argmax"}
ARITHMETIC_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
                    ast.FloorDiv: ast.Div, ast.Pow: ast.Mult, ast.MatMult: ast.Mult}
COMPARE_SWAPS = {ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt,), ast.Gt: (ast.GtE, ast.Lt), ast.GtE: (ast.Gt,),
                 ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,),
                 ast.In: (ast.NotIn,), ast.NotIn: (ast.In,)}
NON_COMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.MatMult, ast.Pow)
COPY_CALLS = {"copy", "array", "asarray"}  # np.copy(x) / np.array(x) -> x; x.copy() -> x
# Array methods whose call a student forgets: x.reshape(shape) -> x, x.astype(dtype) -> x, ...
FORGOTTEN_METHODS = {"reshape", "astype", "ravel", "flatten", "transpose", "squeeze"}


@dataclass(frozen=True)
class Mutant:
    """One mutant: ``replacement`` takes the place of characters ``start``..``end`` of ``course_lib/<file>``.

    ``before``/``after``: the changed source line(s) of the reference and of the mutant.
    """

    id: str
    function: str  # the manifest key whose solution region holds the edit
    file: str
    line: int
    operator: str
    before: str
    after: str
    start: int
    end: int
    replacement: str

    @property
    def patched(self):  # the interface of a Variant that grading.relevant_numbers reads
        return (self.function,)

    def apply(self, text):
        """The mutated module from the reference module's ``text``."""
        return text[:self.start] + self.replacement + text[self.end:]

    def as_data(self):
        return {"id": self.id, "function": self.function, "file": self.file, "line": self.line,
                "operator": self.operator, "before": self.before, "after": self.after}


# The operators: each yields (operator, replacement node) for one node --------------------


def number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def changed_constants(value):
    """0 <-> 1, x2, /2, +-1: the values a slip turns ``value`` into (never ``value`` itself)."""
    if isinstance(value, bool):
        return [not value]
    if not number(value):
        return []
    candidates = [1 if value == 0 else 0, value * 2, value / 2 if isinstance(value, float) else value // 2]
    if isinstance(value, int):
        candidates += [value + 1, value - 1]
    unique = []
    for candidate in candidates:
        if candidate != value and candidate not in unique and candidate >= 0:
            unique.append(candidate)
    return unique


def call_name(node):
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def module_attribute(node):
    """Whether an attribute is taken from the numpy module (np.reshape) rather than from an array."""
    return isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy")


def keyword(node, name):
    return next((kw for kw in node.keywords if kw.arg == name), None)


def with_keywords(node, keywords):
    new = copy.deepcopy(node)
    new.keywords = keywords
    return new


def axis_mutations(node):
    """Another axis, no axis at all, keepdims switched (or added)."""
    axis = keyword(node, "axis")
    if axis is None:
        return
    others = [kw for kw in node.keywords if kw is not axis]
    value = axis.value
    if isinstance(value, ast.Constant) and number(value.value):
        new_axis = 1 if value.value in (0, -1) else 0
        yield with_keywords(node, [*others, ast.keyword("axis", ast.Constant(new_axis))])
    elif isinstance(value, ast.Tuple) and len(value.elts) > 1:
        for index in range(len(value.elts)):
            fewer = ast.Tuple([e for i, e in enumerate(value.elts) if i != index], ast.Load())
            yield with_keywords(node, [*others, ast.keyword("axis", fewer)])
    yield with_keywords(node, others)
    keepdims = keyword(node, "keepdims")
    if keepdims is None:
        yield with_keywords(node, [*node.keywords, ast.keyword("keepdims", ast.Constant(True))])
    elif isinstance(keepdims.value, ast.Constant):
        flipped = ast.keyword("keepdims", ast.Constant(not keepdims.value.value))
        yield with_keywords(node, [kw if kw is not keepdims else flipped for kw in node.keywords])


def call_mutations(node):
    name = call_name(node)
    if name in FUNCTION_SWAPS:
        new = copy.deepcopy(node)
        if isinstance(new.func, ast.Attribute):
            new.func.attr = FUNCTION_SWAPS[name]
        else:
            new.func.id = FUNCTION_SWAPS[name]
        yield "function", new
    for new in axis_mutations(node):
        yield "axis", new
    if name == "copy" and isinstance(node.func, ast.Attribute) and not node.args:
        yield "copy", node.func.value
    elif name in FORGOTTEN_METHODS and isinstance(node.func, ast.Attribute) and not module_attribute(node.func):
        yield "drop-call", node.func.value
    elif name in COPY_CALLS and isinstance(node.func, ast.Attribute) and len(node.args) == 1 and not node.keywords:
        yield "copy", node.args[0]
    if name == "range" and node.args:
        stop = node.args[-1] if len(node.args) <= 2 else node.args[1]
        for delta in (ast.Sub(), ast.Add()):
            new = copy.deepcopy(node)
            new.args[node.args.index(stop)] = ast.BinOp(copy.deepcopy(stop), delta, ast.Constant(1))
            yield "slice", new
    positional = [arg for arg in node.args if not isinstance(arg, ast.Starred)]
    if len(positional) == len(node.args):
        for index in range(len(node.args) - 1):
            if ast.dump(node.args[index]) != ast.dump(node.args[index + 1]):
                new = copy.deepcopy(node)
                new.args[index], new.args[index + 1] = new.args[index + 1], new.args[index]
                yield "swap-args", new


def binop_mutations(node):
    swapped = ARITHMETIC_SWAPS.get(type(node.op))
    if swapped:
        yield "arithmetic", ast.BinOp(node.left, swapped(), node.right)
    if isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div | ast.Pow | ast.FloorDiv):
        yield "drop-term", node.left
    if isinstance(node.op, ast.Add | ast.Mult):
        yield "drop-term", node.right
    if isinstance(node.op, NON_COMMUTATIVE):
        yield "swap-args", ast.BinOp(node.right, node.op, node.left)


def slice_mutations(node):
    """Off by one at either end of a slice."""
    lower = node.lower
    shifted = ast.BinOp(copy.deepcopy(lower), ast.Add(), ast.Constant(1)) if lower else ast.Constant(1)
    yield "slice", ast.Slice(shifted, node.upper, node.step)
    if node.upper is not None:
        for delta in (ast.Sub(), ast.Add()):
            yield "slice", ast.Slice(node.lower, ast.BinOp(copy.deepcopy(node.upper), delta, ast.Constant(1)),
                                     node.step)


def expression_mutations(node):
    """(operator, replacement) pairs for one expression node."""
    if isinstance(node, ast.BinOp):
        yield from binop_mutations(node)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "sign", node.operand
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "boolean", node.operand
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        for other in COMPARE_SWAPS.get(type(node.ops[0]), ()):
            yield "compare", ast.Compare(node.left, [other()], node.comparators)
    elif isinstance(node, ast.BoolOp):
        yield "boolean", ast.BoolOp(ast.Or() if isinstance(node.op, ast.And) else ast.And(), node.values)
    elif isinstance(node, ast.Constant):
        for value in changed_constants(node.value):
            yield "constant", ast.Constant(value)
    elif isinstance(node, ast.Call):
        yield from call_mutations(node)
    elif isinstance(node, ast.Attribute) and node.attr == "T":
        yield "drop-call", node.value
    elif isinstance(node, ast.Slice):
        yield from slice_mutations(node)


def statement_mutations(node, locals_in_order):
    """(operator, replacement) pairs for a whole statement."""
    if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.value, ast.BinOp)
            and ast.unparse(node.targets[0]) == ast.unparse(node.value.left)):
        yield "in-place", ast.AugAssign(node.targets[0], node.value.op, node.value.right)
    if isinstance(node, ast.AugAssign) and type(node.op) in ARITHMETIC_SWAPS:
        yield "arithmetic", ast.AugAssign(node.target, ARITHMETIC_SWAPS[type(node.op)](), node.value)
    if isinstance(node, ast.Return) and node.value is not None:
        yield from return_mutations(node, locals_in_order)


def return_mutations(node, locals_in_order):
    """Another local variable returned in place of the right one; two returned values swapped."""
    value = node.value
    if isinstance(value, ast.Name):
        for other in [name for name in locals_in_order if name != value.id][-2:]:
            yield "return", ast.Return(ast.Name(other, ast.Load()))
    elif isinstance(value, ast.Tuple):
        for index in range(len(value.elts) - 1):
            elements = list(value.elts)
            elements[index], elements[index + 1] = elements[index + 1], elements[index]
            if ast.dump(elements[index]) != ast.dump(elements[index + 1]):
                yield "return", ast.Return(ast.Tuple(elements, ast.Load()))


# Walking a region ----------------------------------------------------------------------------


def own_expressions(statement):
    """(path, node) of the expressions a statement holds itself (not those of nested statements).

    A path is a list of (field, index) steps from the statement down to the node.
    """
    pending = []
    for name, value in ast.iter_fields(statement):
        if name in ("body", "orelse", "finalbody", "handlers"):
            continue
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if isinstance(item, ast.expr | ast.keyword | ast.withitem | ast.comprehension | ast.arguments):
                pending.append(([(name, index if isinstance(value, list) else None)], item))
    while pending:
        path, node = pending.pop(0)
        if isinstance(node, ast.expr):
            yield path, node
        for name, value in ast.iter_fields(node):
            items = value if isinstance(value, list) else [value]
            for index, item in enumerate(items):
                if isinstance(item, ast.AST) and not isinstance(item, ast.expr_context | ast.operator | ast.cmpop
                                                                | ast.boolop | ast.unaryop):
                    pending.append(([*path, (name, index if isinstance(value, list) else None)], item))


def follow(node, path):
    for name, index in path:
        node = getattr(node, name) if index is None else getattr(node, name)[index]
    return node


def replaced(statement, path, replacement):
    """A deep copy of ``statement`` whose node at ``path`` is ``replacement`` (the whole statement for [])."""
    if not path:
        return replacement
    new = copy.deepcopy(statement)
    parent = follow(new, path[:-1])
    name, index = path[-1]
    if index is None:
        setattr(parent, name, copy.deepcopy(replacement))
    else:
        getattr(parent, name)[index] = copy.deepcopy(replacement)
    return new


def assigned_names(function):
    """Local names a function assigns, in order of first assignment."""
    names = []
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id not in names:
            names.append(node.id)
    return names


class SourceFile:
    """A library module's text with conversions from ast positions (UTF-8 byte columns) to offsets."""

    def __init__(self, text):
        self.text = text
        self.lines = text.split("\n")
        self.line_starts = [0]
        for line in self.lines[:-1]:
            self.line_starts.append(self.line_starts[-1] + len(line) + 1)

    def offset(self, lineno, col):
        line = self.lines[lineno - 1]
        return self.line_starts[lineno - 1] + len(line.encode()[:col].decode())

    def span(self, node):
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)


def mutant_text(source, statement, path, node, replacement):
    """(start, end, replacement text) for one mutation, or None when its text would not parse to it."""
    start, end = source.span(node)
    expected = ast.dump(replaced(statement, path, replacement))
    text = ast.unparse(replacement)
    for candidate in (text, f"({text})"):
        mutated = source.text[:start] + candidate + source.text[end:]
        first, last = statement.lineno, statement.end_lineno + candidate.count("\n") - (node.end_lineno - node.lineno)
        snippet = "\n".join(mutated.split("\n")[first - 1:last])
        try:
            parsed = ast.parse(snippet.strip() if first == last else textwrap.dedent(snippet))
        except SyntaxError:
            continue
        if parsed.body and ast.dump(parsed.body[0]) == expected:
            return start, end, candidate
    return None


def region_statements(tree, region):
    """(enclosing function, statement) of every statement that starts inside the region."""
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) and \
                function.lineno < region.begin <= function.end_lineno:
            innermost = function
    statements = [node for node in ast.walk(innermost)
                  if isinstance(node, ast.stmt) and region.begin < node.lineno < region.end]
    for statement in sorted(statements, key=lambda node: (node.lineno, node.col_offset)):
        yield innermost, statement


def region_mutants(region, source, tree):
    """Every mutant of one solution region, in source order."""
    found, seen, edits = [], {}, set()
    for function, statement in region_statements(tree, region):
        locals_in_order = assigned_names(function)
        # the values of axis= and keepdims= change only through the axis operator
        keyword_values = {id(kw.value) for kw in ast.walk(statement)
                          if isinstance(kw, ast.keyword) and kw.arg in ("axis", "keepdims")}
        candidates = [([], statement, pair) for pair in statement_mutations(statement, locals_in_order)]
        candidates += [(path, node, pair) for path, node in own_expressions(statement)
                       if id(node) not in keyword_values for pair in expression_mutations(node)]
        for path, node, (operator, replacement) in candidates:
            edit = mutant_text(source, statement, path, node, replacement)
            if edit is None or edit in edits or source.text[edit[0]:edit[1]] == edit[2]:
                continue
            edits.add(edit)
            start, end, text = edit
            first, last = node.lineno, node.end_lineno
            before = "\n".join(source.lines[first - 1:last])
            mutated = source.text[:start] + text + source.text[end:]
            after = "\n".join(mutated.split("\n")[first - 1:last - (node.end_lineno - node.lineno) + text.count("\n")])
            digest = hashlib.sha1(f"{operator}\n{before.strip()}\n{after.strip()}".encode()).hexdigest()[:8]
            base = f"{region.key}:{operator}:{digest}"
            seen[base] = seen.get(base, 0) + 1
            mutant_id = base if seen[base] == 1 else f"{base}.{seen[base]}"
            found.append(Mutant(mutant_id, region.key, region.path, first, operator, before, after, start, end, text))
    return found


def sample(mutants, cap, seed):
    """At most ``cap`` mutants, the same ones for the same seed: operators taken in turn, each shuffled."""
    if cap is None or len(mutants) <= cap:
        return list(mutants)
    by_operator = {}
    for mutant in mutants:
        by_operator.setdefault(mutant.operator, []).append(mutant)
    for operator, group in by_operator.items():
        random.Random(f"{seed}:{operator}:{group[0].function}").shuffle(group)
    chosen = []
    while len(chosen) < cap:
        for group in by_operator.values():
            if group and len(chosen) < cap:
                chosen.append(group.pop(0))
    order = {mutant.id: index for index, mutant in enumerate(mutants)}
    return sorted(chosen, key=lambda mutant: order[mutant.id])


def generate_mutants(lib_root, keys, cap=None, seed=0):
    """The mutants of every solution region claimed by one of ``keys`` (manifest keys), at most ``cap`` per region."""
    lib_root = Path(lib_root)
    parsed = {}
    mutants = []
    for region in find_regions(lib_root):
        if region.key not in keys:
            continue
        if region.path not in parsed:
            text = (lib_root / region.path).read_text(encoding="utf-8")
            parsed[region.path] = (SourceFile(text), ast.parse(text))
        source, tree = parsed[region.path]
        mutants += sample(region_mutants(region, source, tree), cap, seed)
    return mutants
