"""How a mutant of bench/mutants.py is decided apart from its run: equivalent (no input can tell
it from the original: inside a postponed annotation, or read and listed in
``bench/mutants_equivalent.toml``) or invalid (its module does not parse). Pure functions over a
judged row (``module``, ``line_no``, ``operator``, ``function``, ``diff``), so they need no
cosmic-ray."""

from __future__ import annotations

import ast
import functools
import random
import subprocess
import tomllib
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
EQUIVALENT_FILE = REPO / "bench" / "mutants_equivalent.toml"


@dataclass(frozen=True)
class Equivalent:
    """A survivor read and found equivalent: same module, operator and changed line."""

    module: str
    operator: str
    line: str
    mutated: str
    why: str
    #: The function the line is in, where the same line appears in another (empty: any).
    function: str = ""


def equivalents(path: Path = EQUIVALENT_FILE) -> list[Equivalent]:
    """The equivalent mutants decided so far (none when the file is absent)."""
    if not path.is_file():
        return []
    return [Equivalent(**e) for e in tomllib.loads(path.read_text()).get("equivalent", [])]


def changed_lines(diff: str) -> tuple[str, str]:
    """The first removed and first added line of a unified diff, stripped."""
    minus = next((x[1:].strip() for x in diff.splitlines() if x.startswith("-")
                  and not x.startswith("---")), "")  # fmt: skip
    plus = next((x[1:].strip() for x in diff.splitlines() if x.startswith("+")
                 and not x.startswith("+++")), "")  # fmt: skip
    return minus, plus


ANNOTATION_ONLY = "in a type annotation, never evaluated (from __future__ import annotations)"


def in_annotation(source: str, line: int, col: int) -> bool:
    """Whether (line, col) lies in an annotation of ``source``, a module that postpones the
    evaluation of its annotations: a mutant there changes no behaviour."""
    tree = ast.parse(source)
    postponed = any(
        isinstance(n, ast.ImportFrom) and n.module == "__future__"
        and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    )  # fmt: skip
    if not postponed:
        return False
    for node in ast.walk(tree):
        notes = []
        if isinstance(node, ast.arg | ast.AnnAssign):
            notes.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            notes.append(node.returns)
        for note in filter(None, notes):
            start, end = (note.lineno, note.col_offset), (note.end_lineno, note.end_col_offset)
            if start <= (line, col) < end:
                return True
    return False


@functools.cache
def source_at(commit: str, module: str) -> str:
    """``module`` as it was at ``commit`` (the sample's code, whatever the tree holds now)."""
    show = ["git", "-C", str(REPO), "show", f"{commit}:{module}"]
    return subprocess.run(show, capture_output=True, text=True, check=True).stdout


def parses(source: str) -> bool:
    """Whether ``source`` is valid Python."""
    try:
        with warnings.catch_warnings():  # a mutant's `is` with a literal: not the question
            warnings.simplefilter("ignore", SyntaxWarning)
            compile(source, "<mutant>", "exec")
    except SyntaxError:
        return False
    return True


def reapplied(source: str, row: dict) -> str | None:
    """``source`` (the module at the sample's commit) with the row's changed line put back
    (None when that line is not there as the diff says)."""
    minus, plus = changed_lines(row["diff"])
    lines = source.splitlines(keepends=True)
    if not 0 < row["line_no"] <= len(lines) or minus not in lines[row["line_no"] - 1]:
        return None
    lines[row["line_no"] - 1] = lines[row["line_no"] - 1].replace(minus, plus, 1)
    return "".join(lines)


def mark_invalid(rows: list[dict], commit: str) -> None:
    """Fill ``invalid`` for rows judged before it was recorded, and make the outcome of every
    invalid row ``invalid`` (whatever its run said: a node that cannot start proves nothing)."""
    for r in rows:
        if "invalid" not in r and r["diff"]:
            mutated = reapplied(source_at(commit, r["module"]), r)
            r["invalid"] = mutated is not None and not parses(mutated)
        if r.get("invalid"):
            r["mutant_outcome"] = "invalid"


def mark_annotations(rows: list[dict], commit: str) -> None:
    """Fill ``in_annotation`` for rows judged before it was recorded."""
    for r in rows:
        if "in_annotation" not in r and r["diff"]:
            col = r.get("col")
            if col is None:  # the changed text's column, from the diff's first changed line
                minus, _ = changed_lines(r["diff"])
                line = source_at(commit, r["module"]).splitlines()[r["line_no"] - 1]
                col = line.index(minus) if minus in line else 0
                col = _first_difference(r["diff"], line, col)
            r["in_annotation"] = in_annotation(source_at(commit, r["module"]), r["line_no"], col)


def _first_difference(diff: str, line: str, col: int) -> int:
    """The column where the mutated line first differs from the original."""
    _, plus = changed_lines(diff)
    mutated = line[:col] + plus
    return next((i for i, (a, b) in enumerate(zip(line, mutated, strict=False)) if a != b), col)


def is_equivalent(row: dict, known: list[Equivalent]) -> str:
    """The reason a row's mutant is equivalent, or ''."""
    if row.get("in_annotation"):
        return ANNOTATION_ONLY
    minus, plus = changed_lines(row["diff"])
    for e in known:
        same = (e.module, e.operator, e.line, e.mutated) == (row["module"], row["operator"],
                                                             minus, plus)  # fmt: skip
        if same and e.function in ("", row["function"]):
            return e.why
    return ""


def judging_order(items: Iterable[T], seed: int, key: Callable[[T], Any]) -> list[T]:
    """The mutants left to judge, in a seeded random order (of their order by ``key``): a
    session stopped part way has judged a random part of the sample, not its first modules."""
    ordered = sorted(items, key=key)
    random.Random(seed).shuffle(ordered)
    return ordered
