"""A route on Locust's web UI (a Flask app) serving the latest report of a results directory.

Kept free of Locust and Flask imports: the locustfile passes ``environment.web_ui.app`` (and,
if it wants, Locust's ``auth_required_if_enabled`` as ``wrap``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from reports.results import HTML, MARKDOWN

REPORT_PATH = "/peerload/report"
NOT_YET = "No report yet: it is written when the run ends (or by python -m reports RESULTS_DIR).\n"
CONTENT_TYPES = {HTML: "text/html; charset=utf-8", MARKDOWN: "text/markdown; charset=utf-8"}


def add_report_routes(
    app: Any,
    results_dir: Path | Callable[[], Path | None],
    *,
    path: str = REPORT_PATH,
    wrap: Callable[[Callable], Callable] | None = None,
) -> None:
    """Serve ``report.html`` at ``path`` and the Markdown at ``path + ".md"``; 404 until written.

    ``results_dir`` may be a callable asked at each request (None: no report yet), so a web UI
    serves its own process's latest run and never a folder an older process left behind."""

    def serve(name: str) -> Callable[[], tuple[bytes | str, int, dict[str, str]]]:
        def view() -> tuple[bytes | str, int, dict[str, str]]:
            folder = results_dir() if callable(results_dir) else results_dir
            file = Path(folder) / name if folder is not None else None
            if file is None or not file.is_file():
                return NOT_YET, 404, {"Content-Type": "text/plain; charset=utf-8"}
            return file.read_bytes(), 200, {"Content-Type": CONTENT_TYPES[name]}

        view.__name__ = f"peerload_report_{name.replace('.', '_')}"
        return wrap(view) if wrap else view

    app.add_url_rule(path, endpoint="peerload_report_html", view_func=serve(HTML))
    app.add_url_rule(f"{path}.md", endpoint="peerload_report_md", view_func=serve(MARKDOWN))
