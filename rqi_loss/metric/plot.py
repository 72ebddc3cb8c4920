"""``rqi-score --plot``: each method's per-image scores, one panel per metric (RQI first), as a PNG."""

from __future__ import annotations

from pathlib import Path

from ..weights._atomic import atomic_write
from .report import ScoreReport


def plot_score_distributions(report: ScoreReport, path: Path) -> None:
    """Box plots of the per-image scores of every method (best RQI mean first) under every metric, with each
    image's score as a dot; the panel titles give the metric's direction. Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = [row["method"] for row in report.summary()]
    panels = [(f"RQI ({report.model}) ↑", report.scores)]
    panels += [(f"{m} {'↑' if report.higher_better[m] else '↓'}", report.also[m]) for m in report.also]
    figure, axes = plt.subplots(1, len(panels), figsize=(1.2 + 0.9 * len(order) * len(panels), 3.6), squeeze=False)
    for axis, (title, scores) in zip(axes[0], panels):
        values = [list(scores.get(method, {}).values()) for method in order]
        axis.boxplot(values, showfliers=False)
        for position, column in enumerate(values, 1):
            axis.plot([position] * len(column), column, ".", alpha=0.6, color="tab:blue")
        axis.set_xticks(range(1, len(order) + 1), order, rotation=30, ha="right")
        axis.set_title(title, fontsize=10)
        axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=110)
    plt.close(figure)
