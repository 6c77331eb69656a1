"""Mechanical mutants of the node, made by cosmic-ray, each judged by a Phase 4 run.

    python bench/mutants.py [--sample 100] [--seed 1] [--out DIR] [--timeout 300]
                            [--fresh] [--list] [--limit N] [--then ARGS] [-- LOCUST ARGS]

1. cosmic-ray (its core operators) enumerates every mutant of the node's search and flooding,
   membership, failure detection, catalog and transfer modules into a session database in
   cosmic-ray's own format (``cr-report DIR/session.sqlite`` reads it).
2. A seeded sample of ``--sample`` mutants is drawn; the rest are marked skipped. The unmodified
   copy runs first and must be READY, or nothing else runs.
3. Each mutant gets a fresh copy of the project, the mutation applied to the copy by cosmic-ray's
   own applier (never the working tree), and the quick profile run there
   (``bench/mutations.run_copy``; Locust arguments after ``--`` are added). NOT READY kills it;
   any other label but READY (INCONCLUSIVE, REGRESSION) is counted apart; READY: it survived; no
   verdict (the harness failed, or the time ran out) is an error, counted as neither.
   With ``--then ARGS`` (e.g. ``--then '--nodes 20 --fault-plan wide --threshold detect_s=5'``)
   every survivor is judged again by a second profile, whose unmodified run must be READY too;
   its verdict is the mutant's (the row keeps both). Survivors of an earlier run are judged by
   it on resume, the ones decided equivalent excepted.
4. ``DIR/mutants.json`` holds every row; ``DIR/mutants.md`` the score by module and each
   survivor with its diff. A second run with the same ``--out`` resumes where the first stopped
   (``--limit N`` stops after N, e.g. to share the machine between mutants). The sample is
   judged in a seeded random order, so a session stopped part way has judged a random part of
   it (an estimate of the score, not the first modules' score).

Equivalent mutants (no input can tell them from the original) are decided by reading each
survivor's diff against the code; the ones found are listed in ``bench/mutants_equivalent.toml``
with the reason, matched by module, operator and the changed line, and left out of the score;
so are invalid ones, whose module does not parse (``bench/mutants_decide.py``).
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from cosmic_ray.commands.init import init as cr_init
from cosmic_ray.mutating import apply_mutation
from cosmic_ray.plugins import get_operator
from cosmic_ray.work_db import WorkDB, WorkResultStorage
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkItem, WorkResult

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.mutants_decide import (  # noqa: E402
    Equivalent,
    equivalents,
    in_annotation,
    is_equivalent,
    judging_order,
    mark_annotations,
    mark_invalid,
    parses,
)
from bench.mutations import READY, REPO, UNMODIFIED, run_copy  # noqa: E402

#: The node's code the sample is drawn from: search and flooding, membership, failure
#: detection, the catalog and the gRPC transfer.
MODULES = (
    "node/flood.py",
    "node/membership.py",
    "node/detector.py",
    "node/catalog.py",
    "node/transfer.py",
)
DEFAULT_SAMPLE = 100
DEFAULT_SEED = 1
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_OUT = REPO / "bench" / "results" / "mutants"
SESSION = "session.sqlite"
NOT_READY = "NOT READY"
#: The share of non-equivalent mutants the issue asks to be judged NOT READY.
GOAL = 0.80
#: How a judged mutant can end (``outcome``), the survivors decided equivalent, and mutants
#: that do not parse (cosmic-ray turns the ``*`` of keyword-only arguments or the ``**`` of
#: ``**kwargs`` into another operator): a node that cannot start proves nothing about the
#: harness, so they are left out of the score like the equivalent ones.
OUTCOMES = ("killed", "flagged", "survived", "equivalent", "invalid", "error")
#: What a survivor's row keeps of its second profile's run (``--then``).
THEN_FIELDS = ("label", "failed", "problems", "seconds", "exit_code", "peerload_line",
               "nodes_from_copy", "mutant_outcome")  # fmt: skip


def _spec(item: WorkItem):
    (mutation,) = item.mutations
    return mutation


def module_of(spec) -> str:
    """The mutated module's path in the project ("node/flood.py")."""
    return str(Path(spec.module_path).resolve().relative_to(REPO))


def _operator(spec):
    return get_operator(spec.operator_name)(**spec.operator_args)


def mutated_source(item: WorkItem, root: Path) -> tuple[str, str | None]:
    """``item``'s mutation applied to ``root``'s copy of its module: (original, mutated); a
    root without that module gets a copy of it first (a reading, no run)."""
    spec = _spec(item)
    path = root / module_of(spec)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / module_of(spec), path)
    if path.resolve().is_relative_to((REPO / "node").resolve()):
        raise RuntimeError(f"refusing to mutate the working tree: {path}")
    return apply_mutation(path, _operator(spec), spec.occurrence)


def decided_by_reading(item: WorkItem) -> str:
    """Why ``item`` needs no run (its outcome is decided by reading it), or '': a mutant inside
    an annotation never evaluated (equivalent) or one whose module does not parse (invalid)."""
    with tempfile.TemporaryDirectory(prefix="peerload-mut-read-") as tmp:
        try:
            original, mutated = mutated_source(item, Path(tmp))
        except Exception:  # cosmic-ray's operator failed: the run says so, as before
            return ""
    if mutated is not None and not parses(mutated):
        return "does not parse"
    if mutated is not None and in_annotation(original, *_spec(item).start_pos):
        return "in an annotation"
    return ""


def diff_of(item: WorkItem, original: str, mutated: str | None) -> str:
    """The unified diff a mutant makes (empty when it applied nothing)."""
    if mutated is None:
        return ""
    name = module_of(_spec(item))
    lines = difflib.unified_diff(
        original.splitlines(keepends=True), mutated.splitlines(keepends=True), name, name, n=1
    )
    return "".join(lines)


def open_session(out: Path, sample: int, seed: int, fresh: bool) -> WorkDB:
    """The session database: created (every mutant, then a seeded sample left pending, the rest
    skipped), or reopened to resume."""
    path = out / SESSION
    if fresh and path.exists():
        path.unlink()
    existed = path.exists()
    db = WorkDB(str(path), WorkDB.Mode.open if existed else WorkDB.Mode.create)
    if existed:
        return db
    cr_init([REPO / m for m in MODULES], db, {})
    items = sorted(db.work_items, key=lambda i: (module_of(_spec(i)), i.job_id))
    keep = {i.job_id for i in random.Random(seed).sample(items, min(sample, len(items)))}
    skipped = [i.job_id for i in items if i.job_id not in keep]
    db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    return db


def _order_key(item: WorkItem) -> tuple[str, str]:
    return module_of(_spec(item)), item.job_id


def forget(db: WorkDB, job_ids: list[str]) -> None:
    """Make these mutants pending again (cosmic-ray has no call for it: its own table)."""
    with db._session_maker.begin() as session:  # noqa: SLF001
        for job_id in job_ids:
            session.query(WorkResultStorage).filter_by(job_id=job_id).delete()


def judge(item: WorkItem, timeout: float, locust_args: tuple[str, ...]) -> dict:
    """One mutant's run: a row with its module, line, operator, diff, verdict and outcome."""
    spec = _spec(item)
    sources: dict[str, str | None] = {}

    def mutate(root: Path) -> None:
        sources["original"], sources["mutated"] = mutated_source(item, root)

    where = f"{module_of(spec)}:{spec.start_pos[0]}"
    if reason := decided_by_reading(item):  # no run: its outcome does not depend on one
        row = {"defect": item.job_id, "description": f"{where} {spec.operator_name}",
               "label": None, "problems": [], "failed": [], "seconds": 0.0, "exit_code": None,
               "peerload_line": "", "not_run": reason}  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="peerload-mut-read-") as tmp:
            mutate(Path(tmp))
    else:
        row = run_copy(item.job_id, f"{where} {spec.operator_name}", mutate, timeout, False,
                       locust_args)  # fmt: skip
    row.update(module=module_of(spec), line_no=spec.start_pos[0], function=spec.definition_name,
               operator=spec.operator_name, occurrence=spec.occurrence)  # fmt: skip
    row["diff"] = diff_of(item, sources.get("original", ""), sources.get("mutated"))
    row["col"] = spec.start_pos[1]
    row["harness"] = _commit()  # a sample judged over sittings may be judged by newer checks
    row["in_annotation"] = bool(sources.get("original")) and in_annotation(
        sources["original"], *spec.start_pos
    )
    row["invalid"] = sources.get("mutated") is not None and not parses(sources["mutated"])
    row["mutant_outcome"] = outcome(row)
    return row


def second_opinion(row: dict, item: WorkItem, timeout: float, then_args: tuple[str, ...]) -> None:
    """A survivor judged again by the second profile: that verdict becomes the mutant's."""
    again = judge(item, timeout, then_args)
    row["then"] = {k: again[k] for k in THEN_FIELDS} | {"locust_args": list(then_args)}
    row["mutant_outcome"] = again["mutant_outcome"]


def needs_then(row: dict, then_args: tuple[str, ...], known: list[Equivalent]) -> bool:
    """Whether a judged row is a survivor of the first profile that this second profile has
    not judged (one judged by another second profile, whatever it said, is judged again)."""
    if not then_args or row.get("in_annotation") or is_equivalent(row, known):
        return False
    if "then" in row:
        return row["then"].get("locust_args") != list(then_args)
    return row["mutant_outcome"] == "survived"


def outcome(row: dict) -> str:
    """invalid (does not parse) / killed (NOT READY) / flagged (another label but READY) /
    survived / error."""
    if not row["diff"]:
        return "error"  # the mutation did not apply: nothing was judged
    if row.get("invalid"):
        return "invalid"
    if row.get("not_run") and row.get("in_annotation"):
        return "equivalent"
    if row["label"] is None or row["problems"]:
        return "error"
    if row["label"] == NOT_READY:
        return "killed"
    return "survived" if row["label"] == READY else "flagged"


def record(db: WorkDB, row: dict) -> None:
    """The row in cosmic-ray's terms: killed = anything but READY; error = incompetent."""
    test = {
        "survived": TestOutcome.SURVIVED,
        "equivalent": TestOutcome.SURVIVED,
        "error": TestOutcome.INCOMPETENT,
        "invalid": TestOutcome.INCOMPETENT,
    }.get(row["mutant_outcome"], TestOutcome.KILLED)
    output = f"{row['label']} exit {row['exit_code']}: {row['peerload_line']}"
    db.set_result(row["defect"], WorkResult(worker_outcome=WorkerOutcome.NORMAL, output=output,
                                             test_outcome=test, diff=row["diff"]))  # fmt: skip


def percent(share: float) -> str:
    """A score as the report shows it: one decimal, rounded down, so 79.7 % never reads as the
    goal's 80 %."""
    return f"{math.floor(share * 1000) / 10:.1f}%"


def score(rows: list[dict], known: list[Equivalent]) -> dict:
    """Counts over the judged rows: killed, flagged, survived, equivalent, error, and the score
    (killed / non-equivalent judged)."""
    counts = Counter()
    for r in rows:
        if r["mutant_outcome"] in ("survived", "equivalent") and (why := is_equivalent(r, known)):
            r["equivalent"] = why
            counts["equivalent"] += 1
        else:
            counts[r["mutant_outcome"]] += 1
    totals = {k: counts[k] for k in OUTCOMES}  # every outcome named, 0 if none
    judged = totals["killed"] + totals["flagged"] + totals["survived"]
    return {**totals, "judged": judged, "score": totals["killed"] / judged if judged else None}


def markdown(rows: list[dict], known: list[Equivalent], header: str) -> str:
    """The report: the score overall and by module, then every survivor with its diff."""
    overall = score(rows, known)
    out = [header, "", "| module | sampled | NOT READY | other label | READY (survived) | "
           "equivalent | invalid | error | score |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for module in [*MODULES, None]:
        mine = [r for r in rows if module is None or r["module"] == module]
        s = overall if module is None else score(mine, known)
        pct = "-" if s["score"] is None else percent(s["score"])
        cells = (module or "**all**", len(mine), s["killed"], s["flagged"], s["survived"],
                 s["equivalent"], s["invalid"], s["error"], pct)  # fmt: skip
        out.append("| " + " | ".join(map(str, cells)) + " |")
    for title, kind in (("Survivors", "survived"), ("Other labels", "flagged"),
                        ("Invalid (do not parse)", "invalid"), ("Errors", "error")):  # fmt: skip
        chosen = [r for r in rows if r["mutant_outcome"] == kind
                  or (kind == "survived" and r["mutant_outcome"] == "equivalent")]  # fmt: skip
        if chosen:
            out += ["", f"## {title}", ""]
        for r in chosen:
            tag = f" — equivalent: {r['equivalent']}" if r.get("equivalent") else ""
            extra = f" ({r['label']}; {'; '.join(r['problems'])})" if kind != "survived" else ""
            extra = f" (not run: {r['not_run']})" if r.get("not_run") else extra
            out += [f"- `{r['module']}:{r['line_no']}` {r['function']} {r['operator']}"
                    f"{extra}{tag}", "", "```diff", r["diff"].rstrip(), "```"]  # fmt: skip
    return "\n".join(out) + "\n"


def _commit() -> str:
    try:
        rev = ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]
        return subprocess.run(rev, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def then_baseline_ready(saved: dict, then_args: tuple[str, ...], timeout: float) -> bool:
    """The unmodified copy READY on the second profile (run once per set of its arguments)."""
    if not then_args or saved.get("then_baseline", {}).get("locust_args") == list(then_args):
        return True
    print(f"[baseline] unmodified, then {shlex.join(then_args)} ...", flush=True)
    base = run_copy(UNMODIFIED, "unmodified", None, timeout, False, then_args)
    print(f"    {base['label']}, {base['seconds']} s", flush=True)
    if base["outcome"] != "ok":
        print(f"mutants: the unmodified node is not READY on the second profile "
              f"({base['outcome']}): nothing to judge against", file=sys.stderr)  # fmt: skip
        return False
    saved["then_baseline"] = {**base, "locust_args": list(then_args)}
    return True


def harness_line(rows: list[dict], commit: str) -> str:
    """The header's word on the harnesses that judged the rows (rows without one: the
    sample's commit), when more than one did."""
    by = Counter(r.get("harness") or commit for r in rows if not r.get("not_run"))
    if len(by) < 2:
        return ""
    return "; judged by the harnesses of " + ", ".join(f"{c} ({n})" for c, n in by.items())


def then_line(rows: list[dict]) -> str:
    """The header's word on the second profile: its arguments and what it killed."""
    judged = [r["then"] for r in rows if "then" in r]
    if not judged:
        return ""
    args = sorted({shlex.join(t["locust_args"]) for t in judged})
    killed = sum(t["mutant_outcome"] == "killed" for t in judged)
    return (
        f"; the survivors judged again with `{'`, `'.join(args)}`: {len(judged)} of them, "
        f"{killed} NOT READY there"
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops like Ctrl-C: the run in flight is cleaned up


def main(argv: list[str] | None = None) -> int:
    """0 when the score reaches the goal, 1 when it does not, 2 on bad options or a baseline
    that is not READY."""
    argv = sys.argv[1:] if argv is None else argv
    locust_args: tuple[str, ...] = ()
    if "--" in argv:
        cut = argv.index("--")
        argv, locust_args = argv[:cut], tuple(argv[cut + 1 :])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, help="mutants to judge")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the sample")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="session, JSON and report")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per run")
    p.add_argument("--fresh", action="store_true", help="start over instead of resuming")
    p.add_argument(
        "--rejudge-errors", action="store_true", help="judge again the mutants that gave no verdict"
    )
    p.add_argument(
        "--rejudge", default="", help="judge these mutants again (job ids, comma-separated)"
    )
    p.add_argument(
        "--then", default="", help="Locust args of a second profile every survivor is judged by"
    )
    p.add_argument("--list", action="store_true", help="list the sample and exit")
    p.add_argument(
        "--limit",
        type=int,
        default=0,
        help="judge at most this many now (0: all); run again to go on",
    )
    a = p.parse_args(argv)
    if a.sample < 1 or a.timeout <= 0 or a.limit < 0:
        p.error("--sample and --timeout must be positive, --limit not negative")
    a.out.mkdir(parents=True, exist_ok=True)
    rows_path = a.out / "mutants.json"
    db = open_session(a.out, a.sample, a.seed, a.fresh)
    pending = judging_order(db.pending_work_items, a.seed, _order_key)
    saved = json.loads(rows_path.read_text()) if rows_path.is_file() and not a.fresh else {}
    rows: list[dict] = saved.get("rows", [])
    if a.rejudge_errors or a.rejudge:
        wanted = {j.strip() for j in a.rejudge.split(",") if j.strip()}
        again = [r["defect"] for r in rows if r["defect"] in wanted
                 or (a.rejudge_errors and r["mutant_outcome"] == "error")]  # fmt: skip
        rows = [r for r in rows if r["defect"] not in again]
        forget(db, again)
        pending = judging_order(db.pending_work_items, a.seed, _order_key)
        pending.sort(key=lambda i: i.job_id not in again)  # asked for again: judged first
    if a.list:
        for i in pending:
            s = _spec(i)
            print(f"{module_of(s)}:{s.start_pos[0]} {s.definition_name} {s.operator_name}")
        return 0
    then_args = tuple(shlex.split(a.then))
    known = equivalents()
    mark_annotations(rows, saved.get("commit", _commit()))
    items = {i.job_id: i for i in db.work_items} if then_args else {}
    again = [r for r in rows if needs_then(r, then_args, known)]
    total = len(pending) + len(rows)
    print(f"mutants: {db.num_work_items} enumerated by cosmic-ray over {len(MODULES)} modules; "
          f"{total} sampled (seed {a.seed}), {len(rows)} already judged", flush=True)  # fmt: skip
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if not saved:
            print("[baseline] unmodified ...", flush=True)
            base = run_copy(UNMODIFIED, "unmodified", None, a.timeout, False, locust_args)
            print(f"    {base['label']}, {base['seconds']} s", flush=True)
            if base["outcome"] != "ok":
                print(f"mutants: the unmodified node is not READY ({base['outcome']}): "
                      "nothing to judge against", file=sys.stderr)  # fmt: skip
                return 2
            saved = {"commit": _commit(), "baseline": base, "locust_args": list(locust_args)}
        if (again or pending) and not then_baseline_ready(saved, then_args, a.timeout):
            return 2
        work = [(items[r["defect"]], r) for r in again] + [(i, None) for i in pending]
        for n, (item, row) in enumerate(work[: a.limit or None], 1):
            s = _spec(item)
            print(f"[{n}/{len(work)}] {module_of(s)}:{s.start_pos[0]} {s.operator_name} ...",
                  flush=True)  # fmt: skip
            if row is None:
                row = judge(item, a.timeout, locust_args)
                print(f"    {row['mutant_outcome']}: {row['label']}, {row['seconds']} s")
                rows.append(row)
            if needs_then(row, then_args, known):
                second_opinion(row, item, a.timeout, then_args)
                then = row["then"]
                print(f"    then {a.then}: {then['mutant_outcome']}: {then['label']}, "
                      f"{then['seconds']} s", flush=True)  # fmt: skip
            record(db, row)
            rows_path.write_text(json.dumps({**saved, "rows": rows}, indent=1))
    except KeyboardInterrupt:
        print("interrupted: the run in flight was stopped; run again to resume", file=sys.stderr)
        return 130
    finally:
        db.close()
    mark_invalid(rows, saved["commit"])  # annotations: marked above, or by judge()
    s = score(rows, known)
    args = " ".join(saved["locust_args"]) or "(the quick profile)"
    header = (
        f"# Mutants of the node judged by peerload (commit {saved['commit']})\n\n"
        f"{len(rows)} of {total} sampled mutants judged, seed {a.seed}, Locust args: {args}"
        f"{then_line(rows)}{harness_line(rows, saved['commit'])}"
    )
    (a.out / "mutants.md").write_text(markdown(rows, known, header))
    pct = "n/a" if s["score"] is None else percent(s["score"])
    print(f"mutants: {s['killed']} of {s['judged']} non-equivalent mutants NOT READY ({pct}); "
          f"{s['flagged']} other labels, {s['survived']} READY, {s['equivalent']} equivalent, "
          f"{s['invalid']} invalid, {s['error']} errors; "
          f"report {a.out / 'mutants.md'}")  # fmt: skip
    return 0 if s["score"] is not None and s["score"] >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
