"""``error_statuses``: every failure a node answered is one its network's API documents.

A call that fails during a fault is expected to fail, and a success rate over a fault window
counts it as one more failure; but a node that answers a partitioned peer's pull with a 500
(a handler that raised), or with a status its API never speaks of, has a bug a client cannot act
on, and no rate shows it. So each failure the network answered with a status (an HTTP status,
a gRPC status's name: what the adapter raised as ``Refused.status``) is judged against the
statuses the adapter says its API documents for that operation (``Adapter.statuses``, recorded
as the run's ``network_statuses``), in every window, faults and stress included. Operations it
lists nothing for are not judged; a network that lists none is "not measurable".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from reports.breakdown import WHOLE_RUN, Violation, spread
from reports.evidence import Evidence
from reports.rows import CORRECTNESS, COUNT, Check, Result
from reports.samples import Sample
from reports.thresholds import Thresholds

NAME = "error_statuses"
#: Undocumented answers named in the row's detail, at most (all are counted).
EXAMPLES = 3


def as_record(statuses: Mapping[str, Iterable[int | str]]) -> dict[str, list[str]]:
    """An adapter's ``statuses`` as the run records them: each status as text, sorted."""
    return {op: sorted(str(s) for s in codes) for op, codes in sorted(statuses.items())}


def _answered(contract: Mapping[str, list[str]]) -> Callable[[Sample], bool]:
    """Calls of a judged operation the node answered: a success, or a failure with a status."""
    return lambda s: s.get("op") in contract and (bool(s.get("ok")) or "status" in s)


def undocumented(ev: Evidence) -> Violation:
    """The test of one sample: a failure whose status the network does not document."""
    contract = ev.network_statuses or {}
    return lambda s: (
        s.get("op") in contract and "status" in s and str(s["status"]) not in contract[s["op"]]
    )


def error_statuses(ev: Evidence, th: Thresholds) -> list[Result]:
    row = Check(NAME, "<=", th.undocumented_max, COUNT, 1, "none", CORRECTNESS)
    if not ev.network_statuses:
        why = "its adapter documents no failure statuses (Adapter.statuses)"
        return row.not_measurable(WHOLE_RUN, why)
    answered, wrong = _answered(ev.network_statuses), undocumented(ev)
    looked = [s for s in ev.requests if answered(s)]
    if not looked:
        return row.missing(WHOLE_RUN, "no call of an operation whose statuses are documented")
    bad = [s for s in looked if wrong(s)]
    kinds = Counter(f"{s['op']} {s['status']}" for s in bad)
    said = [f"{kind}: {n}" for kind, n in kinds.most_common()]
    examples = [str(s.get("error"))[:120] for s in bad[:EXAMPLES] if s.get("error")]
    places = f"{len(bad)}: {spread(ev, bad)}" if bad else ""
    detail = "; ".join(filter(None, (places, ", ".join(said), *examples)))
    return [row.on(WHOLE_RUN, float(len(bad)), len(looked), detail)]


CRITERIA: tuple[Callable[[Evidence, Thresholds], list[Result]], ...] = (error_statuses,)
