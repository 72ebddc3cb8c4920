"""Downloads through ``huggingface_hub.hf_hub_download`` with sha256 checks on every load, no collective
inside a build (a collective pre-download is :func:`rank_zero_first`), and errors that say what to do.

``huggingface_hub`` is imported on first use, so HF_ENDPOINT, HF_HOME, HF_HUB_CACHE and HF_HUB_OFFLINE set
after ``import rqi_loss`` still apply.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import ChecksumError, WeightsError

logger = logging.getLogger(__name__)


def _hash_file(path: str | os.PathLike, digest) -> str:
    """Hex digest of a file fed to ``digest`` (a hashlib object) in 1 MiB chunks."""
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file."""
    return _hash_file(path, hashlib.sha256())


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
        return WeightsError(
            f"model {model!r}: revision {revision!r} does not exist in Hub repo {repo_id!r}; check the pin"
        )
    if isinstance(exc, errors.RepositoryNotFoundError):
        return WeightsError(
            f"model {model!r}: Hub repo {repo_id!r} not found (or private/gated: log in with `hf auth login` or "
            "set HF_TOKEN); check the repo id"
        )
    if isinstance(exc, errors.EntryNotFoundError):
        return WeightsError(
            f"model {model!r}: file {filename!r} not found in Hub repo {repo_id!r} at revision {revision!r}"
        )
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


def _download(repo_id: str, filename: str, revision: str, *, force: bool = False) -> str:
    from huggingface_hub import hf_hub_download

    return hf_hub_download(
        repo_id,
        filename,
        revision=revision,
        force_download=force,
        library_name="rqi_loss",
    )


def _fetch_verified(model: str, repo_id: str, filename: str, revision: str, sha256: str | None) -> str:
    try:
        path = _download(repo_id, filename, revision)
        if sha256 is None or file_sha256(path) == sha256:
            return path
        logger.warning(
            "sha256 of %s from %s@%s does not match the pin; downloading it again", filename, repo_id, revision
        )
        path = _download(repo_id, filename, revision, force=True)
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


def _cache_digest(path: str | os.PathLike) -> tuple[str, str] | None:
    """(algorithm, hex digest) that a file in the Hub cache must have, read from the name of its blob:
    huggingface_hub stores a file as ``blobs/<etag>``, the sha256 for LFS files and the git blob sha1 for
    the others. None for a file outside the cache's blob layout."""
    blob = Path(os.path.realpath(path))
    if blob.parent.name != "blobs":
        return None
    name = blob.name
    if len(name) == 64 and all(c in "0123456789abcdef" for c in name):
        return "sha256", name
    if len(name) == 40 and all(c in "0123456789abcdef" for c in name):
        return "git-sha1", name
    return None


def _git_blob_sha1(path: str | os.PathLike) -> str:
    """Git's blob id of a file: sha1 of 'blob <size>\\0' followed by the content."""
    return _hash_file(path, hashlib.sha1(f"blob {os.path.getsize(path)}\0".encode()))


def verify_cached_file(path: str | os.PathLike, *, model: str, repo_id: str, filename: str, revision: str) -> None:
    """Check a file of the Hub cache against the digest the Hub gave when it was downloaded (its etag), so a
    file corrupted after download is refused; raises :class:`ChecksumError` saying how to download it again."""
    expected = _cache_digest(path)
    if expected is None:
        return
    algorithm, digest = expected
    actual = file_sha256(path) if algorithm == "sha256" else _git_blob_sha1(path)
    if actual != digest:
        raise ChecksumError(
            f"model {model!r}: the cached {filename!r} of Hub repo {repo_id!r}@{revision!r} is corrupt: its "
            f"{algorithm} is {actual}, the Hub gave {digest} when it was downloaded. Nothing was loaded. Download "
            f"it again with `hf download {repo_id} {filename} --revision {revision} --force-download`, or delete "
            f"{os.path.realpath(path)} and load again"
        )


def hub_file(model: str, repo_id: str, filename: str, revision: str, sha256: str | None = None) -> Path:
    """Local path of ``filename`` from ``repo_id`` at ``revision``, downloaded and verified if needed.

    Every call checks the file against its pinned ``sha256`` or, unpinned, against the digest the Hub gave
    at download. No collective runs here: any subset of ranks may call it (huggingface_hub's file lock lets
    one process download a file while the others wait for it; :func:`rqi_loss.prefetch` is the collective
    form). A cached file at a pinned 40-hex revision needs no network at all. Raises :class:`WeightsError`.
    """
    path = _fetch_verified(model, repo_id, filename, revision, sha256)
    if sha256 is None:
        verify_cached_file(path, model=model, repo_id=repo_id, filename=filename, revision=revision)
    return Path(path)


@dataclass(frozen=True)
class HubOptions:
    """How 'hf-hub:' names are fetched, as huggingface_hub's own options: ``cache_dir`` (default: HF_HUB_CACHE),
    ``local_files_only`` (the cache only, no request), ``token`` (private repos; default: the logged-in one)."""

    cache_dir: str | os.PathLike | None = None
    local_files_only: bool = False
    token: str | bool | None = None


def hub_snapshot(
    model: str, repo_id: str, revision: str, filenames: Sequence[str], options: HubOptions | None = None
) -> Path:
    """The cached folder of one commit of ``repo_id`` (``revision``: branch, tag or commit) holding
    ``filenames``, fetched in one ``snapshot_download`` call limited to them, each file checked against the
    digest the Hub gave at download. Raises :class:`WeightsError` saying what to do."""
    from huggingface_hub import snapshot_download

    options = options or HubOptions()
    try:
        folder = snapshot_download(
            repo_id,
            revision=revision,
            allow_patterns=list(filenames),
            cache_dir=options.cache_dir,
            local_files_only=options.local_files_only,
            token=options.token,
            library_name="rqi_loss",
        )
    except Exception as exc:  # translated into an actionable error, original chained
        raise _explain(exc, model=model, repo_id=repo_id, filename=" ".join(filenames), revision=revision) from exc
    for filename in filenames:
        path = Path(folder) / filename
        if not path.is_file():
            raise WeightsError(
                f"model {model!r}: Hub repo {repo_id!r}@{revision!r} has no {filename!r}; an rqi_loss network "
                f"folder holds {', '.join(filenames)} (publish one with push_to_hub or save_pretrained)"
            )
        verify_cached_file(path, model=model, repo_id=repo_id, filename=filename, revision=revision)
    return Path(folder)


def distributed_local_rank() -> int | None:
    """This process's rank on its node when torch.distributed runs with several processes, else None."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return None
    if torch.distributed.get_world_size() < 2:
        return None
    return int(os.environ.get("LOCAL_RANK", torch.distributed.get_rank()))


def rank_zero_first(fetch: Callable[[], object]) -> None:
    """Collective: local rank 0 runs ``fetch`` while the other ranks wait at a barrier, then they run it too
    (reading the cache rank 0 filled). Every rank of the process group must call it."""
    if distributed_local_rank() == 0:
        try:
            fetch()
        finally:
            torch.distributed.barrier()  # reached on failure too, so the other ranks never hang
        return
    if distributed_local_rank() is not None:
        torch.distributed.barrier()
    fetch()


def parse_hub_name(name: str) -> tuple[str, str]:
    """'hf-hub:org/repo[@revision]' -> (repo_id, revision); revision defaults to 'main'."""
    spec = name[len("hf-hub:") :]
    repo_id, _, revision = spec.partition("@")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"model {name!r}: expected 'hf-hub:org/repo' or 'hf-hub:org/repo@revision'")
    return repo_id, revision or "main"
