"""Render the Markdown and HTML reports from a prepared context (see ``reports.context``).

The HTML is self-contained: uPlot (vendored under ``templates/vendor``, MIT, license alongside)
and its CSS are inlined, the chart data is embedded as JSON, nothing is fetched at view time.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"
VENDOR = TEMPLATES / "vendor"
MARKDOWN_TEMPLATE = "PHASE4_FINAL_REPORT.md.j2"
HTML_TEMPLATE = "report.html.j2"
UPLOT_JS = "uPlot.iife.min.js"
UPLOT_CSS = "uPlot.min.css"


def md_cell(value: Any) -> str:
    """A value safe inside a Markdown table cell (pipes escaped, one line)."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def script_json(value: Any) -> str:
    """JSON safe to place inside ``<script>``: no ``</script>`` or HTML comment can close it."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@cache
def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = md_cell
    return env


@cache
def vendored(name: str) -> str:
    """A vendored asset's text, checked to be safe to inline in a ``<script>``/``<style>``."""
    text = (VENDOR / name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():
        raise ValueError(f"vendored {name} cannot be inlined: contains a closing tag")
    return text


def render_markdown(context: dict[str, Any]) -> str:
    """``PHASE4_FINAL_REPORT.md``: executive summary first, then the technical detail."""
    return _environment(False).get_template(MARKDOWN_TEMPLATE).render(**context)


def render_html(context: dict[str, Any]) -> str:
    """``report.html``: the same content with charts, openable with no network access."""
    template = _environment(True).get_template(HTML_TEMPLATE)
    return template.render(
        **context,
        chart_json=script_json(context["chart"]),
        uplot_js=vendored(UPLOT_JS),
        uplot_css=vendored(UPLOT_CSS),
    )
