#!/usr/bin/env bash
# The bench/ suite on this machine's CPU (fp32), as reported in the README's Performance section.
#   bash bench/cpu.sh            (results: bench/results/cpu/*.json; about 37 minutes on a 2-core CPU)
set -uo pipefail
OUT=${OUT:-bench/results/cpu}
mkdir -p "$OUT"
export PYTHONPATH=$PWD:${PYTHONPATH:-}
run() { echo "== $*"; python3 "$@" 2>&1 | grep --line-buffered -v '^  \|^{$\|^}$\|Warning\|warn(\|_VF\|USDT\|DeviceProperties' ; }
run bench/forward_vs_reference.py --batch 1 --repeats 3 --json "$OUT/forward.json"
run bench/loss_step.py --batches 1 4 8 --repeats 2 --json "$OUT/loss_step.json"
run bench/flop_utilization.py --batches 1 4 --repeats 2 --json "$OUT/flops.json"
run bench/vs_perceptual.py --batch 4 --size 256 --repeats 2 --json "$OUT/vs_perceptual.json"
run bench/scaling.py --batches 1 --sizes 256 384 512 --repeats 1 --json "$OUT/scaling.json"
run bench/channel_attention_kernels.py --batch 1 --dtype bf16 --repeats 2 --json "$OUT/channel_attention_bf16.json"
run bench/validation_speed.py --repeats 3 --json "$OUT/validation_speed.json"
run bench/realesrgan_step.py --repeats 20 --json "$OUT/realesrgan_step.json"
