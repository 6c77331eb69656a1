"""Correctness criteria: wrong answers and lost or corrupt data, at zero tolerance by default.

A success rate averages; these do not. One corrupt download, one acknowledged upload gone, one
answer that silently leaves out a reachable node's file is a bug, whatever the other 99 % did.
Each criterion counts violations and compares the count with its threshold (``<=``); the
evidence behind the count is the population it was looked for in (``n``), and a population of
zero is "insufficient", never a pass.

The violations themselves are marked where they are seen: the Locust users put ``violation`` on
a sample (``corrupt``, ``incomplete``, ``phantom``, ``duplicate``); the integrity check after the
run counts acknowledged uploads lost, changed or unsearchable; the verification probes before
and after the load list their problems in the run status.
"""

from __future__ import annotations

from reports.breakdown import Violation, spread
from reports.evidence import Evidence
from reports.rows import CORRECTNESS, COUNT, FAIL, PASS, Check, Result
from reports.samples import Sample, select
from reports.thresholds import Thresholds

#: ``violation`` values a sample can carry, and the operations each is looked for in.
CORRUPT, INCOMPLETE, PHANTOM, DUPLICATE = "corrupt", "incomplete", "phantom", "duplicate"
LOOKED_FOR_IN = {
    CORRUPT: ("download", "node_download"),
    INCOMPLETE: ("search",),
    PHANTOM: ("hit_check",),
    DUPLICATE: ("search",),
}
#: The capability (``networks.adapter``) a violation can only be looked for with.
NEEDS = {PHANTOM: "files"}
#: The criterion that counts each marked violation, in table order.
MARKED = {
    "corrupt_data": CORRUPT,
    "incomplete_answers": INCOMPLETE,
    "phantom_hits": PHANTOM,
    "duplicate_hits": DUPLICATE,
}
EXAMPLES = 3


def _count_check(name: str, limit: float | None) -> Check:
    return Check(name, "<=", limit, COUNT, 1, family=CORRECTNESS)


def marked(kind: str) -> Violation:
    """Whether a sample shows violation ``kind``: marked so, on an operation it is looked for in."""
    return lambda s: s.get("op") in LOOKED_FOR_IN[kind] and s.get("violation") == kind


def where(ev: Evidence, bad: list[Sample]) -> str:
    """A failing row's detail names the windows its violations fell in: ``156: 155 in
    stress-160, 1 in level-20`` (reports.breakdown)."""
    places = spread(ev, bad) if bad else ""
    return f"{len(bad)}: {places}" if places else ""


def _violations(ev: Evidence, th: Thresholds, name: str, limit: int) -> list[Result]:
    """Samples marked with the violation ``name`` counts, among the operations where it is
    looked for."""
    kind, check = MARKED[name], _count_check(name, limit)
    if kind in NEEDS and ev.lacks(NEEDS[kind]):
        return check.not_measurable("run", f"it has no {NEEDS[kind]} view")
    looked = select(ev.samples, op=LOOKED_FOR_IN[kind])
    bad = [s for s in looked if marked(kind)(s)]
    if not looked:
        return check.missing("run", f"no {'/'.join(LOOKED_FOR_IN[kind])} samples to check")
    examples = "; ".join(str(s["error"])[:120] for s in bad[:EXAMPLES] if s.get("error"))
    detail = "; ".join(filter(None, (where(ev, bad), examples)))
    return [check.on("run", float(len(bad)), len(looked), detail)]


def corrupt_data(ev: Evidence, th: Thresholds) -> list[Result]:
    """Downloads whose bytes did not match the advertised sha256 when they reached a user.

    A node refusing a pull it could not verify (``POST /download`` answering 502) is the node
    doing its job; bytes a user received wrong, or a pull acknowledged with the wrong digest,
    are not."""
    return _violations(ev, th, "corrupt_data", th.corrupt_max)


def incomplete_answers(ev: Evidence, th: Thresholds) -> list[Result]:
    """Searches that claim to be complete and are not: a hit missing whose owner answered, or
    was reachable, without ``partial``; or more peer messages than the nodes that answered can
    account for (a peer was asked and never answered), without ``partial``."""
    return _violations(ev, th, "incomplete_answers", th.incomplete_max)


def phantom_hits(ev: Evidence, th: Thresholds) -> list[Result]:
    """Hits (a sample of them, checked on the node named) for a file that node does not hold."""
    return _violations(ev, th, "phantom_hits", th.phantom_max)


def duplicate_hits(ev: Evidence, th: Thresholds) -> list[Result]:
    """Answers that list the same (node, file) more than once."""
    return _violations(ev, th, "duplicate_hits", th.duplicate_max)


def full_flood_bound(nodes: int) -> int:
    """Messages of one flooded query over a full mesh with dedupe: 2E - (N - 1), E = N(N-1)/2."""
    edges = nodes * (nodes - 1) // 2
    return max(0, 2 * edges - (nodes - 1))


def hides_silent_peers(messages: int | None, reached: int | None, partial: bool | None) -> bool:
    """An answer that is not partial although a peer it asked never answered: among the k nodes
    that answered, no flood costs more than (k-1)^2 messages (2E-(k-1) over a full mesh, less
    over any other topology), so more messages went to peers outside them."""
    if messages is None or reached is None or partial:
        return False
    return messages > full_flood_bound(reached)


def flood_limit(ev: Evidence, th: Thresholds) -> tuple[float, str]:
    """The most messages one query may cost, and its basis: configured, or the full mesh's."""
    if th.flood_messages_max is not None:
        return th.flood_messages_max, "configured"
    return float(full_flood_bound(ev.node_count)), f"2E-(N-1), N={ev.node_count}"


def counts_messages(sample: Sample) -> bool:
    """A search answer that reports the peer messages it cost."""
    return sample.get("op") == "search" and isinstance(sample.get("messages"), int)


def over_flood(limit: float) -> Violation:
    """Whether a search answer cost more peer messages than ``limit``."""
    return lambda s: counts_messages(s) and s["messages"] > limit


def flood_cost(ev: Evidence, th: Thresholds) -> list[Result]:
    """The most peer messages one flooded query cost, against the topology's bound."""
    limit, basis = flood_limit(ev, th)
    check = _count_check("flood_cost", limit)
    if ev.lacks("messages"):
        return check.not_measurable("run", "its answers do not count their messages")
    counted = [s for s in ev.samples if counts_messages(s)]
    if not counted or ev.node_count < 1:
        return check.missing("run", "no search answers that report their message count")
    worst = max(s["messages"] for s in counted)
    over = [s for s in counted if over_flood(limit)(s)]
    detail = f"bound {basis}; {len(over)} answer(s) over it"
    detail = "; ".join(filter(None, (detail, where(ev, over))))
    return [check.on("run", float(worst), len(counted), detail)]


def violations(ev: Evidence, th: Thresholds) -> dict[str, Violation]:
    """Each zero-tolerance row counted sample by sample, with its test of one sample, where
    the network can show it (reports.breakdown places them by window and node)."""
    out = {
        name: marked(kind)
        for name, kind in MARKED.items()
        if not (kind in NEEDS and ev.lacks(NEEDS[kind]))
    }
    if not ev.lacks("messages") and (th.flood_messages_max is not None or ev.node_count >= 1):
        out["flood_cost"] = over_flood(flood_limit(ev, th)[0])
    return out


def acked_writes(ev: Evidence, th: Thresholds) -> list[Result]:
    """Every acknowledged upload still there after the run, with the bytes acknowledged."""
    check = _count_check("acked_writes", th.lost_writes_max)
    if ev.lacks("index"):
        return check.not_measurable("after run", "it cannot be given new files")
    checked = ev.integrity.get("acked_uploads")
    if not ev.integrity or checked is None:
        return check.missing("after run", _unchecked(ev, "integrity was not checked"))
    if not checked:
        return check.missing("after run", "no upload was acknowledged")
    lost, changed = int(ev.integrity.get("lost", 0)), int(ev.integrity.get("corrupt", 0))
    examples = ", ".join(ev.integrity.get("examples", [])[:EXAMPLES])
    detail = f"{lost} lost, {changed} changed" + (f"; e.g. {examples}" if lost + changed else "")
    return [check.on("after run", float(lost + changed), int(checked), detail)]


def acked_searchable(ev: Evidence, th: Thresholds) -> list[Result]:
    """A sample of acknowledged uploads found by a search from another node after the run."""
    check = _count_check("acked_searchable", th.unsearchable_max)
    if ev.lacks("index"):
        return check.not_measurable("after run", "it cannot be given new files")
    checked = ev.integrity.get("searchable_checked")
    if not checked:
        return check.missing("after run", _unchecked(ev, "no upload was checked by search"))
    missing = int(ev.integrity.get("unsearchable", 0))
    return [check.on("after run", float(missing), int(checked), f"{missing} not found")]


def _unchecked(ev: Evidence, default: str) -> str:
    return "not checked: the run was interrupted" if ev.status.get("interrupted") else default


def _verification(ev: Evidence, name: str, key: str, window: str) -> list[Result]:
    """The steady-state probe (every node up, canary search everywhere, corpus intact, a
    download verifies) passed: ``status[key]`` lists its problems, ``None`` = not run."""
    check = Check(name, "<=", 0, COUNT, 1, "passed", CORRECTNESS)
    problems = ev.status.get(key)
    if problems is None:
        return check.missing(window, _unchecked(ev, "not run"))
    verdict = FAIL if problems else PASS
    detail = "; ".join(problems) or "every node up, canary reached all, corpus intact"
    return [check.result(window, float(len(problems)), verdict, 1, detail)]


def initial_verification(ev: Evidence, th: Thresholds) -> list[Result]:
    """The network was whole before any load."""
    return _verification(ev, "initial_verification", "initial_problems", "before run")


def final_verification(ev: Evidence, th: Thresholds) -> list[Result]:
    """The network was whole again after the last fault healed."""
    return _verification(ev, "final_verification", "final_problems", "after run")


CRITERIA = (
    initial_verification,
    acked_writes,
    acked_searchable,
    corrupt_data,
    incomplete_answers,
    phantom_hits,
    duplicate_hits,
    flood_cost,
    final_verification,
)
