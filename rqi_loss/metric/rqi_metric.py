"""``RQIMetric`` and ``score``: whole-image RQI scores with the multi-scale crop protocol (no gradients)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._crops import random_offsets, resize_to_min_side, take_crops
from .._inputs import check_image_pair
from .._judge import FrozenJudge
from ..functional import pair_scores
from ..networks.base import at_least_float32
from .accumulation import ScoreAccumulator
from .maps import RQIMap, rqi_map
from .protocol import ScoreProtocol, downscale, get_protocol, scale_sizes

__all__ = ["RQIMetric", "score"]


class RQIMetric(FrozenJudge):
    """f(sr, gt) for whole images: the mean network score over aligned crops at several scales.

    Higher means ``sr`` looks better than ``gt`` (0: alike). The crops come from a private generator re-seeded
    with ``seed`` on every call, so an image pair gets the same score whatever else was scored before, and the
    global RNG is never touched. All images of one call share the crop positions, so a batch scores as its
    images one by one (up to the float rounding of batched kernels).

    Args:
        model: a zoo name (``rqi_loss.list_models()``, ``"hf-hub:org/repo"``) or an RQI network module.
        protocol: "official" (20/10/5 crops at 3 scales), "single-scale", or a :class:`ScoreProtocol`.
        seed: crop seed.
        batch_size: most crop pairs per network call.
        amp: None | "bf16" | "fp16" | "auto", as for :class:`rqi_loss.RQILoss`.
        resize_sr: resize ``sr`` (bicubic, antialiased) to the size of ``gt`` instead of raising on a mismatch.
        device: move the network there (default: where it is; inputs are moved to the network's device).
        pretrained: False builds random weights (passed to :func:`rqi_loss.create_network` for a name).
        checkpoint_path: local weights for a zoo name (passed to :func:`rqi_loss.create_network`).
        compile: torch.compile the judge's extract and compare (see :class:`rqi_loss.RQILoss`).

    Shapes: ``sr``, ``gt`` (N, 3, H, W) or (3, H, W) in [0, 1]; returns (N,) float32 scores (0-dim for 3-D
    inputs), on the network's device. Images with a side below the crop size are upsampled, both alike, with a
    warning.

    Over a dataset (also under torchrun): ``update(sr, gt, indices=...)`` per batch, then ``compute()`` (the mean
    over all ranks' images, each index once) or ``per_image()``; ``reset()`` starts again.

    Example:
        >>> import torch
        >>> from rqi_loss import RQIMetric
        >>> metric = RQIMetric("tiny-kadid-synth", protocol="official", seed=0)
        >>> from skimage import data
        >>> photo = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float() / 255  # (3, 512, 512)
        >>> gt = torch.stack([photo[:, :256, :256], photo[:, 256:, 256:]])
        >>> blurred = torch.nn.functional.avg_pool2d(gt, 5, stride=1, padding=2, count_include_pad=False)
        >>> scores = metric(blurred, gt)  # (2,): a blurred copy is judged worse than its original
        >>> scores.shape, bool((scores < 0).all())
        (torch.Size([2]), True)
        >>> _ = metric.update(blurred, gt, indices=[0, 1])
        >>> bool(metric.compute() == scores.mean())
        True
    """

    higher_is_better = True
    lower_better = False
    is_differentiable = False

    def __init__(
        self,
        model: str | nn.Module = "maniqa-pipal",
        *,
        protocol: str | ScoreProtocol = "official",
        seed: int = 0,
        batch_size: int = 64,
        amp: str | None = None,
        resize_sr: bool = False,
        device: str | torch.device | None = None,
        pretrained: bool = True,
        checkpoint_path: str | os.PathLike | None = None,
        compile: bool | str | dict = False,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1 (crop pairs per network call); got {batch_size!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an integer; got {seed!r}")
        checked_protocol = get_protocol(protocol)  # options are checked before any weights are loaded
        super().__init__(model, pretrained=pretrained, checkpoint_path=checkpoint_path, amp=amp, compile=compile)
        self.protocol = checked_protocol
        if device is not None:
            self.network.to(device)
        self.crop_size = self.protocol.crop_size or int(self.network.input_size)
        self.seed = seed
        self.batch_size = batch_size
        self.resize_sr = resize_sr
        self._accumulated = ScoreAccumulator()

    @property
    def score_range(self) -> tuple[float, float]:
        """Range of the network's scores (see :attr:`rqi_loss.networks.RQINetwork.score_range`)."""
        return self.network.score_range

    def update(
        self, sr: torch.Tensor, gt: torch.Tensor, *, indices: Sequence[int] | torch.Tensor | None = None
    ) -> torch.Tensor:
        """Score a batch (as calling the metric does) and keep the scores for :meth:`compute`. ``indices``: the
        images' dataset indices, e.g. from ``DistributedSampler``, whose padding repeats are then counted once."""
        scores = self(sr, gt)
        self._accumulated.add(scores, indices)
        return scores

    def per_image(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(indices (M,) int64, scores (M,) float32) of every image updated so far on every rank, each index once,
        in index order (without indices: rank after rank). A collective call under torch.distributed."""
        return self._accumulated.gather()

    def compute(self) -> torch.Tensor:
        """0-dim float32 mean score of every image updated so far on every rank (a collective call)."""
        return self.per_image()[1].mean()

    def reset(self) -> None:
        """Forget the updated scores."""
        self._accumulated.reset()

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def _prepare(self, sr: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
        single = isinstance(sr, torch.Tensor) and isinstance(gt, torch.Tensor) and sr.ndim == 3 and gt.ndim == 3
        if single:
            sr, gt = sr.unsqueeze(0), gt.unsqueeze(0)
        if self.resize_sr and isinstance(sr, torch.Tensor) and isinstance(gt, torch.Tensor):
            if sr.ndim == 4 and gt.ndim == 4 and sr.shape[-2:] != gt.shape[-2:]:
                sr = F.interpolate(sr.float(), size=gt.shape[-2:], mode="bicubic", antialias=True).clamp(0, 1)
        sr, gt = check_image_pair(sr, gt)
        device = self.device
        sr = sr.to(device=device, dtype=torch.float32)
        gt = gt.to(device=device, dtype=torch.float32)
        sr, gt = resize_to_min_side(sr, gt, self.crop_size)
        return sr, gt, single

    @torch.inference_mode()
    def forward(
        self, sr: torch.Tensor, gt: torch.Tensor, *, crop_positions: Sequence[torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Scores of (sr, gt); ``crop_positions`` (one (K_s, 2) (row, col) tensor per scale used) replaces the
        random crops, e.g. to reproduce positions drawn elsewhere."""
        sr, gt, single = self._prepare(sr, gt)
        sizes = scale_sizes(sr.shape[-2], sr.shape[-1], self.crop_size, self.protocol)
        if crop_positions is not None and len(crop_positions) != len(sizes):
            raise ValueError(
                f"crop_positions must hold one (K, 2) tensor per scale used ({len(sizes)} for this image size "
                f"{tuple(sr.shape[-2:])}); got {len(crop_positions)}"
            )
        generator = torch.Generator().manual_seed(self.seed)
        total = torch.zeros(sr.shape[0], device=sr.device, dtype=torch.float32)
        count = 0
        for index, size in enumerate(sizes):
            if index:
                sr, gt = downscale(sr, size), downscale(gt, size)
            if crop_positions is None:
                cells = random_offsets((self.protocol.crops_per_scale[index],), *size, self.crop_size, generator)
            else:
                cells = torch.as_tensor(crop_positions[index], dtype=torch.int64).reshape(-1, 2)
            total += self._crop_scores(sr, gt, cells).sum(dim=1)
            count += len(cells)
        scores = total / count
        return scores[0] if single else scores

    def _crop_scores(self, sr: torch.Tensor, gt: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """(N, K) network scores of the K aligned crops at ``cells`` of every image."""
        n, k = sr.shape[0], len(cells)
        offsets = cells.unsqueeze(0).expand(n, -1, -1)
        crops_sr = take_crops(sr, offsets, self.crop_size)
        crops_gt = take_crops(gt, offsets, self.crop_size)
        scores = []
        with self.judge_autocast(sr.device):
            for start in range(0, n * k, self.batch_size):
                stop = start + self.batch_size
                chunk = pair_scores(self.scorer, crops_sr[start:stop], crops_gt[start:stop], antisymmetric=False)
                scores.append(at_least_float32(chunk).float())
        return torch.cat(scores).view(n, k)

    def map(self, sr: torch.Tensor, gt: torch.Tensor, *, stride: int | None = None) -> RQIMap:
        """A relative-quality map of (sr, gt) (:func:`rqi_loss.rqi_map`) with this metric's network, mixed
        precision, batch size and input handling (``resize_sr``, small images upsampled); ``sr``/``gt`` as for
        calling the metric. Positive where the judge prefers ``sr``."""
        sr, gt, _ = self._prepare(sr, gt)
        with self.judge_autocast(sr.device):
            return rqi_map(sr, gt, self.scorer, stride=stride, batch_size=self.batch_size)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, protocol={self.protocol}, seed={self.seed}, batch_size={self.batch_size}, "
            f"amp={self.amp!r}"
        )


def score(
    sr: torch.Tensor | str | os.PathLike,
    gt: torch.Tensor | str | os.PathLike,
    model: str | nn.Module = "maniqa-pipal",
    **options,
) -> torch.Tensor:
    """f(sr, gt) with the multi-scale protocol: a one-call form of :class:`RQIMetric` (``options`` are its
    keyword arguments). ``sr``/``gt`` are (N, 3, H, W) / (3, H, W) tensors in [0, 1] or image file paths.
    Returns (N,) float32 scores, or a 0-dim tensor for single images and paths. Build an RQIMetric once
    to score many images: this builds the network on every call.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> from PIL import Image
        >>> from rqi_loss import score
        >>> rgb = (np.random.default_rng(0).random((192, 192, 3)) * 255).astype(np.uint8)
        >>> folder = tempfile.mkdtemp()
        >>> Image.fromarray(rgb).save(f"{folder}/gt.png")
        >>> Image.fromarray(rgb).save(f"{folder}/sr.png")
        >>> score(f"{folder}/sr.png", f"{folder}/gt.png", model="tiny-kadid-synth")  # the same image: 0
        tensor(0.)
    """
    from .._images import read_image

    if isinstance(sr, (str, os.PathLike)):
        sr = read_image(sr)
    if isinstance(gt, (str, os.PathLike)):
        gt = read_image(gt)
    return RQIMetric(model, **options)(sr, gt)
