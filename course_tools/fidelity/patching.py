"""Applying a variant's find/replace edits to the reference library."""
from pathlib import Path


class PatchError(ValueError):
    """A variant's edit does not apply to the reference exactly once."""


def edit_position(text, find, label):
    """Offset of ``find`` in ``text``: it must be whole lines and occur exactly once."""
    if not find.endswith("\n"):
        raise PatchError(f"{label}: find must be whole lines ending with a newline")
    count = text.count(find)
    if count != 1:
        raise PatchError(f"{label}: find occurs {count} times in the reference (it must occur once):\n{find}")
    position = text.index(find)
    if position and text[position - 1] != "\n":
        raise PatchError(f"{label}: find must start at the beginning of a line:\n{find}")
    return position


def patched_text(variant, text):
    """``text`` (the reference module) with every edit of ``variant`` applied."""
    for number, (find, replace) in enumerate(variant.edits, start=1):
        position = edit_position(text, find, f"{variant.name}, edit {number}")
        text = text[:position] + replace + text[position + len(find):]
    return text


def apply_variant(variant, lib_root):
    """Patch ``lib_root/<variant.file>`` in place (lib_root is a course_lib folder)."""
    path = Path(lib_root) / variant.file
    path.write_text(patched_text(variant, path.read_text(encoding="utf-8")), encoding="utf-8")


def changed_lines(text, find, replace):
    """(first, last) 1-based lines of ``text`` that an edit changes; last = first - 1 for a pure insertion."""
    start = text[:text.index(find)].count("\n") + 1
    old, new = find.splitlines(), replace.splitlines()
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return start + head, start + len(old) - tail - 1
