"""pyiqa's TOPIQ (``CFANet``) loaded for parity tests without running pyiqa's package ``__init__``, which imports
heavy dependencies: the modules its architecture file imports are stood in for by minimal ones, and
``topiq_arch.py`` is read from the installed package (``pip install --no-deps pyiqa==0.1.16``)."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import torch


def _module(name: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    sys.modules[name] = module
    return module


def pyiqa_archs_folder() -> Path | None:
    spec = importlib.util.find_spec("pyiqa")  # finds the package without importing it
    return Path(spec.submodule_search_locations[0]) / "archs" if spec else None


def load_cfanet() -> type:
    """pyiqa's ``CFANet`` class (the real file; stand-ins for registry, downloads, CLIP, Swin and face tools)."""
    archs = pyiqa_archs_folder()
    registry = types.SimpleNamespace(register=lambda *args, **kwargs: lambda cls: cls)
    _module("pyiqa", __path__=[str(archs.parent)])
    _module("pyiqa.utils", __path__=[])
    _module("pyiqa.utils.registry", ARCH_REGISTRY=registry)
    _module("pyiqa.utils.download_util", DEFAULT_CACHE_DIR="/nonexistent")
    _module("pyiqa.archs", __path__=[str(archs)])
    _module(
        "pyiqa.archs.arch_util",
        dist_to_mos=lambda score: (score * torch.arange(1, score.shape[-1] + 1).to(score)).sum(-1, keepdim=True),
        load_pretrained_network=lambda *args, **kwargs: None,
        uniform_crop=None,
        get_url_from_name=lambda name, *args, **kwargs: name,
    )
    _module("pyiqa.archs.clip_model", load=None)
    _module("pyiqa.archs.topiq_swin", create_swin=None)
    _module("facexlib", __path__=[])
    _module("facexlib.utils", __path__=[])
    _module("facexlib.utils.face_restoration_helper", FaceRestoreHelper=None)
    for name in ("constants", "topiq_arch"):
        spec = importlib.util.spec_from_file_location(f"pyiqa.archs.{name}", archs / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["pyiqa.archs.topiq_arch"].CFANet
