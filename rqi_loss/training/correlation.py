"""Correlation metrics for validation: SRCC, PLCC, sign accuracy (numpy, no scipy needed)."""

from __future__ import annotations

import numpy as np


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (as scipy.stats.rankdata 'average')."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(len(x), dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def plcc(pred: np.ndarray, target: np.ndarray) -> float:
    """Pearson linear correlation."""
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    if pred.std() == 0 or target.std() == 0:
        return 0.0
    return float(np.corrcoef(pred, target)[0, 1])


def srcc(pred: np.ndarray, target: np.ndarray) -> float:
    """Spearman rank correlation."""
    return plcc(_ranks(np.asarray(pred, np.float64)), _ranks(np.asarray(target, np.float64)))


def sign_accuracy(pred: np.ndarray, target: np.ndarray) -> float:
    """Share of pairs with a non-zero target whose predicted sign matches it."""
    pred, target = np.asarray(pred), np.asarray(target)
    decided = target != 0
    return float((np.sign(pred[decided]) == np.sign(target[decided])).mean()) if decided.any() else float("nan")
