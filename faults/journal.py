"""The fault journal: JSON lines, each flushed as written, so a crash loses nothing written.

Records (the ``record`` field tells them apart; docs/contracts.md describes the step lines):

- ``plan``:  once, first: the resolved timeline (seed, nodes, steps) and the backend chosen,
  so a run can be replayed;
- ``begin``: a step about to act (written *before* it acts; outcome null);
- ``step``:  the same step done: ``outcome`` ok|error, ``error``, ``duration_s``, ``detail``;
  both carry the kind's facts a judge needs (``takes_down``, ``acts_on``: see
  ``faults.kinds.KindFacts``), so no consumer keeps its own list of kinds;
- ``run``:   once, last: the run's status (completed | failed | aborted | interrupted).

Readers interested in applied steps only take ``record == "step"`` (see ``step_records``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from .kinds import kind_facts
from .types import Step

BEGIN, STEP, PLAN, RUN = "begin", "step", "plan", "run"
OK, ERROR = "ok", "error"


def step_record(
    step: Step,
    *,
    offset: float,
    wall: float | None = None,
    record: str = BEGIN,
    **extra: Any,
) -> dict[str, Any]:
    """A journal line for ``step``; ``extra`` adds outcome, error, duration_s, detail, ..."""
    line = {
        "record": record,
        "wall": round(time.time() if wall is None else wall, 6),
        "offset": round(offset, 6),
        "planned_offset": round(step.offset_s, 6),
        "fault_id": step.fault_id,
        "kind": step.kind,
        "target": step.target,
        "nodes": list(step.nodes),
        "phase": step.phase,
        "outcome": None,
        "error": None,
        "detail": {},
        **kind_facts(step.kind).record_fields(),
    }
    line.update(extra)
    return line


class Journal:
    """Appends records to a file (if given) and keeps them in memory (``records``).

    The file is opened, appended to and closed for every line: a run writes a few dozen, and
    this way nothing is ever left open or unflushed, whoever forgets to close the journal.
    """

    def __init__(self, path: str | Path | None = None, *, stream: IO[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.stream = stream
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> dict[str, Any]:
        line = json.dumps(record, default=str) + "\n"
        with self._lock:
            self.records.append(record)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(line)
            if self.stream is not None:
                self.stream.write(line)
                self.stream.flush()
        return record

    def close(self) -> None:
        """Nothing to release (kept so a Journal can be used in a ``with`` block)."""

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_journal(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a journal file, in order (a torn last line is skipped)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def step_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the applied steps (one per start and per end), the lines reports judge windows by."""
    return [r for r in records if r.get("record", STEP) == STEP]
