"""Whole-image RQI scores: the multi-scale protocol (:class:`RQIMetric`, :func:`score`) and ``rqi-score``."""

from .rqi_metric import RQIMetric, score
from .protocol import PROTOCOLS, ScoreProtocol

__all__ = ["PROTOCOLS", "RQIMetric", "ScoreProtocol", "score"]
