"""Values of a training config checked against the dataclass field types, with YAML's gaps filled.

PyYAML (YAML 1.1) reads ``1e-3`` as the string "1e-3" and leaves quoted numbers as strings: numeric strings
become numbers where a field wants a number; anything else of the wrong type is an error that names the key,
the value and the type expected.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Union


def _describe(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            plural = {int: "integers", float: "numbers", str: "strings"}.get(args[0], "mappings")
            return f"a list of {plural}"
        return f"a list of {len(args)} values ({', '.join(_describe(a) for a in args)})"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(annotation):
        hints = typing.get_type_hints(annotation)
        return "a mapping with keys " + ", ".join(
            f"{f.name} ({_describe(hints[f.name])})" for f in dataclasses.fields(annotation)
        )
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        annotation, str(annotation)
    )


def _parse_number(text: str) -> int | float | None:
    """'3' -> 3, '1e-3' -> 0.001, anything else -> None."""
    for kind in (int, float):
        try:
            return kind(text.strip())
        except ValueError:
            continue
    return None


def _number(value: Any, kind: type) -> Any:
    """``value`` as ``kind`` (int or float), numeric strings included; None when it is not one."""
    if isinstance(value, str):
        value = _parse_number(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if kind is int:
        return value if isinstance(value, int) else None
    return float(value)


_MISMATCH = object()


def _coerce(value: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        for option in typing.get_args(annotation):
            result = _coerce(value, option)
            if result is not _MISMATCH:
                return result
        return _MISMATCH
    if annotation is type(None):
        return None if value is None else _MISMATCH
    if annotation is Any:
        return value
    if origin is tuple:
        args = typing.get_args(annotation)
        if isinstance(value, (str, bytes, dict)) or not isinstance(value, (list, tuple)):
            return _MISMATCH
        kinds = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(kinds) != len(value):
            return _MISMATCH
        items = [_coerce(v, k) for v, k in zip(value, kinds)]
        return _MISMATCH if any(i is _MISMATCH for i in items) else tuple(items)
    if origin is dict:
        return dict(value) if isinstance(value, dict) else _MISMATCH
    if annotation in (int, float):
        result = _number(value, annotation)
        return _MISMATCH if result is None else result
    if annotation is bool:
        return value if isinstance(value, bool) else _MISMATCH
    if annotation is str:
        return value if isinstance(value, str) else _MISMATCH
    if dataclasses.is_dataclass(annotation) and isinstance(value, dict):  # a nested block, e.g. optim.adversarial
        known = {f.name for f in dataclasses.fields(annotation)}
        if set(value) - known:
            return _MISMATCH
        items = {k: _coerce(v, typing.get_type_hints(annotation)[k]) for k, v in value.items()}
        return _MISMATCH if any(i is _MISMATCH for i in items.values()) else annotation(**items)
    return value if isinstance(value, annotation) else _MISMATCH


def checked_fields(cls: type, values: dict[str, Any], where: str) -> dict[str, Any]:
    """``values`` with each converted to its field's type in the dataclass ``cls``; ValueError naming the key
    (``where`` is the section, e.g. "optim"), the value received and the type expected."""
    hints = typing.get_type_hints(cls)
    checked = {}
    for key, value in values.items():
        result = _coerce(value, hints[key])
        if result is _MISMATCH:
            name = f"{where}.{key}" if where != "the top level" else key
            raise ValueError(
                f"config key {name}: expected {_describe(hints[key])}; got {value!r} ({type(value).__name__})"
            )
        checked[key] = result
    return checked


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``values`` with command-line overrides ``section.key=value`` (or ``key=value`` at the top level) set;
    each value is read as YAML (``1e-4``, ``[a, b]``, ``null``) and type-checked with the rest."""
    import yaml

    values = {k: (dict(v) if isinstance(v, dict) else v) for k, v in values.items()}
    for override in overrides:
        key, sep, text = override.partition("=")
        if not sep or not key or key.startswith(".") or key.endswith("."):
            raise ValueError(f"override {override!r}: expected key=value, e.g. optim.lr=1e-4 or data.root=/data")
        *sections, leaf = key.split(".")
        if len(sections) > 1:
            raise ValueError(f"override {override!r}: keys have at most one section, e.g. optim.lr")
        target = values
        for section in sections:
            target = target.setdefault(section, {})
            if not isinstance(target, dict):
                raise ValueError(f"override {override!r}: {section} is not a section of the config")
        target[leaf] = yaml.safe_load(text) if text else ""
    return values
