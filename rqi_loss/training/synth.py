"""Synthetic IQA sets made offline from scikit-image's photographs: KADID-synth and TID2013-synth.

Scenes are cut from the photographs; every scene gets a dataset's distortion types at 5 levels (KADID-10k's 25,
``distortions.py``; TID2013's 24, ``tid2013_distortions.py``), each image labelled with the dataset's mean MOS of
its (type, level). This transfers human labels to similar distortions; it is not a human study of these
images. Writes PNGs and a CSV table (scene, image, mos, source, distortion, level, reference) readable by
``read_csv_table``. KADID-10k rates its references' quality as the top of its scale (5), so KADID-synth's
references are rated rows; TID2013 does not rate its references, so TID2013-synth's are only the ``reference``
column (its pairs are distorted against distorted).
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

from .distortions import DISTORTIONS, Distortion, distort
from .kadid_table import MOS_RANGE, TID2013_MOS_RANGE, kadid_mean_mos, tid2013_mean_mos
from .tables import TrainingDataError
from .tid2013_distortions import TID2013_DISTORTIONS

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
class DistortionSet:
    """A dataset's distortions and labels: ``distortions`` by name (type id = position + 1), ``labels()`` ->
    {(name, level): mean MOS}, its ``mos_range`` and the MOS of an undistorted reference (None: not rated)."""

    title: str
    distortions: dict[str, Distortion]
    labels: object  # () -> dict[(str, int), float]
    mos_range: tuple[float, float]
    reference_mos: float | None


DISTORTION_SETS = {
    "kadid": DistortionSet("KADID-synth", DISTORTIONS, kadid_mean_mos, MOS_RANGE, MOS_RANGE[1]),
    "tid2013": DistortionSet("TID2013-synth", TID2013_DISTORTIONS, tid2013_mean_mos, TID2013_MOS_RANGE, None),
}


@dataclass(frozen=True)
class SynthSpec:
    scene_size: int = 160
    scenes_per_source: int = 5
    min_scene_std: float = 0.08  # skip flat crops (sky, black borders)
    seed: int = 0
    sources: tuple[str, ...] | None = None  # a subset of PHOTOGRAPHS (default: all)
    distortion_set: str = "kadid"  # a key of DISTORTION_SETS


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


def make_synthetic_set(root: str | os.PathLike, spec: SynthSpec = SynthSpec()) -> Path:
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
    if spec.distortion_set not in DISTORTION_SETS:
        raise TrainingDataError(
            f"unknown distortion set {spec.distortion_set!r}; available: {', '.join(DISTORTION_SETS)}"
        )
    chosen = DISTORTION_SETS[spec.distortion_set]
    labels = chosen.labels()
    rng = np.random.default_rng(spec.seed)
    rows = []
    sources = spec.sources or tuple(PHOTOGRAPHS)
    unknown = sorted(set(sources) - set(PHOTOGRAPHS))
    if unknown:
        raise TrainingDataError(f"unknown sources {unknown}; available: {', '.join(PHOTOGRAPHS)}")
    jobs = [(source, name) for source in sources for name in PHOTOGRAPHS[source]]
    for source, file_name in tqdm(jobs, desc=f"{chosen.title} photographs"):
        per_file = max(1, spec.scenes_per_source // len(PHOTOGRAPHS[source]))
        scenes = cut_scenes(_load_photo(file_name), SynthSpec(**{**spec.__dict__, "scenes_per_source": per_file}), rng)
        for index, scene in enumerate(scenes):
            scene_id = f"{Path(file_name).stem}_{index}"
            folder = root / scene_id
            folder.mkdir(exist_ok=True)
            _save_png(scene, folder / "reference.png")
            reference = f"{scene_id}/reference.png"
            if chosen.reference_mos is not None:
                rows.append((scene_id, reference, chosen.reference_mos, source, "reference", 0, reference))
            for name in chosen.distortions:
                for level in range(1, 6):
                    image = f"{scene_id}/{name}_{level}.png"
                    _save_png(distort(scene, name, level, rng, chosen.distortions), root / image)
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
    logger.info("%s: %d images in %d scenes under %s", chosen.title, len(rows), len({r[0] for r in rows}), root)


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
    found.setdefault("distortion_set", "kadid")  # sets generated before there were several
    if found != wanted:
        changed = {k: (found.get(k), v) for k, v in wanted.items() if found.get(k) != v}
        raise TrainingDataError(
            f"the synthetic set under {root} was generated with another spec (key: (found, wanted)) {changed}; "
            "give data.root a new folder for this spec, or delete the old one"
        )


def make_kadid_synth(root: str | os.PathLike, spec: SynthSpec = SynthSpec()) -> Path:
    """KADID-synth under ``root`` (:func:`make_synthetic_set` with the spec's distortion set, KADID's by default)."""
    return make_synthetic_set(root, spec)
