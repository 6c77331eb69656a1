"""churn: nodes leave and come back at a rate, for the fault's duration.

Every ``rate`` (``"1/5s"``: one departure every 5 s) a node drawn from the target's pool leaves
(``how``: ``stop``, SIGTERM, the node drains; or ``crash``, SIGKILL) and rejoins ``down`` later,
on its own ports and data dir, through the control API. Every departure is a fault instance of
its own, ``ID#k`` on its node (``churn#3:n4``), with a start and an end step in the timeline and
the journal and ``takes_down`` set: the load test, the model and the reports see each outage as
they see a crash or a stop of that node, and the majority guard counts it.

Never more than ``max_away`` nodes are away at once (default: as many as the majority guard
allows, ⌊(N−1)/2⌋); a departure due while that many are away waits for the next return, and
the ones after it keep their spacing. Every departure returns by the fault's end; the heal kind
and the runner's final heal bring back whoever is away when they run.

With ``data = "wipe"`` a node rejoins *without its data*: the control API empties its data dir
while it is away (a peer back on a new disk), so it holds nothing when it returns. The window
says so (``wipes``): the model takes every file the node held before it left off the node from
its departure, so answers are not expected to find them and the integrity checks count its
acknowledged uploads as gone with the node's data, never as lost by the network (a network that
replicates files keeps them on other nodes, and is judged there as usual).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .. import targets
from ..types import FaultSpec, PlanError, Resolved, Step
from .base import PROCESS, FaultKind

#: ``how`` -> the control API action that takes the node away (``start`` brings it back).
HOW = {"stop": "stop", "crash": "kill"}
DEFAULT_HOW = "stop"
#: ``data``: what a departing node's data dir holds when it returns.
DATA = ("keep", "wipe")
DEFAULT_DATA = "keep"
RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\S.*)$")
#: Departures at most this close together: a restart takes about a second.
MIN_INTERVAL_S = 0.5
#: Departures in one churn fault: bounds the timeline (and the journal) a plan can ask for.
MAX_DEPARTURES = 1000
#: How a departure's fault id is made from the fault's (``#`` never occurs in a plan's ids).
SEPARATOR = "#"
ROUND = 6


def departure_id(fault_id: str, number: int) -> str:
    """The fault id a departure's steps carry: ``churn#3`` for the third of fault ``churn``."""
    return f"{fault_id}{SEPARATOR}{number}"


def parse_rate(value: Any, where: str) -> float:
    """``"1/5s"`` (departures per duration) -> seconds between departures; PlanError else."""
    from ..plan import parse_duration  # the plan module imports the kinds

    match = RATE_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise PlanError(
            f'{where}: expected departures per duration like "1/5s" or "3/1m" (got {value!r})'
        )
    count, per = int(match.group(1)), parse_duration(match.group(2), where)
    if count < 1 or per <= 0:
        raise PlanError(f"{where}: {value!r} is no departure at all")
    interval = per / count
    if interval < MIN_INTERVAL_S:
        raise PlanError(
            f"{where}: {value!r} is too fast: at most one departure every {MIN_INTERVAL_S:g} s"
        )
    return interval


class Churn(FaultKind):
    name = "churn"
    summary = "nodes leave (SIGTERM or SIGKILL) and rejoin at a rate for the fault's duration"
    takes_down = True  # each departure's node, while it is away
    acts_on = PROCESS
    heals_by = "each node restarts `down` after it left (same ports and data dir)"
    params = {
        "rate": 'departures per duration, e.g. "1/5s" (at most one every 0.5 s)',
        "down": 'how long a node stays away before it rejoins, e.g. "3s" (<= duration)',
        "how": "stop (SIGTERM, default) | crash (SIGKILL): how a node leaves",
        "max_away": "most nodes away at once (default: what the majority guard allows)",
        "data": "keep (default) | wipe: a node comes back with its data, or with an empty data dir",
    }
    default_target = "all"
    selectors = ("one", "each", "minority", "all")

    @classmethod
    def validate(cls, fault: FaultSpec) -> None:
        super().validate(fault)
        from ..plan import parse_duration  # the plan module imports the kinds

        where = fault.where
        if fault.gap:
            raise PlanError(f"{where}.gap: churn takes no gap (its rate says when nodes leave)")
        if "rate" not in fault.options:
            raise PlanError(f'{where}.rate: missing (departures per duration, e.g. "1/5s")')
        interval = parse_rate(fault.options["rate"], f"{where}.rate")
        if "down" not in fault.options:
            raise PlanError(f'{where}.down: missing (how long a node stays away, e.g. "3s")')
        down = parse_duration(fault.options["down"], f"{where}.down")
        if down <= 0:
            raise PlanError(f"{where}.down: must be longer than zero")
        if fault.duration is not None and down > fault.duration:
            raise PlanError(
                f"{where}.down: {down:g} s is longer than the churn's duration "
                f"({fault.duration:g} s): no node could leave and return within it"
            )
        how = fault.options.get("how", DEFAULT_HOW)
        if how not in HOW:
            raise PlanError(f"{where}.how: expected one of {', '.join(HOW)} (got {how!r})")
        data = fault.options.get("data", DEFAULT_DATA)
        if data not in DATA:
            raise PlanError(f"{where}.data: expected one of {', '.join(DATA)} (got {data!r})")
        max_away = fault.options.get("max_away")
        if max_away is not None and (
            isinstance(max_away, bool) or not isinstance(max_away, int) or max_away < 1
        ):
            raise PlanError(f"{where}.max_away: expected a whole number >= 1 (got {max_away!r})")
        if fault.duration is not None:
            departures = int((fault.duration - down) / interval + 1e-9) + 1
            if departures > MAX_DEPARTURES:
                raise PlanError(
                    f"{where}.rate: {departures} departures in {fault.duration:g} s; at most "
                    f"{MAX_DEPARTURES} in one churn fault"
                )

    @classmethod
    def wipes_data(cls, params: Mapping[str, Any]) -> bool:
        """A departure with ``data = "wipe"`` empties its node's data dir."""
        return params.get("data", DEFAULT_DATA) == "wipe"

    @classmethod
    def step_params(cls, fault: FaultSpec) -> dict[str, Any]:
        from ..plan import parse_duration

        down = parse_duration(fault.options["down"], f"{fault.where}.down")
        params = {"how": fault.options.get("how", DEFAULT_HOW), "down": down}
        if fault.options.get("data", DEFAULT_DATA) != DEFAULT_DATA:
            params["data"] = fault.options["data"]
        return params

    @classmethod
    def resolve(
        cls,
        fault: FaultSpec,
        nodes: Sequence[str],
        rng: random.Random,
        layout: targets.Layout = targets.FULL_MESH,
    ) -> list[Resolved]:
        """Every departure, in order: which node, when (from the fault's ``at``), for how long."""
        spec = fault.target or cls.default_target
        each = spec == "each"
        groups = cls.groups(fault, "all" if each else spec, nodes, rng, layout)
        pool = [n for g in groups for n in g]
        limit = fault.options.get("max_away")
        if limit is None:
            limit = targets.minority_size(len(nodes))
            if limit < 1:
                raise PlanError(
                    f"{fault.where}.target: churn on {len(nodes)} node(s) would leave no "
                    "majority up (set max_away and allow_majority = true to churn them anyway)"
                )
        limit = min(limit, len(pool))
        params = cls.step_params(fault)
        down = params["down"]
        interval = parse_rate(fault.options["rate"], f"{fault.where}.rate")
        end = float(fault.duration or 0.0)
        away: dict[str, float] = {}  # node -> when it returns, while it is away
        back_at: dict[str, float] = {}  # node -> when it last returned (or will)
        out: list[Resolved] = []
        turn = 0  # with target = "each": where the next turn starts, in cluster order
        t = 0.0
        while True:
            away = {n: back for n, back in away.items() if back > t}
            if len(away) >= limit:  # wait for the next return
                t = min(away.values())
                continue
            if t + down > end + 1e-9:
                break
            if each:
                node = next(n for n in pool[turn:] + pool[:turn] if n not in away)
                turn = (pool.index(node) + 1) % len(pool)
            else:
                free = [n for n in pool if n not in away]
                # A node coming back at this very instant is not sent away again at once.
                rested = [n for n in free if back_at.get(n) != t]
                node = rng.choice(rested or free)
            number = len(out) + 1
            out.append(
                Resolved(
                    node,
                    (node,),
                    params,
                    at=t,
                    duration=down,
                    fault_id=departure_id(fault.id, number),
                )
            )
            away[node] = back_at[node] = round(t + down, ROUND)
            t = round(t + interval, ROUND)
        return out

    def inject(self, step: Step) -> dict[str, Any]:
        detail = self.control_each(step, HOW[step.params.get("how", DEFAULT_HOW)])
        if self.wipes_data(step.params):
            detail["wiped"] = self.control_each(step, "wipe")["nodes"]
        return detail

    def recover(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "start")
