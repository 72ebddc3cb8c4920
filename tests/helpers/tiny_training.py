"""A tiny labelled image table and the config of a tiny training run over it, for the training tests and
their worker scripts."""

from __future__ import annotations

import csv

import numpy as np
from PIL import Image


def tiny_config_values(table, name: str, **optim) -> dict:
    """Config values of a tiny rqi_cnn run over ``_tiny_dataset``'s table: 1 epoch of 32 pairs; ``optim``
    entries change the optimiser section."""
    return {
        "name": name,
        "architecture": "rqi_cnn",
        "network": {"input_size": 32, "levels": 2, "width": 4, "hidden": 16, "dropout": 0.0},
        "data": {"table": str(table), "group_column": "group", "reference_column": "reference", "val_fraction": 0.34},
        "optim": {"epochs": 1, "pairs_per_epoch": 32, "batch_size": 16, "lr": 0.01, "warmup_steps": 1, **optim},
    }


def tiny_dataset(root):
    """6 scenes (3 groups) of 48x48 textures: reference (MOS 5) plus blur and noise at 2 strengths each."""
    from scipy import ndimage

    rng = np.random.default_rng(0)
    rows = []
    for s in range(6):
        scene = ndimage.gaussian_filter(rng.random((48, 48, 3)), sigma=(1.0, 1.0, 0))
        scene = (scene - scene.min()) / (scene.max() - scene.min())
        variants = {
            "ref": (scene, 5.0),
            "blur1": (ndimage.gaussian_filter(scene, (1, 1, 0)), 3.5),
            "blur2": (ndimage.gaussian_filter(scene, (2.5, 2.5, 0)), 1.5),
            "noise1": (np.clip(scene + rng.normal(0, 0.05, scene.shape), 0, 1), 4.0),
            "noise2": (np.clip(scene + rng.normal(0, 0.2, scene.shape), 0, 1), 2.0),
        }
        for name, (image, mos) in variants.items():
            path = root / f"s{s}_{name}.png"
            Image.fromarray((image * 255).astype(np.uint8)).save(path)
            rows.append([f"s{s}", path.name, mos, f"g{s // 2}", f"s{s}_ref.png"])
    with open(root / "table.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["scene", "image", "mos", "group", "reference"])
        writer.writerows(rows)
    return root / "table.csv"
