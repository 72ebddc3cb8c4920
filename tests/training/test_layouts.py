"""Dataset readers for the paper's IQA datasets, each tested on a tiny folder written in that dataset's exact
layout: rows, scenes (reference images), bad lines named by file and line, and a short rqi-train run."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from rqi_loss.training import load_config, parse_config, train
from rqi_loss.training.layouts import read_kadid10k, read_pieapp, read_pipal, read_tid2013
from rqi_loss.training.tables import TrainingDataError

from tiny_models import TINY_MANIQA

SCENES = 5  # reference images; the 8:2 split holds one of them out
LEVELS = {"01": 4.0, "02": 2.5, "03": 1.5}  # distortion level -> MOS of the tiny sets (blur grows with the level)


def _texture(seed: int, blur: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.random((40, 40, 3))
    for _ in range(blur):  # a box blur per level: the quality falls with the level
        image = (image + np.roll(image, 1, 0) + np.roll(image, 1, 1) + np.roll(image, (1, 1), (0, 1))) / 4
    return (image * 255).astype(np.uint8)


def _save(array: np.ndarray, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_kadid10k(root):
    with open(root / "dmos.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dist_img", "ref_img", "dmos", "var"])
        for s in range(1, SCENES + 1):
            _save(_texture(s, 0), root / "images" / f"I{s:02d}.png")
            for level, mos in LEVELS.items():
                name = f"I{s:02d}_01_{level}.png"
                _save(_texture(s, int(level) * 2), root / "images" / name)
                writer.writerow([name, f"I{s:02d}.png", mos, 0.5])
    return root


def write_pipal(root):
    for s in range(1, SCENES + 1):
        reference = f"A{s:04d}"
        _save(_texture(s, 0), root / "Train_Ref" / f"{reference}.bmp")
        lines = []
        for level, mos in LEVELS.items():
            name = f"{reference}_00_{level}.bmp"
            _save(_texture(s, int(level) * 2), root / "Train_Dis" / name)
            lines.append(f"{name},{1000 + 100 * mos:.4f}")
        (root / "Train_Label").mkdir(parents=True, exist_ok=True)
        (root / "Train_Label" / f"{reference}.txt").write_text("\n".join(lines) + "\n")
    return root


def write_tid2013(root):
    lines = []
    for s in range(1, SCENES + 1):
        reference = f"I{s:02d}.BMP" if s != SCENES else f"i{s:02d}.bmp"  # the distribution mixes the case
        _save(_texture(s, 0), root / "reference_images" / reference)
        for level, mos in LEVELS.items():
            name = f"i{s:02d}_08_{int(level)}.bmp"
            _save(_texture(s, int(level) * 2), root / "distorted_images" / name)
            lines.append(f"{mos * 2:.5f} {name}")
    (root / "mos_with_names.txt").write_text("\n".join(lines) + "\n")
    return root


def write_pieapp(root, split="train"):
    references = [f"ref_{s:02d}.png" for s in range(1, SCENES + 1)]
    (root / f"{split}_reference_list.txt").write_text("\n".join(references) + "\n")
    for s, reference in enumerate(references, 1):
        stem = reference[:-4]
        _save(_texture(s, 0), root / "reference_images" / split / reference)
        names = [f"distort_{level}.png" for level in LEVELS]
        for level, name in zip(LEVELS, names):
            _save(_texture(s, int(level) * 2), root / "distorted_images" / split / stem / name)
        label_file = root / "labels" / split / f"{stem}_pairwise_labels.csv"
        label_file.parent.mkdir(parents=True, exist_ok=True)
        with open(label_file, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                [
                    "ref. image",
                    " distorted image A",
                    " distorted image B",
                    " raw probability of preference for A",
                    " processed probability of preference for A",
                ]
            )
            writer.writerow([reference, reference, names[0], 0.8, 0.85])  # image A may be the reference
            writer.writerow([reference, names[0], names[1], 0.7, 0.75])
            writer.writerow([reference, names[2], names[1], 0.2, ""])  # no processed value: the raw one
    return root


def test_kadid10k_rows_scenes_and_references(tmp_path):
    rows = read_kadid10k(write_kadid10k(tmp_path))
    assert len(rows) == SCENES * len(LEVELS)
    assert {row.scene for row in rows} == {f"I{s:02d}.png" for s in range(1, SCENES + 1)}
    first = rows[0]
    assert first.image == tmp_path / "images" / "I01_01_01.png" and first.mos == 4.0
    assert first.reference == tmp_path / "images" / "I01.png" and first.group == first.scene
    with_refs = read_kadid10k(tmp_path, reference_mos=5.0)
    assert len(with_refs) == len(rows) + SCENES and with_refs[-1].mos == 5.0


def test_pipal_rows_use_elo_scores_and_train_ref(tmp_path):
    rows = read_pipal(write_pipal(tmp_path))
    assert len(rows) == SCENES * len(LEVELS) and {row.scene for row in rows} == {f"A{s:04d}" for s in range(1, 6)}
    assert rows[0].image == tmp_path / "Train_Dis" / "A0001_00_01.bmp" and rows[0].mos == pytest.approx(1400.0)
    assert rows[0].reference == tmp_path / "Train_Ref" / "A0001.bmp"


def test_tid2013_matches_names_in_any_case(tmp_path):
    rows = read_tid2013(write_tid2013(tmp_path))
    assert len(rows) == SCENES * len(LEVELS)
    last = rows[-1]
    assert last.scene == "I05" and last.reference.name == "i05.bmp" and last.mos == pytest.approx(3.0)
    assert all(row.image.exists() and row.reference.exists() for row in rows)


def test_pieapp_pairs_get_2p_minus_1(tmp_path):
    labelled = read_pieapp(write_pieapp(tmp_path))
    assert labelled.pairs.shape == (3 * SCENES, 2)
    torch.testing.assert_close(labelled.labels[:3], torch.tensor([0.7, 0.5, -0.6]))
    first_a, first_b = (labelled.rows[k] for k in labelled.pairs[0].tolist())
    assert first_a.image == tmp_path / "reference_images" / "train" / "ref_01.png"
    assert first_b.image == tmp_path / "distorted_images" / "train" / "ref_01" / "distort_01.png"
    assert all(math.isnan(row.mos) for row in labelled.rows) and {row.scene for row in labelled.rows} == {
        f"ref_{s:02d}" for s in range(1, SCENES + 1)
    }


BAD_LINES = [  # (layout, file rewritten, its new text, the error expected)
    ("kadid10k", "dmos.csv", "dist_img,ref_img,dmos,var\na.png,b.png,x,1\n", "line 2: column 'dmos' must be a number"),
    (
        "pipal",
        "Train_Label/A0002.txt",
        "A0002_00_01.bmp,1.0\nA0002_00_02.bmp\n",
        r"A0002.txt', line 2: expected '<image>,<Elo score>'",
    ),
    ("tid2013", "mos_with_names.txt", "5.1 i01_08_1.bmp\nfive i01_08_2.bmp\n", "line 2: column 'MOS' must be a number"),
    ("tid2013", "mos_with_names.txt", "5.1 i01_08_9.bmp\n", r"line 1: no file 'i01_08_9.bmp'"),
    (
        "pieapp",
        "labels/train/ref_03_pairwise_labels.csv",
        "h\nref_03.png,a,b,1.5\n",
        r"ref_03_pairwise_labels.csv, line 2: a probability must lie in \[0, 1\]",
    ),
]
WRITERS = {"kadid10k": write_kadid10k, "pipal": write_pipal, "tid2013": write_tid2013, "pieapp": write_pieapp}


def test_a_trailing_blank_line_in_a_pieapp_label_file_is_skipped(tmp_path):
    label_file = write_pieapp(tmp_path) / "labels" / "train" / "ref_01_pairwise_labels.csv"
    label_file.write_text(label_file.read_text() + "\n\n")
    assert read_pieapp(tmp_path).pairs.shape == (3 * SCENES, 2)


@pytest.mark.parametrize("layout, file, text, message", BAD_LINES)
def test_bad_lines_are_named_by_file_and_line(tmp_path, layout, file, text, message):
    readers = {"kadid10k": read_kadid10k, "pipal": read_pipal, "tid2013": read_tid2013, "pieapp": read_pieapp}
    (WRITERS[layout](tmp_path) / file).write_text(text)
    with pytest.raises(TrainingDataError, match=message):
        readers[layout](tmp_path)


def test_a_wrong_root_says_what_is_missing(tmp_path):
    with pytest.raises(TrainingDataError, match=r"PIPAL label folder .* does not exist; is data.root the dataset"):
        read_pipal(tmp_path)


@pytest.mark.parametrize("layout", ["kadid10k", "pipal", "tid2013", "pieapp"])
def test_rqi_train_runs_on_each_layout_with_a_scene_split(tmp_path, layout):
    root = tmp_path / layout
    root.mkdir()
    WRITERS[layout](root)
    config = parse_config(
        {
            "name": f"tiny-{layout}",
            "architecture": "rqi_cnn",
            "network": {"input_size": 32, "levels": 2, "width": 4, "hidden": 16, "dropout": 0.0},
            "data": {"format": layout, "root": str(root), "val_fraction": 0.2},
            "optim": {"epochs": 1, "pairs_per_epoch": 16, "batch_size": 8, "warmup_steps": 1, "threads": 1},
        }
    )
    summary = train(config, tmp_path / "out", progress=False)
    assert len(summary["val_groups"]) == 1 and len(summary["train_groups"]) == SCENES - 1  # 8:2 by scene
    assert not set(summary["val_groups"]) & set(summary["train_groups"])
    assert math.isfinite(summary["best"]["pair_srcc"]) and (tmp_path / "out" / "model.safetensors").is_file()
    assert math.isnan(summary["best"]["image_srcc"]) == (layout == "pieapp")  # PieAPP has no MOS
    card, config_json = ((tmp_path / "out" / name).read_text() for name in ("README.md", "config.json"))
    assert ".nan" not in card and "NaN" not in config_json  # what was not measured is left out, not published
    assert ("name: image SRCC" in card) == (layout != "pieapp") and "name: pair SRCC" in card


def test_pieapp_needs_the_rqi_recipe(tmp_path):
    values = {"name": "p", "architecture": "rqi_cnn", "recipe": "traditional", "data": {"format": "pieapp"}}
    with pytest.raises(ValueError, match="labels pairs, not images: it needs recipe: rqi"):
        parse_config(values)


@pytest.mark.parametrize("recipe", ["maniqa_rqi_pipal", "maniqa_traditional_pipal"])
def test_the_paper_recipe_configs_run_on_tiny_pipal(tmp_path, recipe):
    """examples/train/maniqa_*_pipal.yaml end to end: the network shrunk, no Hub backbone, tiny PIPAL data."""
    root = tmp_path / "PIPAL"
    root.mkdir()
    write_pipal(root)
    overrides = [
        f"network={yaml.safe_dump(TINY_MANIQA, default_flow_style=True).strip()}",
        "backbone_weights=null",
        f"data.root={root}",
        *("optim.epochs=1", "optim.pairs_per_epoch=8", "optim.batch_size=4", "optim.val_pairs=8"),
        *("optim.crop_size=32", "optim.warmup_steps=1", "optim.bf16=false", "optim.device=cpu"),
        *("optim.num_workers=0", "optim.threads=1"),
    ]
    config = load_config(Path(__file__).resolve().parents[2] / "examples" / "train" / f"{recipe}.yaml", overrides)
    summary = train(config, tmp_path / "out", progress=False)
    assert summary["config"]["recipe"] == config.recipe and math.isfinite(summary["best"]["val_loss"])
    assert len(summary["val_groups"]) == 1 and (tmp_path / "out" / "model.safetensors").is_file()
