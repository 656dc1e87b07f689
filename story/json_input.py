"""Reading JSON that users bring (bundles, storyboard scripts): strict parsing with bounds,
and pydantic's validation errors turned into one line that says where the problem is.

Python's json module accepts NaN and Infinity (not JSON) and recurses once per nesting
level; here both are refused with a message instead of a crash further down.
"""
from __future__ import annotations

import json
from typing import Any, NoReturn

from pydantic import ValidationError

from story.errors import InvalidInput

MAX_DEPTH = 64
"""Deepest nesting of objects and lists accepted; real documents use fewer than ten levels."""


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """How deeply `value` nests lists and objects (iteratively: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def parse_json(text: str, what: str, kind: str = "JSON") -> Any:
    """Parse `text` (the content of `what`); raise InvalidInput ("... is not valid `kind`")
    for bad JSON, NaN/Infinity or nesting deeper than MAX_DEPTH."""
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{what} is not valid {kind}: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from exc
    except ValueError as exc:
        raise InvalidInput(f"{what} is not valid {kind}: {exc}.") from exc
    except RecursionError:
        raise InvalidInput(f"{what} nests lists or objects too deeply (at most {MAX_DEPTH} levels).") from None
    if _depth(document) > MAX_DEPTH:
        raise InvalidInput(f"{what} nests lists or objects too deeply (at most {MAX_DEPTH} levels).")
    return document


def _place(loc: tuple[Any, ...]) -> str:
    """('panels', 0, 'characters', 1) -> 'panels[0].characters[1]'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def validation_error(exc: ValidationError, where: str) -> InvalidInput:
    """The first problem of a pydantic ValidationError as one line starting with `where`."""
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    if error["type"] == "missing":
        parent = _place(loc[:-1])
        return InvalidInput(f"{where}{': ' + parent if parent else ''} has no \"{loc[-1]}\" (required).")
    message = error["msg"].removeprefix("Value error, ").rstrip(".")
    if error["type"] not in ("value_error", "assertion_error"):  # pydantic's own wording
        shown = json.dumps(error.get("input"), ensure_ascii=False, default=str)[:60]
        message = f"{message[0].lower()}{message[1:]}, not {shown}"
    place = _place(loc)
    return InvalidInput(f"{where}{': ' + place if place else ''}: {message}.")
