"""``rqi-score --report report.html``: one HTML page to look at a comparison, with its images beside it.

The page references a folder written next to it (``report_files/``) by relative paths: no network access, no
CDN; the CSS and JavaScript are inline. It holds the methods' table (every ``--also`` metric with its direction
and each method's rank; click a column header to sort by it), how many images each method wins under each
metric, and per image the GT and every method side by side (thumbnails, loaded lazily), the per-image scores
under each panel, each method's RQI map as an overlay that a checkbox (or the key ``m``) shows and hides, and
the same zoomed crops of every panel where the methods differ most by RQI and where the worst method's map is
lowest. Blue in a map: the judge prefers the SR output there; red: it prefers the GT.
"""

from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..weights._atomic import atomic_write
from .maps import RQIMap
from .report import ScoreReport

__all__ = ["HtmlReport"]

THUMBNAIL = 320  # longest side of the panels (px)
ZOOM = 192  # side of a zoomed crop on the page (px)
MAP_SCALE = 0.3  # |f| at which a map's overlay is fully coloured


@dataclass
class _Panel:
    label: str
    thumbnail: str
    overlay: str | None
    caption: str
    crops: list[str] = field(default_factory=list)


@dataclass
class _Entry:
    name: str
    panels: list[_Panel]
    crop_titles: list[str]


def _uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [0, 1] -> (H, W, 3) uint8."""
    return (image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)


def _thumbnail_size(height: int, width: int) -> tuple[int, int]:
    scale = min(1.0, THUMBNAIL / max(height, width))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _overlay(found: RQIMap, size: tuple[int, int]) -> Image.Image:
    """RGBA overlay of one map's dense view: blue where f > 0, red where f < 0, opacity growing with |f|."""
    dense = found.dense()[0].cpu().numpy()
    strength = np.clip(np.abs(dense) / MAP_SCALE, 0, 1)
    rgba = np.zeros((*dense.shape, 4), dtype=np.uint8)
    rgba[..., 0] = np.where(dense < 0, 220, 30)
    rgba[..., 1] = 40
    rgba[..., 2] = np.where(dense < 0, 30, 220)
    rgba[..., 3] = (strength * 170).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA").resize(size, Image.Resampling.BILINEAR)


def _crop_windows(maps: dict[str, RQIMap]) -> list[tuple[str, tuple[int, int]]]:
    """(title, (row, col)) of the windows to zoom into: where the methods' maps differ most (one method: its
    lowest window) and the lowest window of the method whose lowest is lowest."""
    values = torch.stack([found.values[0] for found in maps.values()])  # (M, R, C)
    first = next(iter(maps.values()))
    where = lambda k: (first.rows[k // len(first.cols)], first.cols[k % len(first.cols)])  # noqa: E731
    spread = (values.amax(dim=0) - values.amin(dim=0)).flatten() if len(maps) > 1 else -values[0].flatten()
    worst = int(values.flatten(1).amin(dim=1).argmin())
    lowest = int(values[worst].flatten().argmin())
    title = "where the methods differ most" if len(maps) > 1 else "lowest RQI"
    windows = [(title, where(int(spread.argmax())))]
    if where(lowest) != windows[0][1]:  # the same window twice is shown once
        windows.append((f"lowest RQI of {list(maps)[worst]}", where(lowest)))
    return windows


class HtmlReport:
    """Collects one entry per image while ``rqi-score`` runs (its images are written to ``<path stem>_files/``
    at once, so nothing big stays in memory), then :meth:`write` writes the page."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.folder = self.path.with_name(f"{self.path.stem}_files")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.entries: list[_Entry] = []

    def _save(self, image: Image.Image, name: str) -> str:
        image.save(self.folder / name, quality=88) if name.endswith(".jpg") else image.save(self.folder / name)
        return f"{self.folder.name}/{name}"

    def add(self, name: str, gt: torch.Tensor, methods: dict[str, tuple[torch.Tensor, RQIMap, str]]) -> None:
        """One image: ``gt`` (3, H, W) in [0, 1]; ``methods``: method -> (sr (3, H, W), its map, its caption)."""
        index, size = len(self.entries), _thumbnail_size(*gt.shape[-2:])
        windows = _crop_windows({m: found for m, (_, found, _) in methods.items()})
        window = next(iter(methods.values()))[1].size
        sources = {"GT": (gt, None, "reference")} | methods
        panels = []
        for k, (label, (image, found, caption)) in enumerate(sources.items()):
            pixels = Image.fromarray(_uint8(image))
            thumbnail = self._save(pixels.resize(size, Image.Resampling.LANCZOS), f"{index}_{k}.jpg")
            overlay = self._save(_overlay(found, size), f"{index}_{k}_map.png") if found is not None else None
            crops = [
                self._save(pixels.crop((c, r, c + window, r + window)).resize((ZOOM, ZOOM)), f"{index}_{k}_z{z}.png")
                for z, (_, (r, c)) in enumerate(windows)
            ]
            panels.append(_Panel(label, thumbnail, overlay, caption, crops))
        titles = [f"{title}: {window} px at ({r}, {c})" for title, (r, c) in windows]
        self.entries.append(_Entry(name, panels, titles))

    def write(self, report: ScoreReport) -> Path:
        """Write the page (atomically) for ``report``'s table and the collected images; returns its path."""
        with atomic_write(self.path, "w", encoding="utf-8") as handle:
            handle.write(_page(report, self.entries))
        return self.path


def _cell(value: float, rank: int | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '<td data-value="">-</td>'
    shown = f"{value:.4f}" + (f" ({rank})" if rank is not None else "")
    return f'<td data-value="{value:.8g}">{shown}</td>'


def _methods_table(report: ScoreReport) -> str:
    rows = report.summary()
    arrows = {m: "↑" if report.higher_better[m] else "↓" for m in report.also}
    headers = ["rank", "method", "images", "RQI mean ↑", "RQI std", "RQI wins"] + [
        f"{m} {arrows[m]}" for m in report.also
    ]
    head = "".join(
        f'<th><button type="button" data-column="{k}">{html.escape(h)}</button></th>' for k, h in enumerate(headers)
    )
    body = []
    for rank, row in enumerate(rows, 1):
        cells = [
            f'<td data-value="{rank}">{rank}</td>',
            f'<td data-value="{html.escape(row["method"])}">{html.escape(row["method"])}</td>',
            f'<td data-value="{row["images"]}">{row["images"]}</td>',
            _cell(row["mean"], None),
            _cell(row["std"], None),
            f'<td data-value="{row["wins"]}">{row["wins"]}</td>',
        ] + [_cell(row[m], row[f"{m}_rank"]) for m in report.also]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table id="methods"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _wins_table(report: ScoreReport) -> str:
    """How many images each method wins under each metric (ties count for each tied method)."""
    images = sorted(report.common_images())
    metrics = {"RQI": (report.scores, True)} | {m: (report.also[m], report.higher_better[m]) for m in report.also}
    rows = []
    for metric, (table, higher) in metrics.items():
        wins = dict.fromkeys(report.methods, 0)
        for image in images:
            values = {m: table.get(m, {}).get(image) for m in report.methods}
            known = [v for v in values.values() if v is not None]
            best = (max if higher else min)(known) if known else None
            for m, v in values.items():
                wins[m] += v is not None and v == best
        cells = "".join(f"<td>{wins[m]}</td>" for m in report.methods)
        rows.append(f"<tr><th scope='row'>{html.escape(metric)}</th>{cells}</tr>")
    head = "".join(f"<th>{html.escape(m)}</th>" for m in report.methods)
    return f'<table id="wins"><thead><tr><th>metric</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _entry(entry: _Entry) -> str:
    figures = []
    for panel in entry.panels:
        overlay = (
            f'<img class="map" src="{panel.overlay}" alt="RQI map of {html.escape(panel.label)}" loading="lazy">'
            if panel.overlay
            else ""
        )
        figures.append(
            f'<figure><div class="stack"><img src="{panel.thumbnail}" alt="{html.escape(panel.label)}" '
            f'loading="lazy">{overlay}</div><figcaption><b>{html.escape(panel.label)}</b><br>'
            f"{html.escape(panel.caption)}</figcaption></figure>"
        )
    zooms = []
    for z, title in enumerate(entry.crop_titles):
        crops = "".join(
            f'<figure><img src="{panel.crops[z]}" alt="{html.escape(panel.label)}, {html.escape(title)}" '
            f'loading="lazy" width="{ZOOM}" height="{ZOOM}">'
            f"<figcaption>{html.escape(panel.label)}</figcaption></figure>"
            for panel in entry.panels
        )
        zooms.append(f'<h4>{html.escape(title)}</h4><div class="row">{crops}</div>')
    name = html.escape(entry.name)
    panels = f'<div class="row">{"".join(figures)}</div>'
    return f'<section class="image" id="image-{name}"><h3>{name}</h3>{panels}{"".join(zooms)}</section>'


_STYLE = """
body{font-family:system-ui,sans-serif;margin:16px auto;max-width:1240px;padding:0 12px;color:#222}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th button{font:inherit;font-weight:bold;background:none;border:0;cursor:pointer;padding:0}
th button:focus{outline:2px solid #36c}.row{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0}figcaption{font-size:12px;max-width:320px}.stack{position:relative;display:inline-block;line-height:0}
.map{position:absolute;left:0;top:0;width:100%;height:100%;display:none}.show-maps .map{display:block}
section.image{border-top:1px solid #ddd;margin-top:16px}
"""

_SCRIPT = """
const table = document.getElementById('methods');
table.querySelectorAll('th button').forEach(button => button.addEventListener('click', () => {
  const column = Number(button.dataset.column);
  const body = table.tBodies[0];
  const descending = button.dataset.order !== 'descending';
  table.querySelectorAll('th button').forEach(b => delete b.dataset.order);
  button.dataset.order = descending ? 'descending' : 'ascending';
  const key = row => row.cells[column].dataset.value;
  const rows = Array.from(body.rows).sort((a, b) => {
    const x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
    const order = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
    return descending ? -order : order;
  });
  rows.forEach(row => body.appendChild(row));
}));
const toggle = document.getElementById('show-maps');
const apply = () => document.body.classList.toggle('show-maps', toggle.checked);
toggle.addEventListener('change', apply);
document.addEventListener('keydown', event => {
  if (event.key === 'm' && !event.target.matches('input[type=text], input[type=search], textarea')) {
    toggle.checked = !toggle.checked; apply();
  }
});
"""


def _page(report: ScoreReport, entries: list[_Entry]) -> str:
    protocol = ", ".join(f"{k}={v}" for k, v in report.protocol.items())
    also = f"; also {', '.join(report.also)} (crop border {report.crop_border} px)" if report.also else ""
    status = "" if report.complete else "<p><b>Incomplete: some pairs were not scored.</b></p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rqi-score report: {html.escape(", ".join(report.methods))}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>
<body>
<h1>rqi-score report</h1>
<p>RQI f(SR, GT) with <code>{html.escape(report.model)}</code> (higher is better; &gt; 0: judged better than the GT),
protocol {html.escape(protocol)}, seed {report.seed}{html.escape(also)}.</p>{status}
<h2>Methods</h2><p>Click a column header (or focus it and press Enter) to sort by it; the numbers in brackets are
each method's rank in that metric's direction.</p>
{_methods_table(report)}
<h2>Images won</h2><p>Images, among those every method has, where each method scores best (ties count for each).</p>
{_wins_table(report)}
<h2>Images</h2>
<p><label><input type="checkbox" id="show-maps"> Show the RQI maps</label> (key <kbd>m</kbd>): blue where the
judge prefers the method's output, red where it prefers the GT; the stronger the colour, the larger |f|.</p>
{"".join(_entry(entry) for entry in entries)}
<script>{_SCRIPT}</script>
</body></html>
"""
