"""Where to look in a network's own code, per symptom the report can recommend on.

The report's recommendations (reports/recommend.py) say what the evidence shows in terms that
hold for any network. Only the network's definition knows its implementation (an event loop,
a database, a thread pool), so its optional ``[hints]`` table (docs/networks.md) gives one
short text per symptom, and a recommendation adds it when the symptom is seen. A network
without hints gets the evidence alone: no advice names a part it does not have. The run record
carries the hints (``status.hints``), so ``python -m reports DIR`` gives the same advice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .tables import keys

#: Latency grows with load while no CPU is saturated: the nodes wait rather than compute.
LATENCY_GROWS = "latency_grows"
#: Latency grows with load while a node's CPU is saturated: the nodes compute.
CPU_BOUND = "cpu_bound"
#: REST or gRPC made no progress in a window while the other did.
PROTOCOL_STALLED = "protocol_stalled"
#: The network noticed a fault quickly but took much longer to be whole again.
SLOW_RECOVERY = "slow_recovery"
#: Acknowledged data was lost, or data was served damaged.
DATA_INTEGRITY = "data_integrity"
SYMPTOMS = (LATENCY_GROWS, CPU_BOUND, PROTOCOL_STALLED, SLOW_RECOVERY, DATA_INTEGRITY)
#: A hint is a pointer, not an essay: it is printed inside a recommendation.
MAX_HINT_CHARS = 300


def parse_hints(table: Mapping[str, Any]) -> dict[str, str]:
    """The ``[hints]`` table checked: known symptoms only, each a short non-empty text."""
    keys(table, set(SYMPTOMS), "hints.")
    for symptom, text in table.items():
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"hints.{symptom}: must be a non-empty string")
        if len(text) > MAX_HINT_CHARS:
            raise ValueError(f"hints.{symptom}: at most {MAX_HINT_CHARS} characters")
    return {symptom: " ".join(text.split()) for symptom, text in table.items()}
