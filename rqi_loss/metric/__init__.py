"""Whole-image RQI scores: the multi-scale protocol (:class:`RQIMetric`, :func:`score`) and ``rqi-score``.

:func:`read_image` reads an image file as the scorer does."""

from .._images import ImageReadError, read_image
from .maps import RQIMap, rqi_map
from .protocol import PROTOCOLS, ScoreProtocol
from .rqi_metric import RQIMetric, score

__all__ = ["PROTOCOLS", "ImageReadError", "RQIMap", "RQIMetric", "ScoreProtocol", "read_image", "rqi_map", "score"]
