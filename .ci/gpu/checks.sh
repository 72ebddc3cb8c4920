#!/usr/bin/env bash
# CUDA checks for a lent GPU machine, in one run: the CUDA tests (mixed precision, GradScaler, no host-device
# syncs, checkpointing, torch.compile with inductor, the metric's protocol parity at full size), the metric
# and speed-path tests, and BasicSR's pipeline on CUDA. TRAIN=1 also trains both tiny-kadid-synth recipes
# on CUDA (EPOCHS overrides the configs' epochs). Results go to $OUT (default ./gpu_out).
set -uo pipefail
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
source "$(dirname "$0")/env.sh" > "$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt"
python3 -m pytest -q -p no:cacheprovider ${CUDA_TESTS:-tests/networks/test_cuda.py tests/basicsr/test_basicsr.py tests/loss/test_loss.py} 2>&1 \
  | tail -25 | tee "$OUT/pytest.txt"
[ "${TRAIN:-0}" = 1 ] || exit 0
export EPOCHS=${EPOCHS:-16}
for recipe in tiny_kadid_synth tiny_kadid_synth_traditional; do
  python3 - "$recipe" <<'PY' 2>&1 | grep -v "it/s" | tail -15 | tee "$OUT/train_$recipe.txt"
import dataclasses, json, os, sys, time, logging
from rqi_loss.training import load_config, train
logging.basicConfig(level=logging.INFO)
cfg = load_config(f"examples/train/{sys.argv[1]}.yaml")
epochs = int(os.environ.get("EPOCHS", cfg.optim.epochs))
cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, device="cuda", num_workers=0, epochs=epochs),
                          data=dataclasses.replace(cfg.data, root="/tmp/kadid-synth"))
t = time.time()
summary = train(cfg, f"/tmp/out_{sys.argv[1]}", progress=False)
print("seconds", round(time.time() - t, 1))
print(json.dumps(summary["best"]))
PY
done
