"""A PNG chart of the ratios, each beside its target (needs matplotlib)."""

from __future__ import annotations

import math
from pathlib import Path

from .results import Results

__all__ = ["write_chart"]


def write_chart(results: Results, path: Path) -> bool:
    """Draw every ratio (median, with min-max whiskers) on a log scale; False without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratios = [r for r in results.ratios if r.median is not None and math.isfinite(r.median)]
    if not ratios:
        return False
    labels = [f"{r.scenario}: {r.label}" for r in ratios]
    medians = [float(r.median or 0.0) for r in ratios]
    lows = [m - min(r.values) for m, r in zip(medians, ratios, strict=True)]
    highs = [max(r.values) - m for m, r in zip(medians, ratios, strict=True)]
    colours = ["#9e9e9e" if r.met is None else ("#2e7d32" if r.met else "#c62828") for r in ratios]
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(ratios) + 1.6))
    ys = list(range(len(ratios)))[::-1]
    ax.barh(ys, medians, xerr=[lows, highs], color=colours, capsize=3, alpha=0.9)
    for y, median, ratio in zip(ys, medians, ratios, strict=True):
        if ratio.target is not None:
            ax.plot([ratio.target.value] * 2, [y - 0.4, y + 0.4], color="black", linewidth=2)
        ax.text(max(ratio.values) * 1.08, y, f"{median:.2f}x", va="center", fontsize=8)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xscale("log")
    ax.axvline(1.0, color="#555555", linewidth=0.8, linestyle=":")
    ax.set_xlabel("ratio (median of paired runs; whiskers: min-max; black tick: target)")
    ax.set_title("openai_messages benchmarks: green met, red missed, grey no target")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
