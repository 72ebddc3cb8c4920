"""``rqi-train CONFIG --output DIR``: train an RQI network from a YAML/TOML config (see examples/train/)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from .config import load_config
from .trainer import train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rqi-train", description=__doc__)
    parser.add_argument("config", type=Path, help="training config (.yaml/.yml/.toml)")
    parser.add_argument("--output", type=Path, required=True, help="output folder (our Hub layout)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    summary = train(load_config(args.config), args.output, progress=not args.quiet)
    print(json.dumps({k: v for k, v in summary["best"].items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
