# Sourced by the GPU scripts: wheels from .whl/ for what the GPU machine lacks (it has no internet), the
# repository on PYTHONPATH, and the GPU recorded.
if [ -d .whl ] && [ ! -d /tmp/site ]; then
  wheels=$(ls .whl/*.whl | grep -v opencv)
  python3 -c "import cv2" 2>/dev/null || wheels="$wheels $(ls .whl/opencv*.whl)"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site $wheels
fi
export PYTHONPATH=$PWD:/tmp/site:${PYTHONPATH:-} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
