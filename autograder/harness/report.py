"""Gradescope's results.json: built from the verdicts, written atomically after every test.

Until a test has run it is reported as failed with "not run", so a harness
that dies half way still leaves a complete, valid file behind.
"""
import json
import math
import os
import re
import time
from pathlib import Path

NOT_RUN = "Not run: the autograder stopped before this test (see the message at the top)."
OUTPUT_LIMIT = 8000
# Gradescope shows results.json comfortably below this size; fitted() keeps it there.
RESULTS_LIMIT = 200_000
SHORT_OUTPUT = 1500
SHORT_SUMMARY = 20_000
SHOWN_CHECKS = 20
# Characters markdown or HTML would interpret in a summary line; an underscore only where it can start or end
# emphasis (inside a name like course_lib it cannot). Control characters would start new markdown lines.
MARKDOWN_SPECIAL = re.compile(r"[\\`*\[\]<>&|#!~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# In feedback (plain text, also printed to a terminal by `course grade`): control characters but the line
# break and the tab; an escape sequence a student's exception message carries would drive the terminal.
FEEDBACK_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def markdown_text(text):
    """One line of plain text, safe inside a markdown summary: markup is escaped, line breaks removed."""
    return MARKDOWN_SPECIAL.sub(lambda match: "\\" + match.group(0), CONTROL.sub(" ", str(text)))


def visible_control(match):
    """A control character as its escape (\\x1b), so the reader still sees that one was there."""
    return repr(match.group(0))[1:-1]


def plain_feedback(text):
    """Feedback text with carriage returns as line breaks and every other control character made visible."""
    return FEEDBACK_CONTROL.sub(visible_control, text.replace("\r\n", "\n").replace("\r", "\n"))


def valid(value):
    """``value`` with every string valid UTF-8 (lone surrogates replaced) and every float finite (else None)."""
    if isinstance(value, str):
        return value.encode("utf-8", errors="replace").decode("utf-8")
    if isinstance(value, dict):
        return {valid(key): valid(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [valid(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def size_of(body):
    return len(json.dumps(body).encode("utf-8"))


def capped_checks(count):
    def cap(test):
        extra = test["extra_data"]
        extra.update(checks=extra.get("checks", [])[:count], diagnoses=extra.get("diagnoses", [])[:count])
    return cap


def fitted(body, limit=RESULTS_LIMIT):
    """results.json made to fit ``limit`` bytes: shorter feedback first, then checks without their
    messages, then fewer checks and diagnoses, then a shorter summary."""
    steps = [
        lambda test: test.update(output=shortened(test["output"], SHORT_OUTPUT)),
        lambda test: [check.update(message="") for check in test["extra_data"].get("checks", [])],
        capped_checks(SHOWN_CHECKS),
        lambda test: test.update(output=shortened(test["output"], SHORT_OUTPUT // 5)),
        capped_checks(0),
        lambda test: test.update(output=shortened(test["output"], 0)),
    ]
    for step in steps:
        if size_of(body) <= limit:
            return body
        for test in body["tests"]:
            step(test)
    if size_of(body) > limit:
        body["output"] = shortened(body["output"], SHORT_SUMMARY)
    return body


def shortened(text, limit):
    return text if len(text) <= limit else text[:limit] + "\n[... shortened to keep the results small]"

LIKELY_CAUSE = "Likely cause:"


def substitution_line(substitutes, failed):
    """The one line saying which functions of the student the reference stood in for."""
    names = [name for name in substitutes if name in failed] or list(substitutes)
    family = [name for name in substitutes if name not in names]
    also = f" (and its {', '.join(family)}, which share their caches)" if family else ""
    return f"Graded with the reference's {', '.join(names)} in place of yours, whose own tests failed{also}."


def feedback_text(planned, verdict, prerequisite_lines=(), substituted_line=""):
    lines = list(verdict.lines) + ([substituted_line] if substituted_line else [])
    if not verdict.passed:
        lines += [f"{LIKELY_CAUSE} {item['message']}" for item in verdict.diagnoses]
    if verdict.notes:
        lines += ["", "Warnings (not penalized):"] + [f"  {note}" for note in verdict.notes]
    lines += list(prerequisite_lines)
    if planned.prerequisite_only:
        lines += ["", "(No points here: this function belongs to another assignment, and tests of this "
                      "one rely on it.)"]
    text = plain_feedback("\n".join(lines))
    return text if len(text) <= OUTPUT_LIMIT else text[:OUTPUT_LIMIT] + "\n[... feedback truncated]"


def test_entry(planned, verdict=None, prerequisite_lines=(), substitutes=(), failed=()):
    test = planned.test
    line = substitution_line(substitutes, failed) if verdict and substitutes else ""
    fraction = verdict.fraction if verdict else 0.0
    return {
        "name": test.title,
        "number": planned.number,
        "score": round(planned.max_score * fraction, 4),
        "max_score": planned.max_score,
        "status": "passed" if verdict is not None and verdict.passed else "failed",
        "output": feedback_text(planned, verdict, prerequisite_lines, line) if verdict else NOT_RUN,
        "output_format": "text",
        "tags": [test.function],
        "visibility": test.visibility,
        "extra_data": {"kind": test.kind.name, "function": test.function, "fraction": round(fraction, 6),
                       "not_implemented": bool(verdict and verdict.not_implemented),
                       "prerequisite_only": planned.prerequisite_only,
                       "failure": verdict.failure if verdict else "harness",
                       "checks": [check.as_data() for check in verdict.checks] if verdict else [],
                       "diagnoses": verdict.diagnoses if verdict and not verdict.passed else [],
                       "substitutes": list(substitutes) if verdict else []},
    }


class Report:
    """The results of one grading run, in Gradescope's schema."""

    def __init__(self, path, planned, title):
        self.path = Path(path)
        self.planned = list(planned)
        self.title = title
        self.verdicts = {}
        self.substitutes = {}  # {test number: functions graded with the reference's in place of the student's}
        self.messages = []
        self.extra = {}
        self.appended = []  # entries worth no points after the graded tests (written answers)
        self.started = time.monotonic()

    def record(self, planned, verdict, substitutes=()):
        self.verdicts[planned.number] = verdict
        self.substitutes[planned.number] = list(substitutes)
        self.write()

    def failed(self, number):
        """Whether test ``number`` ran and lost points (a test left out with --only did not run)."""
        verdict = self.verdicts.get(number)
        return verdict is not None and not verdict.passed and verdict.failure != "not_selected"

    def failed_functions(self):
        return {p.test.function for p in self.planned if self.failed(p.number)}

    def prerequisite_lines(self, planned):
        """Name the failing functions this test relies on, with their test numbers."""
        verdict = self.verdicts.get(planned.number)
        if verdict is None or verdict.passed:
            return []
        lines = []
        for function in planned.test.requires:
            failed = [p.number for p in self.planned if p.test.function == function and self.failed(p.number)]
            if failed:
                lines.append(f"This test relies on {function}, whose own test failed "
                             f"(test {', '.join(failed)}): fix that first.")
        return [""] + lines if lines else []

    def results(self):
        failed = self.failed_functions()
        tests = [test_entry(p, self.verdicts.get(p.number), self.prerequisite_lines(p),
                            self.substitutes.get(p.number, ()), failed) for p in self.planned]
        leaderboard = [{"name": f"{name} accuracy", "value": value}
                       for verdict in self.verdicts.values() if verdict.leaderboard
                       for name, value in [verdict.leaderboard]]
        body = {
            "score": round(sum(test["score"] for test in tests), 4),
            "execution_time": int(time.monotonic() - self.started),
            "output": self.summary(tests),
            "output_format": "md",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "extra_data": dict(self.extra),
            "tests": tests + self.appended,
        }
        if leaderboard:
            body["leaderboard"] = leaderboard
        return fitted(valid(body))

    def summary(self, tests):
        earned = sum(test["score"] for test in tests)
        possible = sum(test["max_score"] for test in tests)
        lines = [f"## {markdown_text(self.title)}", "", f"Autograded score: {earned:.4g} / {possible:.4g}"]
        if self.messages:
            lines += [""] + [f"- {markdown_text(message)}" for message in self.messages]
        return "\n".join(lines)

    def write(self):
        write_json_atomically(self.path, self.results())


def write_json_atomically(path, body):
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(body, allow_nan=False), encoding="utf-8")
    os.replace(temporary, path)


def format_table(results, title=None):
    """A plain-text table of the tests of a results.json body, with the total (under ``title``, if any)."""
    rows = [(test.get("number", ""), f"{test['score']:g} / {test['max_score']:g}", test.get("status", ""),
             test.get("name", "")) for test in results.get("tests", [])]
    header = ("No.", "Score", "Status", "Test")
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(3)]
    lines = [title] if title else []
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3]
              for row in [header] + rows]
    possible = sum(test["max_score"] for test in results.get("tests", []))
    lines.append(f"Total: {results.get('score', 0):g} / {possible:g}")
    for entry in results.get("leaderboard", []):
        lines.append(f"Leaderboard: {entry['name']} = {entry['value']:g}")
    return "\n".join(lines)
