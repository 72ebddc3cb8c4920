"""Per-image scores of several SR methods (RQI, plus classical metrics with ``--also``), their ranking table,
and CSV/JSON output (written atomically)."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..weights._atomic import atomic_write

OUTPUT_SUFFIXES = (".csv", ".json")


@dataclass
class ScoreReport:
    """scores[method][image] = f(sr, gt); also[metric][method][image]: the classical metrics, whose direction
    ``higher_better[metric]`` gives; errors: (method, image, message); complete: every pair was scored."""

    model: str
    seed: int
    protocol: dict
    methods: list[str]
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    unmatched: dict[str, list[str]] = field(default_factory=dict)
    complete: bool = False
    also: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    higher_better: dict[str, bool] = field(default_factory=dict)
    crop_border: int = 0

    def add(self, method: str, image: str, value: float, also: dict[str, float] | None = None) -> None:
        """Record one pair: its RQI score and, with ``also``, its classical metrics (name -> value)."""
        self.scores.setdefault(method, {})[image] = value
        for metric, metric_value in (also or {}).items():
            self.also.setdefault(metric, {}).setdefault(method, {})[image] = metric_value

    def _metric_ranks(self, rows: list[dict]) -> None:
        """Add each classical metric's mean and rank (1: best in its direction) to the summary rows."""
        for metric in self.also:
            for row in rows:
                values = list(self.also[metric].get(row["method"], {}).values())
                row[metric] = sum(values) / len(values) if values else math.nan
            sign = -1 if self.higher_better[metric] else 1
            ranked = sorted((r for r in rows if not math.isnan(r[metric])), key=lambda r: sign * r[metric])
            for row in rows:
                row[f"{metric}_rank"] = ranked.index(row) + 1 if row in ranked else None

    def common_images(self) -> set[str]:
        """Images that every method has a score for."""
        per_method = [set(self.scores.get(m, {})) for m in self.methods]
        return set.intersection(*per_method) if per_method else set()

    def summary(self) -> list[dict]:
        """One row per method, best mean first: method, images, mean, std, wins (images, among those every
        method scored, where it has the highest score; ties count for each tied method)."""
        common = self.common_images()
        wins = dict.fromkeys(self.methods, 0)
        for image in common:
            best = max(self.scores[m][image] for m in self.methods)
            for m in self.methods:
                wins[m] += self.scores[m][image] == best
        rows = []
        for m in self.methods:
            values = list(self.scores.get(m, {}).values())
            mean = sum(values) / len(values) if values else math.nan
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) if values else math.nan
            rows.append({"method": m, "images": len(values), "mean": mean, "std": std, "wins": wins[m]})
        rows = sorted(rows, key=lambda r: (math.isnan(r["mean"]), -r["mean"] if not math.isnan(r["mean"]) else 0))
        self._metric_ranks(rows)
        return rows

    def table(self) -> str:
        """The ranking as a plain-text table."""
        rows = self.summary()
        width = max([len("method")] + [len(r["method"]) for r in rows])
        columns = [f"{m} {'↑' if self.higher_better[m] else '↓'} (rank)" for m in self.also]
        lines = [
            f"{'rank':>4}  {'method':<{width}}  {'images':>6}  {'mean':>9}  {'std':>8}  {'wins':>5}"
            + "".join(f"  {c:>17}" for c in columns)
        ]
        for rank, r in enumerate(rows, 1):
            lines.append(
                f"{rank:>4}  {r['method']:<{width}}  {r['images']:>6}  "
                f"{r['mean']:>9.4f}  {r['std']:>8.4f}  {r['wins']:>5}"
                + "".join(f"  {_mean_and_rank(r[m], r[m + '_rank']):>17}" for m in self.also)
            )
        lines.append(
            f"RQI f(SR, GT) with {self.model}: higher is better (> 0: judged better than GT); "
            f"wins over the {len(self.common_images())} images every method has"
        )
        if self.also:
            lines.append(
                f"also: {', '.join(self.also)} (crop border {self.crop_border} px; PSNR and SSIM on Y); "
                "rank 1 is the best in the metric's direction"
            )
        if not self.complete:
            lines.append("INCOMPLETE: some pairs were not scored (see the messages above).")
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(
            {
                "complete": self.complete,
                "model": self.model,
                "seed": self.seed,
                "protocol": self.protocol,
                "summary": self.summary(),
                "scores": self.scores,
                "errors": [{"method": m, "image": i, "message": e} for m, i, e in self.errors],
                "unmatched": self.unmatched,
                "also": self.also,
                "higher_better": self.higher_better,
                "crop_border": self.crop_border,
            },
            indent=2,
        )

    def to_csv(self) -> str:
        """Rows (method, image, score, <each --also metric>, status): one per image, then one "MEAN" row per
        method whose status is "complete" or "incomplete"."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["method", "image", "score", *self.also, "status"])
        for m in self.methods:
            for image, value in self.scores.get(m, {}).items():
                extra = [_number(self.also[metric].get(m, {}).get(image)) for metric in self.also]
                writer.writerow([m, image, f"{value:.6f}", *extra, "ok"])
        for m, image, message in self.errors:
            writer.writerow([m, image, "", *([""] * len(self.also)), f"error: {message}"])
        for r in self.summary():
            extra = [_number(r[metric]) for metric in self.also]
            status = "complete" if self.complete else "incomplete"
            writer.writerow([r["method"], "MEAN", f"{r['mean']:.6f}", *extra, status])
        return buffer.getvalue()

    def write(self, path: Path) -> None:
        """Write CSV or JSON (by suffix) atomically: a temporary file in the same folder, then a rename."""
        text = self.to_json() if path.suffix.lower() == ".json" else self.to_csv()
        with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)


def _number(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.6f}"


def _mean_and_rank(mean: float, rank: int | None) -> str:
    return "-" if rank is None else f"{mean:.4f} ({rank})"
