"""Dataclasses as plain JSON and back: how grading jobs travel between machines.

Standard library only. `from_plain` rebuilds nested dataclasses, tuples and
enums from their type hints and ignores keys it does not know, so a sender
with newer fields is understood.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from dataclasses import asdict


def to_json(value) -> str:
    """A dataclass (nested dataclasses, tuples, lists, dicts of primitives, str/int enums) as JSON text."""
    return json.dumps(asdict(value))


def from_plain(cls: type, data: dict):
    """Rebuild dataclass `cls` from `asdict`-style data, nested dataclasses and tuples included;
    keys `cls` does not know are ignored (the sender may be a newer version)."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{name: _convert(hints[name], value) for name, value in data.items() if name in known})


def _convert(hint, value):
    if value is None:
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return from_plain(hint, value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is not type(None) and (dataclasses.is_dataclass(arg) or typing.get_origin(arg) is not None
                                          or (isinstance(arg, type) and issubclass(arg, enum.Enum))):
                return _convert(arg, value)
        return value
    if origin is list:
        return [_convert(args[0], v) for v in value] if args else list(value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value)) if args else tuple(value)
    if origin is dict and args:
        return {k: _convert(args[1], v) for k, v in value.items()}
    return value
