"""Tiny HTTP helpers for tests: status and JSON body, never raising on 4xx/5xx."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def call(
    method: str,
    url: str,
    body: dict | bytes | None = None,
    *,
    token: str | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict]:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url, data=data, method=method)
    if isinstance(body, dict):
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, json.loads(raw) if raw else {}


def get(url: str, **kw) -> dict:
    status, body = call("GET", url, **kw)
    assert status == 200, (url, status, body)
    return body
