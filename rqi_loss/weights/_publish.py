"""Publishing a network to the Hugging Face Hub with the real client (``HfApi.upload_folder``): our layout,
written to a temporary folder, becomes one commit."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)


def push_folder_to_hub(
    write: Callable[[Path], Path],
    repo_id: str,
    *,
    revision: str | None = None,
    commit_message: str = "Upload RQI network",
    private: bool | None = None,
    token: str | bool | None = None,
) -> str:
    """``write(folder)`` fills a temporary folder, which is uploaded to ``repo_id`` at branch ``revision``
    (default main; created if missing) as one commit. Returns the 40-hex commit id."""
    from huggingface_hub import HfApi

    if not isinstance(repo_id, str) or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"repo_id must be 'owner/name'; got {repo_id!r}")
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    if revision not in (None, "main"):
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rqi-push-") as staging:
        folder = write(Path(staging) / "network")
        info = api.upload_folder(repo_id=repo_id, folder_path=folder, revision=revision, commit_message=commit_message)
    logger.info("pushed %s to %s@%s", folder.name, repo_id, info.oid)
    return info.oid
