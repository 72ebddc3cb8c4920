#!/usr/bin/env bash
# The GPU questions of the loss step in one prepared run that ends within a budget (default 570 s, under the
# device tool's 10-minute command limit): each step gets at most its cap and never more than what is left, and a
# step that would start with under 20 s left is skipped and named. In order of what matters most:
#   1. the CUDA tests (mixed precision, no host-device syncs, CUDA-graph replay against eager on fresh crops);
#   2. maniqa-pipal in bf16 at batch 8/16/32: eager, compile=True and reduce-overhead, with model FLOP
#      utilisation against the card's nominal bf16 peak and peak memory (bench/flop_utilization.py);
#   3. the loss step's peak memory and time against naive autograd through the authors' network, bf16;
#   4. the loss step beside BasicSR's VGG19 perceptual loss and LPIPS-VGG, bf16, batch 16;
#   5. max-autotune (its autotuning alone can take minutes: last).
# JSON results and a log go to $OUT (default ./gpu_out/ten_minutes).
#   BUDGET=570 bash bench/gpu_ten_minutes.sh
set -uo pipefail
OUT=${OUT:-gpu_out}/ten_minutes
BUDGET=${BUDGET:-570}
mkdir -p "$OUT"
started=$SECONDS
source "$(dirname "$0")/../.ci/gpu/env.sh" > "$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt"

step() {  # step CAP_SECONDS COMMAND...: run COMMAND for at most min(CAP, budget left)
  local cap=$1 left
  shift
  left=$((BUDGET - (SECONDS - started)))
  if [ "$left" -lt 20 ]; then
    echo "== skipped (budget spent): $*" | tee -a "$OUT/log.txt"
    return
  fi
  [ "$cap" -gt "$left" ] && cap=$left
  echo "== [${cap} s at most, ${left} s left] $*" | tee -a "$OUT/log.txt"
  timeout "$cap" "$@" 2>&1 | grep --line-buffered -v 'Warning\|warn(' | tail -30 | tee -a "$OUT/log.txt"
}

step 120 python3 -m pytest -q -p no:cacheprovider tests/networks/test_cuda.py
step 200 python3 bench/flop_utilization.py --device cuda --batches 8 16 32 --amp bf16 \
  --modes eager,default,reduce-overhead --repeats 5 --json "$OUT/flops_bf16.json"
step 60 python3 bench/loss_step.py --device cuda --batches 8 16 --amp bf16 --repeats 5 --json "$OUT/loss_step_bf16.json"
step 60 python3 bench/vs_perceptual.py --device cuda --batch 16 --amp bf16 --repeats 5 --json "$OUT/vs_perceptual_bf16.json"
step 180 python3 bench/compile_step.py --model maniqa-pipal --random-weights --device cuda --batch 16 --amp bf16 \
  --modes max-autotune --repeats 5 --json "$OUT/compile_max_autotune_bf16.json"
echo "== done in $((SECONDS - started)) s (budget ${BUDGET} s)" | tee -a "$OUT/log.txt"
