#!/usr/bin/env bash
# CUDA checks for a lent GPU machine, in one run (see README "GPU checks"):
#   the CUDA tests (mixed precision, GradScaler), BasicSR's pipeline on CUDA, and rqi-train on CUDA for both
#   recipes of tiny-kadid-synth (KADID-synth is generated there; EPOCHS overrides the configs' epochs, 16 for
#   the README's comparison). Results go to $OUT (or ./gpu_out).
# Needs on that machine: torch with CUDA, and the wheels in .whl/ (basicsr, addict, lmdb, yapf) when missing.
set -uo pipefail
export EPOCHS=${EPOCHS:-16}
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a "$OUT/gpu.txt"
python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_basicsr.py tests/test_loss.py 2>&1 | tail -25 | tee "$OUT/pytest.txt"
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
