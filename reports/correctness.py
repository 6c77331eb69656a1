"""Correctness criteria: wrong answers and lost or corrupt data, at zero tolerance by default.

A success rate averages; these do not. One corrupt download, one acknowledged upload gone, one
answer that silently leaves out a reachable node's file is a bug, whatever the other 99 % did.
Each criterion counts violations and compares the count with its threshold (``<=``); the
evidence behind the count is the population it was looked for in (``n``), and a population of
zero is "insufficient", never a pass.

Search answers are judged by one checker against a model of the network (``reports.checker``):
one row per class of wrong answer or hit. Downloads carry their ``violation`` (``corrupt``) from
the Locust users, who checked the bytes; the integrity check after the run counts acknowledged
uploads lost, changed or unsearchable; the verification probes before and after the load list
their problems in the run status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx

from networks.adapter import MINIMAL, ROGUE
from networks.outcomes import FAIL as CHECK_FAILED
from networks.outcomes import NOT_MEASURABLE
from reports import stated, statuses
from reports.breakdown import Violation, spread
from reports.checker import (
    BEYOND_TTL,
    DEGRADED,
    DUPLICATE,
    MISSING,
    PARTIAL_DURING_FAULT,
    PHANTOM,
    UNKNOWN,
    WRONG_METADATA,
    Checked,
    check,
    flood_bound,
)
from reports.evidence import STRESS, Evidence
from reports.rows import CORRECTNESS, COUNT, FAIL, PASS, PCT, Check, Result
from reports.samples import Sample, select
from reports.thresholds import Thresholds

CORRUPT = "corrupt"
#: The operations a corrupt download is looked for in (users mark the sample).
CORRUPT_IN = ("download", "node_download")
#: Capabilities (``networks.adapter``) some rows cannot be judged without.
CHECKSUM, PARTIAL, MESSAGES = "checksum", "partial", "messages"
EXAMPLES = 3
RUN = "run"
OUTSIDE_FAULTS, DURING_FAULTS = "outside faults", "during faults"
#: Where a hit-level row judges the sha256 apart from size and owner.
SHA_WINDOW = "run · sha256"


def _count_check(name: str, limit: float | None) -> Check:
    return Check(name, "<=", limit, COUNT, 1, family=CORRECTNESS)


def marked(kind: str) -> Violation:
    """Whether a sample shows violation ``kind``, marked so by the users on a download."""
    return lambda s: s.get("op") in CORRUPT_IN and s.get("violation") == kind


def where(ev: Evidence, bad: list[Sample]) -> str:
    """A failing row's detail names the windows its violations fell in: ``156: 155 in
    stress-160, 1 in level-20`` (reports.breakdown)."""
    places = spread(ev, bad) if bad else ""
    return f"{len(bad)}: {places}" if places else ""


def corrupt_data(ev: Evidence, th: Thresholds) -> list[Result]:
    """Downloads whose bytes did not match the advertised sha256 when they reached a user.

    A node refusing a pull it could not verify (``POST /download`` answering 502) is the node
    doing its job; bytes a user received wrong, or a pull acknowledged with the wrong digest,
    are not."""
    check_ = _count_check("corrupt_data", th.corrupt_max)
    looked = select(ev.samples, op=CORRUPT_IN)
    if not looked:
        return check_.missing(RUN, f"no {'/'.join(CORRUPT_IN)} samples to check")
    bad = [s for s in looked if marked(CORRUPT)(s)]
    examples = "; ".join(str(s["error"])[:120] for s in bad[:EXAMPLES] if s.get("error"))
    detail = "; ".join(filter(None, (where(ev, bad), examples)))
    return [check_.on(RUN, float(len(bad)), len(looked), detail)]


def _checked(ev: Evidence, check_: Check, window: str = RUN) -> Checked | list[Result]:
    """The checker's judgement of the run, or the row saying why there is none."""
    checked = check(ev)
    if checked.model is None:
        return check_.missing(window, "the run record lists no nodes and their files (no model)")
    if not checked.answers:
        return check_.missing(window, "no answered search recorded with its hits")
    return checked


def _detail(ev: Evidence, checked: Checked, bad: list[Sample], unknown: int = 0) -> str:
    notes = "; ".join(checked.notes(bad, EXAMPLES))
    unjudged = f"{unknown} answer(s) near a fault not judged (unknown)" if unknown else ""
    return "; ".join(filter(None, (where(ev, bad), notes, unjudged)))


def missing_hits(ev: Evidence, th: Thresholds) -> list[Result]:
    """Answers that claim to be complete and are not: a required hit absent without
    ``partial``, a file of a node that answered absent, or more peer messages than the nodes
    that answered account for (a peer was asked and never answered), without ``partial``."""
    check_ = _count_check("missing_hits", th.incomplete_max)
    checked = _checked(ev, check_)
    if isinstance(checked, list):
        return checked
    unknown = len(checked.with_class(UNKNOWN))
    judged = len(checked.answers) - unknown
    bad = checked.with_class(MISSING)
    if not judged:
        return check_.missing(RUN, f"all {unknown} answers were near a fault (unknown)")
    return [check_.on(RUN, float(len(bad)), judged, _detail(ev, checked, bad, unknown))]


def _hit_rows(ev: Evidence, name: str, cls: str, limit: int) -> list[Result]:
    """Hits of class ``cls`` among every hit of every answered search."""
    check_ = _count_check(name, limit)
    checked = _checked(ev, check_)
    if isinstance(checked, list):
        return checked
    hits = checked.hit_count()
    if not hits:
        return check_.missing(RUN, "no hits to check")
    bad = [s for s in checked.answers if (j := checked.of(s)) and j.hits[cls]]
    rows = [check_.on(RUN, float(checked.hits(cls)), hits, _detail(ev, checked, bad))]
    if cls == WRONG_METADATA and ev.lacks(CHECKSUM):
        rows += check_.not_measurable(SHA_WINDOW, "its hits carry no sha256")
    return rows


def beyond_ttl(ev: Evidence, th: Thresholds) -> list[Result]:
    """Hits from a node farther than the TTL over any link there was, or said to be."""
    return _hit_rows(ev, "beyond_ttl", BEYOND_TTL, th.beyond_ttl_max)


def phantom_hits(ev: Evidence, th: Thresholds) -> list[Result]:
    """Hits for a file the node never held during the search (or that does not match)."""
    return _hit_rows(ev, "phantom_hits", PHANTOM, th.phantom_max)


def wrong_metadata(ev: Evidence, th: Thresholds) -> list[Result]:
    """Hits advertising another size or sha256 than the file has, or an owner not a node."""
    return _hit_rows(ev, "wrong_metadata", WRONG_METADATA, th.wrong_metadata_max)


def duplicate_hits(ev: Evidence, th: Thresholds) -> list[Result]:
    """The same (node, file) listed twice in one answer (each repeat counted)."""
    return _hit_rows(ev, "duplicate_hits", DUPLICATE, th.duplicate_max)


def _end(sample: Sample) -> float:
    return sample["t"] + float(sample["latency_ms"]) / 1000


def _in_stress(ev: Evidence) -> Callable[[Sample], bool]:
    spans = [(w["start"], w["end"]) for w in ev.of_kind(STRESS)]
    return lambda s: any(a <= s["t"] < b for a, b in spans)


def degraded_answers(ev: Evidence, th: Thresholds) -> list[Result]:
    """Answers flagged ``partial`` although no fault was active and every node was up: the
    share outside faults and stress, gated; during faults and in stress, reported."""
    gated = Check("degraded_answers", "<=", th.degraded_pct, PCT, th.min_samples, "", CORRECTNESS)
    if ev.lacks(PARTIAL):
        return gated.not_measurable(OUTSIDE_FAULTS, "its answers never say they are partial")
    checked = _checked(ev, gated, OUTSIDE_FAULTS)
    if isinstance(checked, list):
        return checked
    stress, model = _in_stress(ev), checked.model
    judged = [s for s in checked.answers if checked.of(s).answer != UNKNOWN]
    during = {id(s) for s in judged if model.fault_during(s["t"], _end(s))}
    faulty = [s for s in judged if id(s) in during]
    calm = [s for s in judged if id(s) not in during and not stress(s)]
    stressed = [s for s in judged if id(s) not in during and stress(s)]
    reported = Check("degraded_answers", "<=", None, PCT, th.min_samples, "", CORRECTNESS)
    rows = []
    for check_, window, pool, cls in (
        (gated, OUTSIDE_FAULTS, calm, DEGRADED),
        (reported, STRESS, stressed, DEGRADED),
        (reported, DURING_FAULTS, faulty, PARTIAL_DURING_FAULT),
    ):
        bad = checked.with_class(cls, pool)
        value = 100.0 * len(bad) / len(pool) if pool else None
        detail = f"{len(bad)} of {len(pool)} answers partial" + (
            f"; {spread(ev, bad)}" if bad and check_ is gated else ""
        )
        if pool or check_ is gated:
            rows.append(check_.on(window, value, len(pool), detail))
    return rows


def flood_limit(ev: Evidence, th: Thresholds) -> tuple[Callable[[Sample], float], str]:
    """The most messages each query may cost, and its basis: configured, or the bound of the
    topology within the query's TTL from its origin (``reports.checker.flood_bound``)."""
    if th.flood_messages_max is not None:
        return (lambda s: th.flood_messages_max), f"configured {th.flood_messages_max:g}"
    model = check(ev).model
    graph = nx.complete_graph(ev.node_count) if model is None else model.seen
    bounds: dict[tuple[Any, int], int] = {}

    def limit(s: Sample) -> float:
        # Without the origin's name (no model) any node of the full mesh is alike.
        origin = s.get("node") if model is not None else 0
        ttl = s["ttl"] if isinstance(s.get("ttl"), int) else graph.number_of_nodes()
        if (origin, ttl) not in bounds:
            bounds[origin, ttl] = flood_bound(graph, origin, ttl)
        return float(bounds[origin, ttl])

    basis = f"the links within each query's TTL, E={graph.number_of_edges()}, N={len(graph)}"
    return limit, basis


def counts_messages(sample: Sample) -> bool:
    """A search answer that reports the peer messages it cost."""
    return sample.get("op") == "search" and isinstance(sample.get("messages"), int)


def under_flood(sample: Sample) -> bool:
    """A search answer that says it cost fewer peer messages than the other nodes it says
    answered: each of them was sent one at least."""
    reached = sample.get("reached")
    others = set(reached) - {sample.get("node")} if isinstance(reached, list) else set()
    return counts_messages(sample) and sample["messages"] < len(others)


def over_flood(limit: Callable[[Sample], float]) -> Violation:
    """Whether a search answer cost more peer messages than its ``limit``, or fewer than the
    nodes that answered it needed."""
    return lambda s: counts_messages(s) and (s["messages"] > limit(s) or under_flood(s))


def flood_cost(ev: Evidence, th: Thresholds) -> list[Result]:
    """Search answers that cost more peer messages than their bound, or say fewer than the
    nodes that answered needed: none."""
    limit, basis = flood_limit(ev, th)
    check_ = _count_check("flood_cost", 0)
    if ev.lacks(MESSAGES):
        return check_.not_measurable(RUN, "its answers do not count their messages")
    counted = [s for s in ev.samples if counts_messages(s)]
    if not counted or ev.node_count < 1:
        return check_.missing(RUN, "no search answers that report their message count")
    worst = max(counted, key=lambda s: (s["messages"] - limit(s), s["messages"]))
    over = [s for s in counted if over_flood(limit)(s)]
    detail = f"bound from {basis}; worst {worst['messages']} messages (bound {limit(worst):g})"
    if under := [s for s in counted if under_flood(s)]:
        first = under[0]
        detail += (
            f"; {len(under)} said fewer messages than the nodes that answered (first: "
            f"{first['messages']} for {len(first['reached'])} nodes from {first['node']})"
        )
    detail = "; ".join(filter(None, (detail, where(ev, over))))
    return [check_.on(RUN, float(len(over)), len(counted), detail)]


#: Each zero-tolerance row about answers, and the answer or hit class it counts.
ANSWER_ROWS = {"missing_hits": MISSING}
HIT_ROWS = {
    "beyond_ttl": BEYOND_TTL,
    "phantom_hits": PHANTOM,
    "wrong_metadata": WRONG_METADATA,
    "duplicate_hits": DUPLICATE,
}


def violations(ev: Evidence, th: Thresholds) -> dict[str, Violation]:
    """Each zero-tolerance row counted sample by sample, with its test of one sample, where
    the network can show it (reports.breakdown places them by window and node)."""
    out = {"corrupt_data": marked(CORRUPT)}
    if stated.said(ev):
        out[stated.NAME] = stated.misstated(ev)
    if ev.network_statuses:
        out[statuses.NAME] = statuses.undocumented(ev)
    checked = check(ev)
    if checked.model is not None:
        for name, cls in ANSWER_ROWS.items():
            out[name] = lambda s, cls=cls: (j := checked.of(s)) is not None and j.answer == cls
        for name, cls in HIT_ROWS.items():
            out[name] = lambda s, cls=cls: (j := checked.of(s)) is not None and j.hits[cls] > 0
    if not ev.lacks(MESSAGES) and (th.flood_messages_max is not None or ev.node_count >= 1):
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
    if gone := ev.integrity.get("gone_with_data"):
        detail += f"; {gone} more on nodes whose data the plan wiped, not judged"
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
    examples = ", ".join(ev.integrity.get("unsearchable_examples", [])[:EXAMPLES])
    detail = f"{missing} not found" + (f"; e.g. {examples}" if examples else "")
    return [check.on("after run", float(missing), int(checked), detail)]


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


def rogue_peer(ev: Evidence, th: Thresholds) -> list[Result]:
    """Files fetched from a member that served them wrong (``networks/roguecheck.py``), at the
    very end: each refused as the protocol says, none kept, the node still serving."""
    lacking = "it cannot make a member serve wrong files"
    return _foreign_member(ev, "rogue_peer", "rogue", ROGUE, lacking)


def minimal_peer(ev: Evidence, th: Thresholds) -> list[Result]:
    """A member that says only what the protocol requires, as a node's neighbour
    (``networks/minimalcheck.py``), just before the rogue: its file found, the answer told as
    any other."""
    lacking = "it cannot make a member that says only what the protocol requires"
    return _foreign_member(ev, "minimal_peer", "minimal", MINIMAL, lacking)


def _foreign_member(
    ev: Evidence, name: str, key: str, capability: str, lacking: str
) -> list[Result]:
    """The row of a check with a member no node of the network is, run after the run."""
    check = Check(name, "<=", 0, COUNT, 1, "passed", CORRECTNESS)
    if ev.lacks(capability):
        return check.not_measurable("after run", lacking)
    seen = ev.status.get(key)
    if not isinstance(seen, dict):
        return check.missing("after run", _unchecked(ev, "not run"))
    if seen.get("outcome") == NOT_MEASURABLE:
        return check.not_measurable("after run", str(seen.get("detail")))
    failed = seen.get("outcome") == CHECK_FAILED
    verdict, value = (FAIL, 1.0) if failed else (PASS, 0.0)
    return [check.result("after run", value, verdict, 1, str(seen.get("detail")))]


CRITERIA = (
    initial_verification,
    acked_writes,
    acked_searchable,
    corrupt_data,
    missing_hits,
    beyond_ttl,
    phantom_hits,
    wrong_metadata,
    duplicate_hits,
    degraded_answers,
    flood_cost,
    final_verification,
    minimal_peer,
    rogue_peer,
)
