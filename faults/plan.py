"""Load a fault plan (TOML or JSON) into validated dataclasses, or fail with a PlanError.

Everything that can be checked without a cluster is checked here, completely, before anything
runs (chaoslib's ``ensure_*_is_valid``); node names, targets and the majority guard need the
cluster's node list and are checked by ``faults.timeline.resolve``.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import targets
from .kinds import REGISTRY
from .types import FaultSpec, Plan, PlanError

PLAN_VERSION = 1
BACKENDS = ("control", "netns", "hosts", "auto")
PLAN_FIELDS = {"version", "seed", "backend", "allow_majority", "description", "name", "fault"}
COMMON_FIELDS = {"id", "kind", "target", "at", "duration", "gap", "allow_majority", "description"}
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DURATION_RE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)")
UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
DURATION_HINT = 'use e.g. "20s", "1.5s", "500ms", "2m", "1m30s" or a number of seconds'
MAX_OFFSET_S = 7 * 24 * 3600.0


def parse_duration(value: Any, where: str) -> float:
    """ "20s", "1.5s", "500ms", "2m", "1m30s" or a number of seconds -> seconds (>= 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PlanError(f'{where}: expected a duration like "20s", got {type(value).__name__}')
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        negative = text.startswith("-")
        body = text[1:] if negative else text
        if re.fullmatch(r"\d+(\.\d+)?", body):
            seconds = float(body)
        elif body and re.fullmatch(rf"(?:{DURATION_RE.pattern})+", body):
            seconds = sum(float(n) * UNIT_S[u] for n, u in DURATION_RE.findall(body))
        else:
            raise PlanError(f'{where}: unparseable duration "{value}" ({DURATION_HINT})')
        if negative:
            raise PlanError(f'{where}: negative duration "{value}"')
    else:
        seconds = float(value)
        if not math.isfinite(seconds):
            raise PlanError(f"{where}: duration must be finite, got {value}")
        if seconds < 0:
            raise PlanError(f'{where}: negative duration "{value}"')
    if seconds > MAX_OFFSET_S:
        raise PlanError(f'{where}: duration "{value}" is longer than a week')
    return seconds


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan file; ``.json`` is parsed as JSON, anything else as TOML."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"{path}: cannot read plan: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PlanError(f"{path}: plan is not UTF-8 text") from None
    return parse_plan(text, source=str(path), fmt="json" if path.suffix == ".json" else "toml")


def parse_plan(text: str, *, source: str = "<plan>", fmt: str = "toml") -> Plan:
    """Parse plan text (``fmt`` "toml" or "json") and validate it."""
    try:
        data = json.loads(text) if fmt == "json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PlanError(f"{source}: not valid {fmt.upper()}: {exc}") from None
    return plan_from_dict(data, source=source)


def plan_from_dict(data: Any, *, source: str = "<plan>") -> Plan:
    """Validate already-parsed plan data (a dict as TOML/JSON would give)."""
    if not isinstance(data, Mapping):
        raise PlanError(f"{source}: a plan must be a table/object at the top level")
    unknown_fields(data, PLAN_FIELDS, "plan")
    version = data.get("version", PLAN_VERSION)
    if version != PLAN_VERSION or isinstance(version, bool):
        raise PlanError(f"version: unsupported plan version {version!r} (expected {PLAN_VERSION})")
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise PlanError(f"seed: expected an integer, got {seed!r}")
    backend = data.get("backend", "auto")
    if backend not in BACKENDS:
        raise PlanError(f"backend: unknown backend {backend!r} (one of {', '.join(BACKENDS)})")
    raw_faults = data.get("fault")
    if not isinstance(raw_faults, list) or not raw_faults:
        raise PlanError("fault: a plan needs at least one [[fault]] entry")
    faults = tuple(fault_from_dict(i, raw) for i, raw in enumerate(raw_faults))
    seen: dict[str, int] = {}
    for f in faults:
        if f.id in seen:
            raise PlanError(f'{f.where}.id: duplicate id "{f.id}" (also fault[{seen[f.id]}])')
        seen[f.id] = f.index
    return Plan(
        version=PLAN_VERSION,
        seed=seed,
        backend=backend,
        faults=faults,
        allow_majority=boolean(data.get("allow_majority", False), "allow_majority"),
        description=text_field(data.get("description", data.get("name", "")), "description"),
        source=source,
    )


def fault_from_dict(index: int, raw: Any) -> FaultSpec:
    where = f"fault[{index}]"
    if not isinstance(raw, Mapping):
        raise PlanError(f"{where}: expected a table/object")
    kind_name = raw.get("kind")
    if kind_name not in REGISTRY:
        raise PlanError(f"{where}.kind: unknown kind {kind_name!r} (one of {', '.join(REGISTRY)})")
    kind = REGISTRY[kind_name]
    unknown_fields(raw, COMMON_FIELDS | set(kind.params), where)
    fault_id = raw.get("id")
    if not isinstance(fault_id, str) or not ID_RE.match(fault_id):
        raise PlanError(f"{where}.id: expected a short name of letters, digits, -_. ({fault_id!r})")
    if "at" not in raw:
        raise PlanError(f'{where}.at: missing (when the fault starts, e.g. "20s")')
    duration = None
    if kind.instant:
        for name in ("duration", "gap"):
            if name in raw:
                raise PlanError(f"{where}.{name}: a {kind_name} fault takes no {name}")
    elif "duration" not in raw:
        raise PlanError(f"{where}.duration: missing (how long the {kind_name} lasts)")
    else:
        duration = parse_duration(raw["duration"], f"{where}.duration")
        if duration <= 0:
            raise PlanError(f"{where}.duration: must be longer than zero")
    spec = FaultSpec(
        index=index,
        id=fault_id,
        kind=kind_name,
        target=target_field(raw.get("target", kind.default_target), f"{where}.target"),
        at=parse_duration(raw["at"], f"{where}.at"),
        duration=duration,
        gap=parse_duration(raw.get("gap", 0), f"{where}.gap"),
        allow_majority=boolean(raw.get("allow_majority", False), f"{where}.allow_majority"),
        options={k: raw[k] for k in kind.params if k in raw},
        description=text_field(raw.get("description", ""), f"{where}.description"),
    )
    if spec.gap and spec.target != "each":
        raise PlanError(f'{where}.gap: only meaningful with target = "each"')
    kind.validate(spec)
    return spec


def target_field(value: Any, where: str) -> str | tuple[str, ...] | None:
    """A node name, a selector ("one", "each", "minority", "all"), a share of the nodes
    ("10%") or a list of node names."""
    if isinstance(value, str) and value.endswith("%") and targets.share(value) is None:
        raise PlanError(f"{where}: {value!r} is not a share of the nodes (1%..100%, e.g. '10%')")
    if value is None or isinstance(value, str) and value:
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        if len(set(value)) != len(value):
            raise PlanError(f"{where}: a node is listed twice in {value!r}")
        return tuple(value)
    raise PlanError(
        f"{where}: expected a node name, one/each/minority/all, a share like '10%', "
        "or a list of names"
    )


def unknown_fields(raw: Mapping[str, Any], allowed: set[str] | frozenset[str], where: str) -> None:
    extra = sorted(set(raw) - set(allowed))
    if extra:
        names = ", ".join(sorted(allowed))
        raise PlanError(f'{where}: unknown field "{extra[0]}" (allowed: {names})')


def boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise PlanError(f"{where}: expected true or false, got {value!r}")
    return value


def text_field(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise PlanError(f"{where}: expected a string")
    return value
