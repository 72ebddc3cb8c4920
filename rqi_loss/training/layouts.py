"""The paper's IQA datasets read in the folder layouts they are distributed in (``data.format`` with
``data.root`` the dataset's folder). Scenes are the reference images; every reader names the file and line of
a cell it cannot parse.

- ``kadid10k``: KADID-10k as distributed by its authors (database.mmsp-kn.de, "KADID-10k IQA database"):
  ``dmos.csv`` with the header ``dist_img,ref_img,dmos,var`` (``dmos`` is the mean opinion score on 1-5,
  higher is better) and every image, distorted and reference, in ``images/``.
- ``pipal``: the PIPAL training set of the NTIRE 2021 perceptual IQA challenge: ``Train_Ref/<ref>.bmp``,
  ``Train_Dis/<ref>_<type>_<level>.bmp`` and one label file per reference, ``Train_Label/<ref>.txt``, whose
  lines are ``<distorted image>,<Elo score>`` (higher is better).
- ``tid2013``: TID2013 (ponomarenko.info/tid2013.htm): ``mos_with_names.txt`` with lines ``<MOS> <image>``
  (MOS 0-9, higher is better), ``reference_images/I<nn>.BMP``, ``distorted_images/i<nn>_<type>_<level>.bmp``.
  The distribution mixes the case of some names (``i25.bmp``); files are matched without regard to case.
- ``pieapp``: PieAPP (CVPR 2018, "PieAPP dataset" README): ``<split>_reference_list.txt``,
  ``reference_images/<split>/<ref>``, ``distorted_images/<split>/<ref stem>/<image>`` and per reference
  ``labels/<split>/<ref stem>_pairwise_labels.csv``: reference, image A, image B, the raw probability that
  people prefer A, and (train split) the processed probability. Image A may be the reference itself. There is
  no MOS: the pairs are the labels, f(A, B) <- 2p - 1 in [-1, 1].
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch

from .tables import ImageRow, TrainingDataError, number_cell, with_references

LAYOUTS = ("kadid10k", "pipal", "tid2013", "pieapp")
PAIRWISE_LAYOUTS = ("pieapp",)


@dataclass(frozen=True)
class LabelledPairs:
    """Pairs labelled directly (no MOS): ``rows`` are the images (``mos`` NaN), ``pairs`` (P, 2) int64 indices
    into ``rows`` and ``labels`` (P,) float32 in [-1, 1], f(rows[i], rows[j]) as the target."""

    rows: list[ImageRow]
    pairs: torch.Tensor
    labels: torch.Tensor


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise TrainingDataError(f"{what} {str(path)!r} does not exist; is data.root the dataset's own folder?")
    return path


def read_kadid10k(root: str | Path, *, reference_mos: float | None = None) -> list[ImageRow]:
    """KADID-10k's ``dmos.csv`` and ``images/`` (see the module docstring)."""
    root = Path(root)
    table, images = _require(root / "dmos.csv", "KADID-10k table"), _require(root / "images", "KADID-10k folder")
    rows = []
    with table.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if not {"dist_img", "ref_img", "dmos"} <= set(reader.fieldnames or []):
            raise TrainingDataError(
                f"table {str(table)!r} needs the header dist_img,ref_img,dmos,var; it has {reader.fieldnames}"
            )
        for row in reader:
            line, reference = reader.line_num, row["ref_img"]
            if not row["dist_img"] or not reference:
                raise TrainingDataError(f"table {str(table)!r}, line {line}: an image name is empty")
            mos = number_cell(row["dmos"], table, line, "dmos")
            where = f"{table}, line {line}"
            rows.append(ImageRow(reference, images / row["dist_img"], mos, reference, images / reference, where))
    return with_references(rows, reference_mos, str(table))


def read_pipal(root: str | Path, *, reference_mos: float | None = None) -> list[ImageRow]:
    """PIPAL's ``Train_Label/*.txt``, ``Train_Ref/`` and ``Train_Dis/`` (see the module docstring)."""
    root = Path(root)
    labels = sorted(_require(root / "Train_Label", "PIPAL label folder").glob("*.txt"))
    if not labels:
        raise TrainingDataError(f"PIPAL label folder {str(root / 'Train_Label')!r} holds no .txt label file")
    rows = []
    for label_file in labels:
        for line, text in enumerate(label_file.read_text().splitlines(), 1):
            if not text.strip():
                continue
            name, _, score = text.strip().partition(",")
            if not score:
                raise TrainingDataError(
                    f"label file {str(label_file)!r}, line {line}: expected '<image>,<Elo score>'; got {text!r}"
                )
            scene = name.split("_")[0]
            mos, where = number_cell(score, label_file, line, "Elo score"), f"{label_file}, line {line}"
            reference = root / "Train_Ref" / f"{scene}.bmp"
            rows.append(ImageRow(scene, root / "Train_Dis" / name, mos, scene, reference, where))
    return with_references(rows, reference_mos, str(root / "Train_Label"))


class _CaseInsensitiveFolder:
    """File names of one folder looked up without regard to case (TID2013 mixes ``i25.bmp`` and ``I25.BMP``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = _require(folder, "TID2013 folder")
        self.names = {path.name.lower(): path for path in folder.iterdir()}

    def __call__(self, name: str, where: str) -> Path:
        try:
            return self.names[name.lower()]
        except KeyError:
            raise TrainingDataError(f"{where}: no file {name!r} in {str(self.folder)!r} (in any case)") from None


def read_tid2013(root: str | Path, *, reference_mos: float | None = None) -> list[ImageRow]:
    """TID2013's ``mos_with_names.txt``, ``reference_images/`` and ``distorted_images/`` (see the module
    docstring)."""
    root = Path(root)
    table = _require(root / "mos_with_names.txt", "TID2013 table")
    distorted = _CaseInsensitiveFolder(root / "distorted_images")
    references = _CaseInsensitiveFolder(root / "reference_images")
    rows = []
    for line, text in enumerate(table.read_text().splitlines(), 1):
        if not text.strip():
            continue
        fields = text.split()
        where = f"{table}, line {line}"
        if len(fields) != 2 or len(fields[1]) < 3 or not fields[1][1:3].isdigit():
            raise TrainingDataError(f"{where}: expected '<MOS> <image>' such as '5.51 i01_01_1.bmp'; got {text!r}")
        mos, name = number_cell(fields[0], table, line, "MOS"), fields[1]
        scene = f"I{name[1:3]}"
        image, reference = distorted(name, where), references(f"{scene}.bmp", where)
        rows.append(ImageRow(scene, image, mos, scene, reference, where))
    return with_references(rows, reference_mos, str(table))


def read_pieapp(root: str | Path, *, split: str = "train") -> LabelledPairs:
    """PieAPP's pairwise labels of one ``split`` (train, val or test; see the module docstring)."""
    root = Path(root)
    listing = _require(root / f"{split}_reference_list.txt", "PieAPP reference list")
    index: dict[Path, int] = {}
    rows: list[ImageRow] = []
    pairs, labels = [], []

    def image_index(path: Path, scene: str, reference: Path, where: str) -> int:
        if path not in index:
            index[path] = len(rows)
            rows.append(ImageRow(scene, path, float("nan"), scene, reference, where))
        return index[path]

    for reference_name in (name.strip() for name in listing.read_text().splitlines() if name.strip()):
        stem = Path(reference_name).stem
        reference = root / "reference_images" / split / reference_name
        label_file = _require(root / "labels" / split / f"{stem}_pairwise_labels.csv", "PieAPP label file")
        with label_file.open(newline="") as handle:
            reader = csv.reader(handle)
            next(reader, None)  # the header
            for row in reader:
                line, where = reader.line_num, f"{label_file}, line {reader.line_num}"
                if not any(cell.strip() for cell in row):
                    continue  # a blank line (a trailing newline too many), as the other readers skip them
                if len(row) < 4:
                    raise TrainingDataError(f"{where}: expected reference, image A, image B, probability; got {row!r}")
                names = [cell.strip() for cell in row[1:3]]
                paths = [
                    reference if n == reference_name else root / "distorted_images" / split / stem / n for n in names
                ]
                probability = row[4] if len(row) > 4 and row[4].strip() else row[3]
                p = number_cell(probability.strip(), label_file, line, "probability of preference for A")
                if not 0.0 <= p <= 1.0:
                    raise TrainingDataError(f"{where}: a probability must lie in [0, 1]; got {p}")
                pairs.append([image_index(path, stem, reference, where) for path in paths])
                labels.append(2.0 * p - 1.0)
    if not pairs:
        raise TrainingDataError(f"PieAPP {split} split under {str(root)!r} has no labelled pair")
    return LabelledPairs(rows, torch.tensor(pairs, dtype=torch.int64), torch.tensor(labels, dtype=torch.float32))


def read_layout(layout: str, root: str | Path, *, reference_mos: float | None = None) -> list[ImageRow]:
    """Rows of a MOS-labelled dataset layout (kadid10k, pipal, tid2013)."""
    readers = {"kadid10k": read_kadid10k, "pipal": read_pipal, "tid2013": read_tid2013}
    if layout not in readers:
        raise TrainingDataError(f"data.format {layout!r} is not a MOS layout; choose one of {sorted(readers)}")
    return readers[layout](root, reference_mos=reference_mos)
