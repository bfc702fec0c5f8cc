"""Written answers, question by question: ``course written ASSIGNMENT SUBMISSION... --out DIR``.

The questions are the manually graded answer cells of the assignment's source
notebooks (nbgrader ``solution`` and ``grade``, with points). Their list is
baked into the autograder zip too (``written_questions``), so that grading
puts every answer into results.json (``autograder/harness/written.py``, which
also reads the answers here). This module writes, into DIR:

- ``index.html``: the questions, with how many students answered each;
- ``<grade id>.html``: one page per question holding every student's answer,
  its markdown rendered and its LaTeX typeset by KaTeX (copied into
  ``DIR/katex``, so the pages work offline and the folder can be shared);
- ``answers.csv``: submission, student, question, state and answer length,
  to spot blanks.

Student text is escaped (raw HTML shows as text, remote images as links), and
the pages carry a content security policy that allows only their own files.
"""
import csv
import html
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from autograder.harness.written import KEPT_CHARS, collect_answers
from course_tools.class_report import spreadsheet_cell
from course_tools.export import materialize, submissions_of, unique
from course_tools.manifest import load_manifest

REPO_ROOT = Path(__file__).resolve().parent.parent
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
BOLD_LEAD = re.compile(r"^\s*\*\*(.+?)\*\*")
KATEX_VERSION = "0.16.22"
KATEX_VARIABLE = "COURSE_KATEX_DIR"
PAGE_CHARS = KEPT_CHARS  # what a page shows of one answer (results.json shows ANSWER_CHARS)
BAKED_FIELDS = ("grade_id", "notebook", "title", "cell_type", "points", "placeholder")
STATE_LABELS = {"answered": "answered", "unanswered": "not answered (placeholder)",
                "no_cell": "answer cell missing", "unreadable": "notebook unreadable",
                "no_notebook": "notebook missing"}


class WrittenError(ValueError):
    """``course written`` cannot run; the message says what to fix."""


# The questions ---------------------------------------------------------------------------


def is_answer_cell(cell):
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    return bool(nbgrader.get("solution") and nbgrader.get("grade") and nbgrader.get("grade_id"))


def notebook_questions(cells, notebook, placeholder_of):
    """The answer cells of one notebook: grade id, title, cell type, points, placeholder and prompt.

    The title is the nearest heading above, followed by the bold lead-in of the question's prompt
    (``**Inline question 2.**``) when it has one, or the grade id when there is neither.
    """
    questions, heading, prompt = [], "", ""
    for cell in cells:
        text = "".join(cell.get("source", ""))
        if is_answer_cell(cell):
            nbgrader = cell["metadata"]["nbgrader"]
            lead = BOLD_LEAD.match(prompt)
            parts = [heading, lead.group(1).strip().rstrip(".:") if lead else ""]
            questions.append({"grade_id": nbgrader["grade_id"], "notebook": notebook,
                              "title": " — ".join(p for p in parts if p) or nbgrader["grade_id"],
                              "cell_type": cell["cell_type"], "points": nbgrader.get("points", 0),
                              "placeholder": placeholder_of(cell), "prompt": prompt})
        elif cell.get("cell_type") == "markdown":
            prompt = text
            for line in text.splitlines():
                match = HEADING.match(line)
                if match:
                    heading = match.group(1)
    return questions


def placeholder_function(repo_root):
    """What the release leaves in an answer cell: the cell run through the course's ClearSolutions."""
    import nbformat

    from course_tools.stubs import load_nbgrader_config, solution_clearer

    clearer = solution_clearer(load_nbgrader_config(repo_root))

    def placeholder_of(cell):
        copy = nbformat.from_dict(json.loads(json.dumps(cell)))
        copy.source = "".join(copy.source)
        cleared, _ = clearer.preprocess_cell(copy, {"language": "python"}, 0)
        return cleared.source

    return placeholder_of


def written_questions(assignment_id, repo_root=REPO_ROOT):
    """Every answer cell of the assignment's source notebooks, in notebook order; titles made unique
    within the assignment by their grade id."""
    repo_root = Path(repo_root)
    assignment = load_manifest(repo_root / "course.toml").assignment(assignment_id)
    placeholder_of = placeholder_function(repo_root)
    questions = []
    for notebook in assignment.notebooks:
        path = repo_root / "source" / assignment_id / notebook
        cells = json.loads(path.read_text()).get("cells", [])
        questions += notebook_questions(cells, notebook, placeholder_of)
    titles = [q["title"] for q in questions]
    for question in questions:
        if titles.count(question["title"]) > 1:
            question["title"] = f"{question['title']} [{question['grade_id']}]"
    return questions


def baked_questions(assignment_id, repo_root=REPO_ROOT):
    """written_questions as the autograder's manifest holds them (no prompts)."""
    return [{key: q[key] for key in BAKED_FIELDS} for q in written_questions(assignment_id, repo_root)]


# KaTeX ----------------------------------------------------------------------------------


def katex_dir():
    """KaTeX's dist folder: $COURSE_KATEX_DIR, or where `make katex` installs it (in the venv)."""
    candidates = [os.environ.get(KATEX_VARIABLE), Path(sys.prefix) / "katex" / "node_modules" / "katex" / "dist",
                  REPO_ROOT / ".venv" / "katex" / "node_modules" / "katex" / "dist"]
    for candidate in filter(None, candidates):
        if (Path(candidate) / "katex.min.js").is_file():
            return Path(candidate)
    raise WrittenError("KaTeX is not installed: run `make katex` (it installs the npm package katex "
                       f"{KATEX_VERSION} into .venv/katex; needs npm), or point {KATEX_VARIABLE} at a KaTeX "
                       "dist folder")


def copy_katex(out_dir):
    source, target = katex_dir(), Path(out_dir) / "katex"
    (target / "fonts").mkdir(parents=True, exist_ok=True)
    for name in ("katex.min.js", "katex.min.css"):
        shutil.copyfile(source / name, target / name)
    shutil.copyfile(source / "contrib" / "auto-render.min.js", target / "auto-render.min.js")
    for font in (source / "fonts").glob("*.woff2"):
        shutil.copyfile(font, target / "fonts" / font.name)
    (target / "render.js").write_text(RENDER_SCRIPT)
    (Path(out_dir) / "style.css").write_text(STYLE)


RENDER_SCRIPT = """// Typeset every formula of the page (delimiters as in Jupyter's markdown cells).
document.addEventListener("DOMContentLoaded", function () {
  renderMathInElement(document.body, {
    delimiters: [
      {left: "$$", right: "$$", display: true},
      {left: "\\\\[", right: "\\\\]", display: true},
      {left: "$", right: "$", display: false},
      {left: "\\\\(", right: "\\\\)", display: false}
    ],
    throwOnError: false,
    trust: false,  // no \\href, \\url or \\includegraphics from a student's formula
    maxSize: 10  // em: no \\rule or space of a formula covers the other answers
  });
});
"""

STYLE = """body { font-family: sans-serif; max-width: 60rem; margin: 1rem auto; padding: 0 1rem; line-height: 1.4; }
.answer { border-top: 1px solid #ccc; padding: 0.5rem 0; }
.answer h2 { font-size: 1rem; margin: 0.5rem 0; }
.state { color: #a00; font-weight: bold; }
.prompt { background: #f4f4f4; padding: 0.5rem 1rem; }
pre { background: #f8f8f8; padding: 0.5rem; overflow-x: auto; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; }
.blank { color: #a00; }
"""


# Pages ----------------------------------------------------------------------------------


def markdown_renderer():
    """mistune (the markdown parser Jupyter's nbconvert uses) with raw HTML escaped and math left for KaTeX.

    The math plugin keeps formulas verbatim (as ``\\(...\\)`` and ``$$...$$``, escaped), so markdown
    never mangles the LaTeX inside them; images become plain links, so a page loads nothing from outside.
    """
    import mistune

    class Renderer(mistune.HTMLRenderer):
        def image(self, text, url, title=None):
            return f'[image: <a href="{self.safe_url(url)}">{html.escape(url)}</a>]'

    return mistune.create_markdown(renderer=Renderer(escape=True), plugins=["math", "strikethrough", "table"])


def page(title, body):
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self'; img-src 'self' data:">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="katex/katex.min.css"><link rel="stylesheet" href="style.css">
<script defer src="katex/katex.min.js"></script><script defer src="katex/auto-render.min.js"></script>
<script defer src="katex/render.js"></script>
</head><body>
{body}
</body></html>
"""


def answer_html(answer, render):
    if answer.state != "answered":
        label = STATE_LABELS[answer.state] + (f": {answer.problem}" if answer.problem else "")
        return f'<p class="state">{html.escape(label)}</p>'
    text = answer.text[:PAGE_CHARS]
    cut = answer.chars - len(text)
    note = f'<p class="state">[{cut} more characters not shown]</p>' if cut > 0 else ""
    if answer.question["cell_type"] == "code":
        return f'<pre><code>{html.escape(text)}</code></pre>{note}'
    return render(text) + note


def question_page(question, rows, render, assignment_id):
    answered = sum(answer.state == "answered" for _, answer in rows)
    sections = [f'<div class="answer" id="{html.escape(submission.key)}"><h2>{html.escape(submission.student)}'
                f' <small>({html.escape(submission.key)})</small></h2>\n{answer_html(answer, render)}</div>'
                for submission, answer in rows]
    body = (f'<p><a href="index.html">All questions</a> · {html.escape(assignment_id)} · '
            f'{html.escape(question["notebook"])} · cell <code>{html.escape(question["grade_id"])}</code> · '
            f'{question["points"]:g} points</p>\n<h1>{html.escape(question["title"])}</h1>\n'
            f'<div class="prompt">{render(question.get("prompt", ""))}</div>\n'
            f'<p>{answered} of {len(rows)} submissions answered.</p>\n' + "\n".join(sections))
    return page(question["title"], body)


def index_page(assignment_id, questions, answers_by_question, submissions):
    rows = []
    for question in questions:
        answers = answers_by_question[question["grade_id"]]
        answered = sum(a.state == "answered" for a in answers)
        blank = len(answers) - answered
        rows.append(f'<tr><td><a href="{page_name(question)}">{html.escape(question["title"])}</a></td>'
                    f'<td>{html.escape(question["notebook"])}</td><td>{question["points"]:g}</td>'
                    f'<td>{answered}</td><td class="{"blank" if blank else ""}">{blank}</td></tr>')
    body = (f"<h1>Written answers: {html.escape(assignment_id)}</h1>\n"
            f"<p>{len(submissions)} submissions, {len(questions)} questions. Blanks per student: "
            '<a href="answers.csv">answers.csv</a>.</p>\n'
            "<table><tr><th>Question</th><th>Notebook</th><th>Points</th><th>Answered</th>"
            "<th>Blank or missing</th></tr>\n" + "\n".join(rows) + "</table>")
    return page(f"Written answers: {assignment_id}", body)


def page_name(question):
    return re.sub(r"[^A-Za-z0-9_-]+", "_", question["grade_id"]) + ".html"


def write_csv(path, questions, table):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["submission", "student", "sid", "question", "title", "state", "answer_length"])
        for submission, answers in table:
            for question, answer in zip(questions, answers):
                writer.writerow([spreadsheet_cell(text) for text in (submission.key, submission.student,
                                                                     submission.sid, question["grade_id"],
                                                                     question["title"], answer.state)]
                                + [answer.chars if answer.state == "answered" else 0])


def write_written_pages(assignment_id, submission_paths, out_dir, repo_root=REPO_ROOT):
    """Read every submission's answers and write the pages, the index and the CSV; returns the page paths."""
    questions = written_questions(assignment_id, repo_root)
    if not questions:
        raise WrittenError(f"{assignment_id} has no manually graded answer cells in its notebooks")
    submissions = unique([s for path in submission_paths for s in submissions_of(path)])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    copy_katex(out_dir)
    table = []
    with tempfile.TemporaryDirectory(prefix="course-written-") as scratch:
        for number, submission in enumerate(submissions):
            folder = materialize(submission, Path(scratch) / "unpacked")
            table.append((submission, collect_answers(folder, questions, Path(scratch) / f"zips{number}")))
    render = markdown_renderer()
    by_question = {q["grade_id"]: [answers[i] for _, answers in table] for i, q in enumerate(questions)}
    written = []
    for index, question in enumerate(questions):
        rows = [(submission, answers[index]) for submission, answers in table]
        path = out_dir / page_name(question)
        path.write_text(question_page(question, rows, render, assignment_id), encoding="utf-8")
        written.append(path)
    (out_dir / "index.html").write_text(index_page(assignment_id, questions, by_question, submissions),
                                        encoding="utf-8")
    write_csv(out_dir / "answers.csv", questions, table)
    return written
