"""Training curves as a PNG (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

_METRICS = ("pair_srcc", "pair_sign_accuracy", "distorted_ref_pair_sign_accuracy", "image_srcc")


def plot_history(
    histories: Sequence[Sequence[dict[str, float]]],
    path: str | os.PathLike,
    *,
    title: str = "",
    labels: Sequence[str] | None = None,
    ensemble: Mapping[str, float] | None = None,
) -> Path:
    """Loss curves (left) and held-out correlations (right) per epoch, one line style per trained network
    (ensemble members, named by ``labels``: solid, dashed, dotted, ...); ``ensemble``'s metrics as horizontal
    lines. Written atomically."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    styles = ("-", "--", ":", "-.")
    for n, history in enumerate(histories):
        style = styles[n % len(styles)]
        suffix = f" ({labels[n] if labels else f'member {n + 1}'})" if len(histories) > 1 else ""
        epochs = [h["epoch"] for h in history]
        for colour, key in enumerate(("train_loss", "val_loss")):
            points = [(h["epoch"], h[key]) for h in history if key in h]  # the baseline (epoch 0) was not trained
            left.plot(*zip(*points), style, color=f"C{colour}", marker="o", markersize=3, label=key + suffix)
        for colour, key in enumerate(_METRICS):
            if key in history[0]:
                right.plot(
                    epochs,
                    [h[key] for h in history],
                    style,
                    color=f"C{colour}",
                    marker="o",
                    markersize=3,
                    label=key if n == 0 else None,
                )
    for colour, key in enumerate(_METRICS):
        if ensemble is not None and key in ensemble:
            right.axhline(ensemble[key], color=f"C{colour}", linewidth=0.8, alpha=0.7)
    left.set(xlabel="epoch", ylabel="Huber loss", yscale="log", title="loss")
    left.legend(fontsize="small")
    extra = " (flat lines: the ensemble)" if ensemble is not None else ""
    right.set(xlabel="epoch", ylabel="held-out", title=f"validation{extra}", ylim=(0, 1))
    right.legend(loc="lower right", fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    staging = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(staging, dpi=100)
    plt.close(figure)
    os.replace(staging, path)
    return path
