"""Helpers every tab uses: turning service errors into short UI messages, and asset paths."""
from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import gradio as gr

from engine.base import EngineError
from story.errors import StudioError

log = logging.getLogger("anystory.app")
F = TypeVar("F", bound=Callable[..., Any])

NO_PROJECT = "Open or create a project first (Projects tab)."


def user_errors(fn: F) -> F:
    """Show a problem the writer can act on as a short warning and leave every output as it
    was (nothing typed is lost, no output turns into an error badge); log anything else and
    show one line, never a stack trace."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error as exc:
            gr.Warning(exc.message)
        except (StudioError, EngineError, ValueError) as exc:
            gr.Warning(str(exc))
        except Exception as exc:  # the UI must stay usable whatever broke underneath
            log.exception("unexpected error in %s", fn.__name__)
            gr.Warning(f"Something went wrong ({type(exc).__name__}); see the server log.")
        return gr.skip()

    return wrapper  # type: ignore[return-value]


def need_project(project_id: Optional[int]) -> int:
    if not project_id:
        raise gr.Error(NO_PROJECT, print_exception=False)
    return int(project_id)


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

