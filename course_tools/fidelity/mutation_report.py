"""The mutation report: markdown for instructors, JSON for tools."""
import json
from pathlib import Path

from course_tools.fidelity.mutation import STATUSES

COMMAND = (
    "course fidelity --mutants hw3 hw4 hw5 svhn --report fidelity/mutation-report.md "
    "--json fidelity/mutation-report.json")


def percent(part, whole):
    return f"{100 * part / whole:.0f}%" if whole else "-"


def code(text):
    """One line of markdown table code for source text (several lines joined by a visible ⏎)."""
    joined = " ⏎ ".join(line.strip() for line in text.splitlines())
    return "`" + joined.replace("|", "\\|").replace("`", "'") + "`"


def summary_row(run):
    counts = run.counts()
    killed = counts["killed_own"] + counts["killed_elsewhere"]
    diagnosed = sum(o.diagnosed for o in run.outcomes if o.killed)
    rate = run.own_kill_rate
    per_mutant = sum(o.seconds for o in run.outcomes) / len(run.outcomes) if run.outcomes else 0.0
    return (f"| {run.assignment} | {len(run.outcomes)} of {run.generated} | {counts['killed_own']} | "
            f"{counts['killed_elsewhere']} | {counts['survived']} | {counts['equivalent']} | "
            f"{'-' if rate is None else f'{100 * rate:.1f}%'} | {percent(diagnosed, killed)} | "
            f"{run.seconds:.0f} s ({per_mutant:.1f} s) |")


def mutant_rows(outcomes, with_tests=False):
    header = "| id | function | line | before | after |" + (" failing tests |" if with_tests else "")
    rows = [header, "|---|---|---|---|---|" + ("---|" if with_tests else "")]
    for outcome in outcomes:
        mutant = outcome.mutant
        row = (f"| `{mutant.id}` | `{mutant.function}` | {mutant.file}:{mutant.line} | {code(mutant.before)} | "
               f"{code(mutant.after)} |")
        if with_tests:
            row += " " + "; ".join(outcome.failing) + " |"
        rows.append(row)
    return rows


def function_rows(run):
    rows = ["| function | mutants | killed by its own test | elsewhere | survived | equivalent |",
            "|---|---|---|---|---|---|"]
    functions = dict.fromkeys(o.mutant.function for o in run.outcomes)
    for function in functions:
        mine = [o for o in run.outcomes if o.mutant.function == function]
        counts = {status: sum(o.status == status for o in mine) for status in STATUSES}
        rows.append(f"| `{function}` | {len(mine)} | {counts['killed_own']} | {counts['killed_elsewhere']} | "
                    f"{counts['survived']} | {counts['equivalent']} |")
    return rows


def assignment_section(run):
    by_status = {status: [o for o in run.outcomes if o.status == status] for status in STATUSES}
    lines = [f"## {run.assignment}", "", *function_rows(run), "", "### Survivors", ""]
    lines += mutant_rows(by_status["survived"]) if by_status["survived"] else ["None."]
    lines += ["", "### Killed only by tests of other functions", ""]
    lines += mutant_rows(by_status["killed_elsewhere"], with_tests=True) if by_status["killed_elsewhere"] else ["None."]
    lines += ["", "### Equivalent (argued in fidelity/equivalent_mutants.toml)", ""]
    lines += [f"- `{o.mutant.id}`: {code(o.mutant.before)} -> {code(o.mutant.after)}. {o.reason}"
              for o in by_status["equivalent"]] or ["None."]
    if run.stale:
        lines += ["", "Listed as equivalent but no longer generated (the line changed; remove or update):", ""]
        lines += [f"- `{identifier}`" for identifier in run.stale]
    return lines + [""]


def write_mutation_report(path, runs):
    """The markdown report of one or more MutationRuns."""
    settings = {(run.cap, run.seed) for run in runs}
    sampling = ", ".join("all mutants" if cap is None else f"at most {cap} per solution region (seed {seed})"
                         for cap, seed in sorted(settings, key=str))
    lines = ["# Mutation analysis of the hidden tests", "",
             "Every solution region of the reference is mutated one small edit at a time (operator and sign "
             "swaps, constant changes, axis changes, dropped terms, in-place updates and missing copies, "
             "off-by-one slices and ranges, swapped arguments, another function of the same family). Each mutant "
             "is the reference submission with that one edit, graded by the assignment's autograder on the tests "
             "that can see it: first the mutated function's own tests, then (when those pass) the tests of the "
             "functions whose programs execute it.", "",
             f"Regenerate: `{COMMAND}`. After arguing more equivalent mutants, `course fidelity --mutants "
             "--from-json fidelity/mutation-report.json --report fidelity/mutation-report.md` rewrites this report "
             f"without grading. Sampling: {sampling}.", "",
             "*Own kill rate*: mutants killed by the mutated function's own test, over the non-equivalent ones. "
             "*Diagnosed*: share of killed mutants whose failing tests carry at least one generic diagnosis "
             "(results.json `extra_data[\"diagnoses\"]`, any kind but a known mistake's `known:...`; the zips "
             "are built without the corpus' known mistakes, and a mutant's crash counts only when a diagnosis "
             "reads something from its exception beyond its type and line). *Time*: wall time of grading the mutants (slots side by "
             "side), and in brackets the mean time one mutant takes in its slot.", "",
             "| assignment | mutants (sampled of generated) | killed by own test | killed elsewhere | survived | "
             "equivalent | own kill rate | diagnosed | time |",
             "|---|---|---|---|---|---|---|---|---|", *map(summary_row, runs), ""]
    for run in runs:
        lines += assignment_section(run)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return Path(path)


def write_mutation_json(path, runs):
    """Every mutant of every run with its id, function, file, line, before, after and status."""
    data = {"assignments": [{"assignment": run.assignment, "functions": run.functions, "cap": run.cap,
                             "seed": run.seed, "generated": run.generated, "counts": run.counts(),
                             "own_kill_rate": run.own_kill_rate, "seconds": round(run.seconds, 1),
                             "prepare_seconds": round(run.prepare_seconds, 1), "slots": run.slots,
                             "mutants": [o.as_data() for o in run.outcomes]} for run in runs]}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return Path(path)
