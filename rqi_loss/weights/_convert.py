"""``rqi-convert``: an authors'-format or pyiqa checkpoint -> our Hub folder, verified and atomic.

    rqi-convert rqi_weights.pt out/maniqa-pipal --model maniqa-pipal [--dtype float32|float16|bfloat16]
    rqi-convert cfanet_fr_kadid_res50-2c4cc61d.pth out/topiq-kadid --pyiqa topiq_fr
    rqi-convert AHIQ_vit_p8_epoch33-da3ea303.pth out/ahiq-pipal --pyiqa ahiq \
        --backbone vit=vit_base_patch8_224.safetensors --backbone resnet=resnet50.safetensors

Unused keys (ViT blocks after the deepest tap, final norm, classifier, conv0_x2, swin downsample convs)
are dropped; everything else must match the architecture exactly. A pyiqa file gives a starting point for
``rqi-train`` (``init_from``): pyiqa trained it to predict one image's quality, not as an RQI judge.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ..errors import WeightsError
from ..networks import build_network
from ..zoo import get_model_record, list_models
from ._checkpoints import STORAGE_DTYPES
from ._hub import file_sha256
from ._model_card import CardMetadata
from ._pyiqa_checkpoints import load_pyiqa_weights


def model_card(name: str, source: Path, source_sha256: str, dtype: str, parameters: int) -> str:
    """Model card for a converted zoo network."""
    record = get_model_record(name)
    return (
        f"# {name}\n\n{record.description}\n\n"
        f"- architecture: `{record.architecture}` ({parameters / 1e6:.1f} M parameters used)\n"
        f"- training data: {record.training_data}\n- licence: {record.license}\n"
        f"- converted from `{source.name}` (sha256 {source_sha256}), originally "
        f"`{record.repo_id}` / `{record.filename}` @ `{record.revision}`; weights stored as {dtype}\n\n"
        f"## Citation\n\n{record.citation}\n"
    )


def convert(source: Path, output: Path, *, model: str, dtype: str = "float32") -> Path:
    """Load ``source`` strictly as ``model`` and write it to ``output`` in our Hub layout."""
    from ..factory import create_network  # here: the factory imports this package

    network = create_network(model, checkpoint_path=source)
    record = get_model_record(model)
    digest = file_sha256(source)  # hashed once: checkpoints are hundreds of MB
    provenance = {
        "converted_from": source.name,
        "source_sha256": digest,
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
        card=model_card(model, source, digest, dtype, parameters),
        card_metadata=CardMetadata(base_model=record.repo_id) if record.repo_id else None,
        dtype=dtype,
    )


PYIQA_MODELS = {"topiq_fr": "topiq_rqi", "ahiq": "ahiq_rqi"}  # pyiqa's metric name -> our architecture
PYIQA_LICENCE = "pyiqa's published weights: PolyForm Noncommercial 1.0.0 / S-Lab License 1.0 (non-commercial use)"


def convert_pyiqa(
    source: Path,
    output: Path,
    *,
    pyiqa_model: str,
    backbones: dict[str, Path] | None = None,
    network_config: dict | None = None,
    dtype: str = "float32",
) -> Path:
    """Load pyiqa's published ``source`` (``pyiqa_model``: "topiq_fr" | "ahiq") strictly, with the backbone files
    it lacks, and write it to ``output`` in our Hub layout. ``network_config``: changes to the architecture's
    default (full-size) config."""
    if pyiqa_model not in PYIQA_MODELS:
        raise ValueError(f"pyiqa_model must be one of {sorted(PYIQA_MODELS)}; got {pyiqa_model!r}")
    architecture = PYIQA_MODELS[pyiqa_model]
    network = build_network(architecture, dict(network_config or {}))
    backbones = dict(backbones or {})
    load_pyiqa_weights(network, source, backbones=backbones)
    files = {"source": source, **{f"backbone {part}": path for part, path in sorted(backbones.items())}}
    digests = {label: file_sha256(path) for label, path in files.items()}  # hashed once each
    provenance = {
        "converted_from": source.name,
        "source_sha256": digests["source"],
        "pyiqa_model": pyiqa_model,
        "backbones": {
            part: {"file": path.name, "sha256": digests[f"backbone {part}"]} for part, path in backbones.items()
        },
        "license": PYIQA_LICENCE,
    }
    description = (
        f"pyiqa's {pyiqa_model} weights as a {architecture} network: a starting point for rqi-train (init_from); "
        "pyiqa trained them to predict one image's quality, not as an RQI judge"
    )
    listing = "".join(f"- {label}: `{path.name}` (sha256 {digests[label]})\n" for label, path in files.items())
    card = f"# {output.name}\n\n{description}.\n\n{listing}- licence: {PYIQA_LICENCE}\n- weights stored as {dtype}\n"
    return network.save_pretrained(
        output,
        name=output.name,
        description=description,
        provenance=provenance,
        card=card,
        card_metadata=CardMetadata(license="other", license_name="polyform-noncommercial-1.0.0"),
        dtype=dtype,
    )


def _backbone_argument(text: str) -> tuple[str, Path]:
    part, sep, path = text.partition("=")
    if not sep or not part or not path:
        raise argparse.ArgumentTypeError(f"expected PART=FILE (e.g. vit=vit_base_patch8_224.safetensors); got {text!r}")
    return part, Path(path)


def _network_argument(text: str) -> dict:
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc}); e.g. '{{\"input_size\": 384}}'") from exc
    if not isinstance(values, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object of config fields; got {text!r}")
    return values


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rqi-convert", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path, help="checkpoint (.pt/.pth state dict or pyiqa file, or .safetensors)")
    parser.add_argument("output", type=Path, help="output folder (config.json + model.safetensors + README.md)")
    parser.add_argument(
        "--model", default="maniqa-pipal", choices=list_models(), help="zoo architecture of the checkpoint"
    )
    parser.add_argument(
        "--pyiqa", choices=sorted(PYIQA_MODELS), help="the source is pyiqa's published file of this metric"
    )
    parser.add_argument(
        "--backbone",
        action="append",
        type=_backbone_argument,
        default=[],
        metavar="PART=FILE",
        help="with --pyiqa: a backbone the file lacks, in timm key names (AHIQ: vit=..., resnet=...)",
    )
    parser.add_argument(
        "--network", type=_network_argument, default=None, metavar="JSON", help="with --pyiqa: config changes"
    )
    parser.add_argument("--dtype", default="float32", choices=list(STORAGE_DTYPES), help="storage precision")
    return parser


def _run(args: argparse.Namespace) -> Path:
    if args.pyiqa is None:
        return convert(args.source, args.output, model=args.model, dtype=args.dtype)
    return convert_pyiqa(
        args.source,
        args.output,
        pyiqa_model=args.pyiqa,
        backbones=dict(args.backbone),
        network_config=args.network,
        dtype=args.dtype,
    )


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.pyiqa is None and (args.backbone or args.network is not None):
        parser.error("--backbone and --network apply to pyiqa files: add --pyiqa topiq_fr|ahiq")
    for label, path in [("source", args.source), *((f"--backbone {p}", f) for p, f in args.backbone)]:
        if not path.is_file():
            parser.error(f"{label} {str(path)!r} does not exist")
    try:
        folder = _run(args)
    except (ValueError, KeyError, WeightsError) as exc:  # a file that does not load or fit: one line, exit 2
        print(f"rqi-convert: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
