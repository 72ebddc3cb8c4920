"""Validation of an RQI network on held-out scenes: pair and per-image correlations."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..networks.base import map_features
from .correlation import plcc, sign_accuracy, srcc
from .dataset import ImageCache, centre_crop, check_same_size
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
    """(P,) f(rows[i], rows[j]) on centre crops, network in eval mode (its mode is restored afterwards).

    Pairs are taken scene by scene in chunks of at most ``2 * batch_size`` distinct images; each image of a
    chunk goes through ``network.extract`` once and every pair of the chunk is scored by ``network.compare``
    on those features (dense pairs reuse every image many times). Returns the scores in the order of ``pairs``.
    """
    was_training = network.training
    network.eval()
    scores = torch.zeros(len(pairs))
    index_pairs = pairs.tolist()
    order = sorted(range(len(index_pairs)), key=lambda k: (rows[index_pairs[k][0]].scene, index_pairs[k][0]))
    try:
        for chunk in _chunks_by_image_count(order, index_pairs, rows, 2 * batch_size):
            path_pairs = [(rows[i].image, rows[j].image) for i, j in (index_pairs[k] for k in chunk)]
            paths = dict.fromkeys(path for pair in path_pairs for path in pair)
            images = {path: cache(path) for path in paths}  # each image read once, even when the cache keeps none
            for path_a, path_b in path_pairs:
                check_same_size(images[path_a], images[path_b], path_a, path_b)
            slot = {path: n for n, path in enumerate(images)}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                features = _extract(network, images, device, batch_size)
                for n in range(0, len(chunk), batch_size):
                    batch = path_pairs[n : n + batch_size]
                    first, second = (
                        torch.tensor([slot[pair[side]] for pair in batch], device=device) for side in (0, 1)
                    )
                    picked_a, picked_b = (map_features(lambda t, i=i: t[i], features) for i in (first, second))
                    scores[chunk[n : n + batch_size]] = network.compare(picked_a, picked_b).float().cpu()
    finally:
        network.train(was_training)
    return scores.numpy()


def _extract(network: torch.nn.Module, images: dict, device: torch.device, batch_size: int):
    """Features of the centre crops of ``images`` (path -> uint8 (3, H, W)), in their order, extracted
    ``batch_size`` images at a time."""
    batches = []
    items = list(images.items())
    for n in range(0, len(items), batch_size):
        crops = [centre_crop(image, network.input_size, name=str(path)) for path, image in items[n : n + batch_size]]
        batches.append(network.extract(torch.stack(crops).to(device)))
    return map_features(lambda *tensors: torch.cat(tensors), *batches)


def _chunks_by_image_count(order: list[int], pairs: list[list[int]], rows: Sequence[ImageRow], limit: int):
    """Consecutive runs of ``order`` whose pairs name at most ``limit`` distinct images (at least one pair)."""
    chunk: list[int] = []
    seen: set = set()
    for k in order:
        images = {rows[i].image for i in pairs[k]}
        if chunk and len(seen | images) > limit:
            yield chunk
            chunk, seen = [], set()
        chunk.append(k)
        seen |= images
    if chunk:
        yield chunk


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
    predict: Callable[..., np.ndarray] = predict_pairs,
) -> tuple[dict[str, float], np.ndarray]:
    """Pair metrics on ``dense`` pairs (all, and those whose second image is itself distorted) and the
    per-image SRCC of f(I, reference) against MOS for every rated non-reference image with a reference.
    ``predict``: :func:`predict_pairs` or a stand-in with its signature (e.g. sharded over ranks).
    Returns (metrics, the (P,) predictions on ``dense``)."""
    pred = predict(network, rows, dense, cache=cache, device=device, bf16=bf16)
    target = dense_labels.numpy()
    metrics = pair_metrics(pred, target, "pair_")
    second = [rows[j] for j in dense[:, 1].tolist()]
    distorted_ref = np.array([r.reference is not None and r.image != r.reference for r in second])
    if distorted_ref.any():
        metrics.update(pair_metrics(pred[distorted_ref], target[distorted_ref], "distorted_ref_pair_"))
    if not all(np.isfinite(r.mos) for r in rows):  # pairwise data (PieAPP): no MOS, no per-image SRCC
        metrics["image_srcc"] = metrics["image_plcc"] = float("nan")
    elif any(r.reference is not None and r.image != r.reference for r in rows):
        ref_pairs, extended = reference_pairs(rows)
        image_pred = predict(network, extended, ref_pairs, cache=cache, device=device, bf16=bf16)
        mos = np.array([extended[i].mos for i in ref_pairs[:, 0].tolist()])
        metrics["image_srcc"] = srcc(image_pred, mos)
        metrics["image_plcc"] = plcc(image_pred, mos)
    return metrics, pred
