"""The admin API's shared facts: the node enforces them, the harness relies on them.

The launcher hands each node its admin token through ``ADMIN_TOKEN_ENV``; the fault controller
checks plans against the limits the node's admin API accepts (``faults/kinds/latency.py``,
``loss.py``). Defined here, in the one package both sides import, so they always agree.
"""

from __future__ import annotations

ADMIN_TOKEN_ENV = "PEERLOAD_TOKEN"
MAX_LATENCY_MS = 10_000
MAX_LOSS_PCT = 100  # a share of peer messages, in percent
