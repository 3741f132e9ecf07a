"""One validator for every configuration dataclass: YAML mappings in, typed objects out.

A field's rules and help live in its metadata (``setting(help=..., min=...)``),
as TRL's configs do, so the same rules check a YAML file (``build``) and a
dataclass made in code (``check_fields``). Errors are ``ConfigError`` with one
line naming the file and the dotted key.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml

from sp_prm_lib.core.errors import ConfigError

_MISSING = dataclasses.MISSING


def setting(
    default=_MISSING,
    *,
    help: str = "",
    min=None,
    max=None,
    above=None,
    choices=None,
    words=None,
    default_factory=_MISSING,
):
    """A dataclass field with its help text and rules.

    ``min`` and ``max`` are inclusive bounds, ``above`` an exclusive lower bound,
    ``choices`` the allowed values; ``words``: strings a number field also
    accepts (``("auto",)``: a number, or ``"auto"``).
    """
    meta = {"help": help, "min": min, "max": max, "above": above, "choices": choices, "words": words}
    if default_factory is not _MISSING:
        return field(default_factory=default_factory, metadata=meta)
    if default is _MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


def field_help(cls) -> dict[str, str]:
    """``{field name: help text}`` of a configuration dataclass."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


def field_defaults(cls) -> dict[str, Any]:
    """``{field name: default}`` of a configuration dataclass (fields with a plain default)."""
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not _MISSING}


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping."""


def _unique_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise ConfigError(f"line {mark.line + 1}, column {mark.column + 1}: duplicate key {key!r}")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file strictly: UTF-8, no duplicate keys; errors name file, line and column."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML: {where}{problem}") from None


def build(cls, raw: Any, path: Path | str, prefix: str = ""):
    """A ``cls`` instance from a mapping, every field type- and range-checked."""
    where = prefix.rstrip(".") or "<top level>"
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {where}: expected a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and f.name != "path"}
    unknown = sorted(set(map(str, raw)) - set(fields))
    if unknown:
        raise ConfigError(f"{path}: unknown key {prefix}{unknown[0]} (allowed: {', '.join(fields)})")
    kwargs = {}
    for name, f in fields.items():
        key = f"{prefix}{name}"
        if name not in raw:
            if f.default is _MISSING and f.default_factory is _MISSING:
                raise ConfigError(f"{path}: missing required key {key}")
            continue
        kwargs[name] = _value(hints[name], raw[name], path, key, f.metadata)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {where}: {exc}") from None


def check_fields(obj) -> None:
    """Apply the metadata rules of a dataclass instance's fields (for objects made in code)."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        if f.metadata:
            _value(hints[f.name], getattr(obj, f.name), None, f.name, f.metadata)


def _value(hint, value, path, key: str, meta) -> Any:
    def fail(message: str):
        raise ConfigError(f"{path}: {key}: {message}" if path is not None else f"{key}: {message}")

    words = meta.get("words") if meta else None
    if words and isinstance(value, str):
        if value not in words:
            fail(f"must be a number or {' or '.join(map(repr, words))}, got {value!r}")
        return value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _value(args[0], value, path, key, meta)
    if dataclasses.is_dataclass(hint):
        if dataclasses.is_dataclass(value) and isinstance(value, hint):
            return value
        return build(hint, value, path, prefix=f"{key}.")
    if origin is dict or hint is dict:
        args = typing.get_args(hint)
        if not isinstance(value, dict):
            fail(f"expected a mapping, got {value!r}")
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                fail(f"keys must be strings, got {k!r}")
            out[k] = _value(args[1], v, path, f"{key}.{k}", None) if args else v
        return out
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            fail(f"expected a list, got {value!r}")
        if meta and meta.get("min") is not None and not value:
            fail("must not be empty")
        return [_value(item, v, path, f"{key}[{i}]", meta) for i, v in enumerate(value)]
    # bool is an int subclass: refuse it where a number is expected
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        fail(f"expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(f"expected a number, got {value!r}")
        if not math.isfinite(value):
            fail(f"must be a finite number, got {value!r}")
        value = float(value)
    if hint is str and not isinstance(value, str):
        fail(f"expected a string, got {value!r}")
    if hint is bool and not isinstance(value, bool):
        fail(f"expected true or false, got {value!r}")
    if meta:
        lo, hi = meta.get("min"), meta.get("max")
        if lo is not None and hi is not None and not lo <= value <= hi:
            fail(f"must be in [{lo}, {hi}], got {value!r}")
        if lo is not None and value < lo:
            fail(f"must be >= {lo}, got {value!r}")
        if hi is not None and value > hi:
            fail(f"must be <= {hi}, got {value!r}")
        if meta.get("above") is not None and not value > meta["above"]:
            fail(f"must be > {meta['above']}, got {value!r}")
        if meta.get("choices") is not None and value not in meta["choices"]:
            fail(f"must be one of {', '.join(map(str, meta['choices']))}, got {value!r}")
    return value
