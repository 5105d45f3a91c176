"""What a scenario measured, checked against its target, as a table and as JSON."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Outcome", "Row", "Target", "format_table"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """A bound on the ratio fngate / baseline, or on the fngate figure itself."""

    on: Literal["ratio", "value"]
    op: Literal["<=", ">="]
    bound: float

    def met(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return value <= self.bound if self.op == "<=" else value >= self.bound

    def __str__(self) -> str:
        what = "x" if self.on == "ratio" else ""
        return f"{self.op} {self.bound:g}{what}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One figure of a scenario: fngate's, the baseline's, and the target it must meet."""

    metric: str
    unit: str
    fngate: float
    baseline: float | None = None
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None:
            return None
        return self.fngate / self.baseline if self.baseline else float("nan")

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        if self.target.on == "value":
            return self.target.met(self.fngate)
        ratio = self.ratio
        return self.target.met(ratio if ratio is not None else float("nan"))

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "unit": self.unit,
            "fngate": _finite(self.fngate),
            "baseline": _finite(self.baseline),
            "ratio": _finite(self.ratio),
            "target": str(self.target) if self.target else None,
            "met": self.met,
        }


@dataclass(slots=True, kw_only=True)
class Outcome:
    """Everything one scenario reports: its rows, details for results.json, its status."""

    scenario: str
    status: Literal["ok", "skipped", "error"] = "ok"
    reason: str | None = None
    seconds: float = 0.0
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows"] = [row.to_json() for row in self.rows]
        return data


def _finite(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(value, 4)


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if math.isnan(value):
        return "n/a"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if value else "0"
    return f"{text} {unit}".rstrip()


def format_table(outcomes: list[Outcome]) -> str:
    """A plain-text table: scenario, metric, fngate, baseline, ratio, target, met?"""
    header = ("scenario", "metric", "fngate", "baseline", "ratio", "target", "met?")
    lines: list[tuple[str, ...]] = []
    for outcome in outcomes:
        if outcome.status != "ok":
            lines.append((outcome.scenario, outcome.status.upper(), outcome.reason or "",
                          "", "", "", ""))
        for row in outcome.rows:
            met = {None: "", True: "yes", False: "NO"}[row.met]
            ratio = row.ratio
            lines.append((outcome.scenario, row.metric, _num(row.fngate, row.unit),
                          _num(row.baseline, row.unit),
                          "—" if ratio is None else f"{ratio:.2f}x",
                          str(row.target) if row.target else "—", met))
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    # A long reason (an error message) must not stretch the whole table.
    widths[2] = min(widths[2], 60)

    def fmt(row: tuple[str, ...]) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(r) for r in lines)])
