"""The REST routes as module-level functions of a node: called directly with a stand-in node
and a request, and bound to one node by ``build_app``."""

from __future__ import annotations

import json
from types import SimpleNamespace
from wsgiref.util import setup_testing_defaults

import bottle
import pytest

from node import api
from node.config import DEFAULT_TTL, DEFAULT_TTL_CAP
from node.netfaults import NetFaults


def fake_node(**parts) -> SimpleNamespace:
    config = SimpleNamespace(ttl_cap=DEFAULT_TTL_CAP, search_deadline_s=1.0, admin_token="t")
    return SimpleNamespace(config=config, faults=NetFaults(), peer_ops={}, **parts)


def with_request(query: str = "", headers: dict | None = None) -> None:
    environ = {"QUERY_STRING": query, **(headers or {})}
    setup_testing_defaults(environ)
    bottle.request.bind(environ)


def test_a_route_is_a_function_of_the_node_a_test_can_call():
    searches = []
    flood = SimpleNamespace(search=lambda *args: searches.append(args) or {"results": []})
    with_request("q=alpha")
    assert api.search(fake_node(flood=flood)) == {"results": []}
    assert searches == [("alpha", DEFAULT_TTL, 1.0)]
    with_request("q=alpha&ttl=99")
    with pytest.raises(bottle.HTTPResponse) as refused:
        api.search(fake_node(flood=flood))
    assert refused.value.status_code == 400 and b"ttl" in refused.value.body.encode()


def test_build_app_serves_every_route_and_checks_the_token_of_admin_ones():
    app = api.build_app(fake_node())
    served = {(r.method, r.rule) for r in app.routes}
    assert {(r.method, r.path) for r in api.ROUTES} <= served
    assert call(app, "/admin/faults") == ("401 Unauthorized", {"error": "missing or wrong token"})
    answer = call(app, "/admin/faults", HTTP_AUTHORIZATION="Bearer t")
    assert answer == ("200 OK", {"drop": [], "latency_ms": 0, "loss_pct": 0})


def call(app: bottle.Bottle, path: str, **headers: str) -> tuple[str, dict]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, **headers}
    setup_testing_defaults(environ)
    statuses = []
    body = b"".join(app(environ, lambda status, *_: statuses.append(status)))
    return statuses[0], json.loads(body)
