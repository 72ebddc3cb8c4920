"""``RQIRealESRGANModel``: BasicSR's Real-ESRGAN model with an ``rqi_opt`` generator loss, on CPU or CUDA.

The generator loss is the paper's recipe L = L_ori + lambda * s on top of Real-ESRGAN's L1 + perceptual +
GAN terms: ``rqi_opt: {type: RQILoss, model: maniqa-pipal, loss_weight: 0.1}`` adds ``-0.1 * f(SR, GT)``,
logged as ``l_g_rqi``. The RQI term compares with the plain GT by default (``rqi_gt_usm: true`` uses the
sharpened GT, like Real-ESRGAN's ``l1_gt_usm``). The CUDA-only spots of BasicSR's model (``.cuda()`` helpers
and queues, DDP device ids, a ``.view`` on channels-last JPEG output) are handled here, not patched. On paired
data the sharpened GT is computed when a term first uses it, not for every batch: USMSharp's 101 x 101 filter
costs about 0.18 s per 2 x 160 px batch on a 2-core CPU, a third of a compact generator's iteration, and a recipe
with every target plain never uses it.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from basicsr.losses import build_loss
from basicsr.losses.loss_util import get_refined_artifact_map
from basicsr.models.realesrgan_model import RealESRGANModel
from basicsr.models.srgan_model import SRGANModel
from basicsr.utils import DiffJPEG, USMSharp
from torch import nn
from torch.nn.parallel import DistributedDataParallel


class ContiguousJPEG(nn.Module):
    """BasicSR's DiffJPEG whose output is made contiguous (its channels-last result breaks ``filter2D`` on CPU)."""

    def __init__(self) -> None:
        super().__init__()
        self.jpeg = DiffJPEG(differentiable=False)

    def forward(self, x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        return self.jpeg(x, quality=quality).contiguous()


class RQIRealESRGANModel(RealESRGANModel):
    """See the module docstring. Options: ``train.rqi_opt`` (any LOSS_REGISTRY loss; RQILoss expected) and
    ``rqi_gt_usm`` (default false)."""

    def __init__(self, opt: dict) -> None:
        # RealESRGANModel.__init__ moves its JPEG/USM helpers with .cuda(); build them on self.device instead.
        SRGANModel.__init__(self, opt)
        self.jpeger = ContiguousJPEG().to(self.device)
        self.usm_sharpener = USMSharp().to(self.device)
        self.queue_size = opt.get("queue_size", 180)
        self._gt_usm_of: tuple[torch.Tensor, torch.Tensor] | None = None  # (the GT, its sharpened copy)

    @property
    def gt_usm(self) -> torch.Tensor:
        """(N, 3, H, W) the unsharp-masked ``self.gt`` in [0, 1]: the one assigned for this GT (Real-ESRGAN's
        degradations make it first) or, on paired data, sharpened here on first use."""
        if self._gt_usm_of is None or self._gt_usm_of[0] is not self.gt:
            with torch.no_grad():
                self._gt_usm_of = (self.gt, self.usm_sharpener(self.gt))
        return self._gt_usm_of[1]

    @gt_usm.setter
    def gt_usm(self, value: torch.Tensor) -> None:
        self._gt_usm_of = (self.gt, value)

    @torch.no_grad()
    def feed_data(self, data: dict) -> None:
        if self.is_train and self.opt.get("high_order_degradation", True):
            super().feed_data(data)  # Real-ESRGAN's degradations start from the sharpened GT
            return
        self.lq = data["lq"].to(self.device)  # paired training or validation: the sharpened GT waits for a user
        if "gt" in data:
            self.gt = data["gt"].to(self.device)

    def init_training_settings(self) -> None:
        super().init_training_settings()
        rqi_opt = self.opt["train"].get("rqi_opt")
        self.cri_rqi = build_loss(rqi_opt).to(self.device) if rqi_opt else None

    def model_to_device(self, net: nn.Module) -> nn.Module:
        if self.opt.get("dist") and self.device.type == "cpu":
            unused = self.opt.get("find_unused_parameters", False)
            return DistributedDataParallel(net.to(self.device), find_unused_parameters=unused)
        return super().model_to_device(net)

    @torch.no_grad()
    def _dequeue_and_enqueue(self) -> None:
        if not hasattr(self, "queue_lr"):  # allocate the training-pair pool on self.device, not with .cuda()
            b, c, h, w = self.lq.size()
            if self.queue_size % b:
                raise ValueError(f"queue_size {self.queue_size} must be divisible by the batch size {b}")
            self.queue_lr = torch.zeros(self.queue_size, c, h, w, device=self.device)
            self.queue_gt = torch.zeros(self.queue_size, *self.gt.shape[1:], device=self.device)
            self.queue_ptr = 0
        super()._dequeue_and_enqueue()

    def _target(self, key: str, default_usm: bool) -> torch.Tensor:
        return self.gt_usm if self.opt.get(key, default_usm) else self.gt

    def _set_discriminator_grad(self, enabled: bool) -> None:
        for parameter in self.net_d.parameters():
            parameter.requires_grad = enabled

    def _generator_losses(self) -> OrderedDict:
        losses: OrderedDict = OrderedDict()
        if self.cri_pix:
            losses["l_g_pix"] = self.cri_pix(self.output, self._target("l1_gt_usm", True))
        if self.cri_ldl:
            artifact = get_refined_artifact_map(self.gt, self.output, self.output_ema, 7)
            losses["l_g_ldl"] = self.cri_ldl(artifact * self.output, artifact * self.gt)
        if self.cri_perceptual:
            percep, style = self.cri_perceptual(self.output, self._target("percep_gt_usm", True))
            if percep is not None:
                losses["l_g_percep"] = percep
            if style is not None:
                losses["l_g_style"] = style
        if self.cri_rqi:
            losses["l_g_rqi"] = self.cri_rqi(self.output, self._target("rqi_gt_usm", False))
        losses["l_g_gan"] = self.cri_gan(self.net_d(self.output), True, is_disc=False)
        return losses

    def optimize_parameters(self, current_iter: int) -> None:
        self._set_discriminator_grad(False)
        self.optimizer_g.zero_grad()
        self.output = self.net_g(self.lq)
        if self.cri_ldl:
            self.output_ema = self.net_g_ema(self.lq)
        log: OrderedDict = OrderedDict()
        if current_iter % self.net_d_iters == 0 and current_iter > self.net_d_init_iters:
            generator = self._generator_losses()
            sum(generator.values()).backward()
            self.optimizer_g.step()
            log.update(generator)

        self._set_discriminator_grad(True)
        self.optimizer_d.zero_grad()
        real = self.net_d(self._target("gan_gt_usm", True))
        log["l_d_real"] = self.cri_gan(real, True, is_disc=True)
        log["out_d_real"] = real.detach().mean()
        log["l_d_real"].backward()
        fake = self.net_d(self.output.detach().clone())
        log["l_d_fake"] = self.cri_gan(fake, False, is_disc=True)
        log["out_d_fake"] = fake.detach().mean()
        log["l_d_fake"].backward()
        self.optimizer_d.step()

        if self.ema_decay > 0:
            self.model_ema(decay=self.ema_decay)
        self.log_dict = self.reduce_loss_dict(log)
