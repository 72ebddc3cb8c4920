#!/usr/bin/env bash
# The second and third tiny-kadid-synth sweeps (records/tiny-kadid-synth/sweep2_h200.json, sweep3_h200.json):
# 15 variants of the shipped config side by side on a lent GPU, one process and one CPU thread each.
#   ROUND=2 bash weights/tiny_kadid_synth_sweep_h200.sh     (ROUND=3 for the third; OUT: where the JSON goes)
# S1/S2 keep the shipped split (data.split_seed 0) while seed 1/2 change the initialisation and data order.
set -uo pipefail
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
S1='"seed": 1, "data": {"split_seed": 0}'
S2='"seed": 2, "data": {"split_seed": 0}'
D2='"network": {"head_depth": 2}'
if [ "${ROUND:-2}" = 2 ]; then
  variants=(
    base '{}'  seed1 "{$S1}"  seed2 "{$S2}"
    dihedral '{"optim": {"augment": "dihedral"}}'
    crop112 '{"optim": {"crop_size": 112}}'
    crop128_p4800 '{"optim": {"crop_size": 128, "pairs_per_epoch": 4800}}'
    hidden256 '{"network": {"hidden": 256}}'  depth2 "{$D2}"
    huber03 '{"optim": {"huber_delta": 0.3}}'
    lr005 '{"optim": {"lr": 0.005}}'  lr0015 '{"optim": {"lr": 0.0015}}'
    drop0 '{"network": {"dropout": 0.0}}'  ep20 '{"optim": {"epochs": 20}}'
    dihedral_depth2 "{$D2, \"optim\": {\"augment\": \"dihedral\"}}"
    wd001 '{"optim": {"weight_decay": 0.01}}'
  )
else
  E20='"optim": {"epochs": 20}'
  variants=(
    d2e20 "{$D2, $E20}"  d2e20_s1 "{$S1, $D2, $E20}"  d2e20_s2 "{$S2, $D2, $E20}"
    d2h256e20 "{\"network\": {\"head_depth\": 2, \"hidden\": 256}, $E20}"
    d2h256e20_s1 "{$S1, \"network\": {\"head_depth\": 2, \"hidden\": 256}, $E20}"
    d3h256e20 "{\"network\": {\"head_depth\": 3, \"hidden\": 256}, $E20}"
    w24d2e20 "{\"network\": {\"head_depth\": 2, \"width\": 24}, $E20}"
    w32d2 '{"network": {"head_depth": 2, "width": 32}}'
    e20_s1 "{$S1, $E20}"  e20_s2 "{$S2, $E20}"
    d2e20_lr002 "{$D2, \"optim\": {\"epochs\": 20, \"lr\": 0.002}}"
    d2e20_dih "{$D2, \"optim\": {\"epochs\": 20, \"augment\": \"dihedral\"}}"
    d2e20_drop02 "{\"network\": {\"head_depth\": 2, \"dropout\": 0.2}, $E20}"
    d2e20_hub02 "{$D2, \"optim\": {\"epochs\": 20, \"huber_delta\": 0.2}}"
    d2e20_wd001 "{$D2, \"optim\": {\"epochs\": 20, \"weight_decay\": 0.01}}"
  )
fi
args=()
for ((i = 0; i < ${#variants[@]}; i += 2)); do args+=(--variant "${variants[i]}" "${variants[i + 1]}"); done
python3 weights/tiny_kadid_synth_sweep.py examples/train/tiny_kadid_synth.yaml --device "${DEVICE:-cuda}" --threads 1 \
  --root /tmp/kadid-synth --json "$OUT/sweep${ROUND:-2}_h200.json" "${args[@]}" 2>&1 | grep -v "it/s"
