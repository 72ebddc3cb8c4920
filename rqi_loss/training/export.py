"""Export of a training run in our Hub layout: config.json + model.safetensors + model card, with the run's
history.json and training_curves.png beside them."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch

from ..weights._checkpoints import write_folder
from ..weights._model_card import CardMetadata, HeldOutResult
from .config import TrainConfig, synthetic_sets
from .plots import plot_history
from .synth import DISTORTION_SETS

TRANSFER_NOTE = (
    "Labels of the synthetic sets (KADID-synth, TID2013-synth) are the dataset's mean MOS of each (distortion "
    "type, level), transferred to distortions re-implemented on scikit-image photographs: a transfer of human "
    "labels, not a human study of these images."
)
RECIPE_SUMMARIES = {
    "rqi": "dense MOS-difference pairs, Huber loss",
    "traditional": "(distorted, reference) pairs, absolute MOS",
}
_CARD_METRICS = ("val_loss", "pair_srcc", "pair_sign_accuracy", "distorted_ref_pair_sign_accuracy", "image_srcc")


def export(network: torch.nn.Module, state: dict, config: TrainConfig, summary: dict[str, Any], output: Path) -> None:
    """Write the best weights (of the ensemble, for ``members`` > 1), config, model card, history JSON and
    curves PNG into ``output``."""
    provenance = {
        "recipe": config.recipe,
        "training": f"rqi-train ({config.name})",
        "data": "+".join(synthetic_sets(config.data)) or config.data.table,
        "held_out_groups": summary["val_groups"],
        "mos_range": summary["mos_range"],
        "validation": {k: round(v, 4) for k, v in summary["best"].items() if _measured(v)},
    }
    if "members" in summary:
        provenance["member_seeds"] = [member["seed"] for member in summary["members"]]
    if config.data.synthetic is not None:
        provenance["label_note"] = TRANSFER_NOTE
    write_folder(
        output,
        architecture=network.architecture,
        config=network.config,
        state=state,
        name=config.name,
        description=config.description,
        provenance=provenance,
        card=model_card(config, summary, sum(v.numel() for v in state.values())),
        card_metadata=card_metadata(config, summary),
    )
    staging = output / ".history.json.tmp"
    staging.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    os.replace(staging, output / "history.json")
    title = f"{config.name} ({config.recipe} recipe)"
    if "members" in summary:
        members = summary["members"]
        plot_history(
            [m["history"] for m in members],
            output / "training_curves.png",
            title=title,
            labels=[_member_label(m) for m in members],
            ensemble=summary["best"],
        )
    else:
        plot_history([summary["history"]], output / "training_curves.png", title=title)


_RESULTS = (
    ("image_srcc", "srcc", "image SRCC"),
    ("pair_srcc", "srcc", "pair SRCC"),
    ("pair_sign_accuracy", "accuracy", "pair sign accuracy"),
)


def _measured(value: object) -> bool:
    """A held-out number that was measured: a finite float (PieAPP has no MOS, so no image SRCC: NaN)."""
    return isinstance(value, float) and math.isfinite(value)


def _dataset_id(config: TrainConfig) -> str:
    """kadid-synth, the layout's dataset (kadid10k, pipal, ...) or the table's file name."""
    data = config.data
    if data.synthetic:
        return "+".join(f"{name}-synth" for name in synthetic_sets(data))
    if data.format not in ("csv", "iqa"):
        return data.format
    return Path(data.table).stem if data.table else "custom"


def _hub_base_models(config: TrainConfig) -> list[str]:
    """The Hub repos the run started from (backbone_weights given as 'hf-hub:org/repo')."""
    specs = config.backbone_weights
    specs = list(specs.values()) if isinstance(specs, dict) else [specs] if specs else []
    return [s.removeprefix("hf-hub:").split("@")[0] for s in specs if s.startswith("hf-hub:")]


def card_metadata(config: TrainConfig, summary: dict[str, Any]) -> CardMetadata:
    """The card's YAML header: training data, Hub base model(s), and the best epoch's held-out numbers."""
    dataset = _dataset_id(config)
    held_out = f"{dataset}, {len(summary['val_groups'])} held-out groups"
    best = summary["best"]
    results = [
        HeldOutResult(metric, round(best[key], 4), name, dataset, held_out)
        for key, metric, name in _RESULTS
        if _measured(best.get(key))
    ]
    bases = _hub_base_models(config)
    return CardMetadata(datasets=[dataset], base_model=bases[0] if len(bases) == 1 else bases or None, results=results)


def _member_label(member: dict[str, Any]) -> str:
    """'seed 3', or 'seed 0, spectrum_channels=1' for a member whose network config differs."""
    changes = member.get("network_changes") or {}
    return ", ".join([f"seed {member['seed']}"] + [f"{k}={v}" for k, v in changes.items()])


def model_card(config: TrainConfig, summary: dict[str, Any], parameters: int) -> str:
    """Markdown card with the measured held-out numbers (of the ensemble and each member, for ensembles)."""
    best = summary["best"]
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in best.items() if isinstance(v, float))
    titles = " + ".join(DISTORTION_SETS[name].title for name in synthetic_sets(config.data))
    data = f"{titles} (generated; see below)" if config.data.synthetic else str(config.data.table)
    weights = f"; weights: moving average (EMA decay {config.optim.ema_decay})" if config.optim.ema_decay else ""
    note = f"\n\n{TRANSFER_NOTE}" if config.data.synthetic is not None else ""
    architecture = f"`{config.architecture}`"
    if "members" in summary:
        members = summary["members"]
        architecture = f"`rqi_ensemble`: the mean score of {len(members)} `{config.architecture}` networks"
        epochs = ", ".join(f"{m['best']['epoch']} ({_member_label(m)})" for m in members)
        chosen = (
            f"- {len(members)} members trained one after another on one split, best epochs {epochs} of "
            f"{config.optim.epochs}, each chosen by the recipe's own validation loss"
        )
        header = "| member | " + " | ".join(_CARD_METRICS) + " |"
        table = "\n".join(
            f"| {_member_label(m)} | "
            + " | ".join(f"{m['best'][k]:.4f}" if k in m["best"] else "-" for k in _CARD_METRICS)
            + " |"
            for m in members
        )
        member_table = (
            f"\n\n## Each member alone (its best epoch)\n\n{header}\n|{' --- |' * (len(_CARD_METRICS) + 1)}\n{table}"
        )
        heading = "Held-out validation (the ensemble)"
    else:
        chosen = (
            f"- best epoch {best['epoch']} of {len(summary['history']) - 1}, chosen by the recipe's own validation loss"
        )
        member_table, heading = "", "Held-out validation (best epoch)"
    return (
        f"# {config.name}\n\n{config.description}\n\n"
        f"- architecture: {architecture} ({parameters / 1e3:.0f} k parameters)\n"
        f"- recipe: `{config.recipe}` ({RECIPE_SUMMARIES[config.recipe]})\n"
        f"- training data: {data}; held-out groups (never seen in training): {', '.join(summary['val_groups'])}\n"
        f"{chosen}; training took {summary['seconds'] / 60:.1f} min{weights}\n\n"
        f"## {heading}\n\n| metric | value |\n| --- | --- |\n{rows}{member_table}\n\n"
        "pair_*: f(A, B) against the normalised MOS difference on dense pairs of held-out scenes; "
        "distorted_ref_pair_*: the subset whose second image is itself distorted; image_*: f(I, reference) "
        f"against MOS.{note}\n\nReproduce: `rqi-train <config>` with the config recorded in history.json.\n"
    )
