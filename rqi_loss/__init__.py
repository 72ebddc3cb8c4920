"""rqi_loss: the Relative Quality Index (RQI) as a loss and metric for image super-resolution.

f(A, B) predicts how much better A looks than B (a MOS difference, antisymmetric in intent).
``RQILoss`` returns -loss_weight * f(SR, GT): minimising it makes SR outputs look better than their GT.
"""

from __future__ import annotations

from . import functional
from ._version import __version__
from .errors import CheckpointError, ChecksumError, WeightsError
from .factory import create_network, load_network, prefetch
from .loss import RQILoss
from .metric import RQIMap, RQIMetric, ScoreProtocol, rqi_map, score
from .networks import RQINetwork
from .transforms import PairTransforms
from .zoo import PretrainedModel, get_model_record, list_models

__all__ = [
    "CheckpointError",
    "ChecksumError",
    "PairTransforms",
    "PretrainedModel",
    "RQIMap",
    "RQILoss",
    "RQIMetric",
    "RQINetwork",
    "ScoreProtocol",
    "__version__",
    "create_network",
    "functional",
    "get_model_record",
    "list_models",
    "load_network",
    "prefetch",
    "rqi_map",
    "score",
    "WeightsError",
]
