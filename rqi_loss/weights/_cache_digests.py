"""The digest a file of the Hub cache must have, in both kinds of cache.

huggingface_hub keeps a downloaded file as ``blobs/<etag>`` with a symlink from ``snapshots/<commit>/<file>``;
the etag is the file's sha256 for LFS files and its git blob sha1 for the others, so the blob's name says what
the file must hash to. A cache without symlinks (``HF_HUB_DISABLE_SYMLINKS=1``, Windows without developer mode)
holds the file itself under ``snapshots/`` and its name says nothing: for those, the Hub's etag is asked for once,
at the first load (right after the download) and recorded in ``<repo folder>/rqi_loss-digests/<commit>/<file>.json``
beside the cache's own folders, where later loads, offline ones included, read it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from ._atomic import atomic_write

logger = logging.getLogger(__name__)

RECORD_FOLDER = "rqi_loss-digests"
_HEX = frozenset("0123456789abcdef")


def hash_file(path: str | os.PathLike, digest) -> str:
    """Hex digest of a file fed to ``digest`` (a hashlib object) in 1 MiB chunks."""
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_blob_sha1(path: str | os.PathLike) -> str:
    """Git's blob id of a file: sha1 of 'blob <size>\\0' followed by the content."""
    return hash_file(path, hashlib.sha1(f"blob {os.path.getsize(path)}\0".encode()))


def etag_digest(etag: str) -> tuple[str, str] | None:
    """(algorithm, hex digest) an etag stands for: 64 hex digits a sha256 (LFS), 40 a git blob sha1; else None."""
    etag = etag.strip('"').lower()
    if not set(etag) <= _HEX:
        return None
    return {64: ("sha256", etag), 40: ("git-sha1", etag)}.get(len(etag))


def file_digest(path: str | os.PathLike, algorithm: str) -> str:
    """The hex digest of ``path`` by ``algorithm`` ("sha256" or "git-sha1")."""
    return hash_file(path, hashlib.sha256()) if algorithm == "sha256" else git_blob_sha1(path)


def blob_digest(path: str | os.PathLike) -> tuple[str, str] | None:
    """(algorithm, digest) read from the name of the blob that ``path`` links to; None outside the blob layout."""
    blob = Path(os.path.realpath(path))
    return etag_digest(blob.name) if blob.parent.name == "blobs" else None


def snapshot_commit(path: str | os.PathLike, filename: str) -> str | None:
    """The commit of a cached ``path`` (``<repo>/snapshots/<commit>/<filename>``); None outside a snapshot."""
    snapshot = Path(path).parents[len(Path(filename).parts) - 1]
    return snapshot.name if snapshot.parent.name == "snapshots" else None


def _record_path(path: str | os.PathLike, filename: str) -> Path | None:
    """Where the digest of ``path`` (``<repo>/snapshots/<commit>/<filename>``) is recorded; None elsewhere."""
    commit = snapshot_commit(path, filename)
    if commit is None:
        return None
    repo_folder = Path(path).parents[len(Path(filename).parts) + 1]
    return repo_folder / RECORD_FOLDER / commit / f"{filename}.json"


def recorded_digest(path: str | os.PathLike, filename: str) -> tuple[str, str] | None:
    """(algorithm, digest) recorded for a file of a cache without symlinks; None when none was recorded."""
    record = _record_path(path, filename)
    if record is None or not record.is_file():
        return None
    values = json.loads(record.read_text())
    return values["algorithm"], values["digest"]


def record_digest(path: str | os.PathLike, filename: str, etag: str) -> tuple[str, str] | None:
    """Record the digest the Hub's ``etag`` stands for, for the cached ``path`` of ``filename``; returns it (None
    when the etag is not a digest or the file is not in a snapshot folder)."""
    expected, record = etag_digest(etag), _record_path(path, filename)
    if expected is None or record is None:
        return None
    with atomic_write(record, "w") as handle:
        json.dump({"algorithm": expected[0], "digest": expected[1]}, handle)
    logger.debug("recorded the %s of %s: %s", expected[0], path, expected[1])
    return expected
