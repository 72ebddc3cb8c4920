#!/usr/bin/env bash
# The bench/ suite on a lent GPU in one prepared run: bf16, fp16 and fp32; crops/s, peak memory, and model
# FLOP utilisation against the GPU's nominal bf16 peak. JSON results go to $OUT (default ./gpu_out/bench).
#   bash bench/gpu.sh            (needs torch with CUDA; rqi-iqa, timm, lpips, basicsr: from .whl/ if missing)
set -uo pipefail
OUT=${OUT:-gpu_out}/bench
mkdir -p "$OUT"
source "$(dirname "$0")/../.ci/gpu/env.sh"
run() { echo "== $*"; timeout ${STEP_TIMEOUT:-150} python3 "$@" 2>&1 | grep --line-buffered -v '^  \|^{$\|^}$\|Warning\|warn(' ; }
run bench/channel_attention_kernels.py --device cuda --batch 16 --repeats 5 --json "$OUT/channel_attention_bf16.json"
STEP_TIMEOUT=480 run bench/flop_utilization.py --device cuda --batches 8 16 32 --amp bf16 --modes eager,default,reduce-overhead --repeats 5 --json "$OUT/flops_bf16.json"
run bench/loss_step.py --device cuda --batches 1 8 16 --amp bf16 --repeats 5 --json "$OUT/loss_step_bf16.json"
run bench/forward_vs_reference.py --device cuda --batch 16 --repeats 5 --json "$OUT/forward_fp32.json"
run bench/vs_perceptual.py --device cuda --batch 16 --amp bf16 --repeats 5 --json "$OUT/vs_perceptual_bf16.json"
run bench/scaling.py --device cuda --batches 1 8 --sizes 256 384 512 --amp bf16 --repeats 3 --json "$OUT/scaling_bf16.json"
run bench/profile_step.py --device cuda --batch 16 --amp bf16 --compile --repeats 5 --json "$OUT/profile_bf16.json"
run bench/flop_utilization.py --device cuda --batches 16 --amp fp16 --repeats 5 --json "$OUT/flops_fp16.json"
STEP_TIMEOUT=420 run bench/compile_step.py --model maniqa-pipal --random-weights --device cuda --batch 16 --amp bf16 --modes default,max-autotune,reduce-overhead --repeats 5 --json "$OUT/compile_step_bf16.json"
[ "${QUICK:-0}" = 1 ] && exit 0
run bench/flop_utilization.py --device cuda --batches 16 --repeats 3 --json "$OUT/flops_fp32.json"
run bench/loss_step.py --device cuda --batches 8 --repeats 3 --json "$OUT/loss_step_fp32.json"
