"""Training configuration: a YAML or TOML file mapped onto frozen dataclasses; unknown keys are errors."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .adversarial import AdversarialConfig
from .config_types import apply_overrides, checked_fields
from .dataset import check_augment
from .gradient_alignment import GradientAlignmentConfig
from .gradient_norm import GradientNormConfig
from .layouts import LAYOUTS, PAIRWISE_LAYOUTS

DATA_FORMATS = ("csv", "iqa", *LAYOUTS)


@dataclass(frozen=True)
class DataConfig:
    table: str | None = None  # CSV path (format csv/iqa); with synthetic, generated under root
    # "csv" (scene,image,mos[,group][,reference]), "iqa" (dis_img_path,...,score), or a dataset in the layout it
    # is distributed in, under root: "kadid10k", "pipal", "tid2013", "pieapp" (see rqi_loss.training.layouts)
    format: str = "csv"
    # "kadid" (KADID-synth) or "tid2013" (TID2013-synth), made from scikit-image photographs into root; or a list
    # of them, trained on together (each in root/<set>, MOS mapped to [0, 1] per set: give mos_range [0, 1])
    synthetic: str | tuple[str, ...] | None = None
    root: str = ".cache/kadid-synth"  # KADID-synth's folder, or the dataset's folder for a layout format
    pieapp_split: str = "train"  # format pieapp: the split read (train, val or test)
    scenes_per_source: int = 5  # with synthetic: scenes cut from each source photograph (at most)
    image_root: str | None = None
    group_column: str | None = None
    reference_column: str | None = None
    reference_mos: float | None = None
    mos_range: tuple[float, float] | None = None  # default: min/max of the table
    val_fraction: float = 0.2
    split_seed: int | None = None  # seed of the train/val split; default: the config's seed
    train_exclude_groups: tuple[str, ...] = ()  # groups never trained on (after the split; held out ones stay)
    cache_images: bool = True


@dataclass(frozen=True)
class OptimConfig:
    epochs: int = 10
    pairs_per_epoch: int = 8000
    batch_size: int = 32  # pairs per forward/backward pass
    accumulate: int = 1  # passes whose gradients are summed per optimiser step (effective batch: batch_size x this)
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    huber_delta: float = 0.1
    val_pairs: int = 4000
    crop_size: int | None = None  # training crop side; default: the network's input size (validation uses it)
    augment: str = "flips"  # "flips" (horizontal/vertical), "dihedral" (flips and transposes) or "none"
    bf16: bool = False
    device: str = "auto"
    num_workers: int = 0
    threads: int | None = None  # torch CPU threads during training (restored afterwards); default: unchanged
    ema_decay: float | None = None  # validate and export an exponential moving average of the weights
    adversarial: AdversarialConfig | None = None  # {eps, steps, weight}: train on eps-perturbed pairs too
    gradient_norm: GradientNormConfig | None = None  # {weight, eps, relative}: penalise d f / d a (its l1 norm)
    gradient_alignment: GradientAlignmentConfig | None = None  # {weight, margin}: d f / d a points from a to b


@dataclass(frozen=True)
class TrainConfig:
    name: str
    architecture: str
    network: dict[str, Any] = field(default_factory=dict)
    recipe: str = "rqi"  # "rqi" (dense relative pairs) or "traditional" ((distorted, reference), absolute MOS)
    description: str = ""
    seed: int = 0
    members: int = 1  # networks trained (seeds seed, seed + 1, ...) and shipped as one ensemble (mean score)
    member_seeds: tuple[int, ...] | None = None  # with members > 1: each member's seed (default seed + k)
    member_networks: tuple[dict[str, Any], ...] | None = None  # with members > 1: each member's changes to network
    init_from: str | None = None  # a network folder (our Hub layout) whose weights start the run (members: member k)
    # pretrained backbone (timm layout): "hf-hub:timm/vit_base_patch8_224.augreg2_in21k_ft_in1k" or a file; also
    # accepted as network.backbone_weights
    backbone_weights: str | dict[str, str] | None = None  # AHIQ: {vit: ..., resnet: ...}
    data: DataConfig = DataConfig()
    optim: OptimConfig = OptimConfig()

    @property
    def held_out_seed(self) -> int:
        """The seed of the held-out side: the train/val split and the validation pairs sampled from it
        (``data.split_seed``, default ``seed``), so runs of several seeds validate on the same pairs."""
        return self.seed if self.data.split_seed is None else self.data.split_seed


# The data keys each kind of source reads (besides format, synthetic and the split keys every source shares).
_SOURCE_KEYS = {
    "synthetic": {"root", "scenes_per_source", "mos_range"},
    "csv": {"table", "image_root", "group_column", "reference_column", "mos_range"},
    "iqa": {"table", "image_root", "reference_mos", "mos_range"},
    "mos layout": {"root", "reference_mos", "mos_range"},
    "pieapp": {"root", "pieapp_split"},
}
_SOURCE_SPECIFIC = set().union(*_SOURCE_KEYS.values())


def _source_kind(data: DataConfig) -> str:
    if data.synthetic is not None:
        return "synthetic"
    if data.format in PAIRWISE_LAYOUTS:
        return "pieapp"
    return "mos layout" if data.format in LAYOUTS else data.format


def _check_data_keys(data: DataConfig, given: dict[str, Any]) -> None:
    """ValueError naming a data key that was set (not null) but that the configured source never reads."""
    kind = _source_kind(data)
    if data.synthetic is not None and data.format != "csv":
        raise ValueError(f"data.synthetic and data.format {data.format!r} name two sources; give one of them")
    ignored = sorted(k for k, v in given.items() if k in _SOURCE_SPECIFIC - _SOURCE_KEYS[kind] and v is not None)
    if ignored:
        source = f"data.synthetic: {data.synthetic}" if kind == "synthetic" else f"data.format: {data.format}"
        raise ValueError(
            f"data key(s) {ignored} are not read with {source} (it reads {sorted(_SOURCE_KEYS[kind])}); remove them"
        )


def synthetic_sets(data: DataConfig) -> tuple[str, ...]:
    """The synthetic sets ``data.synthetic`` names, as a tuple (empty: none)."""
    if data.synthetic is None:
        return ()
    return (data.synthetic,) if isinstance(data.synthetic, str) else tuple(data.synthetic)


def _check_synthetic(data: DataConfig) -> None:
    """ValueError for an unknown synthetic set, a repeated one, or several without ``mos_range: [0, 1]``."""
    from .synth import DISTORTION_SETS  # here, not at the top: synth imports the image libraries

    names = synthetic_sets(data)
    unknown = [name for name in names if name not in DISTORTION_SETS]
    if unknown or len(set(names)) != len(names) or (data.synthetic is not None and not names):
        raise ValueError(
            f"data.synthetic must name one or more distinct sets of {', '.join(DISTORTION_SETS)}; "
            f"got {data.synthetic!r}"
        )
    if len(names) > 1 and data.mos_range != (0.0, 1.0):
        raise ValueError(
            f"data.synthetic {list(names)}: each set's MOS is mapped to [0, 1] so pairs of every set share one "
            f"label scale; set data.mos_range: [0, 1] (got {data.mos_range})"
        )


def _check_counts(optim: OptimConfig) -> None:
    """ValueError for a count of the optimiser section that is not positive."""
    for key in ("epochs", "pairs_per_epoch", "batch_size", "val_pairs"):
        value = getattr(optim, key)
        if value < 1:
            raise ValueError(f"optim.{key} must be a positive count; got {value!r}")


def _build(cls, values: dict[str, Any], where: str):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown keys {unknown} in {where}; valid keys: {sorted(names)}")
    return cls(**checked_fields(cls, values, where))


def _lift_backbone_weights(values: dict[str, Any]) -> None:
    """Move ``network.backbone_weights`` to the top level: the network section holds the architecture only."""
    network = values.get("network")
    if not isinstance(network, dict) or "backbone_weights" not in network:
        return
    if values.get("backbone_weights") is not None:
        raise ValueError("give backbone_weights once: at the top level or under network, not both")
    network = dict(network)
    values["backbone_weights"] = network.pop("backbone_weights")
    values["network"] = network


def parse_config(values: dict[str, Any]) -> TrainConfig:
    values = dict(values)
    for section in ("data", "optim"):
        if not isinstance(values.get(section) or {}, dict):
            raise ValueError(f"config key {section}: expected a mapping of keys; got {values[section]!r}")
    _lift_backbone_weights(values)
    data_values = dict(values.pop("data", {}) or {})
    if "train_exclude_groups" in data_values and data_values["train_exclude_groups"] is None:
        data_values["train_exclude_groups"] = ()  # null: none excluded
    data = _build(DataConfig, data_values, "data")
    optim = _build(OptimConfig, values.pop("optim", {}) or {}, "optim")
    config = _build(TrainConfig, {**values, "data": data, "optim": optim}, "the top level")
    if config.recipe not in ("rqi", "traditional"):
        raise ValueError(f"recipe must be 'rqi' or 'traditional'; got {config.recipe!r}")
    if data.format not in DATA_FORMATS:
        raise ValueError(f"data.format must be one of {', '.join(DATA_FORMATS)}; got {data.format!r}")
    if data.format in PAIRWISE_LAYOUTS and config.recipe != "rqi":
        raise ValueError(f"data.format {data.format!r} labels pairs, not images: it needs recipe: rqi")
    _check_data_keys(data, data_values)
    _check_synthetic(data)
    _check_counts(optim)
    check_augment(optim.augment, "optim.augment")
    if optim.ema_decay is not None and not 0.0 < optim.ema_decay < 1.0:
        raise ValueError(f"optim.ema_decay must lie in (0, 1), e.g. 0.995; got {optim.ema_decay!r}")
    if optim.accumulate < 1:
        raise ValueError(
            f"optim.accumulate must be a positive count of passes per step, e.g. 4; got {optim.accumulate!r}"
        )
    if optim.threads is not None and optim.threads < 1:
        raise ValueError(f"optim.threads must be a positive thread count or left out; got {optim.threads!r}")
    if not isinstance(config.members, int) or config.members < 1:
        raise ValueError(f"members must be a positive network count (1: a single network); got {config.members!r}")
    for key in ("member_seeds", "member_networks"):
        given = getattr(config, key)
        if given is None:
            continue
        if len(given) != config.members or config.members < 2:
            raise ValueError(
                f"{key} must list one entry per member (members: {config.members}, at least 2); got {list(given)!r}"
            )
    if config.backbone_weights is not None and config.init_from is not None:
        raise ValueError("backbone_weights and init_from both set the starting weights; give one of them")
    if data.scenes_per_source < 1:
        raise ValueError(
            f"data.scenes_per_source must be a positive scene count, e.g. 5; got {data.scenes_per_source!r}"
        )
    if data.table is None and data.synthetic is None and data.format not in LAYOUTS:
        raise ValueError(
            f"data needs a table (path to a CSV), synthetic: kadid, or a dataset format ({', '.join(LAYOUTS)}) "
            "with root: the dataset's folder"
        )
    return config


def load_config(path: str | os.PathLike, overrides: list[str] = ()) -> TrainConfig:
    """Read a .yaml/.yml or .toml training config; ``overrides`` ("optim.lr=1e-4", ...) change keys first.
    Every value is checked against its field's type (see :mod:`.config_types`)."""
    path = Path(path)
    if path.suffix in (".yaml", ".yml"):
        import yaml

        values = yaml.safe_load(path.read_text())
    elif path.suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            raise ValueError(f"config {str(path)!r}: TOML configs need Python >= 3.11; use YAML") from None
        values = tomllib.loads(path.read_text())
    else:
        raise ValueError(f"config {str(path)!r}: use a .yaml, .yml or .toml file")
    if not isinstance(values, dict):
        raise ValueError(
            f"config {str(path)!r}: expected a mapping of keys at the top level; got {type(values).__name__}"
        )
    return parse_config(apply_overrides(values, list(overrides)))
