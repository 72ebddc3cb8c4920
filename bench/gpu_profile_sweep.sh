#!/usr/bin/env bash
# One prepared GPU run: profile the bf16 loss step (bench/profile_step.py) while KADID-synth is generated on
# the CPU, then train tiny-kadid-synth variants side by side (weights/tiny_kadid_synth_sweep.py).
set -uo pipefail
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
source "$(dirname "$0")/../.ci/gpu/env.sh" > "$OUT/gpu.txt" 2>&1
python3 -c "import skimage, yaml; print('skimage', skimage.__version__)" >> "$OUT/gpu.txt" 2>&1
(python3 -c "from rqi_loss.training.synth import make_kadid_synth; make_kadid_synth('/tmp/kadid-synth')" > "$OUT/synth.txt" 2>&1) &
(cd bench && timeout 200 python3 profile_step.py --device cuda --batch 16 --amp bf16 --repeats 5 --rows 40 --json "$OUT/profile_bf16.json" > "$OUT/profile.txt" 2>&1)
wait
B='"band_shape": true, "pair_bands": true'
timeout ${SWEEP_TIMEOUT:-330} python3 weights/tiny_kadid_synth_sweep.py examples/train/tiny_kadid_synth.yaml \
  --device cuda --threads 2 --epochs 16 --root /tmp/kadid-synth --json "$OUT/sweep.json" \
  --variant base '{}' \
  --variant shape '{"network": {"band_shape": true}}' \
  --variant pairb '{"network": {"pair_bands": true}}' \
  --variant both "{\"network\": {$B}}" \
  --variant both_w24 "{\"network\": {$B, \"width\": 24, \"hidden\": 192}}" \
  --variant both_d05 "{\"network\": {$B}, \"optim\": {\"huber_delta\": 0.05}}" \
  --variant both_e24 "{\"network\": {$B}, \"optim\": {\"epochs\": 24}}" \
  --variant base_e24 '{"optim": {"epochs": 24}}' \
  > "$OUT/sweep.txt" 2>&1
tail -5 "$OUT/synth.txt"; head -60 "$OUT/profile.txt"; cat "$OUT/sweep.txt" | grep -v it/s | tail -20
