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

from ..errors import ChecksumError, WeightsError
from ._cache_digests import (
    blob_digest,
    file_digest,
    hash_file,
    record_digest,
    recorded_digest,
    snapshot_commit,
)

logger = logging.getLogger(__name__)


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file."""
    return hash_file(path, hashlib.sha256())


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


@dataclass(frozen=True)
class HubOptions:
    """How Hub files are fetched, as huggingface_hub's own options: ``cache_dir`` (default: HF_HUB_CACHE),
    ``local_files_only`` (the cache only, no request), ``token`` (private repos; default: the logged-in one)."""

    cache_dir: str | os.PathLike | None = None
    local_files_only: bool = False
    token: str | bool | None = None

    @property
    def offline(self) -> bool:
        """True when no request may be made: ``local_files_only``, or HF_HUB_OFFLINE set."""
        from huggingface_hub import constants

        return self.local_files_only or constants.HF_HUB_OFFLINE


def _download(repo_id: str, filename: str, revision: str, options: HubOptions, *, model: str) -> str:
    """``hf_hub_download`` with ``options``; its errors translated into a :class:`WeightsError`."""
    from huggingface_hub import hf_hub_download

    try:
        return hf_hub_download(
            repo_id,
            filename,
            revision=revision,
            cache_dir=options.cache_dir,
            local_files_only=options.local_files_only,
            token=options.token,
            library_name="rqi_loss",
        )
    except Exception as exc:  # translated into an actionable error, original chained
        raise _explain(exc, model=model, repo_id=repo_id, filename=filename, revision=revision) from exc


def _fetch_pinned(model: str, repo_id: str, filename: str, revision: str, sha256: str, options: HubOptions) -> str:
    """The cached file, checked against its pin ``sha256``. A mismatch removes the cached copy and downloads it
    once more (online), or says what to do (offline); a second mismatch raises :class:`ChecksumError`."""
    where = f"{filename!r} of Hub repo {repo_id!r}@{revision!r}"
    path = _download(repo_id, filename, revision, options, model=model)
    actual = file_sha256(path)
    if actual == sha256:
        return path
    _discard_cached(path)
    if options.offline:
        raise ChecksumError(
            f"model {model!r}: the cached {where} is corrupt: sha256 {actual} instead of the pinned {sha256}. The "
            "cached copy was removed; nothing was loaded. This process is offline (HF_HUB_OFFLINE or "
            "local_files_only): download the file again with network access, or check a copy's sha256 and pass "
            "checkpoint_path="
        )
    logger.warning("sha256 of %s does not match the pin; the cached copy was removed, downloading it again", where)
    path = _download(repo_id, filename, revision, options, model=model)
    actual = file_sha256(path)
    if actual != sha256:
        _discard_cached(path)
        raise ChecksumError(
            f"model {model!r}: {where} is corrupt: sha256 {actual} instead of the pinned {sha256}, twice. The "
            "cached copy was removed; nothing was loaded. Retry later, or fetch the file on another machine, check "
            "its sha256 and pass checkpoint_path="
        )
    return path


def _hub_etag(repo_id: str, filename: str, commit: str, options: HubOptions) -> str | None:
    """The etag the Hub gives for ``filename`` at ``commit`` (one HEAD request); None offline or on failure."""
    if options.offline:
        return None
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    try:
        return get_hf_file_metadata(hf_hub_url(repo_id, filename, revision=commit), token=options.token).etag
    except Exception as exc:  # the file was just fetched; a failed HEAD leaves it unverified, said below
        logger.debug("no etag for %s of %s@%s: %s", filename, repo_id, commit, exc)
        return None


def expected_digest(
    path: str | os.PathLike, repo_id: str, filename: str, options: HubOptions | None = None
) -> tuple[str, str] | None:
    """(algorithm, digest) the cached ``path`` of ``filename`` must have: its blob's name (a cache with symlinks),
    else the digest recorded for it, else the Hub's etag, asked for now and recorded (a cache without symlinks,
    right after its download). None when none can be had (a copied cache without records, offline)."""
    found = blob_digest(path) or recorded_digest(path, filename)
    if found is not None:
        return found
    commit = snapshot_commit(path, filename)
    etag = _hub_etag(repo_id, filename, commit, options or HubOptions()) if commit is not None else None
    return record_digest(path, filename, etag) if etag is not None else None


def verify_cached_file(
    path: str | os.PathLike,
    *,
    model: str,
    repo_id: str,
    filename: str,
    revision: str,
    options: HubOptions | None = None,
) -> None:
    """Check a file of the Hub cache against the digest the Hub gave for it (:func:`expected_digest`), so a file
    corrupted after download is refused; raises :class:`ChecksumError` saying how to download it again. A file
    whose digest cannot be had is loaded with a warning."""
    expected = expected_digest(path, repo_id, filename, options)
    if expected is None:
        logger.warning(
            "model %r: cannot verify the cached %s of %s@%s: the cache keeps no symlinks and no digest was recorded "
            "when it was downloaded (a copied cache?); load it once with network access to record one",
            *(model, filename, repo_id, revision),
        )
        return
    algorithm, digest = expected
    actual = file_digest(path, algorithm)
    if actual != digest:
        raise ChecksumError(
            f"model {model!r}: the cached {filename!r} of Hub repo {repo_id!r}@{revision!r} is corrupt: its "
            f"{algorithm} is {actual}, the Hub gave {digest} when it was downloaded. Nothing was loaded. Download "
            f"it again with `hf download {repo_id} {filename} --revision {revision} --force-download`, or delete "
            f"{os.path.realpath(path)} and load again"
        )


def hub_file(
    model: str,
    repo_id: str,
    filename: str,
    revision: str,
    sha256: str | None = None,
    options: HubOptions | None = None,
) -> Path:
    """Local path of ``filename`` from ``repo_id`` at ``revision``, downloaded and verified if needed.

    Every call checks the file against its pinned ``sha256`` or, unpinned, against the digest the Hub gave
    at download (:func:`verify_cached_file`). No collective runs here: any subset of ranks may call it
    (huggingface_hub's file lock lets one process download a file while the others wait for it;
    :func:`rqi_loss.prefetch` is the collective form). A cached file at a pinned 40-hex revision needs no
    network at all. ``options``: cache folder, cache only, token. Raises :class:`WeightsError`.
    """
    options = options or HubOptions()
    if sha256 is not None:
        return Path(_fetch_pinned(model, repo_id, filename, revision, sha256.lower(), options))
    path = _download(repo_id, filename, revision, options, model=model)
    verify_cached_file(path, model=model, repo_id=repo_id, filename=filename, revision=revision, options=options)
    return Path(path)


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
        verify_cached_file(path, model=model, repo_id=repo_id, filename=filename, revision=revision, options=options)
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
