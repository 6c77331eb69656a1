"""reports.model and reports.checker: every answer and every hit judged against the model."""

from __future__ import annotations

import reports
from networks.adapter import Hit, NodeInfo, SearchAnswer
from networks.verify import answer_model, wrong_answer
from reports.checker import (
    BEYOND_TTL,
    COMPLETE,
    DEGRADED,
    DUPLICATE,
    MISSING,
    OK,
    PARTIAL_DURING_FAULT,
    PHANTOM,
    UNKNOWN,
    WRONG_METADATA,
    check,
)
from reports.correctness import degraded_answers, wrong_metadata
from reports.evidence import Evidence
from reports.integrity import gone_with_data
from reports.rows import FAIL, PASS, REPORTED
from reports.samples import UNFINISHED
from reports.synthetic import synthetic_run
from reports.thresholds import Thresholds
from tests.fixtures import fault_result, fault_win, req, status

TH = Thresholds()
NAMES = ("n1", "n2", "n3", "n4")
SIZE = 100


def files(node: str, count: int = 1) -> list[dict]:
    return [
        {"name": f"alpha-{node}-{i:03d}.txt", "size": SIZE, "sha256": f"{i:02d}" * 32}
        for i in range(count)
    ]


def hit(node: str, i: int = 0, *, size: int = SIZE, hops: int = 1, sha: bool = True) -> list:
    return [node, f"alpha-{node}-{i:03d}.txt", size, f"{i:02d}" * 8 if sha else None, hops]


def search(t: float, hits: list, *, origin: str = "n1", ttl: int = 3, **answer) -> dict:
    facts = {"term": "alpha", "ttl": ttl, "hits": hits, "partial": False, **answer}
    return {**req(t, **facts), "node": origin}


def every(origin: str = "n1", nodes=NAMES) -> list:
    return [hit(n, hops=int(n != origin)) for n in nodes]


def evidence(samples: list[dict], nodes=None, **run) -> Evidence:
    held = nodes or [{"name": n, "files": files(n)} for n in NAMES]
    return Evidence(samples=samples, nodes=held, status=status(nodes=len(held)), **run)


def judged(sample: dict, **run):
    ev = evidence([sample], **run)
    return check(ev).of(ev.samples[0])


def test_a_right_answer_is_complete():
    j = judged(search(10, every()))
    assert j.answer == COMPLETE and j.hits == {OK: 4}


def test_a_hit_advertising_the_wrong_size_is_wrong_metadata():
    j = judged(search(10, [*every()[:3], hit("n4", size=SIZE + 1)]))
    assert j.answer == WRONG_METADATA and j.hits[WRONG_METADATA] == 1
    assert "said to be 101 bytes, holds 100" in j.note


def test_a_hit_with_another_digest_or_owner_is_wrong_metadata():
    other_sha = [*every()[:3], ["n4", "alpha-n4-000.txt", SIZE, "ff" * 8, 1]]
    assert judged(search(10, other_sha)).answer == WRONG_METADATA
    no_node = [*every(), ["n9", "alpha-n9-000.txt", SIZE, None, 1]]
    assert "not a node of the network" in judged(search(10, no_node)).note


def test_a_hit_from_three_hops_away_with_ttl_2_is_beyond_ttl():
    edges = [["n1", "n2"], ["n2", "n3"], ["n3", "n4"]]
    line = {"spec": "line", "nodes": list(NAMES), "edges": edges}
    near = [hit("n1", hops=0), hit("n2", hops=1), hit("n3", hops=2)]
    assert judged(search(10, near, ttl=2), topology=line).answer == COMPLETE
    j = judged(search(10, [*near, hit("n4", hops=3)], ttl=2), topology=line)
    assert j.answer == BEYOND_TTL and j.hits == {OK: 3, BEYOND_TTL: 1}
    # a hop count over the TTL is beyond it too, whatever the links
    assert judged(search(10, [*every()[:3], hit("n4", hops=4)], ttl=2)).answer == BEYOND_TTL


#: n1 - n2 - n3 - n4 with a shortcut n1 - n3: n3 is 1 hop from n1 and n4 2, or 2 and 3 the
#: long way round through n2.
SHORTCUT = {
    "spec": "line",
    "nodes": list(NAMES),
    "edges": [["n1", "n2"], ["n2", "n3"], ["n3", "n4"], ["n1", "n3"]],
}
SHORT_WAY = [hit("n1", hops=0), hit("n2", hops=1), hit("n3", hops=1), hit("n4", hops=2)]
LONG_WAY = [*SHORT_WAY[:2], hit("n3", hops=2), hit("n4", hops=3)]


def test_a_hit_said_fewer_hops_away_than_any_link_allows_is_wrong_metadata():
    under = [*SHORT_WAY[:3], hit("n4", hops=1)]
    j = judged(search(10, under), topology=SHORTCUT)
    assert j.answer == WRONG_METADATA and j.hits == {OK: 3, WRONG_METADATA: 1}
    assert "alpha-n4-000.txt from n4 said 1 hop(s) away, 2 over any link" in j.note
    # whatever the network's hops mean, and during a fault as well
    assert judged(search(22, under), topology=SHORTCUT, **crash()).answer == WRONG_METADATA


def test_a_hit_that_came_the_long_way_is_judged_as_the_network_counts_hops():
    # "path" (the default): the hops of the copy that reached the holder, any way round
    assert judged(search(10, LONG_WAY), topology=SHORTCUT).answer == COMPLETE
    # "fewest" (our node): in a calm answer, exactly the shortest way over the links up
    fewest = {"topology": SHORTCUT, "network_hops": "fewest"}
    assert judged(search(10, SHORT_WAY), **fewest).answer == COMPLETE
    j = judged(search(10, LONG_WAY), **fewest)
    assert j.answer == WRONG_METADATA and j.hits == {OK: 2, WRONG_METADATA: 2}
    assert "alpha-n3-000.txt from n3 said 2 hop(s) away, 1 over the links up" in j.note
    # not judged where the shorter way may have been lost: a partial answer, a fault near it
    assert judged(search(10, LONG_WAY, partial=True), **fewest).answer == DEGRADED
    assert judged(search(31, LONG_WAY), **fewest, **crash()).answer == UNKNOWN


def test_a_node_returning_2_of_its_10_matching_files_is_missing():
    nodes = [{"name": "n1", "files": files("n1")}, {"name": "n2", "files": files("n2", 10)}]
    some = [hit("n1", hops=0), hit("n2", 0), hit("n2", 1)]
    j = judged(search(10, some, reached=["n1", "n2"]), nodes=nodes)
    assert j.answer == MISSING and "n2's alpha-n2-002.txt missing" in j.note
    # said partial, a node that did not answer may be missing; one that answered may not
    assert judged(search(10, some[:1], partial=True), nodes=nodes).answer == DEGRADED
    assert judged(search(10, some, partial=True, reached=["n1", "n2"]), nodes=nodes).answer == (
        MISSING
    )


def test_more_messages_than_the_nodes_that_answered_explain_is_missing():
    # A full mesh of 4, TTL 3: the origin's 3 copies, and each other node forwards to its 2
    # other links at most twice (with 2 TTL left, then with 1): 3 + 3 * 2 * 2 = 15.
    j = judged(search(10, every(), reached=list(NAMES), messages=16))
    assert j.answer == MISSING and "not partial" in j.note
    assert judged(search(10, every(), reached=list(NAMES), messages=15)).answer == COMPLETE


def crash(start: float = 20, end: float = 30, recovered_s: float = 2.0) -> dict:
    window = fault_win("n3", start, end)
    return {"windows": [window], "fault_results": [fault_result(window, recovered_s=recovered_s)]}


def test_a_search_overlapping_a_crash_start_is_unknown_not_pass_nor_fail():
    samples = [search(19.5, every()), search(21.5, every())]
    ev = evidence(samples, **crash())
    checked = check(ev)
    assert [checked.of(s).answer for s in ev.samples] == [UNKNOWN, COMPLETE]
    later = check(evidence([search(25, every()[:2] + every()[3:], partial=True)], **crash()))
    assert later.of(later.answers[0]).answer == PARTIAL_DURING_FAULT  # n3 down: not required
    # ... until the network was whole again: the heal plus recovered_s, and the slack
    back = check(evidence([search(31.5, every()[:2] + every()[3:])], **crash()))
    assert back.of(back.answers[0]).answer == UNKNOWN
    whole = check(evidence([search(34, every()[:2] + every()[3:])], **crash()))
    assert whole.of(whole.answers[0]).answer == MISSING


def wipe(start: float = 20, end: float = 24) -> dict:
    """n3 leaves at ``start`` and its data is wiped (churn with data = "wipe"); back at ``end``."""
    window = {**fault_win("n3", start, end), "wipes": True}
    return {"windows": [window], "fault_results": [fault_result(window, recovered_s=1.0)]}


def test_a_wiped_node_is_not_expected_to_hold_what_it_held_and_a_hit_for_it_is_phantom():
    others = every()[:2] + every()[3:]  # n3's file gone with its data
    after = check(evidence([search(40, others, reached=list(NAMES))], **wipe()))
    assert after.of(after.answers[0]).answer == COMPLETE
    stale = check(evidence([search(40, every(), reached=list(NAMES))], **wipe()))
    assert stale.of(stale.answers[0]).answer == PHANTOM
    before = check(evidence([search(10, others, reached=list(NAMES))], **wipe()))
    assert before.of(before.answers[0]).answer == MISSING  # before the wipe it was required


def test_a_file_a_wiped_node_pulls_again_is_held_again_from_then_on():
    pulled = ["n3", "alpha-n2-000.txt", SIZE, "00" * 8, 1]  # n2's file, pulled by n3
    pull = {**req(5, op="node_download", lat=10, name="alpha-n2-000.txt"), "node": "n3"}
    again = {**req(30, op="node_download", lat=10, name="alpha-n2-000.txt"), "node": "n3"}
    others = every()[:2] + every()[3:]  # n3's own seeded file went with its data
    samples = [pull, again, search(10, [*every(), pulled]), search(26, [*others, pulled])]
    samples += [search(40, [*others, pulled]), search(41, others)]
    ev = evidence(samples, **wipe())
    checked = check(ev)
    by_t = {s["t"]: checked.of(s).answer for s in ev.samples if s.get("op") == "search"}
    assert by_t == {
        10: COMPLETE,  # held since its first pull
        26: PHANTOM,  # gone with n3's data, not yet pulled again
        40: COMPLETE,  # held again after the second pull
        41: MISSING,  # ... and so required again
    }


def test_uploads_acknowledged_on_a_wiped_node_are_gone_with_its_data_not_lost():
    acked = [
        {"name": "idx-a.bin", "node": "n3", "t": 5.0, "sha256": "aa"},  # before the wipe
        {"name": "idx-b.bin", "node": "n3", "t": 30.0, "sha256": "bb"},  # after it came back
        {"name": "idx-c.bin", "node": "n2", "t": 5.0, "sha256": "cc"},
    ]
    assert gone_with_data(wipe()["windows"], acked) == {"idx-a.bin"}


def test_an_answer_from_a_node_a_fault_affected_is_unknown():
    ev = evidence([search(25, [hit("n3", hops=0)], origin="n3")], **crash())
    assert check(ev).of(ev.samples[0]).answer == UNKNOWN


def link_fault(kind: str, **facts) -> dict:
    """A fault window on n3 that keeps it in service (``takes_down`` False), as the suite
    records one, with the kind's facts."""
    window = fault_win("n3", 20, 30, kind=kind, takes_down=False, acts_on="network", **facts)
    return {"windows": [window], "fault_results": [fault_result(window, recovered_s=0.5)]}


def test_a_node_behind_lossy_links_may_be_missed_but_not_with_latency():
    # Loss (or a bandwidth cap) may make n3's peers stop hearing from it or mark it dead; a
    # search that then never asks it is right not to say partial. Latency loses nothing.
    without_n3 = search(25, every()[:2] + every()[3:])
    lossy = check(evidence([without_n3], **link_fault("loss", loses_messages=True)))
    assert lossy.of(lossy.answers[0]).answer == COMPLETE
    slow = check(evidence([without_n3], **link_fault("latency", loses_messages=False)))
    assert slow.of(slow.answers[0]).answer == MISSING
    # n3's own answers are not judged while its links lose messages; wrong hits still are
    from_n3 = search(25, [hit("n3", hops=0)], origin="n3")
    lossy = check(evidence([from_n3], **link_fault("loss", loses_messages=True)))
    assert lossy.of(lossy.answers[0]).answer == UNKNOWN
    phantom = search(25, [*every(), ["n2", "alpha-none.txt", SIZE, None, 1]])
    lossy = check(evidence([phantom], **link_fault("bandwidth", loses_messages=True)))
    assert lossy.of(lossy.answers[0]).answer == PHANTOM


def test_a_partition_that_was_never_applied_makes_its_answers_unknown_not_beyond_ttl():
    # The backend could not cut n3 off (its start step failed): n3 still answered. Assuming the
    # cut anyway would call its hits beyond the TTL; nothing is known about that window.
    window = fault_win("n3", 20, 30, kind="partition", acts_on="network")
    run = {"windows": [window], "fault_results": [fault_result(window, recovered_s=0.5)]}
    failed = {"record": "step", "phase": "start", "fault_id": "partition", "target": "n3"}
    journal = [{**failed, "outcome": "error", "error": "NoAdminApi: no /admin API"}]
    applied = check(evidence([search(25, every())], **run))
    assert applied.of(applied.answers[0]).answer == BEYOND_TTL  # cut off, yet it answered
    never = check(evidence([search(25, every())], journal=journal, **run))
    assert never.of(never.answers[0]).answer == UNKNOWN


def upload(name: str, t: float, lat_ms: float, *, ok: bool = True) -> dict:
    return {**req(t, op="index", ok=ok, lat=lat_ms, name=name), "node": "n2"}


def test_a_file_uploaded_during_the_search_is_allowed_not_phantom():
    new = ["n2", "alpha-new.bin", 10, None, 1]
    acked = [{"name": "alpha-new.bin", "node": "n2", "size": 10, "sha256": "ab" * 32, "t": 10.5}]
    samples = [upload("alpha-new.bin", 10.0, 500), search(10.2, [*every(), new])]
    ev = evidence(samples, acked=acked)
    j = check(ev).of(ev.samples[1])
    assert j.answer == COMPLETE and j.hits == {OK: 5}
    # a search that ended well before the upload began never saw it: a phantom
    early = evidence([search(2, [*every(), new]), *samples], acked=acked)
    assert check(early).of(early.samples[0]).answer == PHANTOM
    # ... and a search that began long after the ack must list it
    late = evidence([*samples, search(20, every())], acked=acked)
    assert check(late).of(late.samples[-1]).answer == MISSING


def test_an_upload_never_acknowledged_makes_its_name_unknown_never_phantom():
    new = ["n2", "alpha-lost.bin", 10, None, 1]
    ev = evidence([upload("alpha-lost.bin", 5, 2000, ok=False), search(12, [*every(), new])])
    j = check(ev).of(ev.samples[1])
    assert j.answer == COMPLETE and j.hits == {OK: 4, UNKNOWN: 1}


def test_a_pull_cut_short_by_the_harness_makes_its_name_unknown_never_phantom():
    # A level lowering its users stops them mid-call (locustfiles/client.py records the write
    # as ``unfinished``): the node may have finished the pull, so its hits are unknown.
    pulled = ["n2", "alpha-n3-000.txt", SIZE, "00" * 8, 1]
    cut = {**req(5, op=UNFINISHED, ok=False, lat=30, name="alpha-n3-000.txt"), "node": "n2"}
    ev = evidence([{**cut, "of": "node_download"}, search(12, [*every(), pulled])])
    assert check(ev).of(ev.samples[1]).hits == {OK: 4, UNKNOWN: 1}
    # without that record the same hit is a phantom: n2 never held the file
    bare = evidence([search(12, [*every(), pulled])])
    assert check(bare).of(bare.samples[0]).answer == PHANTOM


def test_a_file_listed_twice_is_a_duplicate():
    j = judged(search(10, [*every(), hit("n2")]))
    assert j.answer == DUPLICATE and j.hits[DUPLICATE] == 1 and "twice" in j.note


def test_a_network_without_sha256_cannot_be_judged_on_it():
    no_sha = status(capabilities=["search", "download", "index", "partial", "messages"])
    ev = evidence([search(10, [hit(n, sha=False, hops=int(n != "n1")) for n in NAMES])])
    ev.status = no_sha
    rows = wrong_metadata(ev, TH)
    assert [(r.window, r.verdict) for r in rows] == [("run", PASS), ("run · sha256", REPORTED)]
    assert "not measurable on this network" in rows[1].detail


def test_every_answer_partial_without_a_fault_is_degraded_and_not_ready():
    run = synthetic_run(scale=0.4, seed=3)
    assert reports.judge(run).label == "READY"
    for s in run["samples"]:
        if "hits" in s:
            s["partial"] = True
    verdict = reports.judge(run)
    assert verdict.label == "NOT READY" and "degraded_answers" in verdict.reason
    row = next(r for r in verdict.results if r.name == "degraded_answers")
    assert row.window == "outside faults" and row.verdict == FAIL and row.value == 100.0


def test_degraded_share_is_gated_at_one_percent_outside_faults_only():
    calm = [search(i, every()) for i in range(200)]
    calm[0] = search(0, every(), partial=True)
    ev = evidence(calm)
    assert degraded_answers(ev, TH)[0].verdict == PASS  # 0.5 %
    calm[1] = search(1, every(), partial=True)
    calm[2] = search(2, every(), partial=True)
    assert degraded_answers(evidence(calm), TH)[0].verdict == FAIL  # 1.5 %


def test_the_report_has_the_checker_table_and_re_renders_it_byte_for_byte(tmp_path):
    run = synthetic_run(scale=0.4, seed=3)
    reports.build(tmp_path, run)
    text = (tmp_path / reports.MARKDOWN).read_text()
    assert "## Search answers judged against the model" in text
    before = text.encode()
    reports.rerender(tmp_path)
    assert (tmp_path / reports.MARKDOWN).read_bytes() == before


def test_conformance_judges_its_answers_with_the_same_checker():
    nodes = [NodeInfo(n, files=tuple(files(n))) for n in NAMES[:3]]

    class Listing:  # what answer_model asks of an adapter
        def has(self, capability: str) -> bool:
            return False

    model = answer_model(Listing(), nodes, None)
    right = SearchAnswer(tuple(Hit(*h[:2], "00" * 32, SIZE, h[4]) for h in every(nodes=NAMES[:3])))
    assert wrong_answer(model, nodes[0], "alpha", 2, right) is None
    phantom = SearchAnswer((*right.hits, Hit("n2", "alpha-n2-777.txt", None, SIZE, 1)))
    assert "phantom" in wrong_answer(model, nodes[0], "alpha", 2, phantom)


def test_a_link_a_node_made_around_a_dead_neighbour_counts_once_the_monitor_saw_it():
    line = {
        "spec": "line",
        "nodes": list(NAMES),
        "edges": [["n1", "n2"], ["n2", "n3"], ["n3", "n4"]],
    }
    answer = search(10, [hit("n1", hops=0), hit("n2"), hit("n3")], ttl=1)
    assert judged(answer, topology=line).answer == BEYOND_TTL  # n3 is 2 hops away on the line
    relinked = [{"t": 5, "nodes_alive": 4, "nodes_total": 4, "links": [["n1", "n3"]]}]
    assert judged(answer, topology=line, series=relinked).answer != BEYOND_TTL


def test_a_split_cuts_only_the_links_between_its_sides():
    # Two halves, n1+n2 and n3+n4, cut apart (the scale plan's bridge): a search on one side
    # finds its own side, never the other. The window's target names the side ("n1+n2") and
    # its ``cut`` the pairs; cutting every link of each side's nodes would have called n2's
    # hit, one hop from n1 on its own side, beyond the TTL.
    cut = [[a, b] for a in ("n1", "n2") for b in ("n3", "n4")]
    cut += [[b, a] for a, b in cut]
    window = fault_win("n1+n2", 20, 30, kind="partition", acts_on="network")
    window |= {"nodes": ["n1", "n2"], "cut": cut}
    run = {"windows": [window], "fault_results": [fault_result(window, recovered_s=0.5)]}
    own_side = search(25, [hit("n3", hops=0), hit("n4", hops=1)], origin="n3")
    judged_side = check(evidence([own_side], **run))
    assert judged_side.of(judged_side.answers[0]).answer == COMPLETE
    across = search(25, [hit("n3", hops=0), hit("n4", hops=1), hit("n1", hops=1)], origin="n3")
    judged_across = check(evidence([across], **run))
    assert judged_across.of(judged_across.answers[0]).answer == BEYOND_TTL


def test_a_link_the_nodes_held_at_a_verification_counts_though_no_monitor_row_saw_it():
    # A ring n1-n2-n3-n4-n1 that lost n2: n1 re-linked to n3 between two monitor rows; the
    # final verification saw it (the recorded topology's ``held``), so n3 one hop away is right.
    edges = [["n1", "n2"], ["n2", "n3"], ["n3", "n4"], ["n4", "n1"]]
    ring = {"spec": "ring", "nodes": list(NAMES), "edges": edges}
    answer = search(10, [hit("n1", hops=0), hit("n3", hops=1)], ttl=1)
    assert judged(answer, topology=ring).answer == BEYOND_TTL
    assert judged(answer, topology={**ring, "held": [["n1", "n3"]]}).answer != BEYOND_TTL
