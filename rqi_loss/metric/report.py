"""Per-image scores of several SR methods, their ranking table, and CSV/JSON output (written atomically)."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_write

OUTPUT_SUFFIXES = (".csv", ".json")


@dataclass
class ScoreReport:
    """scores[method][image] = f(sr, gt); errors: (method, image, message); complete: every pair was scored."""

    model: str
    seed: int
    protocol: dict
    methods: list[str]
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    unmatched: dict[str, list[str]] = field(default_factory=dict)
    complete: bool = False

    def add(self, method: str, image: str, value: float) -> None:
        self.scores.setdefault(method, {})[image] = value

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
        return sorted(rows, key=lambda r: (math.isnan(r["mean"]), -r["mean"] if not math.isnan(r["mean"]) else 0))

    def table(self) -> str:
        """The ranking as a plain-text table."""
        rows = self.summary()
        width = max([len("method")] + [len(r["method"]) for r in rows])
        lines = [f"{'rank':>4}  {'method':<{width}}  {'images':>6}  {'mean':>9}  {'std':>8}  {'wins':>5}"]
        for rank, r in enumerate(rows, 1):
            lines.append(
                f"{rank:>4}  {r['method']:<{width}}  {r['images']:>6}  "
                f"{r['mean']:>9.4f}  {r['std']:>8.4f}  {r['wins']:>5}"
            )
        lines.append(
            f"RQI f(SR, GT) with {self.model}: higher is better (> 0: judged better than GT); "
            f"wins over the {len(self.common_images())} images every method has"
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
            },
            indent=2,
        )

    def to_csv(self) -> str:
        """Rows (method, image, score, status): one per image, then one "MEAN" row per method whose status is
        "complete" or "incomplete"."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["method", "image", "score", "status"])
        for m in self.methods:
            for image, value in self.scores.get(m, {}).items():
                writer.writerow([m, image, f"{value:.6f}", "ok"])
        for m, image, message in self.errors:
            writer.writerow([m, image, "", f"error: {message}"])
        for r in self.summary():
            writer.writerow([r["method"], "MEAN", f"{r['mean']:.6f}", "complete" if self.complete else "incomplete"])
        return buffer.getvalue()

    def write(self, path: Path) -> None:
        """Write CSV or JSON (by suffix) atomically: a temporary file in the same folder, then a rename."""
        text = self.to_json() if path.suffix.lower() == ".json" else self.to_csv()
        with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
