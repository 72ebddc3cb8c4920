"""Matching SR images to GT images by file stem, for files or folders of images."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .._images import IMAGE_SUFFIXES


class PairingError(ValueError):
    """A path that is missing, an empty folder, or ambiguous names."""


def collect_images(path: Path, *, strip_suffix: str = "") -> dict[str, Path]:
    """{name: file} for an image file or the images directly inside a folder (sorted, not recursive).

    The name is the file stem with ``strip_suffix`` removed from its end (e.g. "_x4" for "0801_x4.png")."""
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise PairingError(f"folder {path} holds no images (looked for {', '.join(IMAGE_SUFFIXES)})")
    else:
        raise PairingError(f"{path} does not exist")
    images: dict[str, Path] = {}
    for file in files:
        name = file.stem[: -len(strip_suffix)] if strip_suffix and file.stem.endswith(strip_suffix) else file.stem
        if name in images:
            raise PairingError(f"{images[name].name} and {file.name} in {path} share the name {name!r}; keep one")
        images[name] = file
    return images


@dataclass
class MethodPairs:
    """The (name, sr file, gt file) pairs of one SR method, and its files with no counterpart."""

    method: str
    pairs: list[tuple[str, Path, Path]] = field(default_factory=list)
    unmatched_sr: list[Path] = field(default_factory=list)
    unmatched_gt: list[Path] = field(default_factory=list)


def match_method(method: str, sr_path: Path, gt_images: dict[str, Path], *, strip_suffix: str = "") -> MethodPairs:
    """Pairs of ``sr_path`` (file or folder) with ``gt_images``. A single SR file against a single GT file is
    paired whatever the names; otherwise names must match."""
    sr_images = collect_images(sr_path, strip_suffix=strip_suffix)
    result = MethodPairs(method)
    if sr_path.is_file() and len(gt_images) == 1:
        (gt_name, gt_file), (_, sr_file) = next(iter(gt_images.items())), next(iter(sr_images.items()))
        result.pairs.append((gt_name, sr_file, gt_file))
        return result
    for name, gt_file in gt_images.items():
        if name in sr_images:
            result.pairs.append((name, sr_images[name], gt_file))
        elif sr_path.is_dir():
            result.unmatched_gt.append(gt_file)
    result.unmatched_sr = [file for name, file in sr_images.items() if name not in gt_images]
    return result


def method_names(paths: list[Path]) -> list[str]:
    """Display names: the folder (or file stem) names, or the paths as given where names repeat."""
    names = [p.name if p.is_dir() else p.stem for p in paths]
    if len(set(names)) < len(names):
        names = [str(p) for p in paths]
    return names
