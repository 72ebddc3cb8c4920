"""``rqi-score``: score SR images (files or folders, one or several methods) against GT images.

Exit codes: 0 every matched pair scored; 1 some pairs failed (unreadable file, size mismatch) or the run was
interrupted: the scores it has are still written, marked incomplete; 2 a usage error (missing path, empty
folder, nothing to pair, unknown model, unsupported output suffix), nothing scored.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from .._amp import AMP_MODES
from .._console import console_output
from .._images import DEFAULT_MAX_PIXELS, ImageReadError, read_image
from ..zoo import UnknownModelError
from .classical import ClassicalMetric, crop_border, parse_metric_names
from .html_report import HtmlReport
from .pairing import MethodPairs, PairingError, collect_images, match_method, method_names
from .protocol import PROTOCOLS
from .report import OUTPUT_SUFFIXES, ScoreReport
from .rqi_metric import RQIMetric

logger = logging.getLogger("rqi_loss.score")
EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rqi-score",
        description="Score SR images against their ground truth with RQI (higher: SR judged better than GT). "
        "Give SR [SR ...] GT: files or folders; folders are paired by file name (stem). Several SR folders "
        "print a ranking of the methods.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="SR file/folder(s), then the GT file/folder")
    parser.add_argument("--model", default="maniqa-pipal", help="zoo name or hf-hub:org/repo (default: maniqa-pipal)")
    parser.add_argument("--checkpoint", help="local weights for --model (file or Hub-layout folder), for offline use")
    parser.add_argument("--out", type=Path, help="write per-image scores and means to a .csv or .json file")
    parser.add_argument("--device", help="cuda, cuda:1, cpu (default: cuda when available)")
    parser.add_argument("--amp", choices=[m for m in AMP_MODES if m], help="mixed precision (default: fp32)")
    parser.add_argument("--seed", type=int, default=0, help="crop seed (default 0)")
    parser.add_argument("--batch-size", type=int, default=64, help="crop pairs per network call (default 64)")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="official", help="crop protocol")
    parser.add_argument("--resize-sr", action="store_true", help="resize SR to the GT size instead of failing")
    parser.add_argument("--strip-suffix", default="", help='remove this from SR file stems before pairing, e.g. "_x4"')
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse larger images from their header, before decoding (default {DEFAULT_MAX_PIXELS:,}, Pillow's)",
    )
    parser.add_argument(
        "--also",
        default="",
        metavar="M1,M2",
        help="classical metrics beside RQI, comma separated: psnr, ssim (both on Y), ms_ssim, haarpsi, gmsd, vsi, fsim",
    )
    parser.add_argument(
        "--crop-border",
        type=int,
        default=4,
        help="pixels cropped from every side for the --also metrics (SR papers crop the scale factor; default 4)",
    )
    parser.add_argument("--plot", type=Path, help="draw each method's per-image scores per metric into this .png")
    parser.add_argument(
        "--report",
        type=Path,
        help="write an HTML page (and its images in <name>_files/) with the table, every image side by side, "
        "zoomed crops and each method's RQI map",
    )
    parser.add_argument(
        "--map-stride", type=int, help="pixels between the RQI map's windows (default: half the network's input)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _pair_up(args: argparse.Namespace) -> tuple[list[MethodPairs], dict[str, Path]]:
    *sr_paths, gt_path = [Path(p) for p in args.paths]
    gt_images = collect_images(gt_path)
    names = method_names(sr_paths)
    methods = [match_method(n, p, gt_images, strip_suffix=args.strip_suffix) for n, p in zip(names, sr_paths)]
    return methods, gt_images


class _NoBar:
    """Stands in for a tqdm bar when tqdm is not installed (it is optional)."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, quiet: bool):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, unit="pair", desc="rqi-score", disable=quiet, file=sys.stderr)


def _classical_scores(
    sr: torch.Tensor, gt: torch.Tensor, metrics: list[ClassicalMetric], border: int
) -> dict[str, float]:
    """The --also metrics of one (3, H, W) pair in [0, 1] (SR resized to the GT size first if it differs)."""
    if not metrics:
        return {}
    if sr.shape != gt.shape:
        sr = F.interpolate(sr[None].float(), size=gt.shape[-2:], mode="bicubic", antialias=True)[0].clamp(0, 1)
    sr, gt = crop_border(sr, border), crop_border(gt, border)
    return {m.name: m.compute(sr, gt) for m in metrics}


def _score_all(
    metric: RQIMetric,
    methods: list[MethodPairs],
    report: ScoreReport,
    args: argparse.Namespace,
    also: list[ClassicalMetric],
    page: HtmlReport | None = None,
) -> None:
    """Score every pair (RQI and the ``also`` metrics), GT images read once for all methods; failures are
    recorded and skipped. With ``page``, each image's maps and pictures are added to it."""
    by_image: dict[str, list[tuple[str, Path, Path]]] = {}
    for m in methods:
        for name, sr_file, gt_file in m.pairs:
            by_image.setdefault(name, []).append((m.method, sr_file, gt_file))
    bar = _progress(sum(len(m.pairs) for m in methods), args.quiet)
    max_pixels = args.max_pixels
    try:
        for name, entries in by_image.items():
            try:
                gt = read_image(entries[0][2], max_pixels=max_pixels)
            except (OSError, ImageReadError) as error:
                report.errors += [(method, name, str(error)) for method, _, _ in entries]
                bar.update(len(entries))
                continue
            shown = {}
            for method, sr_file, _ in entries:
                try:
                    sr = read_image(sr_file, max_pixels=max_pixels)
                    if sr.shape != gt.shape and not metric.resize_sr:
                        raise ValueError(
                            f"size mismatch: SR {sr_file} is {tuple(sr.shape[1:])}, GT is {tuple(gt.shape[1:])}; "
                            "pass --resize-sr to resize SR to the GT size"
                        )
                    value = float(metric(sr, gt))
                    classical = _classical_scores(sr, gt, also, args.crop_border)
                    report.add(method, name, value, classical)
                    if page is not None:
                        shown[method] = _panel(metric, sr, gt, value, classical, args.map_stride)
                except (OSError, ValueError) as error:
                    report.errors.append((method, name, str(error)))
                bar.update(1)
            if page is not None and shown:
                page.add(name, gt, shown)
    finally:
        bar.close()


def _panel(metric: RQIMetric, sr: torch.Tensor, gt: torch.Tensor, value: float, classical: dict, stride: int | None):
    """(sr at the GT's size, its RQI map, the caption under its panel) for the HTML report."""
    if sr.shape != gt.shape:
        sr = F.interpolate(sr[None].float(), size=gt.shape[-2:], mode="bicubic", antialias=True)[0].clamp(0, 1)
    caption = " · ".join([f"RQI {value:+.4f}"] + [f"{name} {number:.4f}" for name, number in classical.items()])
    return sr, metric.map(sr, gt, stride=stride), caption


def _usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the command line before any file is read, or None."""
    if len(args.paths) < 2:
        return "give at least one SR path and the GT path (rqi-score SR [SR ...] GT)"
    if args.max_pixels < 1:
        return f"--max-pixels must be a positive pixel count; got {args.max_pixels}"
    if args.out is not None and args.out.suffix.lower() not in OUTPUT_SUFFIXES:
        return f"--out must end in .csv or .json; got {args.out}"
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        return f"--plot must end in .png; got {args.plot}"
    if args.report is not None and args.report.suffix.lower() not in (".html", ".htm"):
        return f"--report must end in .html; got {args.report}"
    if args.map_stride is not None and args.map_stride < 1:
        return f"--map-stride must be a positive number of pixels; got {args.map_stride}"
    if args.crop_border < 0:
        return f"--crop-border must be >= 0 pixels; got {args.crop_border}"
    return None


def _warn_unmatched(methods: list[MethodPairs]) -> None:
    for m in methods:
        for file in m.unmatched_sr:
            logger.warning("%s: %s has no GT image of the same name; not scored", m.method, file)
        if m.unmatched_gt:
            names = ", ".join(f.name for f in m.unmatched_gt)
            logger.warning("%s: no SR image for %d GT image(s): %s", m.method, len(m.unmatched_gt), names)


def _build_metric(args: argparse.Namespace) -> RQIMetric:
    return RQIMetric(
        args.model,
        protocol=args.protocol,
        seed=args.seed,
        batch_size=args.batch_size,
        amp=args.amp,
        resize_sr=args.resize_sr,
        device=args.device or ("cuda" if torch.cuda.is_available() else "cpu"),
        checkpoint_path=args.checkpoint,
    )


def _new_report(
    args: argparse.Namespace, metric: RQIMetric, methods: list[MethodPairs], also: list[ClassicalMetric]
) -> ScoreReport:
    unmatched = {
        m.method: [str(f) for f in m.unmatched_sr + m.unmatched_gt] for m in methods if m.unmatched_sr or m.unmatched_gt
    }
    protocol = dataclasses.asdict(metric.protocol)
    return ScoreReport(
        model=args.model,
        seed=args.seed,
        protocol=protocol,
        methods=[m.method for m in methods],
        unmatched=unmatched,
        also={m.name: {} for m in also},
        higher_better={m.name: m.higher_is_better for m in also},
        crop_border=args.crop_border,
    )


def main(argv: list[str] | None = None) -> int:
    """The ``rqi-score`` command: ``argv`` its arguments (default: the command line); returns the exit code.

    Example (folders are paired by file name; the table goes to stdout):
        >>> import tempfile
        >>> import numpy as np
        >>> from PIL import Image
        >>> from rqi_loss.metric.cli import main
        >>> root = tempfile.mkdtemp()
        >>> rgb = (np.random.default_rng(0).random((160, 160, 3)) * 255).astype(np.uint8)
        >>> for folder, image in (("gt", rgb), ("same", rgb)):
        ...     Image.fromarray(image).save(f"{root}/{folder}.png")
        >>> main([f"{root}/same.png", f"{root}/gt.png", "--model", "tiny-kadid-synth", "--quiet", "--device", "cpu"])
        rank  method  images       mean       std   wins
           1  same         1     0.0000    0.0000      1
        RQI f(SR, GT) with tiny-kadid-synth: higher is better (> 0: judged better than GT); ...
        0
    """
    args = build_parser().parse_args(argv)
    with console_output():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    problem = _usage_problem(args)
    if problem is not None:
        logger.error("%s", problem)
        return EXIT_USAGE
    try:
        also = parse_metric_names(args.also) if args.also else []
    except ValueError as error:
        logger.error("%s", error)
        return EXIT_USAGE
    try:
        methods, gt_images = _pair_up(args)
    except PairingError as error:
        logger.error("%s", error)
        return EXIT_USAGE
    _warn_unmatched(methods)
    if not any(m.pairs for m in methods):
        logger.error("no SR image matched a GT image by name (see the warnings above; --strip-suffix may help)")
        return EXIT_USAGE
    try:
        metric = _build_metric(args)
    except UnknownModelError as error:
        local = "give local weights with --checkpoint FILE and --model naming their zoo network"
        logger.error("%s", error.explain(local))
        return EXIT_USAGE
    except (KeyError, ValueError, TypeError, OSError, RuntimeError) as error:
        logger.error("cannot load model %r: %s", args.model, error)
        return EXIT_USAGE
    report = _new_report(args, metric, methods, also)
    page = HtmlReport(args.report) if args.report is not None else None
    interrupted = False
    try:
        _score_all(metric, methods, report, args, also, page)
    except KeyboardInterrupt:
        interrupted = True
        logger.error("interrupted: writing the scores so far, marked incomplete")
    for method, image, message in report.errors:
        logger.error("%s / %s: %s", method, image, message)
    report.complete = not interrupted and not report.errors
    print(report.table())
    if args.out is not None:
        report.write(args.out)
        logger.info("wrote %s", args.out)
    if args.plot is not None and report.scores:
        from .plot import plot_score_distributions

        plot_score_distributions(report, args.plot)
        logger.info("wrote %s", args.plot)
    if page is not None:
        logger.info("wrote %s (images in %s)", page.write(report), page.folder)
    return EXIT_OK if report.complete else EXIT_INCOMPLETE


if __name__ == "__main__":
    sys.exit(main())
