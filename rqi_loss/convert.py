"""``rqi-convert``: an authors'-format checkpoint (.pt state dict) -> our Hub folder, verified and atomic.

    rqi-convert rqi_weights.pt out/maniqa-pipal --model maniqa-pipal [--dtype float32|float16|bfloat16]

Unused keys (ViT blocks after the deepest tap, final norm, classifier, conv0_x2, swin downsample convs)
are dropped; everything else must match the architecture exactly.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .checkpoints import STORAGE_DTYPES
from .errors import WeightsError
from .factory import create_network
from .hub import file_sha256
from .zoo import get_model_record, list_models


def model_card(name: str, source: Path, dtype: str, parameters: int) -> str:
    """Model card for a converted zoo network."""
    record = get_model_record(name)
    return (
        f"# {name}\n\n{record.description}\n\n"
        f"- architecture: `{record.architecture}` ({parameters / 1e6:.1f} M parameters used)\n"
        f"- training data: {record.training_data}\n- licence: {record.license}\n"
        f"- converted from `{source.name}` (sha256 {file_sha256(source)}), originally "
        f"`{record.repo_id}` / `{record.filename}` @ `{record.revision}`; weights stored as {dtype}\n\n"
        f"## Citation\n\n{record.citation}\n"
    )


def convert(source: Path, output: Path, *, model: str, dtype: str = "float32") -> Path:
    """Load ``source`` strictly as ``model`` and write it to ``output`` in our Hub layout."""
    network = create_network(model, checkpoint_path=source)
    record = get_model_record(model)
    provenance = {
        "converted_from": source.name,
        "source_sha256": file_sha256(source),
        "original_repo": record.repo_id,
        "original_file": record.filename,
        "original_revision": record.revision,
        "license": record.license,
        "citation": record.citation,
    }
    parameters = sum(p.numel() for p in network.parameters())
    return network.save_pretrained(
        output,
        name=model,
        description=record.description,
        provenance=provenance,
        card=model_card(model, source, dtype, parameters),
        dtype=dtype,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rqi-convert", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="authors' checkpoint (.pt/.pth state dict, or .safetensors)")
    parser.add_argument("output", type=Path, help="output folder (config.json + model.safetensors + README.md)")
    parser.add_argument(
        "--model", default="maniqa-pipal", choices=list_models(), help="zoo architecture of the checkpoint"
    )
    parser.add_argument("--dtype", default="float32", choices=list(STORAGE_DTYPES), help="storage precision")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.source.is_file():
        parser.error(f"source {str(args.source)!r} does not exist")
    try:
        folder = convert(args.source, args.output, model=args.model, dtype=args.dtype)
    except (ValueError, KeyError, WeightsError) as exc:  # a file that does not load or fit: one line, exit 2
        print(f"rqi-convert: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
