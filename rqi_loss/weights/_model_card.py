"""Hub model cards: YAML metadata written by huggingface_hub's ``ModelCardData`` above our markdown body.

The metadata is what the Hub indexes and other tools read: ``library_name: rqi_loss``, the licence, tags,
training datasets, the base model where there is one, and the held-out numbers as ``model-index`` results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["CardMetadata", "HeldOutResult", "render_card"]

LIBRARY_NAME = "rqi_loss"
TAGS = ("rqi", "image-quality-assessment", "full-reference-iqa", "super-resolution")


@dataclass(frozen=True)
class HeldOutResult:
    """One measured number: ``metric`` (e.g. "srcc") named ``name`` on ``dataset`` (a short id)."""

    metric: str
    value: float
    name: str
    dataset: str
    dataset_name: str


@dataclass(frozen=True)
class CardMetadata:
    """What the card's YAML header says. ``license``: a Hub licence id ("apache-2.0"), or "other" with
    ``license_name``; None: not stated."""

    license: str | None = None
    license_name: str | None = None
    datasets: Sequence[str] = ()
    base_model: str | list[str] | None = None
    results: Sequence[HeldOutResult] = field(default_factory=tuple)


def render_card(body: str, metadata: CardMetadata | None, *, name: str | None, architecture: str) -> str:
    """The README.md text: the YAML header (``ModelCardData``) then ``body`` (markdown)."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    metadata = metadata or CardMetadata()
    results = [
        EvalResult(
            task_type="image-quality-assessment",
            task_name="Relative image quality (RQI)",
            dataset_type=r.dataset,
            dataset_name=r.dataset_name,
            metric_type=r.metric,
            metric_value=r.value,
            metric_name=r.name,
        )
        for r in metadata.results
    ]
    extra = {"license_name": metadata.license_name} if metadata.license_name else {}
    data = ModelCardData(
        library_name=LIBRARY_NAME,
        license=metadata.license,
        tags=[*TAGS, architecture],
        datasets=list(metadata.datasets) or None,
        base_model=metadata.base_model,
        model_name=name or architecture,
        eval_results=results or None,
        **extra,
    )
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body.lstrip()}"))
