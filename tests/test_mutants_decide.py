"""How bench/mutants.py decides a mutant apart from its run: invalid (does not parse),
equivalent (inside a postponed annotation, or listed with its reason)."""

from __future__ import annotations

import pytest

from bench.mutants_decide import (
    Equivalent,
    equivalents,
    in_annotation,
    is_equivalent,
    judging_order,
    mark_invalid,
    parses,
    reapplied,
    source_at,
)

SOURCE = """from __future__ import annotations


def join(url: str, *, link: bool) -> tuple[str, bool] | None:
    return url * 2, link
"""


def diff(minus: str, plus: str) -> str:
    return f"--- m.py\n+++ m.py\n@@ -4,1 +4,1 @@\n-{minus}\n+{plus}\n"


def row(minus: str, plus: str, line_no: int = 4, operator: str = "core/X") -> dict:
    return {"module": "m.py", "line_no": line_no, "operator": operator, "function": "join",
            "diff": diff(minus, plus), "mutant_outcome": "survived"}  # fmt: skip


def test_a_mutant_that_turns_the_keyword_only_star_into_an_operator_does_not_parse():
    line = "def join(url: str, *, link: bool) -> tuple[str, bool] | None:"
    bad = reapplied(SOURCE, row(line, line.replace("*,", "<<,")))
    assert bad is not None and not parses(bad)
    good = reapplied(SOURCE, row("return url * 2, link", "return url + 2, link", line_no=5))
    assert good is not None and parses(good) and "url + 2" in good
    assert reapplied(SOURCE, row("no such line", "x")) is None


def test_annotations_of_a_postponing_module_are_never_evaluated():
    line = 4
    assert in_annotation(SOURCE, line, SOURCE.splitlines()[3].index("| None"))
    assert not in_annotation(SOURCE, 5, 11)  # the body's url * 2
    assert not in_annotation(SOURCE.replace("from __future__ import annotations", ""), line, 50)


def test_listed_equivalents_match_module_operator_line_and_function():
    known = [Equivalent("m.py", "core/X", "return url * 2, link", "return url ** 2, link", "why")]
    r = row("return url * 2, link", "return url ** 2, link", line_no=5)
    assert is_equivalent(r, known) == "why"
    assert is_equivalent({**r, "operator": "core/Y"}, known) == ""
    elsewhere = [Equivalent("m.py", "core/X", "return url * 2, link", "return url ** 2, link",
                            "why", function="other")]  # fmt: skip
    assert is_equivalent(r, elsewhere) == ""


def test_the_shipped_list_reads():
    listed = equivalents()
    assert listed and all(e.why and e.module.startswith("node/") for e in listed)


def test_rows_judged_before_are_marked_invalid_from_the_code_at_their_commit():
    """A row kept from an earlier run is decided again from its module at the sample's commit,
    whatever its run said (a node that cannot start was counted killed before)."""
    module = "bench/mutants_decide.py"
    lines = source_at("HEAD", module).splitlines()
    n = next(i for i, text in enumerate(lines, 1) if text.startswith("def reapplied("))
    line = lines[n - 1].strip()
    broken = {**row(line, line.replace("(source", "(<<source"), line_no=n), "module": module}
    fine = {**row(line, line.replace("(source", "(text"), line_no=n), "module": module}
    rows = [{**broken, "mutant_outcome": "killed"}, {**fine, "mutant_outcome": "killed"}]
    mark_invalid(rows, "HEAD")
    assert [(r["invalid"], r["mutant_outcome"]) for r in rows] == [
        (True, "invalid"),
        (False, "killed"),
    ]


WIDE = ("--nodes", "20", "--fault-plan", "wide")


def test_a_survivor_is_judged_by_the_second_profile_once_and_never_an_equivalent_one():
    needs_then = pytest.importorskip("bench.mutants").needs_then

    survivor = row("return url * 2, link", "return url + 2, link", line_no=5)
    assert needs_then(survivor, WIDE, []) and not needs_then(survivor, (), [])
    listed = Equivalent("m.py", "core/X", "return url * 2, link", "return url + 2, link", "why")
    assert not needs_then(survivor, WIDE, [listed])
    assert not needs_then({**survivor, "in_annotation": True}, WIDE, [])
    assert not needs_then({**survivor, "mutant_outcome": "killed"}, WIDE, [])
    judged = {**survivor, "then": {"locust_args": list(WIDE), "mutant_outcome": "survived"}}
    assert not needs_then(judged, WIDE, []) and needs_then(judged, ("--nodes", "30"), [])
    # killed by another second profile: that verdict is not this profile's
    killed = {**judged, "mutant_outcome": "killed"}
    assert needs_then(killed, ("--nodes", "30"), []) and not needs_then(killed, WIDE, [])


def test_the_report_says_what_the_second_profile_judged_and_killed():
    then_line = pytest.importorskip("bench.mutants").then_line

    then = {"locust_args": list(WIDE)}
    rows = [
        {"then": {**then, "mutant_outcome": "killed"}},
        {"then": {**then, "mutant_outcome": "survived"}},
        {"mutant_outcome": "killed"},
    ]
    assert then_line(rows) == (
        "; the survivors judged again with `--nodes 20 --fault-plan wide`: 2 of them, "
        "1 NOT READY there"
    )
    assert then_line(rows[2:]) == ""


def test_the_sample_is_judged_in_a_seeded_random_order():
    sample = [f"node/{m}.py:{n}" for m in ("catalog", "flood", "transfer") for n in range(10)]
    first = judging_order(reversed(sample), 3, str)
    assert first == judging_order(sample, 3, str)  # the seed decides, not the listing
    assert sorted(first) == sorted(sample) and first != sorted(sample)
    assert {m.split(":")[0] for m in first[:6]} != {"node/catalog.py"}  # not module by module
    assert judging_order(sample, 4, str) != first


def test_a_mutant_decided_by_reading_is_not_run_and_counted_as_decided():
    mutants = pytest.importorskip("bench.mutants")
    base = row("return url * 2, link", "return url + 2, link", line_no=5)
    unrun = {**base, "label": None, "problems": [], "not_run": "in an annotation"}
    noted = {**unrun, "in_annotation": True}
    assert mutants.outcome(noted) == "equivalent"
    assert mutants.outcome({**unrun, "invalid": True}) == "invalid"
    assert mutants.outcome(unrun) == "error"  # not run, and nothing decided: no verdict
    rows = [{**noted, "mutant_outcome": "equivalent"}, {**base, "mutant_outcome": "killed"}]
    counts = mutants.score(rows, [])
    assert (counts["equivalent"], counts["killed"], counts["score"]) == (1, 1, 1.0)
    assert "(not run: in an annotation) — equivalent: " in mutants.markdown(rows, [], "# h")


def test_the_report_says_which_harnesses_judged_a_sample_judged_over_sittings():
    harness_line = pytest.importorskip("bench.mutants").harness_line
    rows = [{"harness": None}, {}, {"harness": "b2"}, {"harness": "b2", "not_run": "invalid"}]
    assert harness_line(rows, "a1") == "; judged by the harnesses of a1 (2), b2 (1)"
    assert harness_line(rows[:2], "a1") == ""  # one harness: nothing to say
