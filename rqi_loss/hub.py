"""Downloads through ``huggingface_hub.hf_hub_download`` with sha256 checks, rank-0-first under
``torch.distributed``, and errors that say what to do.

``huggingface_hub`` is imported on first use, so HF_ENDPOINT, HF_HOME, HF_HUB_CACHE and HF_HUB_OFFLINE set
after ``import rqi_loss`` still apply.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import torch

logger = logging.getLogger(__name__)


class WeightsError(RuntimeError):
    """Weights could not be fetched or verified; the message names the model, the repo and the fix."""


class ChecksumError(WeightsError):
    """A downloaded file's sha256 differs from the pinned one, twice."""


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_transport_error(exc: BaseException) -> bool:
    """Connection-level failures: OSError/ConnectionError, or any exception of an HTTP client library
    (the Hub client raises httpx2 errors that are not OSError)."""
    root = type(exc).__module__.split(".")[0]
    return isinstance(exc, (OSError, ConnectionError)) or root in {"httpx", "httpx2", "httpcore", "requests", "urllib3"}


def _explain(exc: BaseException, *, model: str, repo_id: str, filename: str, revision: str) -> WeightsError:
    from huggingface_hub import errors

    where = f"{filename!r} of Hub repo {repo_id!r} at revision {revision!r}"
    fetch_elsewhere = (
        f"On a machine with internet run `hf download {repo_id} {filename} --revision {revision}` (or "
        "huggingface_hub.hf_hub_download), copy the file here and pass checkpoint_path=<file>, or copy that "
        "machine's Hub cache and point HF_HUB_CACHE at it."
    )
    if isinstance(exc, errors.LocalEntryNotFoundError):
        return WeightsError(
            f"model {model!r}: {where} is not in the local Hub cache and cannot be downloaded (offline: "
            f"HF_HUB_OFFLINE is set or the Hub is unreachable). {fetch_elsewhere}"
        )
    if isinstance(exc, errors.RevisionNotFoundError):
        return WeightsError(f"model {model!r}: revision {revision!r} does not exist in Hub repo {repo_id!r}; check the pin")
    if isinstance(exc, errors.RepositoryNotFoundError):
        return WeightsError(
            f"model {model!r}: Hub repo {repo_id!r} not found (or private/gated: log in with `hf auth login` or "
            "set HF_TOKEN); check the repo id"
        )
    if isinstance(exc, errors.EntryNotFoundError):
        return WeightsError(f"model {model!r}: file {filename!r} not found in Hub repo {repo_id!r} at revision {revision!r}")
    if isinstance(exc, errors.HfHubHTTPError):
        return WeightsError(f"model {model!r}: the Hub refused {where}: {exc}")
    if _is_transport_error(exc):
        return WeightsError(
            f"model {model!r}: the connection failed while downloading {where} ({type(exc).__name__}: {exc}). "
            f"Retry; if it keeps failing: {fetch_elsewhere}"
        )
    return WeightsError(f"model {model!r}: could not fetch {where}: {type(exc).__name__}: {exc}")


def _discard_cached(path: str) -> None:
    """Remove a cached file (its snapshot link and the blob behind it) so it is never loaded again."""
    target = os.path.realpath(path)
    for item in {path, target}:
        try:
            os.remove(item)
        except FileNotFoundError:
            pass


def _download(repo_id: str, filename: str, revision: str, *, local_only: bool, force: bool = False) -> str:
    from huggingface_hub import hf_hub_download

    return hf_hub_download(
        repo_id,
        filename,
        revision=revision,
        local_files_only=local_only,
        force_download=force,
        library_name="rqi_loss",
    )


def _fetch_verified(model: str, repo_id: str, filename: str, revision: str, sha256: str | None, local_only: bool) -> str:
    try:
        path = _download(repo_id, filename, revision, local_only=local_only)
        if sha256 is None or file_sha256(path) == sha256:
            return path
        logger.warning("sha256 of %s from %s@%s does not match the pin; downloading it again", filename, repo_id, revision)
        path = _download(repo_id, filename, revision, local_only=False, force=True)
    except Exception as exc:  # translated into an actionable error, original chained
        raise _explain(exc, model=model, repo_id=repo_id, filename=filename, revision=revision) from exc
    actual = file_sha256(path)
    if actual != sha256:
        _discard_cached(path)
        raise ChecksumError(
            f"model {model!r}: {filename!r} from Hub repo {repo_id!r}@{revision!r} is corrupt: sha256 {actual} "
            f"instead of the pinned {sha256}, twice. The cached copy was removed; nothing was loaded. Retry later, "
            "or fetch the file on another machine, check its sha256 and pass checkpoint_path="
        )
    return path


def _distributed_local_rank() -> int | None:
    """This process's rank on its node when torch.distributed runs with several processes, else None."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return None
    if torch.distributed.get_world_size() < 2:
        return None
    return int(os.environ.get("LOCAL_RANK", torch.distributed.get_rank()))


def _rank_zero_first(fetch: Callable[[bool], str]) -> str:
    """Local rank 0 downloads while the others wait at a barrier, then they read the cache (no network)."""
    local_rank = _distributed_local_rank()
    if local_rank is None:
        return fetch(False)
    if local_rank == 0:
        try:
            return fetch(False)
        finally:
            torch.distributed.barrier()  # reached on failure too, so the other ranks never hang
    torch.distributed.barrier()
    return fetch(True)


def hub_file(model: str, repo_id: str, filename: str, revision: str, sha256: str | None = None) -> Path:
    """Local path of ``filename`` from ``repo_id`` at ``revision``, downloaded and verified if needed.

    A cached file at a pinned 40-hex revision needs no network at all. Raises :class:`WeightsError`.
    """
    path = _rank_zero_first(lambda local_only: _fetch_verified(model, repo_id, filename, revision, sha256, local_only))
    return Path(path)


def parse_hub_name(name: str) -> tuple[str, str]:
    """'hf-hub:org/repo[@revision]' -> (repo_id, revision); revision defaults to 'main'."""
    spec = name[len("hf-hub:") :]
    repo_id, _, revision = spec.partition("@")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"model {name!r}: expected 'hf-hub:org/repo' or 'hf-hub:org/repo@revision'")
    return repo_id, revision or "main"
