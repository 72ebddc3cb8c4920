"""KADID-synth: a labelled IQA set made offline from scikit-image's photographs.

Scenes are cut from the photographs; every scene gets the 25 KADID-10k distortion types at 5 levels
(``distortions.py``), each image labelled with the mean KADID-10k MOS of its (type, level). This transfers
human labels from KADID-10k to similar distortions; it is not a human study of these images. Writes PNGs
and a CSV table (scene, image, mos, source, distortion, level, reference) readable by ``read_csv_table``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from .distortions import DISTORTIONS, distort
from .kadid_table import MOS_RANGE, kadid_mean_mos
from .tables import TrainingDataError

logger = logging.getLogger(__name__)

# Colour photographs shipped by scikit-image, grouped by source so near-duplicates stay on one side of a split.
PHOTOGRAPHS: dict[str, tuple[str, ...]] = {
    "astronaut": ("astronaut.png",),
    "chelsea": ("chelsea.png",),
    "coffee": ("coffee.png",),
    "rocket": ("rocket.jpg",),
    "motorcycle": ("motorcycle_left.png", "motorcycle_right.png"),
    "color": ("color.png",),
    "hubble": ("hubble_deep_field.jpg",),
    "retina": ("retina.jpg",),
    "ihc": ("ihc.png",),
}
TABLE_FILE = "table.csv"
SPEC_FILE = "spec.json"  # the SynthSpec a root was generated with


@dataclass(frozen=True)
class SynthSpec:
    scene_size: int = 160
    scenes_per_source: int = 5
    min_scene_std: float = 0.08  # skip flat crops (sky, black borders)
    seed: int = 0
    sources: tuple[str, ...] | None = None  # a subset of PHOTOGRAPHS (default: all)


def _load_photo(file_name: str) -> np.ndarray:
    from skimage import data

    path = Path(data.__file__).with_name(file_name)
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255


def cut_scenes(photo: np.ndarray, spec: SynthSpec, rng: np.random.Generator) -> list[np.ndarray]:
    """Non-overlapping ``scene_size`` crops with enough texture; a random subset of ``scenes_per_source``."""
    size = spec.scene_size
    h, w = photo.shape[:2]
    crops = [
        photo[y : y + size, x : x + size] for y in range(0, h - size + 1, size) for x in range(0, w - size + 1, size)
    ]
    crops = [c for c in crops if c.std() >= spec.min_scene_std]
    order = rng.permutation(len(crops))
    return [crops[i] for i in order[: spec.scenes_per_source]]


def _save_png(img: np.ndarray, path: Path) -> None:
    Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path)


LOCK_FILE = ".generating.lock"


def make_kadid_synth(root: str | os.PathLike, spec: SynthSpec = SynthSpec()) -> Path:
    """Generate the set under ``root`` (idempotent: an existing complete table made with the same ``spec`` is
    reused; one made with another spec raises a ValueError); returns the table.

    Safe to call from several processes at once (every torchrun rank, two runs sharing ``data.root``): a file
    lock in ``root`` lets one process generate while the others wait, then they read the finished table."""
    from filelock import FileLock

    root = Path(root)
    table = root / TABLE_FILE
    if table.is_file():
        _check_spec(root, spec)
        return table
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(root / LOCK_FILE):
        if table.is_file():  # another process generated it while this one waited
            _check_spec(root, spec)
            return table
        _generate(root, table, spec)
    return table


def _generate(root: Path, table: Path, spec: SynthSpec) -> None:
    """Write every image, then the spec and the table (the table last: its presence means the set is whole)."""
    labels = kadid_mean_mos()
    rng = np.random.default_rng(spec.seed)
    rows = []
    sources = spec.sources or tuple(PHOTOGRAPHS)
    unknown = sorted(set(sources) - set(PHOTOGRAPHS))
    if unknown:
        raise TrainingDataError(f"unknown sources {unknown}; available: {', '.join(PHOTOGRAPHS)}")
    jobs = [(source, name) for source in sources for name in PHOTOGRAPHS[source]]
    for source, file_name in tqdm(jobs, desc="KADID-synth photographs"):
        per_file = max(1, spec.scenes_per_source // len(PHOTOGRAPHS[source]))
        scenes = cut_scenes(_load_photo(file_name), SynthSpec(**{**spec.__dict__, "scenes_per_source": per_file}), rng)
        for index, scene in enumerate(scenes):
            scene_id = f"{Path(file_name).stem}_{index}"
            folder = root / scene_id
            folder.mkdir(exist_ok=True)
            _save_png(scene, folder / "reference.png")
            reference = f"{scene_id}/reference.png"
            rows.append((scene_id, reference, MOS_RANGE[1], source, "reference", 0, reference))
            for name in DISTORTIONS:
                for level in range(1, 6):
                    image = f"{scene_id}/{name}_{level}.png"
                    _save_png(distort(scene, name, level, rng), root / image)
                    rows.append((scene_id, image, labels[(name, level)], source, name, level, reference))
    staging = table.with_suffix(".tmp")
    with staging.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["scene", "image", "mos", "source", "distortion", "level", "reference"])
        writer.writerows(rows)
    spec_staging = (root / SPEC_FILE).with_suffix(".tmp")
    spec_staging.write_text(json.dumps(_spec_record(spec), indent=2) + "\n")
    os.replace(spec_staging, root / SPEC_FILE)
    os.replace(staging, table)  # the table appears only once every image is written
    logger.info("KADID-synth: %d images in %d scenes under %s", len(rows), len({r[0] for r in rows}), root)


def _spec_record(spec: SynthSpec) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(spec).items()}


def _check_spec(root: Path, spec: SynthSpec) -> None:
    """Raise if the set under ``root`` was generated with another spec (tables from before spec.json existed
    are taken as they are)."""
    path = root / SPEC_FILE
    if not path.is_file():
        logger.warning("KADID-synth under %s has no %s; reusing it as it is", root, SPEC_FILE)
        return
    found, wanted = json.loads(path.read_text()), _spec_record(spec)
    if found != wanted:
        changed = {k: (found.get(k), v) for k, v in wanted.items() if found.get(k) != v}
        raise TrainingDataError(
            f"KADID-synth under {root} was generated with another spec (key: (found, wanted)) {changed}; "
            "give data.root a new folder for this spec, or delete the old one"
        )
