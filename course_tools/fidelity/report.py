"""The markdown report of a fidelity run: a summary, a table per assignment, then every variant's feedback."""
from pathlib import Path

from course_tools.fidelity.judging import (generic_diagnoses, lost_points, own_diagnosis, own_failures,
                                           points_lost_elsewhere)
from course_tools.fidelity.unit_tests import unit_test_problem, unit_test_summary


def verdict(graded):
    if graded.problems:
        return "PROBLEM"
    return "caught" if graded.variant.wrong else "full marks"


def summary_rows(variants, graded):
    rows = []
    for assignment in dict.fromkeys(v.assignment for v in variants):
        mine = [graded[v.name] for v in variants if v.assignment == assignment]
        wrong = [g for g in mine if g.variant.wrong]
        correct = [g for g in mine if not g.variant.wrong]
        exact = sum(points_lost_elsewhere(g.variant, g.tests) == 0 for g in wrong)
        rows.append(f"| {assignment} | {len(wrong)} | {sum(not g.problems for g in wrong)} | {exact} | "
                    f"{len(correct)} | {sum(not g.problems for g in correct)} |")
    return rows


def diagnosis_cell(graded):
    """Whether the failing tests of a wrong variant carry a diagnosis that recognises it ("-" for a correct one)."""
    if not graded.variant.wrong:
        return "-"
    return "yes" if own_diagnosis(graded.variant, graded.tests) else "no"


def generic_cell(graded):
    """Whether a failing test of a wrong variant's functions also carries a relation's diagnosis."""
    if not graded.variant.wrong:
        return "-"
    return "yes" if any(generic_diagnoses(t) for t in own_failures(graded.variant, graded.tests)) else "no"


def variant_rows(variants, graded):
    rows = ["| variant | kind | verdict | score | lost elsewhere | own diagnosis | generic diagnosis |",
            "|---|---|---|---|---|---|---|"]
    for variant in variants:
        earned, possible = graded[variant.name].score
        elsewhere = points_lost_elsewhere(variant, graded[variant.name].tests) if variant.wrong else 0
        rows.append(f"| `{variant.name}` | {variant.kind} | {verdict(graded[variant.name])} | "
                    f"{earned:g} / {possible:g} | {elsewhere:g} | {diagnosis_cell(graded[variant.name])} | "
                    f"{generic_cell(graded[variant.name])} |")
    return rows


def variant_section(graded, unit=None):
    variant = graded.variant
    earned, possible = graded.score
    scope = "the tests that can see the patch" if graded.numbers else "every test"
    lines = [f"### {variant.name} ({variant.kind}): {verdict(graded)}", "",
             f"- {'Mistake' if variant.wrong else 'Approach'}: {variant.description}",
             f"- Patched: `course_lib/{variant.file}`; "
             f"{'breaks' if variant.wrong else 'rewrites'} {', '.join(f'`{k}`' for k in variant.functions)}"
             + (f"; rewrites, still right: {', '.join(f'`{k}`' for k in variant.rewrites)}" if variant.rewrites else ""),
             f"- Score on {scope}: {earned:g} / {possible:g}"]
    if variant.names:
        lines.append(f"- Feedback must name: {', '.join(variant.names)}"
                     + (f"; must not blame: {', '.join(variant.intact)}" if variant.intact else ""))
    if unit is not None:
        lines.append(f"- Project unit tests: {unit_test_summary(variant, *unit)}")
    lines += [f"- **{problem}**" for problem in graded.problems]
    lost = [t for t in graded.tests if lost_points(t)]
    if lost:
        lines += ["", "Tests that lost points, with the feedback the student sees:", ""]
        for test in lost:
            lines += [f"**{test['number']} {test['name']}** ({test['score']:g} / {test['max_score']:g})", "",
                      "```text", test["output"].strip(), "```", ""]
    return lines + [""]


def write_report(path, variants, graded, reference_scores=None, unit=None, seconds=None):
    """The markdown report: a summary, then every variant with the feedback of its failing tests."""
    problems = [g for g in graded.values() if g.problems]
    lines = ["# Grading fidelity report", "",
             "Each variant is the reference submission with one small patch, graded by the assignment's "
             "autograder. A wrong variant must lose points on the tests of the functions it breaks and only "
             "there (other failing tests must name the broken prerequisite), with feedback that names the wrong "
             "output; a correct variant must score full marks. *Own diagnosis*: a failing test of the wrong "
             "variant carries a diagnosis (results.json `extra_data[\"diagnoses\"]`) of kind `known:<variant>` "
             "or whose message holds the variant's hint. The zips are built with the known mistakes, as `course "
             "build` builds them: each wrong variant's own outputs on the hidden tests are recorded in its zip, so "
             "*own diagnosis* mostly shows that recording and matching work end to end (a variant matches itself "
             "by construction; a \"no\" is a variant whose outputs could not be recorded or are matched only in "
             "part), not that a mistake outside the corpus would be recognised. *Generic diagnosis*: a failing "
             "test of the variant's functions also carries a diagnosis from a relation (any kind but "
             "`known:...`), which is what a mistake outside the corpus can get. *Exact*: a wrong variant that lost "
             "no point on the tests of functions it does not patch; *lost elsewhere*: the points it lost "
             "on other functions' tests (where the reference could not stand in for it, as for a constructor).", "",
             "| assignment | wrong variants | caught | exact | correct variants | full marks |",
             "|---|---|---|---|---|---|", *summary_rows(variants, graded), ""]
    if reference_scores:
        lines += ["Unpatched reference submission: " + ", ".join(
            f"{a} {earned:g}/{possible:g}" for a, (earned, possible) in reference_scores.items()), ""]
    if seconds is not None:
        lines += [f"Grading took {seconds:.0f} s.", ""]
    lines += ["## Variants the grader misjudges", ""]
    lines += [f"- `{g.variant.name}` ({g.variant.assignment}): {'; '.join(g.problems)}" for g in problems] or ["None."]
    if unit is not None:
        survivors = [f"- `{v.name}` ({v.assignment}): {problem} (ran {', '.join(unit[v.name][0]) or 'no test file'})"
                     for v in variants if (problem := unit_test_problem(v, unit[v.name][1]))]
        lines += ["", "## Variants the project's own unit tests misjudge", ""] + (survivors or ["None."])
    for assignment in dict.fromkeys(v.assignment for v in variants):
        mine = [v for v in variants if v.assignment == assignment]
        lines += ["", f"## {assignment}", "", *variant_rows(mine, graded), ""]
        for variant in mine:
            lines += variant_section(graded[variant.name], unit.get(variant.name) if unit else None)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return Path(path)
