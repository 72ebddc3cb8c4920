"""Whole-image RQI scores: the multi-scale protocol (:class:`RQIMetric`, :func:`score`) and ``rqi-score``."""

from .maps import RQIMap, rqi_map
from .protocol import PROTOCOLS, ScoreProtocol
from .rqi_metric import RQIMetric, score

__all__ = ["PROTOCOLS", "RQIMap", "RQIMetric", "ScoreProtocol", "rqi_map", "score"]
