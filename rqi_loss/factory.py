"""``create_network``: a zoo name (or a local checkpoint) -> a frozen, eval-mode RQI network."""

from __future__ import annotations

import logging
import os

from .networks import RQINetwork, build_network
from .zoo import get_model_record

logger = logging.getLogger(__name__)


def create_network(
    name: str, *, pretrained: bool = True, checkpoint_path: str | os.PathLike | None = None
) -> RQINetwork:
    """Build the RQI network registered as ``name`` (see :func:`rqi_loss.list_models`).

    ``pretrained=False`` gives random weights (for tests and training). The network is returned in eval mode
    with ``requires_grad`` off on every parameter.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a model name string; got {type(name).__name__}")
    record = get_model_record(name)
    network = build_network(record.architecture, dict(record.config))
    if checkpoint_path is not None or pretrained:
        raise RuntimeError(
            f"pretrained weights for {name!r} (Hub repo {record.repo_id}, file {record.filename}) cannot be "
            "loaded by this version; use pretrained=False for a randomly initialised network"
        )
    return network.requires_grad_(False).eval()
