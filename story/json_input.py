"""Reading JSON that users bring (bundles, storyboard scripts): strict parsing with bounds,
the strict field types and base record of their pydantic models, and pydantic's validation
errors turned into one line that says where the problem is.

Python's json module accepts NaN and Infinity (not JSON) and recurses once per nesting
level; here both are refused with a message instead of a crash further down.
"""
from __future__ import annotations

import json
from typing import Annotated, Any, Callable, NoReturn

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from story.errors import InvalidInput
from story.numbers import MAX_INTEGER

MAX_DEPTH = 64
"""Deepest nesting of objects and lists accepted; real documents use fewer than ten levels."""


Int = Annotated[int, Field(strict=True, ge=-MAX_INTEGER - 1, le=MAX_INTEGER)]
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_INTEGER)]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Text = Annotated[str, Field(strict=True)]
Flag = Annotated[bool, Field(strict=True)]
Json = Annotated[dict[str, Any], Field(strict=True)]
KINDS = {"int_type": "a whole number", "float_type": "a number", "string_type": "text", "bool_type": "true or false",
         "dict_type": "an object", "list_type": "a list", "model_type": "an object"}
"""How a pydantic type error names the kind of value wanted."""


class Record(BaseModel):
    """A record of a user's JSON file: unknown keys are ignored, and null means "not given"."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


def user_check(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A story-layer check (raising InvalidInput) as a pydantic validator."""
    def run(value: Any) -> Any:
        try:
            return check(value)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
    return run


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
    parent = _place(loc[:-1]) if loc else ""
    at = f"{where}: {parent}" if parent else where
    if error["type"] == "missing":
        return InvalidInput(f"{at} has no \"{loc[-1]}\" (required).")
    shown = json.dumps(error.get("input"), ensure_ascii=False, default=str)[:60]
    if error["type"] in KINDS and loc:
        return InvalidInput(f"{at}: \"{loc[-1]}\" must be {KINDS[error['type']]}, not {shown}.")
    message = error["msg"].removeprefix("Value error, ").rstrip(".")
    if error["type"] not in ("value_error", "assertion_error"):  # pydantic's own wording
        message = f"{message[0].lower()}{message[1:]}, not {shown}"
    place = _place(loc)
    return InvalidInput(f"{where}{': ' + place if place else ''}: {message}.")
