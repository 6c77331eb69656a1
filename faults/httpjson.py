"""Small JSON-over-HTTP client on urllib: works standalone and in a gevent-patched process.

Proxies from the environment are ignored on purpose: every address here is on this machine.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

DEFAULT_TIMEOUT_S = 5.0
ERROR_BODY_LIMIT = 200

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class HttpError(RuntimeError):
    """A failed call; ``status`` is None when nothing answered (refused, timed out)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def request_json(
    method: str,
    url: str,
    body: Any = None,
    *,
    token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> dict[str, Any]:
    """Send one request and return the decoded JSON object; HttpError for anything else."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None or method in ("POST", "PUT"):
        data = json.dumps(body if body is not None else {}).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raise HttpError(f"{method} {url}: {exc.code} {error_message(exc)}", exc.code) from None
    except urllib.error.URLError as exc:
        raise HttpError(f"{method} {url}: {exc.reason}") from None
    except TimeoutError:
        raise HttpError(f"{method} {url}: no answer within {timeout:g}s") from None
    except OSError as exc:
        raise HttpError(f"{method} {url}: {exc}") from None
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        raise HttpError(f"{method} {url}: answer is not JSON: {raw[:ERROR_BODY_LIMIT]!r}") from None
    if not isinstance(value, dict):
        raise HttpError(f"{method} {url}: expected a JSON object, got {type(value).__name__}")
    return value


def error_message(exc: urllib.error.HTTPError) -> str:
    """The ``{"error": ...}`` text of an error answer, or its reason phrase."""
    try:
        raw = exc.read()
        value = json.loads(raw)
        if isinstance(value, dict) and "error" in value:
            return str(value["error"])
        return raw[:ERROR_BODY_LIMIT].decode(errors="replace")
    except (ValueError, OSError):
        return str(exc.reason)
