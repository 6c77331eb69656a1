"""``stream_metadata``: what each download's stream said of its file, judged against the model.

A download's bytes are checked where they arrive (``corrupt_data``), but a stream also makes
claims: a header saying which file follows (name, size, sha256, owner), a trailer saying what
was sent (a count, a digest). A client that sizes its buffer from the header or verifies with
the trailer is misled by a wrong one while every byte is right, and nothing else compares them
(the same class as a hit advertising the wrong size). So every download that ended with the
right bytes (a failed one may end without its trailer; wrong bytes are ``corrupt_data``'s) has
each thing its stream said (``networks.adapter.Stated``) compared with the model: the file its
holder held under the name asked for, the bytes the user received, and every part the network's
protocol promises present. Not measurable where the adapter returns nothing of what its streams
said.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reports.breakdown import WHOLE_RUN, Violation, spread
from reports.checker import check
from reports.evidence import Evidence
from reports.model import Model
from reports.rows import CORRECTNESS, COUNT, Check, Result
from reports.samples import Sample
from reports.thresholds import Thresholds

NAME = "stream_metadata"
DOWNLOAD = "download"
#: What a stream may state (``networks.adapter.Stated``), each judged where it is said.
STATED_KEYS = ("name", "size", "sha256", "node", "total", "digest")
#: Misstatements spelt out in the row's detail (all are counted).
EXAMPLES = 3


def judged(sample: Sample) -> bool:
    """A download that ended with the right bytes and records what its stream said."""
    return (
        sample.get("op") == DOWNLOAD
        and bool(sample.get("ok"))
        and isinstance(sample.get("stated"), dict)
        and isinstance(sample.get("file"), str)
    )


def contradictions(said: dict[str, Any], truth: dict[str, Any]) -> list[str]:
    """What a stream ``said`` (``client.stated_facts``) that ``truth`` contradicts, and the
    parts it lacked: ``truth`` has the file's ``name``, ``node``, ``size`` and ``sha256`` and
    the ``bytes`` received (a value None: unknown, not judged)."""
    right_of = {**truth, "total": truth.get("bytes"), "digest": truth.get("sha256")}
    problems = [f"no {part}" for part in said.get("missing", ())]
    for key in STATED_KEYS:
        right = right_of.get(key)
        if key in said and right is not None and said[key] != right:
            problems.append(f"{key} {said[key]!r}, not {right!r}")
    return problems


def misstatements(sample: Sample, model: Model | None) -> list[str]:
    """What the stream of a judged download said that the model contradicts."""
    name, node = sample["file"], sample.get("node")
    truth: dict[str, Any] = {"name": name, "node": node, "bytes": sample.get("bytes")}
    end = sample["t"] + sample.get("latency_ms", 0) / 1000
    held = model.held(node, name, sample["t"], end) if model and node else None
    if held is not None:
        truth.update(size=held.size, sha256=held.sha256)
    return contradictions(sample["stated"], truth)


def said(ev: Evidence) -> bool:
    """Whether any download of the run records what its stream said."""
    return any(isinstance(s.get("stated"), dict) for s in ev.samples if s.get("op") == DOWNLOAD)


def misstated(ev: Evidence) -> Violation:
    """The test of one sample (``reports.breakdown`` places them by window and node)."""
    model = check(ev).model
    return lambda s: judged(s) and bool(misstatements(s, model))


def stream_metadata(ev: Evidence, th: Thresholds) -> list[Result]:
    row = Check(NAME, "<=", th.misstated_max, COUNT, 1, "none", CORRECTNESS)
    downloads = [s for s in ev.samples if s.get("op") == DOWNLOAD]
    if downloads and not said(ev):
        return row.not_measurable(WHOLE_RUN, "its downloads say nothing of the file they carry")
    looked = [s for s in downloads if judged(s)]
    if not looked:
        return row.missing(WHOLE_RUN, "no download ended with the right bytes")
    model = check(ev).model
    bad = [(s, p) for s in looked if (p := misstatements(s, model))]
    named = [f"{s['file']} from {s.get('node')}: {'; '.join(p)}" for s, p in bad[:EXAMPLES]]
    places = spread(ev, [s for s, _ in bad]) if bad else ""
    detail = "; ".join(filter(None, (f"{len(bad)}: {places}" if places else "", *named)))
    return [row.on(WHOLE_RUN, float(len(bad)), len(looked), detail)]


CRITERIA: tuple[Callable[[Evidence, Thresholds], list[Result]], ...] = (stream_metadata,)
