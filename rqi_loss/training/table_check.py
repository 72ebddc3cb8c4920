"""Check a training table's images before the first step: every file exists and decodes, and the images that
are paired (a scene's images and its reference) share one size, so a bad file stops the run at once, with
the table line that names it, not hours into training."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from .dataset import ImageCache
from .tables import ImageRow, TrainingDataError

MAX_LISTED = 10  # problems listed in the error; the rest are counted


def check_table_images(rows: Sequence[ImageRow], cache: ImageCache, *, progress: bool = False) -> None:
    """Decode every image once through ``cache`` (which keeps them when it caches); TrainingDataError listing the
    rows whose file is missing or unreadable, or whose size differs from the rest of its scene."""
    problems: list[str] = []
    sizes: dict[Path, tuple[int, ...]] = {}
    for row in tqdm(rows, desc="checking images", unit="row", leave=False, disable=not progress):
        for path in (row.image, row.reference):
            if path is None or path in sizes:
                continue
            where = row.where or "table"
            if not path.is_file():
                problems.append(f"{where}: image {str(path)!r} does not exist")
                sizes[path] = ()
                continue
            try:
                sizes[path] = tuple(cache(path).shape)
            except (OSError, ValueError) as exc:
                problems.append(f"{where}: {exc}")
                sizes[path] = ()
    problems += _size_mismatches(rows, sizes)
    if problems:
        listed = "\n  ".join(problems[:MAX_LISTED])
        more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise TrainingDataError(
            f"the training table has {len(problems)} bad row(s); fix or remove them:\n  {listed}{more}"
        )


def _size_mismatches(rows: Sequence[ImageRow], sizes: dict[Path, tuple[int, ...]]) -> list[str]:
    """Rows whose image size differs from the first readable image of their scene (pairs are cut alike)."""
    first: dict[str, tuple[Path, tuple[int, ...]]] = {}
    problems = []
    for row in rows:
        for path in (row.image, row.reference):
            if path is None or not sizes.get(path):
                continue
            scene_path, scene_size = first.setdefault(row.scene, (path, sizes[path]))
            if sizes[path] != scene_size:
                problems.append(
                    f"{row.where or 'table'}: image {str(path)!r} is {sizes[path][1]}x{sizes[path][2]} but "
                    f"{str(scene_path)!r} of the same scene {row.scene!r} is {scene_size[1]}x{scene_size[2]}; "
                    "paired images must have one size"
                )
    return problems
