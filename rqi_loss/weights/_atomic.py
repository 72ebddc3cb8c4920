"""Atomic file writes: a temporary file beside the target, then a rename, so a crash or a kill never leaves a
half-written file in the target's place.

A temporary is named ``.<target name>.<host>.<pid>.<random>.tmp``. An error removes it at once; a kill (SIGKILL,
a pre-empted job, power loss) cannot, so the next write to the same target on the same host removes the
temporaries of processes that no longer run there: a run pre-empted again and again leaves at most one orphan.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)


def _host() -> str:
    return socket.gethostname().replace(".", "_") or "host"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporaries of writes to ``path`` left by processes of this host that no longer run; returns
    them. Temporaries of running processes and of other hosts (a shared folder) are left alone."""
    host, removed = _host(), []
    for temporary in path.parent.glob(f".{path.name}.*.tmp"):
        fields = temporary.name[len(path.name) + 2 : -len(".tmp")].split(".")
        if len(fields) != 3 or fields[0] != host or not fields[1].isdigit() or _running(int(fields[1])):
            continue
        temporary.unlink(missing_ok=True)
        removed.append(temporary)
    if removed:
        logger.info("removed %d temporary file(s) of killed writes to %s", len(removed), path)
    return removed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", **open_kwargs: Any) -> Iterator[IO]:
    """Yield a file opened with ``mode`` in ``path``'s folder. When the block ends without an error the file is
    flushed to disk and replaces ``path``; on an error it is removed and ``path`` is untouched. After a kill the
    temporary stays until the next write to ``path`` on this host (see the module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    prefix = f".{path.name}.{_host()}.{os.getpid()}."
    handle, temporary = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, mode, **open_kwargs) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
