"""The model zoo: one frozen record per pretrained name, and the functions that read it.

Nothing outside this file knows a model name: ``create_network`` and ``RQILoss`` look the record up and
build what it says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from .networks import MANIQARQIConfig

_UNPINNED = "main"


@dataclass(frozen=True)
class PretrainedModel:
    """Everything needed to build, fetch, verify and cite one pretrained RQI network."""

    name: str
    description: str
    architecture: str
    config: Mapping[str, Any]
    repo_id: str
    filename: str
    revision: str
    sha256: str | None
    checkpoint_format: str  # "state_dict_pickle" (a torch.save'd dict) or "hub_folder" (config.json + safetensors)
    license: str
    citation: str
    input_range: tuple[float, float] = (0.0, 1.0)
    notes: str = ""
    training_data: str = ""
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def pinned(self) -> bool:
        """True when ``revision`` is a 40-hex commit (cached files then need no network at all)."""
        return len(self.revision) == 40 and all(c in "0123456789abcdef" for c in self.revision)


_PAPER = (
    "Bridging the Perception Gap in Image Super-Resolution Evaluation. CVPR 2026. arXiv:2503.13074"
)

_REGISTRY: dict[str, PretrainedModel] = {}


def register(model: PretrainedModel) -> PretrainedModel:
    """Add a record to the zoo; a name can be registered once."""
    if model.name in _REGISTRY:
        raise ValueError(f"model name {model.name!r} is already registered")
    _REGISTRY[model.name] = model
    return model


register(
    PretrainedModel(
        name="maniqa-pipal",
        description="The authors' MANIQA-RQI (ViT-B/8 + MANIQA head) trained on PIPAL dense MOS-difference pairs.",
        architecture="maniqa_rqi",
        config=MappingProxyType({k: v for k, v in MANIQARQIConfig().__dict__.items()}),
        repo_id="shaolin999/rqi",
        filename="rqi_weights.pt",
        revision=_UNPINNED,
        sha256=None,
        checkpoint_format="state_dict_pickle",
        license="not stated by the publisher (no licence file in the Hub repo as far as known); research use",
        citation=_PAPER,
        training_data="PIPAL (dense pairs, Huber loss)",
        notes=(
            "Commit and sha256 not pinned: they could not be read offline. Run weights/print_pins.py with "
            "internet access and copy its output here."
        ),
    )
)


def list_models() -> list[str]:
    """Names of the registered pretrained networks, sorted."""
    return sorted(_REGISTRY)


def get_model_record(name: str) -> PretrainedModel:
    """The zoo record for ``name``; KeyError listing the available names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown model {name!r}; available: {', '.join(list_models())}; "
            "or pass checkpoint_path= to a local checkpoint, or an 'hf-hub:org/repo' name"
        ) from None
