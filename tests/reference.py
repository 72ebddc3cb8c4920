"""Builds the authors' MANIQA_RQI (PyPI ``rqi-iqa``) offline, for parity tests and benchmarks only."""

from __future__ import annotations

from unittest import mock

import torch


def build_reference_maniqa(seed: int = 0):
    """The authors' network with seeded random weights and no download (ImageNet weights forced off)."""
    import rqi.models.maniqa as reference

    create = reference.timm.create_model

    def offline_create(name, pretrained=False, **kwargs):
        return create(name, pretrained=False, **kwargs)

    with torch.random.fork_rng(devices=[]), mock.patch.object(reference.timm, "create_model", offline_create):
        torch.manual_seed(seed)
        network = reference.MANIQA_RQI()
    return network.eval()
