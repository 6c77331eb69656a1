"""compartir: a P2P file-sharing network written the way a small team writes its first
implementation of the three-phase spec, to show peerload judging a network that is not its own.

One process per node: a Flask REST API in Spanish (``/estado``, ``/registrar``, ``/buscar``,
``/subir``...) on the werkzeug server with a thread per request, and a ``Transferencia`` gRPC
service on a thread pool. Nodes are named by their address (``ip:puerto``), join by registering
with the seeds they are given (one way: the seed learns of the newcomer, the newcomer of nobody
else), keep no liveness, forward a search to one neighbour after another, and index their folder
only when asked (``POST /indexar``). Run a node with ``python -m examples.compartir --help``;
``requirements.txt`` is what its own virtualenv needs.
"""
