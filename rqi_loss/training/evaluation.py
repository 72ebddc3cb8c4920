"""Validation of an RQI network on held-out scenes: pair and per-image correlations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from .dataset import ImageCache, PairDataset
from .metrics import plcc, sign_accuracy, srcc
from .pairs import reference_pairs
from .tables import ImageRow


@torch.no_grad()
def predict_pairs(
    network: torch.nn.Module,
    rows: Sequence[ImageRow],
    pairs: torch.Tensor,
    *,
    cache: ImageCache,
    device: torch.device,
    batch_size: int = 64,
    bf16: bool = False,
) -> np.ndarray:
    """(P,) f(rows[i], rows[j]) on centre crops, network in eval mode (its mode is restored afterwards)."""
    was_training = network.training
    network.eval()
    dataset = PairDataset([r.image for r in rows], pairs, torch.zeros(len(pairs)), network.input_size, train=False, cache=cache)
    scores = []
    for a, b, _ in DataLoader(dataset, batch_size=batch_size):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            scores.append(network(a.to(device), b.to(device)).float().cpu())
    network.train(was_training)
    return torch.cat(scores).numpy() if scores else np.zeros(0)


def pair_metrics(pred: np.ndarray, target: np.ndarray, prefix: str) -> dict[str, float]:
    return {
        f"{prefix}srcc": srcc(pred, target),
        f"{prefix}plcc": plcc(pred, target),
        f"{prefix}sign_accuracy": sign_accuracy(pred, target),
    }


def validation_metrics(
    network: torch.nn.Module,
    rows: Sequence[ImageRow],
    dense: torch.Tensor,
    dense_labels: torch.Tensor,
    *,
    cache: ImageCache,
    device: torch.device,
    bf16: bool = False,
) -> tuple[dict[str, float], np.ndarray]:
    """Pair metrics on ``dense`` pairs (all, and those whose second image is itself distorted) and the
    per-image SRCC of f(I, reference) against MOS for every rated non-reference image with a reference.
    Returns (metrics, the (P,) predictions on ``dense``)."""
    pred = predict_pairs(network, rows, dense, cache=cache, device=device, bf16=bf16)
    target = dense_labels.numpy()
    metrics = pair_metrics(pred, target, "pair_")
    second = [rows[j] for j in dense[:, 1].tolist()]
    distorted_ref = np.array([r.reference is not None and r.image != r.reference for r in second])
    if distorted_ref.any():
        metrics.update(pair_metrics(pred[distorted_ref], target[distorted_ref], "distorted_ref_pair_"))
    if any(r.reference is not None and r.image != r.reference for r in rows):
        ref_pairs, extended = reference_pairs(rows)
        image_pred = predict_pairs(network, extended, ref_pairs, cache=cache, device=device, bf16=bf16)
        mos = np.array([extended[i].mos for i in ref_pairs[:, 0].tolist()])
        metrics["image_srcc"] = srcc(image_pred, mos)
        metrics["image_plcc"] = plcc(image_pred, mos)
    return metrics, pred
