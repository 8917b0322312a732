"""What a benchmark run produces: figures (one per client), ratios and targets."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Figure", "Ratio", "Results", "Target", "summary"]


def summary(values: Sequence[float]) -> dict[str, float | None]:
    """Median, min and max of ``values`` (None when there are none)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(finite), "min": min(finite), "max": max(finite)}


@dataclass(frozen=True)
class Target:
    """A goal for a figure or a ratio, e.g. ``>= 7``."""

    op: Literal[">=", "<=", "<"]
    value: float
    text: str

    def met(self, x: float | None) -> bool | None:
        if x is None or not math.isfinite(x):
            return None
        if self.op == ">=":
            return x >= self.value
        if self.op == "<=":
            return x <= self.value
        return x < self.value

    def as_dict(self) -> dict[str, Any]:
        return {"op": self.op, "value": self.value, "text": self.text}


@dataclass
class Figure:
    """One measured quantity of one client in one scenario, over several runs."""

    scenario: str
    metric: str
    unit: str
    client: str
    values: list[float] = field(default_factory=list)
    target: Target | None = None
    note: str = ""

    @property
    def median(self) -> float | None:
        return summary(self.values)["median"]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scenario": self.scenario,
            "metric": self.metric,
            "unit": self.unit,
            "client": self.client,
            "runs": self.values,
            **summary(self.values),
            "note": self.note,
        }
        if self.target is not None:
            out["target"] = self.target.as_dict()
            out["met"] = self.target.met(self.median)
        return out


@dataclass
class Ratio:
    """``numerator / denominator`` figure by figure, run by run (paired within the run)."""

    scenario: str
    label: str
    numerator: Figure
    denominator: Figure
    target: Target | None = None

    @property
    def values(self) -> list[float]:
        pairs = zip(self.numerator.values, self.denominator.values, strict=False)
        return [a / b if b else math.inf for a, b in pairs]

    @property
    def median(self) -> float | None:
        return summary(self.values)["median"]

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.target.met(self.median)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scenario": self.scenario,
            "label": self.label,
            "metric": self.numerator.metric,
            "numerator": self.numerator.client,
            "denominator": self.denominator.client,
            "runs": self.values,
            **summary(self.values),
        }
        if self.target is not None:
            out["target"] = self.target.as_dict()
            out["met"] = self.met
        return out


@dataclass
class Results:
    """Everything one run measured, in the order it was measured."""

    figures: list[Figure] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time each scenario took."""

    def figure(
        self,
        scenario: str,
        metric: str,
        unit: str,
        client: str,
        target: Target | None = None,
        note: str = "",
    ) -> Figure:
        """A new, empty figure, registered in the results."""
        fig = Figure(scenario, metric, unit, client, target=target, note=note)
        self.figures.append(fig)
        return fig

    def ratio(
        self,
        scenario: str,
        label: str,
        numerator: Figure,
        denominator: Figure,
        target: Target | None = None,
    ) -> Ratio:
        ratio = Ratio(scenario, label, numerator, denominator, target)
        self.ratios.append(ratio)
        return ratio

    def error(self, scenario: str, message: str) -> None:
        self.errors.append({"scenario": scenario, "error": message})

    def targets(self) -> list[tuple[str, bool | None]]:
        """Every target with its outcome (None: not measured)."""
        out: list[tuple[str, bool | None]] = []
        for scenario in dict.fromkeys(f.scenario for f in self.figures):
            for fig in self.figures:
                if fig.scenario == scenario and fig.target is not None:
                    out.append((f"{scenario}: {fig.target.text}", fig.target.met(fig.median)))
            for ratio in self.ratios:
                if ratio.scenario == scenario and ratio.target is not None:
                    out.append((f"{scenario}: {ratio.target.text}", ratio.met))
        return out
