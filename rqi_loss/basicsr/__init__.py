"""BasicSR integration; importing this module registers everything (idempotently).

- LOSS_REGISTRY: ``RQILoss`` (``pixel_opt``, 0-dim loss) and ``RQIPerceptualLoss`` (``perceptual_opt``,
  returns ``(loss, None)``);
- METRIC_REGISTRY: ``calculate_rqi`` (``val: metrics:``);
- MODEL_REGISTRY: ``RQIRealESRGANModel`` (Real-ESRGAN + ``rqi_opt``, CPU and CUDA).

``rqi_loss`` itself never imports this module (BasicSR is an optional extra: ``pip install rqi-loss[basicsr]``).
"""

from __future__ import annotations

from .compat import install_functional_tensor_alias

install_functional_tensor_alias()  # must precede the first basicsr import

from basicsr.utils.registry import LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY  # noqa: E402

from .losses import RQILoss, RQIPerceptualLoss  # noqa: E402
from .realesrgan_model import RQIRealESRGANModel  # noqa: E402
from .registry import register  # noqa: E402
from .validation_metric import calculate_rqi  # noqa: E402

register(LOSS_REGISTRY, RQILoss)
register(LOSS_REGISTRY, RQIPerceptualLoss)
register(METRIC_REGISTRY, calculate_rqi)
register(MODEL_REGISTRY, RQIRealESRGANModel)

__all__ = ["RQILoss", "RQIPerceptualLoss", "RQIRealESRGANModel", "calculate_rqi"]
