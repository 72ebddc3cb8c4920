"""Functional forms of the RQI score and loss; :class:`rqi_loss.RQILoss` calls these.

Sign convention: ``rqi_score`` is f(sr, gt), higher meaning ``sr`` looks better than ``gt``;
``rqi_loss`` is ``-loss_weight * f(sr, gt)``, so minimising it pushes ``sr`` to look better than ``gt`` (up to
``max_score``, when it is given).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint as recompute_in_backward

from ._crops import CROP_MODES, crop_offsets, resize_to_min_side, take_crops
from ._deprecation import renamed_keyword
from ._inputs import check_image_pair, check_pair_values, warn_sr_outside
from .networks.base import at_least_float32, split_features
from .transforms import PairTransforms, as_transforms, rescale_pair, transform_crops

__all__ = ["rqi_loss", "rqi_score"]

REDUCTIONS = ("mean", "sum", "none")


def check_crop_options(crop: str, num_crops: int) -> None:
    """ValueError for an unknown ``crop`` mode or a ``num_crops`` that is not an integer >= 1."""
    if crop not in CROP_MODES:
        raise ValueError(f"unknown crop {crop!r}; choose one of {', '.join(CROP_MODES)}")
    if not isinstance(num_crops, int) or isinstance(num_crops, bool) or num_crops < 1:
        raise ValueError(f"num_crops must be an integer >= 1; got {num_crops!r}")


def check_crop_border(crop_border: int) -> None:
    """ValueError for a ``crop_border`` that is not an integer >= 0."""
    if isinstance(crop_border, bool) or not isinstance(crop_border, int) or crop_border < 0:
        raise ValueError(f"crop_border must be an integer >= 0 (pixels trimmed from every side); got {crop_border!r}")


def check_max_score(max_score: float | None) -> None:
    """ValueError for a ``max_score`` that is neither None nor a finite real number."""
    if max_score is None:
        return
    if isinstance(max_score, bool) or not isinstance(max_score, (int, float)) or not math.isfinite(max_score):
        raise ValueError(
            f"max_score must be None (no cap) or a finite number, the verdict f(sr, gt) above which the loss stops "
            f"rewarding an image (0: as good as its GT); got {max_score!r}"
        )


def check_grey(grey: bool) -> None:
    """ValueError for a ``grey`` that is not a bool."""
    if not isinstance(grey, bool):
        raise ValueError(f"grey must be True (judge both images in grey) or False (judge their colours); got {grey!r}")


def grey_in_rgb(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W): the mean of an (N, C, H, W) image's channels, in all three channels. Its gradient spreads
    equally over the channels, so a loss of grey images moves no colour."""
    return image.mean(dim=1, keepdim=True).repeat(1, 3, 1, 1)


def trim_border(sr: torch.Tensor, gt: torch.Tensor, crop_border: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Both (N, C, H, W) images without ``crop_border`` pixels on every side; ValueError when what is left is
    smaller than the network's input ``size`` (the crops could then not stay inside)."""
    if crop_border == 0:
        return sr, gt
    height, width = sr.shape[-2:]
    if min(height, width) - 2 * crop_border < size:
        raise ValueError(
            f"crop_border={crop_border} leaves {height - 2 * crop_border}x{width - 2 * crop_border} of the "
            f"{height}x{width} images, less than the network's input size {size}; use images of at least "
            f"{size + 2 * crop_border} px (e.g. a larger gt_size) or a smaller crop_border"
        )
    inner = (..., slice(crop_border, height - crop_border), slice(crop_border, width - crop_border))
    return sr[inner], gt[inner]


def check_reduction(reduction: str) -> None:
    """ValueError for a reduction other than "mean", "sum" or "none"."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; choose one of {', '.join(REDUCTIONS)}")


def _network_device(network: nn.Module) -> torch.device | None:
    for tensor in network.parameters():
        return tensor.device
    return None


def check_pair_placement(sr: object, gt: object, network: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Shapes, dtypes and devices of the pair and the network (no host-device sync); grey repeated to RGB."""
    sr, gt = check_image_pair(sr, gt, check_values=False)
    device = _network_device(network)
    if device is not None and device != sr.device:
        raise ValueError(f"inputs are on {sr.device} but the RQI network is on {device}; call .to({str(sr.device)!r})")
    return sr, gt


def prepared_pair(
    sr: object, gt: object, network: nn.Module, *, check_inputs: bool, grey: bool, crop_border: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The pair as the network judges it: checked (placement always, values with ``check_inputs``), 1 channel
    repeated to RGB, in grey when asked, without ``crop_border`` pixels on every side."""
    sr, gt = check_pair_placement(sr, gt, network)
    if check_inputs and check_pair_values(sr, gt).sr_outside:
        warn_sr_outside()
    if grey:
        sr, gt = grey_in_rgb(sr), grey_in_rgb(gt)
    return trim_border(sr, gt, crop_border, _input_size(network))


def _input_size(network: nn.Module) -> int:
    size = getattr(network, "input_size", None)
    if not isinstance(size, int):
        raise TypeError(
            f"network {type(network).__name__} must declare an integer `input_size` (its square input side); "
            f"got {size!r}"
        )
    return size


def _extract_both(network: nn.Module, sr: torch.Tensor, gt: torch.Tensor, recompute: bool):
    """Features of the sr and gt crops. Without a gradient to compute, both go through the backbone in one
    call; otherwise the gt call builds no graph, and ``recompute`` recomputes the sr activations in backward
    instead of storing them."""
    if not (torch.is_grad_enabled() and sr.requires_grad):
        both = network.extract(torch.cat((sr, gt)))
        return split_features(both, sr.shape[0])
    if recompute:
        features_sr = recompute_in_backward(network.extract, sr, use_reentrant=False, preserve_rng_state=False)
    else:
        features_sr = network.extract(sr)
    with torch.no_grad():
        features_gt = network.extract(gt)
    return features_sr, features_gt


def pair_scores(
    network: nn.Module, sr: torch.Tensor, gt: torch.Tensor, antisymmetric: bool, recompute: bool = False
) -> torch.Tensor:
    """(M,) scores of crop pairs; the gt side never builds an autograd graph."""
    if hasattr(network, "extract") and hasattr(network, "compare"):
        features_sr, features_gt = _extract_both(network, sr, gt, recompute)
        scores = network.compare(features_sr, features_gt)
        if antisymmetric:
            scores = 0.5 * (scores - network.compare(features_gt, features_sr))
        return scores
    gt = gt.detach()
    scores = network(sr, gt)
    if antisymmetric:
        scores = 0.5 * (scores - network(gt, sr))
    return scores


def rqi_score(
    sr: torch.Tensor,
    gt: torch.Tensor,
    network: nn.Module,
    *,
    crop: str = "random",
    num_crops: int = 1,
    antisymmetric: bool = False,
    generator: torch.Generator | None = None,
    check_inputs: bool = True,
    recompute: bool = False,
    transforms: bool | PairTransforms | dict | None = None,
    crop_border: int = 0,
    grey: bool = False,
    checkpoint: bool | None = None,
) -> torch.Tensor:
    """Per-image relative quality f(sr, gt), averaged over aligned crops at the network's input size.

    Args:
        sr: (N, 3, H, W) float, any finite values (1 channel is repeated to 3); H, W >= the network's input
            size, smaller images are upscaled (both alike) with a warning.
        gt: (N, 3, H, W) float in [0, 1], the reference, of ``sr``'s shape.
        network: an RQI network (``input_size``; ``extract``/``compare`` or ``forward(sr, gt)``).
        crop: "random" (``num_crops`` crops per image from ``generator``), "grid" (fewest overlapping crops
            covering every pixel) or "center".
        antisymmetric: return 0.5 * (f(sr, gt) - f(gt, sr)), so that swapping the inputs flips the sign exactly.
        check_inputs: apply the value policy (one host-device sync): NaN/Inf, a gt in [0, 255] or [-1, 1], or an
            sr 255x the scale of gt raise a ValueError; an sr far outside [0, 1] is scored with a warning.
        recompute: recompute the sr backbone activations in backward instead of storing them (activation
            checkpointing: less memory, one more backbone forward; same values and gradients).
        transforms: True (the default ensemble), a :class:`rqi_loss.PairTransforms` or a mapping of its fields:
            random transformations from ``generator``, both images alike (against judge hacking); None: off.
        crop_border: pixels trimmed from every side of both images first: no crop touches the border, where a
            generator trained on patches can learn a frame the judge rewards.
        grey: judge both images in grey (their channel mean, in all three): the score neither rewards nor, as a
            loss, moves colour (for a judge that rewards more saturation than the GT has).
        checkpoint: deprecated name of ``recompute`` (DeprecationWarning; removed in 0.3.0).

    Returns:
        (N,) float32 scores; differentiable with respect to ``sr`` only.

    Raises:
        ValueError: a bad ``crop``, ``num_crops``, ``crop_border`` or ``grey``, or inputs the value policy refuses.

    Example:
        >>> import torch, rqi_loss
        >>> gt = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
        >>> network = rqi_loss.create_network("tiny-kadid-synth")
        >>> rqi_loss.functional.rqi_score(gt, gt, network, crop="center")  # an image against itself: 0
        tensor([0.])
    """
    recompute = renamed_keyword("checkpoint", "recompute", checkpoint, recompute)
    check_crop_options(crop, num_crops)
    check_crop_border(crop_border)
    check_grey(grey)
    sr, gt = prepared_pair(sr, gt, network, check_inputs=check_inputs, grey=grey, crop_border=crop_border)
    size = _input_size(network)
    crops_sr, crops_gt = aligned_crops(sr, gt, size, crop, num_crops, as_transforms(transforms), generator)
    scores = pair_scores(network, crops_sr, crops_gt, antisymmetric, recompute)
    return at_least_float32(scores).view(sr.shape[0], -1).mean(dim=1)


def aligned_crops(
    sr: torch.Tensor,
    gt: torch.Tensor,
    size: int,
    crop: str,
    num_crops: int,
    spec: PairTransforms | None,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N * K, 3, size, size) crops of both images at the same positions (sample-major), the images first
    upscaled to a short side of ``size`` if smaller and, with ``spec``, rescaled and transformed alike."""
    sr, gt = resize_to_min_side(sr, gt, size)
    if spec is not None:
        sr, gt = rescale_pair(sr, gt, spec, size, generator)
    n, _, height, width = sr.shape
    offsets = crop_offsets(n, height, width, size, crop, num_crops, generator)
    crops_sr, crops_gt = take_crops(sr, offsets, size), take_crops(gt, offsets, size)
    if spec is not None:
        crops_sr, crops_gt = transform_crops(crops_sr, crops_gt, spec, generator)
    return crops_sr, crops_gt


def reduce_loss(losses: torch.Tensor, reduction: str, weight: torch.Tensor | None) -> torch.Tensor:
    """Apply an optional (N,) per-sample ``weight`` then reduce: "mean" -> mean of weighted losses, "sum", "none"."""
    if weight is not None:
        if not isinstance(weight, torch.Tensor) or weight.shape != losses.shape:
            got = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
            raise ValueError(f"weight must be a tensor of shape {tuple(losses.shape)} (one per sample); got {got}")
        losses = losses * weight.to(losses)
    check_reduction(reduction)
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def rqi_loss(
    sr: torch.Tensor,
    gt: torch.Tensor,
    network: nn.Module,
    *,
    loss_weight: float = 1.0,
    reduction: str = "mean",
    weight: torch.Tensor | None = None,
    max_score: float | None = None,
    grey: bool = False,
    **score_kwargs,
) -> torch.Tensor:
    """``-loss_weight * min(f(sr, gt), max_score)``, optionally weighted per sample, reduced over the batch.

    ``max_score`` caps the reward per image (None: no cap): an image whose verdict is above it adds a constant,
    so the loss stops pushing it (0: no push beyond "as good as its GT", where a judge is gamed first).
    ``grey`` judges both images in grey (the mean of their channels, in all three) instead of in colour, so the
    loss neither rewards nor moves colour (against a judge that rewards more saturation than the GT has).
    Returns a 0-dim float32 tensor for "mean"/"sum", (N,) for "none". ``score_kwargs`` go to :func:`rqi_score`.

    Example:
        >>> import torch
        >>> from rqi_loss import RQILoss, create_network
        >>> from rqi_loss.functional import rqi_loss
        >>> network = create_network("tiny-kadid-synth")
        >>> g = torch.Generator().manual_seed(0)
        >>> sr, gt = torch.rand(2, 3, 128, 128, generator=g), torch.rand(2, 3, 128, 128, generator=g)
        >>> functional = rqi_loss(sr, gt, network, loss_weight=0.1, crop="center")
        >>> module = RQILoss(network, loss_weight=0.1, crop="center")(sr, gt)  # the module calls this function
        >>> torch.equal(functional, module)
        True
    """
    check_reduction(reduction)
    check_max_score(max_score)
    scores = rqi_score(sr, gt, network, grey=grey, **score_kwargs)
    losses = -loss_weight * (scores if max_score is None else scores.clamp(max=max_score))
    return reduce_loss(losses, reduction, weight)
