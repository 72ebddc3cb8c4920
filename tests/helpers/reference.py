"""Helpers around the authors' code (PyPI ``rqi-iqa``) for parity tests: their crop draws, input range and scorer."""

from __future__ import annotations

import torch


class RecordingRandom:
    """Stands in for the ``random`` module inside ``rqi.rqi``: draws from a private ``random.Random`` and records
    the crop positions the authors' ``RQI.forward`` asks for (it draws x, then y, for each crop)."""

    def __init__(self, seed: int) -> None:
        import random

        self._random = random.Random(seed)
        self.draws: list[int] = []

    def randint(self, low: int, high: int) -> int:
        value = self._random.randint(low, high)
        self.draws.append(value)
        return value

    def positions(self, crops_per_scale: tuple[int, ...]) -> list[torch.Tensor]:
        """The recorded draws as one (K, 2) (row, col) tensor per scale."""
        pairs = torch.tensor(self.draws, dtype=torch.int64).view(-1, 2).flip(1)  # (x, y) -> (row, col)
        return list(torch.split(pairs, list(crops_per_scale[: _scales_used(len(pairs), crops_per_scale)])))


def _scales_used(total: int, crops_per_scale: tuple[int, ...]) -> int:
    done = 0
    for index, count in enumerate(crops_per_scale):
        done += count
        if done == total:
            return index + 1
    raise AssertionError(f"{total} recorded crops do not fill whole scales of {crops_per_scale}")


class UnitRangeNetwork(torch.nn.Module):
    """Feeds the authors' [-1, 1] inputs to one of our networks, which takes [0, 1] and normalises itself."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.network(a * 0.5 + 0.5, b * 0.5 + 0.5)


def reference_protocol(model: torch.nn.Module, crop_size: int, device: str = "cpu"):
    """The authors' ``rqi.RQI`` scorer around ``model`` (a module taking [-1, 1] crop batches), built without its
    constructor, which seeds the global RNGs, changes cudnn flags and downloads weights."""
    from rqi.rqi import RQI

    scorer = RQI.__new__(RQI)
    torch.nn.Module.__init__(scorer)
    scorer.device = torch.device(device)
    scorer.model = model.to(device).eval()
    scorer.crop_size = crop_size
    scorer.downscale_factor = 2
    return scorer
