"""The mean KADID-10k MOS per (distortion type, level), shipped as package data (see the CSV's header)."""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

MOS_RANGE = (1.0, 5.0)  # the KADID-10k rating scale


@lru_cache(maxsize=None)
def kadid_mean_mos() -> dict[tuple[str, int], float]:
    """{(type_name, level): mean MOS on 1-5} for the 25 types x 5 levels."""
    text = resources.files("rqi_loss.training").joinpath("data/kadid10k_mean_mos.csv").read_text()
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {(row["type_name"], int(row["level"])): float(row["mean_mos"]) for row in rows}
