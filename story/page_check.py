"""Checking a project's stored page settings before they are kept (bundle import), so an
export never meets a page it cannot draw."""
from __future__ import annotations

from dataclasses import fields
from typing import Any

from story.errors import InvalidInput


def check_page_settings(stored: dict[str, Any]) -> dict[str, Any]:
    """Refuse page settings the exporter would reject (bad layout, tiny fonts, a page too
    small or too large for its margins); return them unchanged."""
    from story.export.document import PageSettings
    from story.export.from_project import page_settings
    from story.export.layout import content_rect

    for field in fields(PageSettings):
        if field.name in stored and not _same_kind(stored[field.name], field.default):
            raise InvalidInput(f"The page setting {field.name!r} has the wrong type: {stored[field.name]!r}.")
    settings = page_settings(stored)
    try:
        content_rect(settings)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    return stored


def _same_kind(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))
