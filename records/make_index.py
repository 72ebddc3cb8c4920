"""Writes each network's experiment index, records/<network>/README.md, from its runs.json and run files.

runs.json lists the runs: ``run`` (name), ``tried`` (what the run tried), ``files`` (its files in the folder),
``config`` (a YAML path from the repository root, or where the config lives) and, for a run without a
history file, ``numbers`` (text). Numbers of runs with a ``*history.json`` are read from its ``best`` entry
(the best validation epoch); of a sweep (a JSON list of variants), from the variant with the best image SRCC.

    python records/make_index.py           # rewrite every index
    python records/make_index.py --check   # exit 1 if an index is out of date (CI runs this through pytest)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

RECORDS = Path(__file__).resolve().parent

HEADER = """# Experiment records: {network}

Every training run behind the `{network}` network, shipped or not. The validation numbers are each run's
best epoch on its validation sample (`optim.val_pairs` pairs; the card reports the shipped network on all
dense held-out pairs). This table is written by `python records/make_index.py` from `runs.json`; a test
checks that it is current and that every file here belongs to a run.

| run | what it tried | image SRCC | pair SRCC | sign accuracy | epoch | minutes | config | files |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
"""


def load_runs(folder: Path) -> list[dict]:
    """The runs of one network folder, in the order runs.json gives."""
    return json.loads((folder / "runs.json").read_text())


def run_numbers(folder: Path, run: dict) -> list[str]:
    """image SRCC, pair SRCC, sign accuracy, best epoch (per member of an ensemble), minutes, as table cells."""
    histories = [name for name in run["files"] if name.endswith(".json")]
    if not histories:
        return [run.get("numbers", ""), "", "", "", ""]
    record = json.loads((folder / histories[0]).read_text())
    if isinstance(record, list):  # a sweep: one entry per variant
        best_variant = max(record, key=lambda variant: variant["best"]["image_srcc"])
        best, seconds = best_variant["best"], sum(variant["seconds"] for variant in record)
        label = f"{best['image_srcc']:.4f} (best of {len(record)}: {best_variant['variant']})"
    else:
        best, seconds = record["best"], record["seconds"]
        label = f"{best['image_srcc']:.4f}"
    members = [] if isinstance(record, list) else record.get("members", [])
    epoch = ", ".join(str(member["best"]["epoch"]) for member in members) or str(best.get("epoch", ""))
    return [label, f"{best['pair_srcc']:.4f}", f"{best['pair_sign_accuracy']:.4f}", str(epoch), f"{seconds / 60:.1f}"]


def config_cell(run: dict) -> str:
    config = run.get("config")
    if config is None:
        return "in the history (`config`)"
    return f"`{config}`" if config.endswith((".yaml", ".yml")) else config


def index_text(folder: Path) -> str:
    """The README.md text of one network folder."""
    rows = []
    for run in load_runs(folder):
        files = ", ".join(f"`{name}`" for name in run["files"]) or "none"
        cells = [f"`{run['run']}`", run["tried"], *run_numbers(folder, run), config_cell(run), files]
        rows.append("| " + " | ".join(cells) + " |")
    return HEADER.format(network=folder.name) + "\n".join(rows) + "\n"


def network_folders() -> list[Path]:
    return sorted(path.parent for path in RECORDS.glob("*/runs.json"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that every index is current")
    args = parser.parse_args(argv)
    stale = []
    for folder in network_folders():
        text, target = index_text(folder), folder / "README.md"
        if args.check:
            if not target.exists() or target.read_text() != text:
                stale.append(str(target))
        else:
            target.write_text(text)
    if stale:
        print(f"out of date: {', '.join(stale)}; run python records/make_index.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
