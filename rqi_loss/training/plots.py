"""Training curves as a PNG (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def plot_history(history: Sequence[dict[str, float]], path: str | os.PathLike, *, title: str = "") -> Path:
    """Loss curves (left) and held-out correlations (right) per epoch; written atomically."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    epochs = [h["epoch"] for h in history]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for key in ("train_loss", "val_loss"):
        points = [(h["epoch"], h[key]) for h in history if h[key] == h[key]]  # epoch 0 has no train loss
        left.plot(*zip(*points), marker="o", label=key)
    left.set(xlabel="epoch", ylabel="Huber loss", yscale="log", title="loss")
    left.legend()
    for key in ("pair_srcc", "pair_sign_accuracy", "distorted_ref_pair_sign_accuracy", "image_srcc"):
        if key in history[0]:
            right.plot(epochs, [h[key] for h in history], marker="o", label=key)
    right.set(xlabel="epoch", ylabel="held-out", title="validation", ylim=(0, 1))
    right.legend(loc="lower right")
    figure.suptitle(title)
    figure.tight_layout()
    staging = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(staging, dpi=100)
    plt.close(figure)
    os.replace(staging, path)
    return path
