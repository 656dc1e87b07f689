"""The panel editor's engine settings: controls built from the active engine's description of
its parameters, or a JSON object for an engine that has none.

Descriptions are plain data (name, type, default, default_multi, minimum, maximum, help), as
each engine's `Generator.parameters()` gives them, with whether the engine samples (uses the
panel's steps and guidance); engine.registry.describe_engine asks without loading the engine
or torch. The draft engine has no parameters and no sampler. A control left at
its default stores nothing, so the panel follows the engine's defaults (which may depend on
the number of characters); only values the writer changed go into the panel's
`overrides["params"][engine]`.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Optional

from engine.registry import describe_engine

Description = tuple[dict[str, Any], ...]
FIRST = ("layout_freedom",)
"""Parameters a writer reaches for first: shown above the other advanced settings."""


def parse_json(text: str) -> dict[str, Any]:
    """The advanced settings typed as a JSON object (empty text: none)."""
    if not (text or "").strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"The advanced settings are not valid JSON ({exc.msg}, line {exc.lineno}).") from None
    if not isinstance(value, dict):
        raise ValueError('The advanced settings must be a JSON object, e.g. {"name": 0.5}.')
    return value


def default_for(param: dict[str, Any], n_subjects: int) -> Any:
    """The engine's default of a parameter for a panel with `n_subjects` characters."""
    if n_subjects > 1 and param.get("default_multi") is not None:
        return param["default_multi"]
    return param["default"]


def label(param: dict[str, Any]) -> str:
    return param["name"].replace("_", " ").capitalize()


def info(param: dict[str, Any]) -> str:
    """The help text with the default(s), e.g. "… Default 0.0 (0.09 with several characters)."."""
    default, multi = _plain(param["default"]), param.get("default_multi")
    several = f" ({_plain(multi)} with several characters)" if multi is not None else ""
    return f"{param['help']} Default {default}{several}."


def _plain(value: Any) -> str:
    """A default as a writer reads it: switches are on/off."""
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class EngineSettings:
    """How one engine's advanced settings appear in the editor and go into the overrides."""

    engine: str
    params: Optional[Description]  # () for none (draft), None when the engine does not describe them
    sampled: bool = True
    """True when the engine uses the panel's steps and guidance (an undescribed one may)."""

    @classmethod
    @functools.cache
    def of(cls, engine: str) -> "EngineSettings":
        """The settings of `engine` as it describes itself, the writer's first ones first."""
        described = describe_engine(engine)
        if described is None:
            return cls(engine, None)
        params = tuple(sorted(described.parameters, key=lambda p: p["name"] not in FIRST))
        return cls(engine, params, described.samples)

    @property
    def as_json(self) -> bool:
        return self.params is None

    @property
    def control_count(self) -> int:
        """How many editor controls show the settings (one JSON box when undescribed)."""
        return 1 if self.params is None else len(self.params)

    def shown(self, stored: dict[str, Any], n_subjects: int) -> dict[str, Any]:
        """What the controls show: the stored values over the defaults for this many characters."""
        if self.params is None:
            return dict(stored)
        return {p["name"]: stored.get(p["name"], default_for(p, n_subjects)) for p in self.params}

    def widget_values(self, shown: dict[str, Any]) -> list[Any]:
        if self.params is None:
            return [json.dumps(shown, indent=2)]
        return [shown[p["name"]] for p in self.params]

    def from_widgets(self, values: list[Any]) -> dict[str, Any]:
        if self.params is None:
            return parse_json(values[0] if values else "")
        return {p["name"]: _typed(p, v) for p, v in zip(self.params, values, strict=True)}

    def stored(self, old: dict[str, Any], before: dict[str, Any], now: dict[str, Any], n_subjects: int) -> dict[str, Any]:
        """The engine's new stored settings: a control the writer moved is stored, or dropped
        when moved back to the default; the others keep their stored state. Stored names the
        engine no longer describes are dropped (it would refuse them)."""
        if self.params is None:
            return dict(now)
        kept = {p["name"]: old[p["name"]] for p in self.params if p["name"] in old}
        for param in self.params:
            name = param["name"]
            if now[name] == before.get(name):
                continue
            if now[name] == default_for(param, n_subjects):
                kept.pop(name, None)
            else:
                kept[name] = now[name]
        return kept


def _typed(param: dict[str, Any], value: Any) -> Any:
    """A control's value as the parameter's type (sliders give floats, rounded to their step)."""
    kind = param["type"]
    if kind == "bool":
        return bool(value)
    if value is None:
        raise ValueError(f"Give a value for “{label(param)}”.")
    return int(round(float(value))) if kind == "int" else round(float(value), 4)
