"""Markdown tables of the bench/ results (the README's Performance section is this script's output).

python bench/summarize.py [bench/results/cpu bench/results/h200 ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _load(folder: Path, name: str) -> dict | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _machine(folder: Path) -> str:
    for path in sorted(folder.glob("*.json")):
        hw = json.loads(path.read_text()).get("hardware", {})
        where = hw.get("gpu") or f"{hw.get('cpu', '?')}, {hw.get('torch_threads', '?')} threads"
        return f"{where}, torch {hw.get('torch', '?')}"
    return "?"


def summarize(folder: Path) -> list[str]:
    lines = [f"**{folder.name}** ({_machine(folder)})", "", "| measurement | result |", "|---|---|"]
    forward = _load(folder, "forward") or _load(folder, "forward_fp32")
    if forward:
        lines.append(
            f"| network forward vs authors' MANIQA_RQI, fp32, batch {forward['batch']} | "
            f"{forward['speedup_vs_authors']:.2f}x faster, max abs diff {forward['max_abs_difference']:.1e}, "
            f"{forward['gflop_per_pair']['ours']:.0f} vs {forward['gflop_per_pair']['authors']:.0f} GFLOP/pair |"
        )
    for name in ("loss_step", "loss_step_bf16"):
        step = _load(folder, name)
        for row in (step or {}).get("results", []):
            amp = step.get("amp") or "fp32"
            lines.append(
                f"| loss step vs naive, {amp}, batch {row['batch']}: time / peak memory | "
                f"{row['time_ratio']['ours']:.2f}x / {row['memory_ratio']['ours']:.2f}x; with recompute=True "
                f"{row['time_ratio']['ours_checkpoint']:.2f}x / {row['memory_ratio']['ours_checkpoint']:.2f}x |"
            )
    for name in ("vs_perceptual", "vs_perceptual_bf16"):
        other = _load(folder, name)
        if other:
            t, m = other["rqi_time_ratio"], other["rqi_memory_ratio"]
            lines.append(
                f"| RQI step vs BasicSR VGG19 perceptual / LPIPS-VGG, {other.get('amp') or 'fp32'}, batch "
                f"{other['batch']} at {other['size']} px | time {t['basicsr_vgg19_perceptual']:.2f}x / "
                f"{t['lpips_vgg']:.2f}x, memory {m['basicsr_vgg19_perceptual']:.2f}x / {m['lpips_vgg']:.2f}x |"
            )
    for name in ("flops", "flops_bf16", "flops_fp16", "flops_fp32", "flops_bf16_compiled"):
        flops = _load(folder, name)
        for row in (flops or {}).get("results", []):
            mfu = f", {row['mfu_vs_nominal_peak']:.1%} of the nominal bf16 peak" if "mfu_vs_nominal_peak" in row else ""
            mode = row.get("mode") or ("compiled" if flops.get("compiled") else "eager")  # early files: no modes
            lines.append(
                f"| loss step FLOP/s, {flops.get('amp') or 'fp32'}, {mode}, batch {row['batch']} | "
                f"{row['achieved_tflops']:.2f} TFLOP/s = {row['fraction_of_measured_matmul']:.1%} of measured "
                f"{flops['matmul']['dtype'].replace('torch.', '')} matmul{mfu} |"
            )
    profiled = _load(folder, "profile_bf16")
    if profiled:
        for mode in ("eager", "compiled"):
            run = profiled.get(mode, profiled if mode == "eager" else None)  # early files: the eager run only
            if not run:
                continue
            parts = ", ".join(f"{k} {v:.1f}" for k, v in run.get("parts_ms", {}).items())
            kinds = ", ".join(
                f"{k} {v:.1f}" for k, v in sorted(run["kernel_kinds_ms"].items(), key=lambda kv: -kv[1]) if v >= 0.5
            )
            lines.append(
                f"| loss step profile, {profiled.get('amp') or 'fp32'}, {mode}, batch {profiled['batch']} | "
                + (f"parts (ms): {parts}; " if parts else "")
                + f"kernel time by kind (ms per step): {kinds} |"
            )
    for name in ("scaling", "scaling_bf16"):
        scaling = _load(folder, name)
        if scaling:
            cells = ", ".join(
                f"{r['size']}px x{r['batch']}: {r['seconds_per_crop'] * 1e3:.0f} ms/crop" for r in scaling["results"]
            )
            lines.append(f"| scaling, grid crops, {scaling.get('amp') or 'fp32'} | {cells} |")
    for name in ("channel_attention_bf16",):
        kernels = _load(folder, name)
        if kernels:
            r = kernels["results"]
            cells = ", ".join(
                f"{k} {v['seconds'] * 1e3:.1f} ms (err {v['relative_error_out']:.1e})"
                for k, v in r.items()
                if "seconds" in v
            )
            lines.append(f"| channel attention {tuple(kernels['shape'])} bf16 fwd+bwd | {cells} |")
    return lines + [""]


def main() -> None:
    folders = [Path(a) for a in sys.argv[1:]] or sorted(p for p in RESULTS.iterdir() if p.is_dir())
    print("\n".join(line for folder in folders for line in summarize(folder)))


if __name__ == "__main__":
    main()
