"""``RQILoss``: the negative RQI score as a training loss for super-resolution models."""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from torch import nn

from ._deprecation import REMOVED_IN, renamed_keyword
from ._inputs import check_pair_values, warn_sr_outside
from ._judge import FrozenJudge
from ._warnings_at_caller import warn_at_caller
from .factory import create_network
from .functional import (
    check_crop_border,
    check_crop_options,
    check_grey,
    check_max_score,
    check_pair_placement,
    check_reduction,
    rqi_loss,
)
from .networks.base import at_least_float32
from .transforms import PairTransforms, as_transforms

__all__ = ["RQILoss"]


class RQILoss(FrozenJudge):
    """``-loss_weight * f(sr, gt)`` with a frozen, pretrained RQI network f.

    f(sr, gt) > 0 means the network judges ``sr`` better than ``gt``; minimising the loss therefore pushes the
    SR output to look better than its ground truth, not merely to copy it.

    Args:
        model: a zoo name (``rqi_loss.list_models()``) or an ``nn.Module`` following the network contract.
        loss_weight: positive factor (the paper's lambda = -0.1 is ``loss_weight=0.1``).
        reduction: "mean" | "sum" | "none" over the batch.
        crop: "random" | "grid" | "center"; see :func:`rqi_loss.functional.rqi_score`.
        num_crops: random crops per image.
        crop_border: pixels trimmed from every side of both images before cropping: the judge never sees the
            border of a training patch, where a generator can learn a frame it rewards (0: off).
        antisymmetric: use 0.5 * (f(sr, gt) - f(gt, sr)).
        seed: seed of the loss's private crop generator (the global RNG is never touched).
        pretrained: False builds random weights (passed to :func:`rqi_loss.create_network` for a name).
        checkpoint_path: local weights for a zoo name (passed to :func:`rqi_loss.create_network`).
        check_inputs: apply the value policy (one host-device sync per call): NaN/Inf, a gt in [0, 255] or
            [-1, 1], or an sr 255x the scale of gt raise a ValueError naming the fix; an sr far outside [0, 1]
            (an unclamped generator output) is scored as it is, with one warning per loss object.
        amp: None (fp32) | "bf16" | "fp16" | "auto": autocast for the network's forward and backward ("auto":
            bf16 where the GPU supports it, else fp16; fp32 on CPU). The returned loss is float32.
        recompute: recompute the SR backbone activations in backward instead of storing them (activation
            checkpointing: less memory, one more backbone forward per step; same values and gradients).
        transforms: a defence against judge hacking: True applies a fresh random transformation to both images
            alike at each call (:data:`rqi_loss.transforms.DEFAULT_TRANSFORMS`), drawn from the private
            generator; or a :class:`rqi_loss.PairTransforms` / a mapping of its fields; False: off.
        compile: run the network's extract and compare through ``torch.compile`` (``rqi_loss._compiled``):
            False (eager), True (inductor), a mode ("max-autotune", "reduce-overhead", ...) or a dict of
            torch.compile options. Batch sizes become dynamic after the first change (one recompilation); a
            failed compilation warns once and runs eager. The network itself is left as it is.
        checkpoint: deprecated name of ``recompute`` (DeprecationWarning; removed in 0.3.0).
        max_score: a cap on the reward, per image: ``-loss_weight * min(f(sr, gt), max_score)``, so an image
            judged above it is not pushed further (None: no cap; 0: no push beyond "as good as its GT", where a
            judge is gamed first).
        grey: judge both images in grey (the mean of their channels, in all three) instead of in colour: the
            loss neither rewards nor moves colour, against a judge that rewards more saturation than the GT has
            (``tiny-kadid-synth`` does; see the docs' "The main job and judge hacking").

    Shapes: ``sr``, ``gt`` (N, 3, H, W), gt in [0, 1], sr any finite values, H, W >= the network's
    ``input_size`` (224 for maniqa-pipal, 128 for tiny-kadid-synth; smaller images are upscaled with a warning);
    optional ``weight`` (N,). Returns a 0-dim float32 tensor ("mean"/"sum") or (N,) ("none").

    Raises:
        ValueError: an option out of range, or inputs the value policy refuses (the message names the fix).
        TypeError: inputs that are not float tensors of shape (N, C, H, W).

    Example:
        >>> import torch
        >>> from rqi_loss import RQILoss
        >>> loss = RQILoss("tiny-kadid-synth", loss_weight=0.1, seed=0)  # embedded, offline
        >>> g = torch.Generator().manual_seed(0)
        >>> gt = torch.rand(2, 3, 160, 160, generator=g)
        >>> sr = (gt + 0.05 * torch.randn(gt.shape, generator=g)).clamp(0, 1).requires_grad_()
        >>> value = loss(sr, gt)  # -0.1 * f(sr, gt): a noisy sr is judged worse than gt, so the loss is > 0
        >>> value.shape, value.dtype, value.item() > 0
        (torch.Size([]), torch.float32, True)
        >>> value.backward()
        >>> sr.grad.shape, any(p.requires_grad for p in loss.network.parameters())
        (torch.Size([2, 3, 160, 160]), False)
    """

    higher_is_better = False
    lower_better = True
    is_differentiable = True

    def __init__(
        self,
        model: str | nn.Module = "maniqa-pipal",
        *,
        loss_weight: float = 1.0,
        reduction: str = "mean",
        crop: str = "random",
        num_crops: int = 1,
        crop_border: int = 0,
        antisymmetric: bool = False,
        seed: int | None = None,
        pretrained: bool = True,
        checkpoint_path: str | os.PathLike | None = None,
        check_inputs: bool = True,
        amp: str | None = None,
        recompute: bool = False,
        transforms: bool | PairTransforms | dict = False,
        compile: bool | str | dict = False,
        checkpoint: bool | None = None,
        max_score: float | None = None,
        grey: bool = False,
    ) -> None:
        if (
            isinstance(loss_weight, bool)
            or not isinstance(loss_weight, (int, float))
            or not math.isfinite(loss_weight)
            or loss_weight < 0
        ):
            raise ValueError(
                f"loss_weight must be a finite number >= 0 (the minus sign is built in); got {loss_weight!r}"
            )
        check_reduction(reduction)
        check_crop_options(crop, num_crops)
        check_crop_border(crop_border)
        check_max_score(max_score)
        check_grey(grey)
        super().__init__(model, pretrained=pretrained, checkpoint_path=checkpoint_path, amp=amp, compile=compile)
        self.loss_weight = float(loss_weight)
        self.reduction = reduction
        self.crop = crop
        self.num_crops = num_crops
        self.crop_border = crop_border
        self.max_score = None if max_score is None else float(max_score)
        self.grey = grey
        self.antisymmetric = antisymmetric
        self.check_inputs = check_inputs
        self._warned_sr_outside = False
        self.recompute = bool(renamed_keyword("checkpoint", "recompute", checkpoint, recompute))
        self.transforms = as_transforms(transforms)
        self.generator = torch.Generator()
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(int(seed))

    @property
    def score_range(self) -> tuple[float, float]:
        """Range of the per-image loss, -loss_weight * min(f, max_score) over the network's :attr:`score_range`."""
        low, high = self.network.score_range
        if self.max_score is not None:
            low, high = min(low, self.max_score), min(high, self.max_score)
        return tuple(sorted((-self.loss_weight * high, -self.loss_weight * low)))

    @property
    def checkpoint(self) -> bool:
        """Deprecated name of :attr:`recompute` (removed in 0.3.0)."""
        return renamed_keyword("checkpoint", "recompute", self.recompute, False)

    @classmethod
    def from_pretrained(
        cls,
        repo_id: str | os.PathLike,
        *,
        revision: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        local_files_only: bool = False,
        token: str | bool | None = None,
        **kwargs,
    ) -> "RQILoss":
        """Deprecated (removed in 0.3.0): ``RQILoss("hf-hub:org/repo@revision")`` or
        ``RQILoss("local-dir:folder")``; for Hub options,
        ``RQILoss(create_network("hf-hub:org/repo@revision", cache_dir=..., local_files_only=..., token=...))``.
        """
        folder = Path(repo_id)
        name = f"local-dir:{folder}" if folder.is_dir() else f"hf-hub:{repo_id}" + (f"@{revision}" if revision else "")
        warn_at_caller(
            f"RQILoss.from_pretrained() is deprecated and will be removed in rqi_loss {REMOVED_IN}; use "
            f"RQILoss({name!r}) (Hub options: RQILoss(create_network({name!r}, token=...)))",
            DeprecationWarning,
        )
        hub = dict(cache_dir=cache_dir, local_files_only=local_files_only, token=token)
        return cls(create_network(name, **hub), **kwargs)

    def push_to_hub(self, repo_id: str, **options) -> str:
        """Publish the judge network; see :meth:`rqi_loss.RQINetwork.push_to_hub`. Returns the commit id."""
        return self.network.push_to_hub(repo_id, **options)

    def save_pretrained(self, folder: str | os.PathLike, **metadata) -> Path:
        """Save the judge network in our Hub layout; see :meth:`rqi_loss.RQINetwork.save_pretrained`."""
        return self.network.save_pretrained(folder, **metadata)

    def forward(self, sr: torch.Tensor, gt: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        device = sr.device if isinstance(sr, torch.Tensor) else torch.device("cpu")
        if self.check_inputs:
            seen = check_pair_values(*check_pair_placement(sr, gt, self.network))
            if seen.sr_outside and not self._warned_sr_outside:
                self._warned_sr_outside = True
                warn_sr_outside()
        with self.judge_autocast(device):
            value = rqi_loss(
                sr,
                gt,
                self.scorer,
                loss_weight=self.loss_weight,
                reduction=self.reduction,
                weight=weight,
                crop=self.crop,
                num_crops=self.num_crops,
                crop_border=self.crop_border,
                max_score=self.max_score,
                grey=self.grey,
                antisymmetric=self.antisymmetric,
                generator=self.generator,
                check_inputs=False,  # checked above, so that the range warning comes once per loss object
                recompute=self.recompute,
                transforms=self.transforms,
            )
        return at_least_float32(value)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, loss_weight={self.loss_weight}, reduction={self.reduction!r}, "
            f"crop={self.crop!r}, num_crops={self.num_crops}, crop_border={self.crop_border}, "
            f"max_score={self.max_score}, grey={self.grey}, "
            f"antisymmetric={self.antisymmetric}, amp={self.amp!r}, "
            f"recompute={self.recompute}, transforms={self.transforms}"
        )
