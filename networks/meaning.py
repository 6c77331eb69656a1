"""What a failed conformance check (networks/verify.py, networks/deepchecks.py) means for the
network, in words for a reader who has not read the check: the report leads with them when the
initial verification fails (reports/recommend.py). A module of its own, importing nothing, so
the report can name them without importing the checks.
"""

from __future__ import annotations

#: Check name -> what its failure means.
MEANING = {
    "up": "a node does not answer its health call: it did not start, it crashed, or the "
    "definition's ready path or ports are wrong",
    "joined": "nodes do not see each other: joining (node.join in the definition) or "
    "membership does not work, so searches cannot reach every node (or a node calls a peer "
    "alive that it has not heard from for minutes: its view is stale)",
    "account": "a node's health answer counts its live peers otherwise than its own peers view: "
    "an operator or a dashboard reading it is told a wrong story",
    "search": "a search does not find another node's file: queries are not forwarded, or "
    "answers are lost or wrong on the way back",
    "ttl0": "a TTL 0 search left the node it was asked on: the TTL is not honoured",
    "ttl1": "TTL 1 does not reach exactly the node's neighbours: the TTL is off by one",
    "ttl_depth": "TTL k does not reach exactly the nodes within k hops: the TTL or the hop "
    "count is off",
    "download": "a file does not download with the bytes it was given",
    "counts": "a node's own totals (its metrics) do not count what it did: an operator watching "
    "them is told a wrong story (a counter that never moves, a success counted as a failure)",
    "corpus": "a node lost or changed files it was given",
    "index": "a new file is not found from another node: adding files or searching them is broken",
    "flow": "the download-share-search flow breaks: a node does not serve (or others do not "
    "find) a file it downloaded",
    "sizes": "an empty file, a one-byte file or one that ends on a chunk boundary does not "
    "travel intact: the transfer loop is wrong at its edges",
    "full_disk": "a node whose disk is full loses or changes a file it acknowledged, serves a "
    "write it refused, breaks instead of refusing, or does not take writes once it has room",
    "parallel": "downloads from one node do not stream at the same time: the node serves "
    "files one (or a few) at a time, so every download waits behind the others",
    "concurrent": "searches at once from one node get wrong answers: state shared between "
    "queries (a dedupe cache, a pool, a lock) breaks under concurrency",
}
