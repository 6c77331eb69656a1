"""The outcome of judging one criterion over one window, and how it reads in a report."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass

PASS, FAIL, INSUFFICIENT, REPORTED = "pass", "fail", "insufficient", "reported"
COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}
#: What a criterion is about; the verdict weighs the families differently (reports.verdict).
CORRECTNESS, SERVICE, RESILIENCE, HARNESS, REGRESSION = (
    "correctness",
    "service",
    "resilience",
    "harness",
    "regression",
)
PCT, MS, OPS_S, SECONDS, COUNT = "%", "ms", "ops/s", "s", ""


@dataclass(frozen=True)
class Result:
    """One criterion judged over one window (or a named aggregate such as ``run``)."""

    name: str
    window: str
    value: float | None
    threshold: float | None
    op: str
    verdict: str
    n: int
    unit: str = ""
    detail: str = ""
    #: Replaces the threshold text when the goal is not a plain number (``N/N alive``).
    expect: str = ""
    family: str = SERVICE

    @property
    def goal(self) -> str:
        """The threshold as a reader states it: ``> 85%``, or ``reported`` when not gated."""
        if self.expect:
            return self.expect
        if self.threshold is None:
            return "reported"
        return f"{self.op} {fmt_threshold(self.threshold, self.unit)}"

    def describe(self) -> str:
        """One line: ``success_rate 62.1% < 85% in window fault:x:n2 (n=412)``."""
        where = f"in window {self.window} (n={self.n})"
        if self.verdict == INSUFFICIENT:
            return f"{self.name} insufficient {where}: {self.detail}".rstrip(": ")
        if self.value is None or self.threshold is None or self.expect:
            return f"{self.name}: {self.detail or 'no value'} {where}"
        rel = "<" if self.value < self.threshold else ">" if self.value > self.threshold else "="
        limit = fmt_threshold(self.threshold, self.unit)
        text = f"{self.name} {fmt(self.value, self.unit)} {rel} {limit}"
        if rel == "=":
            text += f" (needs {self.goal})"
        return f"{text} {where}"

    def to_dict(self) -> dict:
        """Plain dict for the results JSON (with the readable goal)."""
        return {**asdict(self), "goal": self.goal}


def fmt(value: float | None, unit: str = "") -> str:
    """Numbers as the reports print them: 1 decimal, whole ms/ops when large."""
    if value is None:
        return "–"
    text = f"{value:.0f}" if unit == COUNT or (unit == MS and abs(value) >= 100) else f"{value:.1f}"
    return f"{text}{unit}" if unit in (PCT, "") else f"{text} {unit}"


def fmt_threshold(value: float, unit: str = "") -> str:
    """A configured threshold as written: ``85%``, ``1000 ms``, ``10 ops/s``, ``0.5 s``."""
    text = f"{value:g}"
    return f"{text}{unit}" if unit in (PCT, "") else f"{text} {unit}"


@dataclass(frozen=True)
class Check:
    """A criterion's fixed parts (name, comparison, threshold, unit), applied window by window."""

    name: str
    op: str
    threshold: float | None
    unit: str
    min_samples: int
    expect: str = ""
    family: str = SERVICE

    def on(self, window: str, value: float | None, n: int, detail: str = "") -> Result:
        """Judge one measured value, guarding against thin evidence first."""
        if n < self.min_samples or value is None:
            why = f"n={n} < {self.min_samples} samples" if n < self.min_samples else "no value"
            verdict, detail = INSUFFICIENT, "; ".join(x for x in (why, detail) if x)
        elif self.threshold is None:
            verdict = REPORTED
        else:
            verdict = PASS if COMPARE[self.op](value, self.threshold) else FAIL
        return self.result(window, value, verdict, n, detail)

    def result(
        self, window: str, value: float | None, verdict: str, n: int, detail: str = ""
    ) -> Result:
        """A row with an explicit verdict (for criteria that are not a plain comparison)."""
        return Result(
            self.name,
            window,
            value,
            self.threshold,
            self.op,
            verdict,
            n,
            self.unit,
            detail,
            self.expect,
            self.family,
        )

    def not_measurable(self, window: str, lacking: str) -> list[Result]:
        """A reported row for a criterion the network cannot be asked (it declared it lacks
        ``lacking``): shown, never a pass, never blocking."""
        return [
            self.result(window, None, REPORTED, 0, f"not measurable on this network: {lacking}")
        ]

    def missing(self, window: str, why: str) -> list[Result]:
        """A single "insufficient" row for a criterion that found nothing to judge."""
        return [self.result(window, None, INSUFFICIENT, 0, why)]
