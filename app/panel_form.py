"""The panel editor's form: between a PanelView and the widgets' values, and back.

Render settings live in the panel's `overrides` with the keys story/render_request.py reads
(width, height, steps, guidance, params: {engine: {...}}); the engine's own settings are
shown and stored as app/engine_settings.py says.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from app.engine_settings import EngineSettings
from story.views import PanelView
from story.vocabulary import DEFAULT_RENDER_SETTINGS

MAX_BALLOONS = 4
NARRATOR = "(no speaker)"
SIZES: dict[str, tuple[int, int]] = {
    "Square 1:1 · 768×768": (768, 768),
    "Landscape 4:3 · 1024×768": (1024, 768),
    "Portrait 3:4 · 768×1024": (768, 1024),
    "Wide 16:9 · 1024×576": (1024, 576),
    "Tall 9:16 · 576×1024": (576, 1024),
    "Banner 2:1 · 1024×512": (1024, 512),
}
DEFAULTS = {key: DEFAULT_RENDER_SETTINGS[key] for key in ("width", "height", "steps", "guidance")}
BALLOON_KEYS = ("speaker", "kind", "text")


def size_label(width: int, height: int) -> str:
    """The preset for a size; an unusual size gets its own label, kept in the choices."""
    for label, size in SIZES.items():
        if size == (width, height):
            return label
    return f"Custom · {width}×{height}"


def parse_size(label: str) -> tuple[int, int]:
    if label in SIZES:
        return SIZES[label]
    width, height = label.rsplit("·", 1)[-1].strip().split("×")
    return int(width), int(height)


def panel_settings(view: PanelView, project_defaults: dict[str, Any]) -> dict[str, Any]:
    """Width, height, steps and guidance in force for a panel (panel over project over defaults)."""
    merged = {**DEFAULTS, **{k: v for k, v in project_defaults.items() if k in DEFAULTS}}
    merged.update({k: v for k, v in view.overrides.items() if k in DEFAULTS})
    return merged


@dataclass
class PanelForm:
    """What the writer sees in the editor, as plain values."""

    prompt: str
    cast: list[str]
    caption: str
    balloons: list[tuple[str, str, str]]  # (speaker name or NARRATOR, kind, text)
    seed: int
    size: str
    steps: int
    guidance: float
    engine: str
    advanced: dict[str, Any]  # the engine's settings as shown (EngineSettings.shown)

    @classmethod
    def of(cls, view: PanelView, project_defaults: dict[str, Any], engine: str) -> "PanelForm":
        settings = panel_settings(view, project_defaults)
        stored = view.overrides.get("params", {}).get(engine, {})
        return cls(
            prompt=view.prompt, cast=[c.name for c in view.characters], caption=view.caption,
            balloons=[(b.speaker or NARRATOR, b.kind, b.text) for b in view.balloons],
            seed=view.seed, size=size_label(settings["width"], settings["height"]),
            steps=int(settings["steps"]), guidance=float(settings["guidance"]),
            engine=engine, advanced=EngineSettings.of(engine).shown(stored, len(view.characters)),
        )

    @classmethod
    def blank(cls, engine: str) -> "PanelForm":
        """The editor with no panel open."""
        return cls("", [], "", [], 0, next(iter(SIZES)), DEFAULTS["steps"], DEFAULTS["guidance"], engine,
                   EngineSettings.of(engine).shown({}, 0))

    @classmethod
    def from_values(cls, values: Mapping[str, Any], engine: str) -> "PanelForm":
        """From the editor's values keyed as `values()` keys them (FormFields reads them)."""
        rows = [(values[f"speaker{i}"], values[f"kind{i}"], values[f"text{i}"]) for i in range(MAX_BALLOONS)]
        balloons = [(s or NARRATOR, k or "speech", (t or "").strip()) for s, k, t in rows if (t or "").strip()]
        seed = values["seed"]
        if seed is None or float(seed) < 0 or float(seed) != int(seed):
            raise ValueError("The seed must be a whole number, 0 or more.")
        settings = EngineSettings.of(engine)
        advanced = [values[f"advanced{i}"] for i in range(settings.control_count)]
        return cls(values["prompt"] or "", list(values["cast"] or []), values["caption"] or "", balloons,
                   int(seed), values["size"], int(values["steps"]), float(values["guidance"]), engine,
                   settings.from_widgets(advanced))

    def values(self) -> dict[str, Any]:
        """The editor's values by field name: prompt, cast, caption, speakerI/kindI/textI per
        balloon row, seed, size, steps, guidance, advancedI per engine setting."""
        padded = self.balloons + [(NARRATOR, "speech", "")] * (MAX_BALLOONS - len(self.balloons))
        rows = {f"{key}{i}": value for i, row in enumerate(padded) for key, value in zip(BALLOON_KEYS, row)}
        advanced = EngineSettings.of(self.engine).widget_values(self.advanced)
        return {"prompt": self.prompt, "cast": self.cast, "caption": self.caption, **rows, "seed": self.seed,
                "size": self.size, "steps": self.steps, "guidance": self.guidance,
                **{f"advanced{i}": value for i, value in enumerate(advanced)}}

    def overrides(self, old: dict[str, Any], before: "PanelForm") -> dict[str, Any]:
        """The panel's new overrides: size, steps, guidance and the settings of this form's
        engine that the writer changed since `before` (other engines' settings are kept)."""
        params = dict(old.get("params", {}))
        advanced = EngineSettings.of(self.engine).stored(
            params.get(self.engine, {}), before.advanced, self.advanced, len(self.cast))
        if advanced:
            params[self.engine] = advanced
        else:
            params.pop(self.engine, None)
        shown, now = before.render_settings(), self.render_settings()
        new = {**old, **{k: v for k, v in now.items() if v != shown[k]}}  # untouched settings store nothing
        new.pop("params", None)
        return {**new, "params": params} if params else new

    def render_settings(self) -> dict[str, Any]:
        """Width, height, steps and guidance as the form shows them."""
        width, height = parse_size(self.size)
        return {"width": width, "height": height, "steps": self.steps, "guidance": self.guidance}

    def dialogue(self) -> list[tuple[Optional[str], str, str]]:
        """Balloons as the services take them: (speaker or None, kind, text)."""
        return [(None if s == NARRATOR else s, k, t) for s, k, t in self.balloons]


@dataclass
class FormFields:
    """The editor's input components by field name (as PanelForm.values() names them), so
    handlers fill and read the form by name, not by position."""

    components: dict[str, Any]
    engine: str

    @property
    def all(self) -> list[Any]:
        return list(self.components.values())

    def __getitem__(self, name: str) -> Any:
        return self.components[name]

    def fill(self, form: PanelForm) -> dict[Any, Any]:
        """{component: value} showing `form`."""
        return {self.components[name]: value for name, value in form.values().items()}

    def read(self, data: Mapping[Any, Any]) -> PanelForm:
        """The form from an event's {component: value} inputs."""
        return PanelForm.from_values({name: data[c] for name, c in self.components.items()}, self.engine)
