"""Written answers: the manually graded answer cells of the submitted notebooks, for the graders to read.

The baked manifest lists the assignment's answer cells under "written" (grade
id, notebook, title, cell type, points and the placeholder the release holds).
Each becomes a results.json entry worth nothing (0 of 0, so the total never
changes) in markdown, holding the student's answer with its LaTeX as written,
HTML-escaped and length-capped. Entries are visible: staff read them while
grading by hand, and students see exactly what the graders will read (a blank
or missing answer shows up while they can still resubmit). A missing notebook
gives one entry naming all its questions.

Notebooks are only ever read as JSON, never run: in a child process with a
memory and CPU limit, so that a huge or pathological file costs that child
only. ``course written`` (course_tools/written.py) reads answers with the same
functions.
"""
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MAX_NOTEBOOK_BYTES = 32 << 20  # notebooks with many plots run to a few MB
READER_MEMORY_BYTES = 768 << 20
READER_CPU_SECONDS = 60
ANSWER_CHARS = 6000  # shown per answer; the graders read longer ones in the notebook
KEPT_CHARS = 200_000  # what the reader hands back per cell (course written shows up to this)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The destination of a markdown link (inline or defined) that would run script when a grader clicks it.
SCRIPT_LINK = re.compile(r"(?i)(\]\(\s*|\]:\s*)(javascript|vbscript|data|file)(?=:)")


@dataclass
class Answer:
    """One student's answer to one written question.

    ``state``: answered, unanswered (the release's placeholder), no_cell (no cell with the grade id),
    unreadable (the notebook is not JSON, or too large), no_notebook (not in the upload).
    """

    question: dict
    state: str
    text: str = ""
    chars: int = 0  # length of the whole answer (text may be cut)
    problem: str = ""  # why a notebook could not be read


def clean_text(text):
    """Valid UTF-8 without control characters (tabs and newlines kept), newlines as \\n."""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from JSON escapes
    return CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def cell_text(source):
    """A cell's source as one string (nbformat stores a string or a list of lines)."""
    if isinstance(source, str):
        return source
    if isinstance(source, list):
        return "".join(part for part in source if isinstance(part, str))
    return ""


def answer_cells(notebook, grade_ids, kept_chars=KEPT_CHARS):
    """{grade id: [{"text", "chars"}, ...]} of the cells of a parsed notebook whose nbgrader grade id is wanted."""
    found = {}
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    for cell in cells if isinstance(cells, list) else []:
        metadata = cell.get("metadata") if isinstance(cell, dict) else None
        nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
        grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
        if isinstance(grade_id, str) and grade_id in grade_ids:
            text = cell_text(cell.get("source"))
            found.setdefault(grade_id, []).append({"text": text[:kept_chars], "chars": len(text)})
    return found


def read_notebook(path, grade_ids, kept_chars=KEPT_CHARS, max_bytes=MAX_NOTEBOOK_BYTES):
    """{"cells": answer_cells(...)} of one notebook file, or {"error": why it could not be read}."""
    try:
        with open(path, "rb") as file:
            content = file.read(max_bytes + 1)
        if len(content) > max_bytes:
            return {"error": f"it is larger than the {max_bytes >> 20} MB the grader reads"}
        notebook = json.loads(content.decode("utf-8", "replace"))
    except (OSError, ValueError, RecursionError) as error:
        return {"error": f"it is not a notebook file ({type(error).__name__})"}
    return {"cells": answer_cells(notebook, set(grade_ids), kept_chars)}


def _limit_reader():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (READER_MEMORY_BYTES, READER_MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (READER_CPU_SECONDS, READER_CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def read_notebooks(paths, grade_ids, kept_chars=KEPT_CHARS):
    """read_notebook of every path, in one child process with limits; {str(path): result}."""
    if not paths:
        return {}
    request = json.dumps({"paths": [str(p) for p in paths], "grade_ids": sorted(grade_ids),
                          "kept_chars": kept_chars, "max_bytes": MAX_NOTEBOOK_BYTES})
    failed = {"error": "reading it failed (too large or too deeply nested for the reader's limits)"}
    try:
        completed = subprocess.run([sys.executable, "-I", "-S", str(Path(__file__).resolve()), "--read"],
                                   input=request, capture_output=True, text=True, errors="replace",
                                   timeout=2 * READER_CPU_SECONDS, preexec_fn=_limit_reader)
        replies = json.loads(completed.stdout) if completed.returncode == 0 else {}
    except (subprocess.TimeoutExpired, ValueError):
        replies = {}
    return {str(path): replies.get(str(path), failed) for path in paths}


def find_notebooks(submission_dir, names, scratch):
    """{notebook name: path on disk} of the notebooks found anywhere in the upload (zips unpacked)."""
    from autograder.archives import Budget
    from autograder.harness.collect import UPLOAD_LIMITS, Unpacker, find_by_name

    scratch = Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    files = Unpacker(scratch, Budget(**UPLOAD_LIMITS)).files(Path(submission_dir))
    return find_by_name(files, sorted(set(names)))


def collect_answers(submission_dir, questions, scratch):
    """An Answer per question (in order), read from the upload in ``submission_dir``."""
    notebooks = find_notebooks(submission_dir, [q["notebook"] for q in questions], scratch)
    read = read_notebooks(list(notebooks.values()), {q["grade_id"] for q in questions})
    answers = []
    for question in questions:
        path = notebooks.get(question["notebook"])
        if path is None:
            answers.append(Answer(question, "no_notebook"))
            continue
        result = read[str(path)]
        if "error" in result:
            answers.append(Answer(question, "unreadable", problem=result["error"]))
            continue
        answers.append(best_answer(question, result["cells"].get(question["grade_id"], [])))
    return answers


def best_answer(question, cells):
    """The first answered cell carrying the question's id (a copied cell keeps the id), else the first."""
    if not cells:
        return Answer(question, "no_cell")
    placeholder = question.get("placeholder", "").strip()
    for cell in cells:
        text = clean_text(cell["text"])
        if text.strip() and text.strip() != placeholder:
            return Answer(question, "answered", text, cell["chars"])
    return Answer(question, "unanswered", clean_text(cells[0]["text"]), cells[0]["chars"])


# results.json ---------------------------------------------------------------------


def escape_markdown(text):
    """Student text for a markdown renderer: no HTML (entities instead), no remote images; LaTeX untouched."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = SCRIPT_LINK.sub(lambda link: link.group(1) + link.group(2) + "\u200b", text)  # not a scheme then
    return text.replace("![", "!\\[")


def fenced(text):
    """A code block whose fence no run of backticks in ``text`` can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}python\n{text}\n{fence}"


def shown_answer(answer, limit=ANSWER_CHARS):
    """The answer's text cut to ``limit`` characters, and a note saying how much was cut."""
    text = answer.text[:limit]
    cut = answer.chars - len(text)
    note = (f"\n\n*[... {cut} more characters not shown here: the graders read the whole answer in the "
            "notebook]*") if cut > 0 else ""
    return text, note


def markdown_output(answer):
    question = answer.question
    where = f"`{question['notebook']}`, answer cell `{question['grade_id']}`"
    if answer.state == "unanswered":
        return (f"**Not answered.** The answer cell ({where}) still holds the placeholder of the release. "
                f"It is graded by hand ({question['points']:g} points): write your answer there and resubmit.")
    if answer.state == "no_cell":
        return (f"**Answer cell not found.** `{question['notebook']}` has no cell with the id "
                f"`{question['grade_id']}` (the cell was deleted, or its metadata removed): the graders will "
                "look for your answer in the notebook itself.")
    if answer.state == "unreadable":
        return (f"**Not readable.** `{question['notebook']}` could not be read: {answer.problem}. "
                "Upload the notebook as Jupyter saves it.")
    text, note = shown_answer(answer)
    body = fenced(text) if question.get("cell_type") == "code" else escape_markdown(text)
    return (f"*Your answer ({where}), graded by hand: {question['points']:g} points. "
            f"This entry carries no autograder points.*\n\n---\n\n{body}{note}")


def missing_notebook_output(notebook, questions):
    titles = "\n".join(f"- {escape_markdown(q['title'])}" for q in questions)
    return (f"**`{notebook}` was not found in your upload**, so the graders cannot read your answers to:\n\n"
            f"{titles}\n\nUpload the notebook with your code (`python make_submission.py` includes it).")


def entry(number, name, output, extra):
    return {"name": name, "number": number, "score": 0.0, "max_score": 0.0,
            # Nothing of the autograder's points is at stake, so nothing is lost.
            "status": "passed", "output": output, "output_format": "md", "tags": ["written"],
            "visibility": "visible",
            "extra_data": {"kind": "written", "function": None, "fraction": 1.0, "failure": "",
                           "checks": [], "diagnoses": [], **extra}}


def written_entries(answers):
    """results.json test entries (numbered W.1, W.2, ...): one per answer, one per missing notebook."""
    entries, reported = [], set()
    for answer in answers:
        question = answer.question
        number = f"W.{len(entries) + 1}"
        if answer.state == "no_notebook":
            notebook = question["notebook"]
            if notebook in reported:
                continue
            reported.add(notebook)
            missing = [a.question for a in answers if a.state == "no_notebook" and a.question["notebook"] == notebook]
            entries.append(entry(number, f"Written answers: {notebook} not found",
                                 missing_notebook_output(notebook, missing),
                                 {"notebook": notebook, "state": "no_notebook",
                                  "grade_ids": [q["grade_id"] for q in missing]}))
            continue
        entries.append(entry(number, f"Written answer: {question['title']}", markdown_output(answer),
                             {"notebook": question["notebook"], "grade_id": question["grade_id"],
                              "points": question["points"], "state": answer.state, "chars": answer.chars}))
    return entries


def gradescope_entries(submission_dir, manifest, scratch):
    """The written-answer entries of a submission, for the report (none when the manifest lists no cells)."""
    questions = manifest.get("written") or []
    return written_entries(collect_answers(submission_dir, questions, scratch)) if questions else []


def _serve_reader():
    """The child process of read_notebooks: a JSON request on stdin, the results on stdout."""
    request = json.loads(sys.stdin.read())
    replies = {path: read_notebook(path, request["grade_ids"], request["kept_chars"], request["max_bytes"])
               for path in request["paths"]}
    sys.stdout.write(json.dumps(replies))


if __name__ == "__main__" and sys.argv[1:] == ["--read"]:
    _serve_reader()
