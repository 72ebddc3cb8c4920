"""The authors' MANIQA_RQI (PyPI ``rqi-iqa``, a test-time reference only), built offline for parity checks.

``rqi-iqa`` and ``timm`` are not runtime dependencies: install them (the ``test`` or ``bench`` extra) to compare
this package's port with the authors' code.
"""

from __future__ import annotations

from unittest import mock

import torch
from torch import nn


def build_reference_maniqa(seed: int = 0) -> nn.Module:
    """The authors' network with seeded random weights and no download (ImageNet weights forced off); eval mode.

    The global RNG is forked, so drawing the weights leaves the caller's random stream untouched.
    """
    try:
        import rqi.models.maniqa as reference
    except ImportError as error:
        raise ImportError(
            "build_reference_maniqa needs the authors' package: pip install rqi-iqa==0.1.1 timm "
            "(or this package's `test` extra)"
        ) from error

    create = reference.timm.create_model

    def offline_create(name, pretrained=False, **kwargs):
        return create(name, pretrained=False, **kwargs)

    with torch.random.fork_rng(devices=[]), mock.patch.object(reference.timm, "create_model", offline_create):
        torch.manual_seed(seed)
        network = reference.MANIQA_RQI()
    return network.eval()
