"""What the main job (finetune_realesrgan.py) writes and prints: the per-image scores, the summary over seeds with
the targets checked, the side-by-side picture at 1:1 with zoomed crops, and the loss curves one term per panel.

The referees no judge here was trained on: PSNR, and piq's HaarPSI, MS-SSIM (kernel 7), VSI and GMSD (lower is
better). ``border`` is the mean signed difference SR - GT over the 4 px band along the image's edge (a light
frame makes it positive).
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

SUMMARY_COLUMNS = ["image", "seed", "arm", "rqi", "psnr", "haarpsi", "ms_ssim", "vsi", "gmsd", "border"]
METRICS = ("rqi", "psnr", "haarpsi", "ms_ssim", "vsi", "gmsd", "border")
LOWER_IS_BETTER = {"gmsd"}
BORDER_BAND = 4
# The targets, RQI arm against the control arm of the same seed (both means over the held-out images).
TARGETS = {"haarpsi": 0.002, "vsi": 0.002, "ms_ssim": -0.001, "psnr": -0.1}
LOSS_LINE = re.compile(r"iter:\s*([\d,]+).*?\]\s*(l_.*)$")


def referee_scores(sr: torch.Tensor, gt: torch.Tensor) -> dict[str, float]:
    """(1, 3, H, W) in [0, 1]: PSNR (dB), HaarPSI, MS-SSIM, VSI, GMSD and the border band's mean difference."""
    import piq

    sr, gt = sr.clamp(0, 1).double(), gt.double()
    mse = torch.mean((sr - gt) ** 2).item()
    band = torch.ones(gt.shape[-2:], dtype=torch.bool)
    band[BORDER_BAND:-BORDER_BAND, BORDER_BAND:-BORDER_BAND] = False
    return {
        "psnr": 10 * math.log10(1 / mse) if mse > 0 else float("inf"),
        "haarpsi": piq.haarpsi(sr, gt, data_range=1.0).item(),
        "ms_ssim": piq.multi_scale_ssim(sr, gt, data_range=1.0, kernel_size=7).item(),
        "vsi": piq.vsi(sr, gt, data_range=1.0).item(),
        "gmsd": piq.gmsd(sr, gt, data_range=1.0).item(),
        "border": (sr - gt)[..., band].mean().item(),
    }


def write_rows(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def read_rows(path: Path) -> list[dict]:
    """summary.csv back as ``write_rows`` was given it: ``seed`` an int, every metric a float."""
    with open(path, newline="") as handle:
        return [
            {**row, "seed": int(row["seed"]), **{m: float(row[m]) for m in METRICS}} for row in csv.DictReader(handle)
        ]


def seed_means(rows: list[dict]) -> dict[tuple[int, str], dict[str, float]]:
    """{(seed, arm): mean of each metric over the held-out images}; "before" has seed -1 (one model)."""
    groups: dict[tuple[int, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["seed"], row["arm"]), []).append(row)
    return {key: {m: float(np.mean([r[m] for r in group])) for m in METRICS} for key, group in groups.items()}


def verdicts(rows: list[dict]) -> dict[int, dict[str, object]]:
    """Per seed: the RQI arm minus the control arm for each metric, each target met or not, and whether any
    held-out image is judged above its GT (f > 0) in the RQI arm."""
    means = seed_means(rows)
    result = {}
    for seed in sorted({s for s, arm in means if arm == "rqi" and (s, "control") in means}):
        delta = {m: means[(seed, "rqi")][m] - means[(seed, "control")][m] for m in METRICS}
        met = {m: delta[m] >= bound for m, bound in TARGETS.items()}
        above = [r["image"] for r in rows if r["seed"] == seed and r["arm"] == "rqi" and r["rqi"] > 0]
        result[seed] = {"delta": delta, "met": met, "above_gt": above}
    return result


def summary_markdown(rows: list[dict], title: str) -> str:
    """Each arm's mean over seeds (and range of the per-seed means), the RQI - control differences and targets
    per seed, and every image's scores."""
    means = seed_means(rows)
    arms = list(dict.fromkeys(arm for _, arm in means))
    header = "| arm | seeds | " + " | ".join(f"{m}{' (lower better)' if m in LOWER_IS_BETTER else ''}" for m in METRICS)
    lines = [f"# {title}", "", header + " |", "|" + " --- |" * (len(METRICS) + 2)]
    for arm in arms:
        per_seed = [v for (seed, a), v in means.items() if a == arm]
        cells = [mean_cell([v[metric] for v in per_seed]) for metric in METRICS]
        lines.append(f"| {arm} | {len(per_seed)} | " + " | ".join(cells) + " |")
    targets = f"targets: {_targets_text()}; no image judged above GT"
    lines += ["", f"RQI arm minus control arm, per seed ({targets}):", ""]
    lines += ["| seed | " + " | ".join(METRICS) + " | targets met | images judged above GT |"]
    lines += ["|" + " --- |" * (len(METRICS) + 3)]
    for seed, verdict in verdicts(rows).items():
        deltas = " | ".join(f"{verdict['delta'][m]:+.4f}" for m in METRICS)
        met = ", ".join(f"{m} {'yes' if ok else 'NO'}" for m, ok in verdict["met"].items())
        lines.append(f"| {seed} | {deltas} | {met} | {', '.join(verdict['above_gt']) or 'none'} |")
    per_image = image_differences(rows)
    if per_image:
        lines += ["", "RQI arm minus control arm, per image (the range over the seeds):", ""]
        lines += ["| image | " + " | ".join(METRICS) + " |", "|" + " --- |" * (len(METRICS) + 1)]
        for image, differences in per_image.items():
            cells = [range_cell(differences[m], 4) for m in METRICS]
            lines.append(f"| {image} | " + " | ".join(cells) + " |")
    lines += ["", "| image | seed | arm | " + " | ".join(METRICS) + " |", "|" + " --- |" * (len(METRICS) + 3)]
    lines += [
        f"| {r['image']} | {r['seed']} | {r['arm']} | " + " | ".join(f"{r[m]:.4f}" for m in METRICS) + " |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def image_differences(rows: list[dict]) -> dict[str, dict[str, list[float]]]:
    """{image: {metric: the RQI arm minus the control arm, one value per seed that has both arms}}: where the
    mean over the images hides an image the referees say got worse."""
    scores = {(r["image"], r["seed"], r["arm"]): r for r in rows}
    result: dict[str, dict[str, list[float]]] = {}
    for (image, seed, arm), rqi_row in scores.items():
        if arm == "rqi" and (image, seed, "control") in scores:
            control_row = scores[(image, seed, "control")]
            differences = result.setdefault(image, {m: [] for m in METRICS})
            for m in METRICS:
                differences[m].append(rqi_row[m] - control_row[m])
    return result


def mean_cell(values: list[float], decimals: int = 4) -> str:
    """'0.8020 (0.8011 to 0.8027)': the mean of the seeds' values and their range, or the one value alone."""
    spread = f" ({min(values):.{decimals}f} to {max(values):.{decimals}f})" if len(values) > 1 else ""
    return f"{np.mean(values):.{decimals}f}{spread}"


def range_cell(values: list[float], decimals: int) -> str:
    """'-0.0012 to -0.0005', or one signed number where the range rounds to one value."""
    low, high = (f"{v:+.{decimals}f}" for v in (min(values), max(values)))
    return low if low == high else f"{low} to {high}"


def write_summary(
    rows: list[dict], panels: dict, results: Path, title: str, caption_metrics: tuple[str, ...] = ("haarpsi",)
) -> str:
    """summary.csv, summary.md and comparison.png (the first seed, each panel captioned with its RQI and
    ``caption_metrics``) in ``results``; returns the summary's markdown."""
    results.mkdir(parents=True, exist_ok=True)
    write_rows(rows, results / "summary.csv")
    summary = summary_markdown(rows, title)
    (results / "summary.md").write_text(summary)
    first = min(r["seed"] for r in rows if r["seed"] >= 0)
    names = {"haarpsi": "HaarPSI", "vsi": "VSI"}
    scores = {
        (r["image"], r["arm"]): " ".join([f"RQI {r['rqi']:+.3f}"] + [f"{names[m]} {r[m]:.4f}" for m in caption_metrics])
        for r in rows
        if r["seed"] in (-1, first)
    }
    comparison_picture(panels, scores, f"{title}; seed {first}", results / "comparison.png")
    return summary


def _targets_text() -> str:
    return ", ".join(f"{m} {b:+g} or more" for m, b in TARGETS.items())


# ------------------------------------------------------------------------------------------------- pictures
def _to_uint8(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> (H, W, 3) uint8."""
    array = image.reshape(-1, *image.shape[-2:]).clamp(0, 1).permute(1, 2, 0).numpy()
    return (array * 255 + 0.5).astype(np.uint8)


def differing_window(a: torch.Tensor, b: torch.Tensor, size: int) -> tuple[int, int]:
    """Top-left (row, col) of the ``size`` window where two (1, 3, H, W) images differ most (mean |a - b|)."""
    difference = (a - b).abs().mean(dim=1, keepdim=True)
    pooled = torch.nn.functional.avg_pool2d(difference, size, stride=max(1, size // 4))
    index = int(pooled.flatten().argmax())
    stride = max(1, size // 4)
    return (index // pooled.shape[-1]) * stride, (index % pooled.shape[-1]) * stride


def comparison_picture(panels: dict[str, dict[str, torch.Tensor]], scores: dict, title: str, path: Path) -> None:
    """One row per image: every column (LQ, before, control, RQI, GT) at 1:1, then the same columns zoomed 4x
    (nearest) on the 64 px window where the control and RQI outputs differ most, boxed in the 1:1 row. Drawn
    pixel for pixel with PIL, so nothing is resampled."""
    zoom, label_height, gap = 4, 28, 4
    blocks = []
    for name, columns in panels.items():
        size = next(iter(columns.values())).shape[-1]
        window = size // zoom
        row, col = differing_window(columns["control"], columns["rqi"], window)
        full, zoomed = [], []
        for label, image in columns.items():
            tile = Image.fromarray(_to_uint8(image))
            crop = tile.crop((col, row, col + window, row + window)).resize((size, size), Image.Resampling.NEAREST)
            ImageDraw.Draw(tile).rectangle((col, row, col + window - 1, row + window - 1), outline=(255, 255, 0))
            caption = f"{name}: {label}" + (f"  {scores[(name, label)]}" if (name, label) in scores else "")
            full.append(_captioned(tile, caption, label_height))
            zoomed.append(_captioned(crop, f"{label}, x{zoom} at ({row}, {col})", label_height))
        blocks += [_row(full, gap), _row(zoomed, gap)]
    width = max(b.width for b in blocks)
    height = label_height + sum(b.height + gap for b in blocks)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    ImageDraw.Draw(canvas).text((4, 8), title, fill=(0, 0, 0))
    y = label_height
    for block in blocks:
        canvas.paste(block, (0, y))
        y += block.height + gap
    canvas.save(path)


def _captioned(tile: Image.Image, caption: str, height: int) -> Image.Image:
    out = Image.new("RGB", (tile.width, tile.height + height), (255, 255, 255))
    out.paste(tile, (0, height))
    draw = ImageDraw.Draw(out)
    for k, line in enumerate(_wrap(caption, tile.width // 6)):
        draw.text((2, 2 + 12 * k), line, fill=(0, 0, 0))
    return out


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return (lines + [line])[:2]


def _row(tiles: list[Image.Image], gap: int) -> Image.Image:
    width = sum(t.width for t in tiles) + gap * (len(tiles) - 1)
    out = Image.new("RGB", (width, max(t.height for t in tiles)), "white")
    x = 0
    for tile in tiles:
        out.paste(tile, (x, 0))
        x += tile.width + gap
    return out


def loss_curves(logs: dict[str, Path], path: Path, title: str) -> None:
    """One panel per loss term, every run (``logs``: run name -> BasicSR log) a line in each panel it logs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for run, log in logs.items():
        for line in log.read_text().splitlines():
            match = LOSS_LINE.search(line)
            if match:
                step = int(match.group(1).replace(",", ""))
                for key, value in re.findall(r"(l_\w+): ([-+\d.e]+)", match.group(2)):
                    curves.setdefault(key, {}).setdefault(run, []).append((step, float(value)))
    keys = sorted(curves)
    columns = min(3, max(1, len(keys)))
    rows = max(1, math.ceil(len(keys) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.2 * rows), squeeze=False)
    for axis, key in zip(axes.flat, keys):
        for run, points in curves[key].items():
            colour = "C1" if run.startswith("rqi") else "C0" if run.startswith("control") else "C2"
            axis.plot(*zip(*points), color=colour, alpha=0.8, linewidth=1, label=run)
        axis.set(title=key, xlabel="iteration")
        axis.legend(fontsize=6)
    for axis in list(axes.flat)[len(keys) :]:
        axis.set_axis_off()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
