"""Readiness thresholds: defaults from the Phase 4 specification, overridable from a file or dict.

Defaults are the table in DESIGN.md. A file is TOML or JSON, either flat or under a
``[thresholds]`` table; CLI options map onto the same names through ``Thresholds.merged``.
Unknown names are refused so a typo never silently keeps a default.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import Field, asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

CONCURRENCY_BASES = ("inflight", "users")
#: Thresholds that are a share of something, percent: 0..100. Every other number is >= 0 (a
#: percent of one core, or a percent increase over a baseline, may pass 100).
SHARES_PCT = frozenset(
    {"success_pct", "availability_pct", "stress_pct", "failover_pct", "degraded_pct"}
)
#: Recovery is watched this long past the ``recovery_s`` gate (a near miss shows its time) ...
RECOVERY_WATCH_MARGIN_S = 5.0
#: ... and this long when there is no gate ("any automatic recovery passes").
RECOVERY_WATCH_UNGATED_S = 60.0


@dataclass(frozen=True)
class Thresholds:
    """Every number a verdict depends on. Comparison direction is fixed per criterion."""

    #: A window with fewer requests than this is judged "insufficient", never "pass".
    min_samples: int = 20

    # -- correctness: zero tolerance by default -------------------------------------------
    #: Acknowledged uploads lost or changed by the end of the run, at most.
    lost_writes_max: int = 0
    #: Acknowledged uploads no other node's search finds after the run, at most.
    unsearchable_max: int = 0
    #: Downloads whose bytes reached a user not matching the advertised sha256, at most.
    corrupt_max: int = 0
    #: Search answers missing a required hit without saying ``partial`` (``missing_hits``).
    incomplete_max: int = 0
    #: Hits for a file their node did not hold during the search, at most.
    phantom_max: int = 0
    #: Hits listing the same (node, file) a second time in one answer, at most.
    duplicate_max: int = 0
    #: Hits from a node farther than the TTL asked (or saying so), at most.
    beyond_ttl_max: int = 0
    #: Hits advertising another size or sha256 than the file has, or no node as owner, at most.
    wrong_metadata_max: int = 0
    #: Downloads whose stream said something of its file the model contradicts (a header's
    #: size or digest, a trailer's count) or lacked a part its protocol promises, at most.
    misstated_max: int = 0
    #: Failures a node answered with a status its network's API does not document, at most.
    undocumented_max: int = 0
    #: Crashes the node logs tell of (an exception no handler expected, a panic), at most.
    crashes_max: int = 0
    #: Answers flagged partial while no fault was active and every node was up (outside the
    #: stress ramp), percent of those answers, at most.
    degraded_pct: float = 1.0
    #: Peer messages per flooded query, at most; ``None`` = the full-flood bound 2E - (N - 1).
    flood_messages_max: float | None = None

    # -- service under load -----------------------------------------------------------------
    #: Success rate in every concurrency level, and of each operation, percent, strictly above.
    success_pct: float = 85.0
    #: Simultaneous operations handled, strictly above.
    concurrency: float = 20.0
    #: "inflight": operations in flight at once, sustained (time-weighted median) over the
    #: level's burst; "users": highest user level whose window met the success threshold.
    concurrency_basis: str = "inflight"
    #: Sustained throughput (successful ops/s over a whole steady window), strictly above.
    throughput_ops: float = 10.0
    #: Mean response time of each operation per level, ms, strictly below.
    mean_ms: float = 1000.0
    #: p95 of each operation per level, ms, strictly below; ``None`` = reported, not gated.
    p95_ms: float | None = None
    #: Successful share of all requests outside stress windows, percent, strictly above.
    availability_pct: float = 95.0
    #: Success rate in a stress step for it to count as held, percent, at least.
    stress_pct: float = 70.0
    #: p95 above which a stress step counts as broken, ms.
    stress_p95_ms: float = 2000.0

    # -- resources and scaling (reports/resources.py, reports/scaling.py) --------------------
    #: A node's CPU with no users (the idle window), percent of one core, at most.
    idle_cpu_pct: float = 10.0
    #: Memory growth after warm-up, MB per 1,000 operations the node served, at most ...
    memory_kops_max_mb: float = 2.0
    #: ... unless it grew by no more than this in all, MB (heap plateaus and noise).
    memory_growth_min_mb: float = 24.0
    #: Open file descriptors grown after warm-up per 1,000 operations served, at most ...
    fd_kops_max: float = 10.0
    #: ... unless they grew by no more than this many in all, or than ``fd_per_member`` per
    #: other node of the network, whichever is more: a node may keep a connection each way
    #: to every member it talks to, and at 100 nodes the last ones started were still making
    #: theirs after the warm-up (+65-86 descriptors: bounded by the network, not a leak).
    fd_growth_min: float = 64.0
    fd_per_member: float = 2.0
    #: Contention of each operation (the Universal Scalability Law's sigma), at most.
    usl_sigma_max: float = 0.5

    # -- faults -----------------------------------------------------------------------------
    #: Search success during each single-node fault, percent, strictly above.
    failover_pct: float = 85.0
    #: Seconds from a fault's start until every survivor stopped routing to the target, at
    #: most; ``None`` = reported only.
    detect_s: float | None = 3.0
    #: Seconds from the heal to N/N alive and to baseline search success, at most; ``None`` =
    #: any automatic recovery passes.
    recovery_s: float | None = 10.0
    #: Live, unfaulted peers a node's view said were dead in the idle window and the levels
    #: (the failure detector's accuracy), at most.
    false_deaths_max: int = 0

    # -- the harness: beyond these the run proves nothing either way (INCONCLUSIVE) ----------
    #: A fault step starting later than this behind its schedule, seconds.
    harness_late_s: float = 2.0
    #: A gap between two monitor rows longer than this, seconds.
    monitor_gap_s: float = 6.0
    #: Load-generator CPU at or above this outside stress, percent of one core.
    generator_cpu_pct: float = 90.0

    # -- regression against a baseline run (``--baseline``) ------------------------------------
    #: p95 of an operation at a level, percent above the baseline's, at most ...
    regress_p95_pct: float = 50.0
    #: ... unless the increase is within this many ms (a 3 ms p95 doubling is noise).
    regress_p95_slack_ms: float = 25.0
    #: Throughput at a level, percent below the baseline's, at most.
    regress_throughput_pct: float = 30.0
    #: Capacity (highest stress step held), percent below the baseline's, at most.
    regress_capacity_pct: float = 30.0
    #: A node's CPU per 1,000 operations, percent above the baseline's, at most.
    regress_cpu_pct: float = 50.0
    #: A node's memory over the levels, percent above the baseline's, at most ...
    regress_memory_pct: float = 30.0
    #: ... unless it grew by no more than this many MB.
    regress_memory_slack_mb: float = 10.0

    #: Whether an "insufficient" criterion blocks READY (no evidence is not a pass).
    insufficient_fails: bool = True

    def __post_init__(self) -> None:
        if self.concurrency_basis not in CONCURRENCY_BASES:
            raise ValueError(
                f"concurrency_basis must be one of {CONCURRENCY_BASES}, "
                f"got {self.concurrency_basis!r}"
            )
        if self.min_samples < 1:
            raise ValueError(f"min_samples must be >= 1, got {self.min_samples}")

    def recovery_watch_s(self) -> float:
        """How long after a heal a run watches for recovery: past the gate by a margin, since a
        later recovery could not change the verdict (and a run ending on a network that never
        comes back should not keep its user waiting); without a gate, a minute."""
        if self.recovery_s is None:
            return RECOVERY_WATCH_UNGATED_S
        return self.recovery_s + RECOVERY_WATCH_MARGIN_S

    def recovery_evidence_s(self) -> float:
        """How long a recovery must have been watched for "not back" to be a fail: the gate, or
        without one the whole ungated watch. Less is no evidence either way."""
        return RECOVERY_WATCH_UNGATED_S if self.recovery_s is None else self.recovery_s

    def merged(self, overrides: dict[str, Any] | None) -> Thresholds:
        """A copy with ``overrides`` applied (checked names, values coerced to the field type)."""
        if not overrides:
            return self
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ValueError(f"unknown threshold(s): {', '.join(unknown)}")
        values = {name: _coerce(known[name], v) for name, v in overrides.items()}
        return replace(self, **values)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Thresholds:
        """Defaults overridden by ``data`` (a flat dict or one with a ``thresholds`` key)."""
        data = dict(data or {})
        if isinstance(data.get("thresholds"), dict):
            data = data["thresholds"]
        return cls().merged(data)

    @classmethod
    def load(cls, path: Path | str) -> Thresholds:
        """Defaults overridden by a TOML (``.toml``) or JSON file."""
        return cls().merged(load_overrides(path))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, as stored in the results JSON."""
        return asdict(self)


def _coerce(field: Field, value: Any) -> Any:
    """Convert a file or CLI value to the type of the field's default."""
    name, default = field.name, field.default
    if value is None:
        if "None" not in str(field.type):  # ``float | None``: None means "not gated"
            raise ValueError(f"threshold {name} cannot be unset")
        return None
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(default, str):
        return str(value)
    try:
        number = int(value) if isinstance(default, int) else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"threshold {name}: expected a number, got {value!r}") from None
    return _in_range(name, number)


def _in_range(name: str, number: float) -> float:
    """A share is 0..100 percent; any other threshold is a finite number >= 0."""
    high = 100 if name in SHARES_PCT else math.inf
    if not (0 <= number <= high and math.isfinite(number)):
        bounds = "0..100 (percent)" if name in SHARES_PCT else "a number >= 0"
        raise ValueError(f"threshold {name}: must be {bounds}, got {number:g}")
    return number


def load_overrides(path: Path | str) -> dict[str, Any]:
    """Threshold values from a TOML (``.toml``) or JSON file, flat or under ``thresholds``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("thresholds"), dict):
        data = data["thresholds"]
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a table of thresholds")
    return data
