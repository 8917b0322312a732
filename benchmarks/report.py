"""The results as a text table (stdout), an RST grid table and a JSON document."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .results import Results, Target, summary

__all__ = ["document", "rows", "text_table", "rst_table", "write_json"]

HEADER = ("Scenario", "Metric", "Client / ratio", "Median", "Min", "Max", "Unit", "Target", "")


def number(value: float | None) -> str:
    """A figure, to a precision that fits its size."""
    if value is None:
        return "-"
    value = float(value)
    if not math.isfinite(value):
        return "inf"
    size = abs(value)
    if value.is_integer() and size < 1e7:
        return f"{value:,.0f}"
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def mark(met: bool | None, target: Target | None) -> str:
    if target is None:
        return ""
    return {True: "met", False: "MISSED", None: "n/a"}[met]


def _target_text(target: Target | None) -> str:
    return "" if target is None else f"{target.op} {number(target.value)}"


def rows(results: Results) -> list[tuple[str, ...]]:
    """One row per figure, then the scenario's ratios; scenario named on its first row."""
    out: list[tuple[str, ...]] = []
    scenarios = list(dict.fromkeys(f.scenario for f in results.figures))
    for scenario in scenarios:
        first = True
        for fig in (f for f in results.figures if f.scenario == scenario):
            s = summary(fig.values)
            out.append(
                (
                    scenario if first else "",
                    fig.metric,
                    fig.client,
                    number(s["median"]),
                    number(s["min"]),
                    number(s["max"]),
                    fig.unit,
                    _target_text(fig.target),
                    mark(fig.target.met(fig.median) if fig.target else None, fig.target),
                )
            )
            first = False
        for ratio in (r for r in results.ratios if r.scenario == scenario):
            s = summary(ratio.values)
            out.append(
                (
                    "",
                    f"{ratio.numerator.metric} ratio",
                    ratio.label,
                    number(s["median"]),
                    number(s["min"]),
                    number(s["max"]),
                    "x",
                    _target_text(ratio.target),
                    mark(ratio.met, ratio.target),
                )
            )
    return out


def _widths(table: list[tuple[str, ...]]) -> list[int]:
    return [max(len(row[i]) for row in table) for i in range(len(table[0]))]


def text_table(results: Results) -> str:
    """The table for a terminal, scenarios separated by rules, then the targets."""
    body = rows(results)
    table = [HEADER, *body]
    widths = _widths(table)
    numeric = {3, 4, 5}

    def line(row: tuple[str, ...]) -> str:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    rule = "-" * len(line(tuple("x" * w for w in widths)))
    out = [line(HEADER), rule]
    for row in body:
        if row[0] and len(out) > 2:
            out.append(rule)
        out.append(line(row))
    out.append(rule)
    targets = results.targets()
    met = sum(1 for _, ok in targets if ok)
    out.append(f"Targets: {met} of {len(targets)} met")
    for text, ok in targets:
        out.append(f"  [{mark(ok, Target('<=', 0, '')):>6}] {text}")
    for error in results.errors:
        out.append(f"ERROR in {error['scenario']}: {error['error']}")
    return "\n".join(out)


def rst_table(results: Results) -> str:
    """An RST grid table of the same rows (include it, or copy it, into the README)."""
    table = [(*HEADER[:-1], "Result"), *rows(results)]
    widths = _widths(table)

    def border(char: str) -> str:
        return "+" + "+".join(char * (w + 2) for w in widths) + "+"

    def line(row: tuple[str, ...]) -> str:
        cells = (f" {cell.ljust(width)} " for cell, width in zip(row, widths, strict=True))
        return "|" + "|".join(cells) + "|"

    out = [border("-"), line(table[0]), border("=")]
    for row in table[1:]:
        out += [line(row), border("-")]
    return "\n".join(out) + "\n"


def document(
    results: Results, *, mode: dict[str, Any], machine: dict[str, Any], seconds: float
) -> dict[str, Any]:
    """Every figure, ratio and target of the run, with the machine, as JSON-ready data."""
    return {
        "schema": 1,
        "mode": mode,
        "machine": machine,
        "duration_seconds": round(seconds, 1),
        "scenario_seconds": {k: round(v, 1) for k, v in results.seconds.items()},
        "figures": [f.as_dict() for f in results.figures],
        "ratios": [r.as_dict() for r in results.ratios],
        "targets": [{"target": text, "met": ok} for text, ok in results.targets()],
        "errors": results.errors,
    }


def _finite(value: Any) -> Any:
    """JSON has no infinity: infinite or NaN numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(_finite(doc), indent=2) + "\n", encoding="utf-8")
