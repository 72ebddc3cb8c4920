"""Renamed keywords: the old name keeps working for one release, with a ``DeprecationWarning``."""

from __future__ import annotations

from typing import Any

from ._warnings_at_caller import warn_at_caller

REMOVED_IN = "0.3.0"


def renamed_keyword(old: str, new: str, old_value: Any, new_value: Any) -> Any:
    """The value to use for ``new`` when a caller may still pass ``old`` (``old_value`` None: not passed).

    Passing ``old`` warns (DeprecationWarning, pointing at the caller) and gives its value; passing both raises.
    """
    if old_value is None:
        return new_value
    warn_at_caller(
        f"{old}= is deprecated and will be removed in rqi_loss {REMOVED_IN}; use {new}= (same meaning)",
        DeprecationWarning,
    )
    if new_value:
        raise TypeError(
            f"give {new}= only; {old}= is its deprecated name (got both: {old}={old_value!r}, {new}={new_value!r})"
        )
    return old_value
