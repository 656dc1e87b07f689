"""Helpers every tab uses: turning service errors into short UI messages, and asset paths."""
from __future__ import annotations

import functools
import html
import logging
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import gradio as gr

from engine.base import EngineError
from story.errors import StudioError

log = logging.getLogger("anystory.app")
F = TypeVar("F", bound=Callable[..., Any])

Outputs = dict[Any, Any]
"""What a handler returns: {component: new value or gr.update(...)}, only what changes."""

NO_PROJECT = "Open or create a project first (Projects tab)."


def plain(text: Any) -> str:
    """User text (names, captions, errors quoting them) made safe for Gradio's HTML and
    toasts: shown as typed, never as markup."""
    return html.escape(str(text), quote=True)


def warn(message: str) -> None:
    """A warning toast; toasts render HTML, so the message is escaped."""
    gr.Warning(plain(message))


def inform(message: str) -> None:
    """An info toast; toasts render HTML, so the message is escaped."""
    gr.Info(plain(message))


def user_errors(fn: Optional[F] = None, *, fallback: Optional[Callable[..., Any]] = None) -> Any:
    """Show a problem the writer can act on as a short warning and leave every output as it
    was (nothing typed is lost, no output turns into an error badge); log anything else and
    show one line, never a stack trace. `fallback(*args)`, called with the handler's
    arguments, gives the outputs after an error (default: none changes)."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except gr.Error as exc:
                warn(exc.message)
            except (StudioError, EngineError, ValueError) as exc:
                warn(str(exc))
            except Exception as exc:  # the UI must stay usable whatever broke underneath
                log.exception("unexpected error in %s", fn.__name__)
                warn(f"Something went wrong ({type(exc).__name__}); see the server log.")
            return fallback(*args) if fallback else gr.skip()

        return wrapper  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate


def need_project(project_id: Optional[int]) -> int:
    if not project_id:
        raise gr.Error(NO_PROJECT, print_exception=False)
    return int(project_id)


def need_panel(view: Any) -> Any:
    """The open panel (a PanelView), or a warning asking the writer to choose one."""
    if view is None:
        raise gr.Error("Choose a panel in the list first.", print_exception=False)
    return view


def asset_file(studio: Any, digest: Optional[str]) -> Optional[str]:
    """The path of a stored image for Gradio to serve (the data dir is an allowed path)."""
    return str(studio.assets.path(digest)) if digest else None


def short(text: str, limit: int = 48) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def ui_picture(name: str) -> str:
    """A picture shipped for the UI itself (placeholders), under assets/ui/."""
    from app.context import ASSETS_DIR

    return str(Path(ASSETS_DIR) / "ui" / name)

