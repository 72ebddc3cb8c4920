"""``Validator``: the held-out side of a run, shared by all its members."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from .config import TrainConfig
from .dataset import ImageCache
from .distributed import Ranks, sharded
from .evaluation import predict_pairs, validation_metrics
from .layouts import LabelledPairs
from .pairs import dense_validation_pairs, recipe_pairs, require_pairs, subsample_pairs
from .tables import ImageRow

logger = logging.getLogger(__name__)


class Validator:
    """The held-out side of a run, shared by all its members: ``validator(network, epoch, train_loss,
    train_terms)`` gives and logs an epoch's validation record (``train_loss`` None: the untrained baseline,
    epoch 0, stored without one; ``train_terms``: the epoch's mean of each term of the training loss, such as
    ``train_huber`` and ``train_gradient_norm``, stored beside it); :meth:`measure` gives the recipe's own Huber
    loss (``val_loss``) and the metrics of :func:`validation_metrics`."""

    def __init__(
        self,
        config: TrainConfig,
        val_rows: list[ImageRow],
        mos_range: tuple[float, float],
        cache: ImageCache,
        device: torch.device,
        labelled: LabelledPairs | None = None,
        ranks: Ranks = Ranks(),
    ) -> None:
        self.config, self.rows, self.cache, self.device = config, val_rows, cache, device
        self.ranks, self.predict = ranks, sharded(predict_pairs, ranks)  # each rank scores its share of the pairs
        self.dense, self.dense_labels = dense_validation_pairs(config, val_rows, mos_range, labelled=labelled)
        require_pairs(self.dense, "held-out", "rqi")
        if config.recipe == "traditional":  # the rqi recipe's own validation pairs are the dense ones
            own_rows, own_pairs, own_labels = recipe_pairs(config, val_rows, mos_range)
            sample = subsample_pairs(own_pairs, own_labels, config.optim.val_pairs, config.held_out_seed + 1)
            self.own = (own_rows, *sample)

    def __call__(
        self,
        network: torch.nn.Module,
        epoch: int,
        train_loss: float | None,
        train_terms: dict[str, float] | None = None,
    ) -> dict[str, float]:
        trained = {} if train_loss is None else {"train_loss": train_loss, **(train_terms or {})}
        record = {"epoch": epoch, **trained, **self.measure(network)}
        if self.ranks.main:
            label = f"epoch {epoch}" + (" (untrained baseline)" if train_loss is None else "")
            logger.info("%s: %s", label, ", ".join(f"{k}={v:.4f}" for k, v in record.items() if k != "epoch"))
        return record

    def measure(self, network: torch.nn.Module) -> dict[str, float]:
        optim = self.config.optim
        metrics, dense_pred = validation_metrics(
            network,
            self.rows,
            self.dense,
            self.dense_labels,
            cache=self.cache,
            device=self.device,
            bf16=optim.bf16,
            predict=self.predict,
        )
        if self.config.recipe == "rqi":
            own_pred, own_labels = dense_pred, self.dense_labels
        else:
            own_rows, own_pairs, own_labels = self.own
            own_pred = self.predict(network, own_rows, own_pairs, cache=self.cache, device=self.device, bf16=optim.bf16)
        val_loss = F.huber_loss(torch.from_numpy(own_pred), own_labels, delta=optim.huber_delta).item()
        return {"val_loss": val_loss, **metrics}
