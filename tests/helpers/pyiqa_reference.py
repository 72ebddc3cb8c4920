"""pyiqa's TOPIQ (``CFANet``) and ``AHIQ`` loaded for parity tests without running pyiqa's package ``__init__``,
which imports heavy dependencies: the modules their architecture files import are stood in for by minimal ones,
and the files are read from the installed package (``pip install --no-deps pyiqa==0.1.16``)."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from unittest import mock

import pytest
import torch


def _module(name: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    sys.modules[name] = module
    return module


def pyiqa_archs_folder() -> Path | None:
    """pyiqa's ``archs`` folder, or None when pyiqa is not installed."""
    stand_in = sys.modules.get("pyiqa")
    if stand_in is not None and getattr(stand_in, "__path__", None):  # already stood in for, by _stand_ins
        return Path(list(stand_in.__path__)[0]) / "archs"
    spec = importlib.util.find_spec("pyiqa")  # finds the package without importing it
    return Path(spec.submodule_search_locations[0]) / "archs" if spec else None


needs_pyiqa = pytest.mark.skipif(
    pyiqa_archs_folder() is None, reason="pyiqa is a test-time reference: pip install --no-deps pyiqa==0.1.16"
)


def assert_scores_equal_reference(reference: torch.nn.Module, ours: torch.nn.Module, size: int) -> None:
    """On two random (2, 3, size, size) pairs, ``ours(a, b)`` equals pyiqa's score (no final activation) to 1e-5,
    and swapping the images changes it (an order-sensitive score, not a constant)."""
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(2, 3, size, size, generator=g), torch.rand(2, 3, size, size, generator=g)
    with torch.no_grad():
        expected = reference(a, b).flatten()
        torch.testing.assert_close(ours(a, b), expected, rtol=0, atol=1e-5)
        assert not torch.allclose(ours(b, a), expected, atol=1e-3)


def _stand_ins() -> Path:
    """Minimal modules in place of pyiqa's package, registry, downloads, CLIP, Swin and face tools."""
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
        load_file_from_url=None,
    )
    _module("pyiqa.archs.clip_model", load=None)
    _module("pyiqa.archs.topiq_swin", create_swin=None)
    _module("facexlib", __path__=[])
    _module("facexlib.utils", __path__=[])
    _module("facexlib.utils.face_restoration_helper", FaceRestoreHelper=None)
    return archs


def _load(name: str) -> types.ModuleType:
    archs = _stand_ins()
    spec = importlib.util.spec_from_file_location(f"pyiqa.archs.{name}", archs / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_cfanet() -> type:
    """pyiqa's ``CFANet`` class, from its own file."""
    _load("constants")
    return _load("topiq_arch").CFANet


def build_ahiq(seed: int = 0) -> torch.nn.Module:
    """pyiqa's ``AHIQ`` with seeded random weights, one crop, nothing downloaded (timm's ImageNet weights off)."""
    import timm

    module = _load("ahiq_arch")
    create = timm.create_model
    with (
        torch.random.fork_rng(devices=[]),
        mock.patch.object(
            module.timm, "create_model", lambda name, pretrained=False, **kw: create(name, pretrained=False, **kw)
        ),
    ):
        torch.manual_seed(seed)
        return module.AHIQ(num_crop=1, pretrained=False).eval()


def assert_converted_scores_as(reference: torch.nn.Module, convert_args: list[str], size: int, folder) -> None:
    """rqi-convert with ``convert_args`` (whose output is ``folder / "converted"``) succeeds and the converted
    network scores a random pair of ``size`` px images as ``reference`` does, to 1e-5. ``folder`` is removed
    afterwards: full-size files are hundreds of MB, too much to leave to pytest's kept temporary folders."""
    import shutil

    from rqi_loss import create_network
    from rqi_loss.weights._convert import main as convert_main

    try:
        assert convert_main([*convert_args[:1], str(folder / "converted"), *convert_args[1:]]) == 0
        converted = create_network(folder / "converted")
        g = torch.Generator().manual_seed(4)
        a, b = torch.rand(1, 3, size, size, generator=g), torch.rand(1, 3, size, size, generator=g)
        with torch.no_grad():
            torch.testing.assert_close(converted(a, b), reference(a, b).flatten(), rtol=0, atol=1e-5)
    finally:
        shutil.rmtree(folder)
