"""The journal: JSON lines per docs/contracts.md, flushed as written, readable back."""

from __future__ import annotations

import json
from pathlib import Path

from faults import Journal, read_journal, step_records
from faults.journal import step_record
from faults.types import Step

STEP = Step(
    offset_s=20.0, fault_id="crash-each", kind="crash", phase="start", target="n2", nodes=("n2",)
)
CONTRACT_FIELDS = {
    "wall",
    "offset",
    "fault_id",
    "kind",
    "target",
    "phase",
    "outcome",
    "error",
    "detail",
}


def test_step_record_has_the_contract_fields() -> None:
    rec = step_record(STEP, offset=20.013, wall=1700000000.5, record="step", outcome="ok")
    assert CONTRACT_FIELDS <= set(rec)
    assert (rec["fault_id"], rec["kind"], rec["target"], rec["phase"]) == (
        "crash-each",
        "crash",
        "n2",
        "start",
    )
    assert (rec["offset"], rec["planned_offset"], rec["wall"]) == (20.013, 20.0, 1700000000.5)
    assert rec["outcome"] == "ok" and rec["error"] is None and rec["detail"] == {}


def test_lines_are_flushed_as_written(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "faults.jsonl"
    journal = Journal(path)
    journal.write(step_record(STEP, offset=1.0))
    # readable by another reader before close: flushed
    lines = path.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["record"] == "begin"
    journal.write(step_record(STEP, offset=1.0, record="step", outcome="ok"))
    journal.close()
    assert [r["record"] for r in read_journal(path)] == ["begin", "step"]
    assert len(journal.records) == 2


def test_appends_and_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path) as journal:
        journal.write({"record": "plan"})
    with Journal(path) as journal:
        journal.write(step_record(STEP, offset=2.0, record="step", outcome="error", error="boom"))
    with path.open("a") as f:
        f.write('{"record": "st')
    records = read_journal(path)
    assert [r["record"] for r in records] == ["plan", "step"]
    assert step_records(records) == records[1:]


def test_in_memory_journal_without_a_file() -> None:
    journal = Journal()
    journal.write({"record": "run", "status": "completed"})
    assert journal.records == [{"record": "run", "status": "completed"}]
