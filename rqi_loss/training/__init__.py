"""Training RQI networks (not imported by ``rqi_loss`` itself): the dense-pair recipe, data readers, the
KADID-synth generator and the ``rqi-train`` command."""

from .config import TrainConfig, load_config, parse_config
from .pairs import dense_pairs, reference_pairs, relative_labels
from .rows import split_groups
from .tables import ImageRow, read_csv_table, read_iqa_table
from .trainer import train

__all__ = [
    "ImageRow",
    "TrainConfig",
    "dense_pairs",
    "load_config",
    "parse_config",
    "read_csv_table",
    "read_iqa_table",
    "reference_pairs",
    "relative_labels",
    "split_groups",
    "train",
]
