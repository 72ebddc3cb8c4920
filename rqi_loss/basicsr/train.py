"""``rqi-basicsr-train -opt X.yml [--launcher pytorch] [--auto_resume]`` (or ``python -m rqi_loss.basicsr.train``):
BasicSR's own ``train_pipeline`` with rqi_loss's classes registered first and ``experiments/`` under the
current directory. Multi-GPU: ``torchrun --nproc_per_node=N -m rqi_loss.basicsr.train -opt X.yml --launcher
pytorch`` uses BasicSR's NCCL path unchanged; without CUDA the same command runs on gloo.
"""

from __future__ import annotations

import os


def main() -> None:
    import rqi_loss.basicsr  # noqa: F401  (registrations, and the torchvision alias basicsr's imports need)

    # isort: split
    from basicsr.train import train_pipeline

    from .compat import cpu_distributed

    with cpu_distributed():
        train_pipeline(os.getcwd())


if __name__ == "__main__":
    main()
