"""Whole-image RQI scores: the multi-scale protocol (:class:`RQIMetric`, :func:`score`) and ``rqi-score``."""

from .protocol import PROTOCOLS, ScoreProtocol
from .rqi_metric import RQIMetric, score

__all__ = ["PROTOCOLS", "RQIMetric", "ScoreProtocol", "score"]
