"""``rqi-train CONFIG [KEY=VALUE ...] --output DIR [--resume]``: train an RQI network from a YAML/TOML config (see
examples/train/). Exit codes: 0 trained; 2 a bad config, override, table or weight file; 3 the run diverged (its
validation loss became NaN or infinite: stopped at that epoch, nothing exported). Errors are one line on stderr."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .._console import console_output
from ..errors import WeightsError
from .config import load_config
from .fit import TrainingDiverged
from .tables import TrainingDataError
from .trainer import train

EXIT_USAGE = 2  # a bad config or table: a one-line error, no traceback
EXIT_DIVERGED = 3  # the validation loss became NaN or infinite: the run stopped, nothing exported


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rqi-train", description=__doc__)
    parser.add_argument("config", type=Path, help="training config (.yaml/.yml/.toml)")
    parser.add_argument("--output", type=Path, required=True, help="output folder (our Hub layout)")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="change config keys, e.g. optim.lr=1e-4 data.root=/data (values read as YAML, type-checked)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--resume", action="store_true", help="continue the interrupted run in --output from its last epoch"
    )
    args = parser.parse_intermixed_args(argv)  # overrides before or after --output alike
    main_rank = os.environ.get("RANK", "0") == "0"  # under torchrun, the other ranks log warnings only
    level, fmt = logging.INFO if main_rank else logging.WARNING, "%(asctime)s %(levelname)s %(name)s: %(message)s"
    with console_output(level, fmt):
        return _run(args, main_rank)


def _run(args: argparse.Namespace, main_rank: bool) -> int:
    try:
        config = load_config(args.config, args.overrides)
    except (OSError, ValueError, TypeError, KeyError) as error:
        print(f"rqi-train: error: config {str(args.config)!r}: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        summary = train(config, args.output, progress=not args.quiet, resume=args.resume)
    except (TrainingDataError, WeightsError) as error:  # bad data or weights, found before the first step
        print(f"rqi-train: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingDiverged as error:
        print(f"rqi-train: error: {error}", file=sys.stderr)
        return EXIT_DIVERGED
    if main_rank:
        print(json.dumps({k: v for k, v in summary["best"].items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
