"""Readiness thresholds: defaults from the Phase 4 specification, overridable from a file or dict.

Defaults are the table in DESIGN.md. A file is TOML or JSON, either flat or under a
``[thresholds]`` table; CLI options map onto the same names through ``Thresholds.merged``.
Unknown names are refused so a typo never silently keeps a default.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

CONCURRENCY_BASES = ("inflight", "users")


@dataclass(frozen=True)
class Thresholds:
    """Every number a verdict depends on. Comparison direction is fixed per criterion."""

    #: A window with fewer requests than this is judged "insufficient", never "pass".
    min_samples: int = 20
    #: Success rate in every concurrency-level and baseline window, percent, strictly above.
    success_pct: float = 85.0
    #: Simultaneous operations handled, strictly above.
    concurrency: float = 20.0
    #: "inflight": most successful requests overlapping in time; "users": highest user level
    #: whose window met the success threshold.
    concurrency_basis: str = "users"
    #: Sustained throughput (successful ops/s over a whole steady window), strictly above.
    throughput_ops: float = 10.0
    #: Mean response time per steady window, ms, strictly below.
    mean_ms: float = 1000.0
    #: p95 per steady window, ms, strictly below; ``None`` = reported, not gated.
    p95_ms: float | None = None
    #: Successful share of all requests outside stress windows, percent, strictly above.
    availability_pct: float = 95.0
    #: Search success during each single-node fault, percent, strictly above.
    failover_pct: float = 85.0
    #: Seconds from heal to N/N alive, strictly below; ``None`` = any automatic recovery passes.
    recovery_s: float | None = None
    #: Success rate over the stress windows, percent, at least.
    stress_pct: float = 70.0
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

    def merged(self, overrides: dict[str, Any] | None) -> Thresholds:
        """A copy with ``overrides`` applied (checked names, values coerced to the field type)."""
        if not overrides:
            return self
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ValueError(f"unknown threshold(s): {', '.join(unknown)}")
        values = {name: _coerce(name, known[name].default, v) for name, v in overrides.items()}
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


def _coerce(name: str, default: Any, value: Any) -> Any:
    """Convert a file or CLI value to the type of the field's default."""
    if value is None:
        if default is not None:
            raise ValueError(f"threshold {name} cannot be unset")
        return None
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(default, str):
        return str(value)
    try:
        return int(value) if isinstance(default, int) else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"threshold {name}: expected a number, got {value!r}") from None


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
