"""Reading fields of parsed JSON (bundles, storyboard scripts) with errors that say where.

Each check raises InvalidInput naming the field and its place in the file, so a user can
find and fix the problem; nothing here writes anything.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Optional

from story.errors import InvalidInput

_MISSING = object()
_KIND_NAMES = {str: "text", int: "a whole number", float: "a number", bool: "true or false",
               dict: "an object", list: "a list"}


def _is(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be an object.")
    return value


def get(obj: dict[str, Any], key: str, kind: type, where: str, default: Any = _MISSING) -> Any:
    """`obj[key]` checked to be of `kind`; a missing key (or null) gives `default`, or an
    error naming the field when no default is given."""
    value = obj.get(key)
    if value is None:
        if default is _MISSING:
            raise InvalidInput(f"{where} has no \"{key}\" (required).")
        return default
    if not _is(value, kind):
        raise InvalidInput(f"{where}: \"{key}\" must be {_KIND_NAMES[kind]}, not {json.dumps(value, ensure_ascii=False)[:60]}.")
    return float(value) if kind is float else value


def get_list(obj: dict[str, Any], key: str, item_kind: type, where: str, default: Any = _MISSING) -> list[Any]:
    """A list field whose items are all of `item_kind`."""
    items = get(obj, key, list, where, default)
    for index, item in enumerate(items or ()):
        if not _is(item, item_kind):
            raise InvalidInput(f"{where}: \"{key}\"[{index}] must be {_KIND_NAMES[item_kind]}.")
    return items


def get_time(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> Optional[datetime]:
    """An ISO 8601 timestamp field."""
    text = get(obj, key, str, where) if required else get(obj, key, str, where, None)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{where}: \"{key}\" is not an ISO 8601 time: {text!r}.") from exc
