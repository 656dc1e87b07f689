"""In-process harness of the app's handlers: the whole Blocks app built over a real Studio,
and a `Page` that keeps every component's value the way the browser would, so a test calls
a handler with the page's values and applies the {component: value} it returns."""
from __future__ import annotations

import warnings
from typing import Any, Iterable

import gradio as gr

from app.context import AppContext
from engine.draft import DraftGenerator
from engine.registry import EngineConfig
from story.studio import Studio
from story.worker import Worker


def app_context(studio: Studio, *, worker: bool = False, engine: str = "draft") -> AppContext:
    """The app's context on `engine` (not loaded); with `worker`, a running draft worker."""
    ctx = AppContext(studio, EngineConfig(engine=engine))
    if worker:
        ctx.worker = Worker(studio, DraftGenerator(), poll_s=0.05)
        ctx.worker.start()
    return ctx


class Page:
    """Every component's current value, as the browser holds it."""

    def __init__(self, components: Iterable[Any]) -> None:
        self.values: dict[Any, Any] = {c: getattr(c, "value", None) for c in components}

    def apply(self, out: Any) -> dict[Any, Any]:
        """Take a handler's outputs as the browser would (an update's value, if it has one)."""
        if not isinstance(out, dict) or out.get("__type__") == "update":
            return {}
        for component, value in out.items():
            if isinstance(value, dict) and value.get("__type__") == "update":
                if "value" in value:
                    self.values[component] = value["value"]
            else:
                self.values[component] = value
        return out

    def data(self, components: Iterable[Any]) -> dict[Any, Any]:
        return {c: self.values.get(c) for c in components}

    def __getitem__(self, component: Any) -> Any:
        return self.values.get(component)

    def __setitem__(self, component: Any, value: Any) -> None:
        self.values[component] = value


def select(index: Any) -> gr.SelectData:
    """The event data of a click on item `index` of a gallery (or pixel (x, y) of an image)."""
    return gr.SelectData(None, {"index": index, "value": None, "selected": True})


def toasts(record: list[warnings.WarningMessage]) -> list[str]:
    """The warnings the handlers showed (outside a request gr.Warning is a Python warning)."""
    return [str(w.message) for w in record]
