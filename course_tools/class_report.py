"""The class view of a grade-all run: ``scores.csv`` and ``report.html`` (with its plots in ``plots/``).

Everything comes from the data each results.json carries (scores, status,
``extra_data["failure"]`` and ``extra_data["diagnoses"]``), never from the
feedback prose. Written-answer entries (worth no points) are left out.
"""
import csv
import html
import json
import math
import re
import statistics
from collections import defaultdict

LIMITS = ("timeout", "crashed", "budget")
EXAMPLES = 5
SLOWEST = 10


def graded_tests(results):
    return [t for t in results.get("tests", []) if (t.get("extra_data") or {}).get("kind") != "written"]


def number_order(number):
    return tuple(int(part) if part.isdigit() else 10**6 for part in str(number).split("."))


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...), =cmd|...).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value):
    """A text cell of a CSV meant for a spreadsheet, kept as text: a leading quote disarms a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def results_problem(results):
    """Why a results.json cannot feed the report (it is not what the autograder writes), or None."""
    if not isinstance(results, dict) or not is_number(results.get("score")) or not isinstance(results.get("tests"),
                                                                                                list):
        return "it has no numeric score and list of tests"
    for test in results["tests"]:
        if not isinstance(test, dict) or not isinstance(test.get("extra_data", {}), dict):
            return "a test entry is not an object"
        if (test.get("extra_data") or {}).get("kind") == "written":
            continue
        if not (isinstance(test.get("number"), str) and isinstance(test.get("name"), str)
                and isinstance(test.get("status"), str) and is_number(test.get("score"))
                and is_number(test.get("max_score"))):
            return f"test {str(test.get('number'))[:20]!r} lacks a string number, name and status or a numeric score"
        diagnoses = test["extra_data"].get("diagnoses") or []
        if not isinstance(diagnoses, list) or not all(isinstance(item, dict) for item in diagnoses):
            return f"the diagnoses of test {test['number'][:20]!r} are not a list of objects"
    return None


def load_class(run, submissions):
    """[(submission, state entry or {}, results or None)], in the export's order.

    A results.json the report cannot read (not JSON, or not shaped as the autograder writes it) makes
    its submission a grading problem of the report, instead of breaking the report for the whole class.
    """
    rows = []
    for submission in submissions:
        path = run.results_path(submission.key)
        state = run.state.get(submission.key, {})
        results = None
        if path.is_file():
            try:
                results = json.loads(path.read_text(encoding="utf-8"))
                problem = results_problem(results)
            except (ValueError, UnicodeDecodeError, RecursionError):
                problem = "it is not valid JSON"
            if problem:
                results = None
                state = {**state, "status": "unreadable results", "message": f"{path.name}: {problem}"}
        rows.append((submission, state, results))
    return rows


def test_columns(rows):
    """[(number, name, max_score)] of every graded test seen, in test-number order."""
    seen = {}
    for _, _, results in rows:
        for test in graded_tests(results or {}):
            seen.setdefault(test["number"], (test["number"], test["name"], test["max_score"]))
    return [seen[number] for number in sorted(seen, key=number_order)]


def write_scores(path, rows, columns):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["submission", "student", "sid", "email", "status", "seconds", "total"]
                        + [spreadsheet_cell(f"{number} {name} (/{max_score:g})")
                           for number, name, max_score in columns])
        for submission, state, results in rows:
            scores = {t["number"]: t["score"] for t in graded_tests(results or {})}
            writer.writerow([spreadsheet_cell(text) for text in (submission.key, submission.student, submission.sid,
                                                                 submission.email, state.get("status", "not graded"))]
                            + [state.get("seconds", ""), results["score"] if results else ""]
                            + [scores.get(number, "") for number, _, _ in columns])


def histogram(path, values, max_score, title, size=(3.2, 1.6)):
    """A histogram of scores between 0 and max_score, as a PNG (matplotlib without pyplot's global state)."""
    import numpy as np
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=90)
    axes = figure.subplots()
    top = max_score if max_score > 0 else max(values, default=0) or 1
    axes.hist(values, bins=np.linspace(0, top, 11), color="#4a7ab5", edgecolor="white")
    axes.set_xlim(0, top)
    axes.set_title(title, fontsize=8)
    axes.tick_params(labelsize=7)
    axes.yaxis.get_major_locator().set_params(integer=True)
    figure.subplots_adjust(left=0.12, right=0.97, bottom=0.18, top=0.85)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def link(href, text):
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def student_link(submission):
    return link(f"results/{submission.key}.json", submission.student)


def table(header, rows):
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "\n".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>\n{body}</table>" if rows else "<p>None.</p>"


def test_section(out, graded, columns):
    rows = []
    for number, name, max_score in columns:
        tests = [t for _, _, results in graded for t in graded_tests(results) if t["number"] == number
                 and (t.get("extra_data") or {}).get("failure") != "not_selected"]
        if not tests:
            rows.append([html.escape(number), html.escape(name), f"{max_score:g}", "not run (--only)", "", ""])
            continue
        scores = [t["score"] for t in tests]
        passed = sum(t["status"] == "passed" for t in tests)
        plot = histogram(out / "plots" / f"test-{re.sub(r'[^A-Za-z0-9.]+', '_', number)}.png", scores, max_score,
                         f"test {number}")
        rows.append([html.escape(number), html.escape(name), f"{max_score:g}",
                     f"{100 * passed / len(tests):.0f}% ({passed}/{len(tests)})", f"{statistics.mean(scores):.3g}",
                     f'<img src="plots/{plot.name}" alt="score distribution of test {html.escape(number)}">'])
    return table(["No.", "Test", "Max", "Passed", "Mean score", "Scores"], rows)


def diagnosis_section(graded):
    """Per diagnosis kind: how many students got it, in which tests, with links to examples."""
    students, tests, messages = defaultdict(dict), defaultdict(set), {}
    for submission, _, results in graded:
        for test in graded_tests(results):
            for diagnosis in (test.get("extra_data") or {}).get("diagnoses") or []:
                kind = str(diagnosis.get("kind", "unknown"))
                students[kind].setdefault(submission.key, submission)
                tests[kind].add(test["number"])
                messages.setdefault(kind, str(diagnosis.get("message", "")))
    rows = []
    for kind in sorted(students, key=lambda k: (-len(students[k]), k)):
        who = list(students[kind].values())
        share = 100 * len(who) / len(graded)
        rows.append([html.escape(kind), html.escape(messages[kind]), f"{len(who)} ({share:.0f}%)",
                     html.escape(", ".join(sorted(tests[kind], key=number_order))),
                     ", ".join(student_link(s) for s in who[:EXAMPLES])])
    return table(["Diagnosis", "Feedback (first example)", "Students", "Tests", "Examples"], rows)


def limit_section(graded):
    rows = []
    for submission, _, results in graded:
        hits = [(t["number"], t["extra_data"]["failure"]) for t in graded_tests(results)
                if (t.get("extra_data") or {}).get("failure") in LIMITS]
        if hits:
            rows.append([student_link(submission), html.escape(", ".join(f"{n} ({kind})" for n, kind in hits))])
    return table(["Student", "Tests that hit a limit"], rows)


def slowest_section(rows):
    timed = sorted((r for r in rows if r[1].get("seconds")), key=lambda r: -r[1]["seconds"])[:SLOWEST]
    return table(["Student", "Seconds", "Log"],
                 [[student_link(s), f"{state['seconds']:.1f}", link(f"logs/{s.key}.log", "log")]
                  for s, state, _ in timed])


def problem_section(rows):
    return table(["Submission", "Student", "Status", "Problem", "Log"],
                 [[html.escape(s.key), html.escape(s.student), html.escape(state["status"]),
                   html.escape(state.get("message", "")), link(f"logs/{s.key}.log", "log")]
                  for s, state, _ in rows if state.get("status") not in (None, "graded")])


# Every student text is escaped; the policy also keeps the page from running any script or loading
# anything but its own plots, should some text ever slip through unescaped.
REPORT_POLICY = ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
                 'img-src \'self\'; style-src \'unsafe-inline\'">')
STYLE = """body { font-family: sans-serif; margin: 1rem 2rem; }
table { border-collapse: collapse; margin-bottom: 1.5rem; }
td, th { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; vertical-align: middle; }
"""


def write_class_report(run, submissions, assignment_id):
    """Write scores.csv, report.html and plots/ into the run's folder; returns the report's path."""
    out = run.out
    rows = load_class(run, submissions)
    columns = test_columns(rows)
    write_scores(out / "scores.csv", rows, columns)
    graded = [(s, state, results) for s, state, results in rows
              if results is not None and state.get("status") == "graded"]
    totals = [results["score"] for _, _, results in graded]
    possible = sum(max_score for _, _, max_score in columns)
    summary = (f"{len(submissions)} submissions, {len(graded)} graded"
               + (f"; total mean {statistics.mean(totals):.3g}, median {statistics.median(totals):.3g} "
                  f"of {possible:g}" if totals else ""))
    histogram(out / "plots" / "total.png", totals, possible, "total score", size=(6, 2.4))
    body = [f"<h1>Class report: {html.escape(assignment_id)}</h1>", f"<p>{html.escape(summary)}. "
            f'Scores per student: {link("scores.csv", "scores.csv")}.</p>',
            '<img src="plots/total.png" alt="distribution of total scores">',
            "<h2>Grading problems</h2>", problem_section(rows),
            "<h2>Tests</h2>", test_section(out, graded, columns),
            "<h2>Common mistakes</h2><p>Diagnoses named in the feedback, by how many students got them.</p>",
            diagnosis_section(graded) if graded else "<p>None.</p>",
            "<h2>Limits hit</h2><p>Gradings that hit a time limit, crashed a worker or ran out of the "
            "assignment's time budget.</p>", limit_section(graded),
            "<h2>Slowest submissions</h2>", slowest_section(rows)]
    path = out / "report.html"
    path.write_text(f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">{REPORT_POLICY}<title>Class report: '
                    f"{html.escape(assignment_id)}</title><style>{STYLE}</style></head><body>\n"
                    + "\n".join(body) + "\n</body></html>\n", encoding="utf-8")
    return path
