"""Console output of the command-line tools: log records and warnings are written above a running tqdm progress
bar, one line each (a plain ``warnings.warn`` would print into the bar's line, followed by a source line)."""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator


class _AboveProgressBars(logging.Handler):
    """Writes each record with ``tqdm.write`` (stderr), which keeps running bars intact; plain stderr without
    tqdm."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            print(self.format(record), file=sys.stderr)
            return
        tqdm.write(self.format(record), file=sys.stderr)


def _log_warning(message, category, filename, lineno, file=None, line=None) -> None:
    logging.getLogger("py.warnings").warning("%s: %s", category.__name__, message)


@contextlib.contextmanager
def console_output(level: int = logging.INFO, fmt: str = "%(levelname)s %(message)s") -> Iterator[None]:
    """Inside the block, log records of ``level`` and above and every shown warning go to stderr as one line
    each, above any progress bar; the logging and warning setup before the block is restored after it."""
    root, handler = logging.getLogger(), _AboveProgressBars()
    handler.setFormatter(logging.Formatter(fmt))
    console = (sys.stderr, sys.stdout)
    already = any(isinstance(h, logging.StreamHandler) and h.stream in console for h in root.handlers)
    previous_level, previous_show = root.level, warnings.showwarning
    if not already:  # a caller that logs to the console already (logging.basicConfig) keeps its own handler
        root.addHandler(handler)
    root.setLevel(level)
    warnings.showwarning = _log_warning
    try:
        yield
    finally:
        warnings.showwarning = previous_show
        root.removeHandler(handler)
        root.setLevel(previous_level)
