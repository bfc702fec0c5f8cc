"""Wrong experiment logs (``fidelity/logs/<assignment>.toml``): edits of the reference submission's logs.

Each variant changes one log of a submission the way a student might (a log
left out, another run's log renamed, a made-up loss curve, an edited
configuration, a short run). The log test of its experiment must lose all
its points, on the check the variant names, and no other test may change.
"""
import json
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.suites.logs import EXPERIMENTS
from course_tools.fidelity.corpus import CORPUS_FOLDER, REPO_ROOT, CorpusError

FIELDS = {"name", "mistake", "experiment", "file", "edit", "fails", "hint"}
EDITS = ("delete", "copy_from", "smooth_losses", "truncate", "config")
CHECKS = ("files", "configuration", "replay")


@dataclass(frozen=True)
class LogVariant:
    name: str
    assignment: str
    mistake: str
    experiment: str
    file: str
    edit: dict
    fails: str
    hint: str


def load_log_corpus(assignments, repo_root=REPO_ROOT):
    """Every log variant of ``assignments``; raises CorpusError listing every problem."""
    variants, problems = [], []
    for assignment in assignments:
        path = Path(repo_root) / CORPUS_FOLDER / "logs" / f"{assignment}.toml"
        if path.is_file():
            for index, entry in enumerate(tomllib.loads(path.read_text(encoding="utf-8")).get("variant", []), 1):
                where = f"{path.name} variant {index} ({entry.get('name', 'unnamed')})"
                found = log_variant_problems(entry)
                problems += [f"{where}: {problem}" for problem in found]
                if not found:
                    variants.append(LogVariant(assignment=assignment, **entry))
    if problems:
        raise CorpusError(problems)
    return variants


def log_variant_problems(entry):
    if set(entry) != FIELDS:
        return [f"fields must be exactly {', '.join(sorted(FIELDS))}"]
    problems = []
    experiment = EXPERIMENTS.get(entry["experiment"])
    if experiment is None:
        problems.append(f"no experiment {entry['experiment']!r}")
    elif entry["file"] not in experiment.files:
        problems.append(f"{entry['file']} is not a log of {entry['experiment']}")
    if not isinstance(entry["edit"], dict) or len(entry["edit"]) != 1 or next(iter(entry["edit"])) not in EDITS:
        problems.append(f"edit must be one of {', '.join(EDITS)}")
    if entry["fails"] not in CHECKS:
        problems.append(f"fails must be one of {', '.join(CHECKS)}")
    return problems


def apply_log_variant(variant, submission):
    """Change ``submission``'s copy of the variant's log (the reference's) in place."""
    path = Path(submission) / variant.file
    (operation, value), = variant.edit.items()
    if operation == "delete":
        path.unlink()
        return
    if operation == "copy_from":
        shutil.copyfile(Path(submission) / value, path)
        return
    with np.load(path, allow_pickle=False) as saved:
        arrays = {key: saved[key] for key in saved.files}
    if operation == "smooth_losses":
        steps = np.arange(len(arrays["train_losses"]))
        arrays["train_losses"] = 2.3 * np.exp(-steps / 60.0) + 0.05
    elif operation == "truncate":
        arrays["train_losses"] = arrays["train_losses"][:value]
        arrays["train_accs"], arrays["val_accs"] = arrays["train_accs"][:2], arrays["val_accs"][:2]
    else:
        config = json.loads(str(arrays["config"]))
        for dotted, new in value.items():
            *parents, last = dotted.split(".")
            target = config
            for key in parents:
                target = target[key]
            target[last] = new
        arrays["config"] = np.array(json.dumps(config))
    np.savez(path, **arrays)
