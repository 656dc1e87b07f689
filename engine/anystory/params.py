"""The AnyStory engine's advanced settings: their description as data, validation, and the
per-step conditioning schedule they imply.

Pure Python (no torch) so that the UI can build its "advanced settings" panel from `PARAMS`
without loading the engine. Defaults are the published ones; two of them depend on the number
of subjects (one subject: router off, references from the first step; several: router on,
references from 9 % of the steps), which `default_multi` records.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

from engine.base import EngineError


@dataclass(frozen=True)
class ParamSpec:
    """One advanced setting: `default` for one subject, `default_multi` (when set) for several."""

    name: str
    kind: type
    default: Any
    help: str
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    default_multi: Any = None

    def default_for(self, n_subjects: int) -> Any:
        """The published default for a panel with `n_subjects` characters."""
        if n_subjects > 1 and self.default_multi is not None:
            return self.default_multi
        return self.default


PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("redux_scale", float, 0.6, "Strength of the subject tokens (likeness vs prompt freedom).", 0.0, 2.0),
    ParamSpec("redux_start_at", float, 0.1, "Share of steps before the subject tokens are used.", 0.0, 1.0),
    ParamSpec("redux_end_at", float, 0.3, "Share of steps after which the subject tokens stop.", 0.0, 1.0),
    ParamSpec("ref_start_at", float, 0.0, "Share of steps before the reference picture is attended.", 0.0, 1.0,
              default_multi=0.09),
    ParamSpec("ref_end_at", float, 1.0, "Share of steps after which the reference picture is dropped.", 0.0, 1.0),
    ParamSpec("ref_shift", float, 0.0, "Bias added to attention on the reference (more detail from it when > 0).",
              -10.0, 10.0),
    ParamSpec("enable_router", bool, False, "Route each image region to one character (needed for several).",
              default_multi=True),
    ParamSpec("enable_ref_mask", bool, True, "Attend only to the character, not its reference background."),
    ParamSpec("enable_ref_cache", bool, True, "Compute the reference once per render (same result, faster)."),
    ParamSpec("layout_freedom", float, 0.0, "Share of the first steps without any character conditioning: "
              "freer, more varied layouts and prompt adherence, a little less likeness.", 0.0, 0.5),
    ParamSpec("routing_map_from", float, 0.0, "Returned routing maps average the steps from this share on.",
              0.0, 1.0),
)

_BY_NAME = {spec.name: spec for spec in PARAMS}
SAMPLES = True
"""AnyStory samples (FLUX flow matching): a panel's steps and guidance apply (engine.registry)."""


@dataclass(frozen=True)
class AnyStorySettings:
    """The resolved settings of one panel render (`resolve_params`); `PARAMS` describes each
    field (kind, bounds, help, published defaults)."""

    redux_scale: float
    redux_start_at: float
    redux_end_at: float
    ref_start_at: float
    ref_end_at: float
    ref_shift: float
    enable_router: bool
    enable_ref_mask: bool
    enable_ref_cache: bool
    layout_freedom: float
    routing_map_from: float

    def as_dict(self) -> dict[str, Any]:
        """Plain data, as a render's info records it."""
        return asdict(self)


def describe_params() -> list[dict[str, Any]]:
    """`PARAMS` as plain dicts (name, type, default, default_multi, minimum, maximum, help) for the UI."""
    return [
        {"name": s.name, "type": s.kind.__name__, "default": s.default, "default_multi": s.default_multi,
         "minimum": s.minimum, "maximum": s.maximum, "help": s.help}
        for s in PARAMS
    ]


def _coerce(spec: ParamSpec, value: Any) -> Any:
    if spec.kind is bool:
        if not isinstance(value, bool):
            raise EngineError(f"setting {spec.name!r} must be true or false, not {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EngineError(f"setting {spec.name!r} must be a number, not {value!r}")
    value = float(value)
    if not spec.minimum <= value <= spec.maximum:
        raise EngineError(f"setting {spec.name!r} must lie between {spec.minimum} and {spec.maximum}, not {value}")
    return value


def resolve_params(params: dict[str, Any], n_subjects: int) -> AnyStorySettings:
    """Fill in published defaults for a panel with `n_subjects` characters and check the given values.

    Unknown names are rejected so that a typo never silently falls back to a default.
    """
    unknown = sorted(set(params) - set(_BY_NAME))
    if unknown:
        raise EngineError(f"unknown AnyStory setting(s) {', '.join(unknown)}; known: {', '.join(_BY_NAME)}")
    resolved = {s.name: s.default_for(n_subjects) for s in PARAMS}
    resolved.update({name: _coerce(_BY_NAME[name], value) for name, value in params.items()})
    return AnyStorySettings(**resolved)


@dataclass(frozen=True)
class StepPlan:
    """Which conditioning streams one denoising step uses."""

    redux: bool
    ref: bool
    router: bool

    @property
    def conditioned(self) -> bool:
        return self.redux or self.ref


def _step_index(steps: int, share: float) -> int:
    # the published rounding: int(steps * share + 0.5)
    return int(steps * share + 0.5)


def plan_steps(steps: int, settings: AnyStorySettings, n_subjects: int) -> list[StepPlan]:
    """Per step: subject tokens in [redux_start, redux_end), reference in [ref_start, ref_end),
    router tokens whenever either is on and the router is enabled (as published).

    layout_freedom f maps onto the start shares: redux_start_at and ref_start_at become at
    least f, so the first f of the steps run the base model alone (0 keeps the published
    schedule; a window that ends before f is not used at all)."""
    freedom = settings.layout_freedom
    redux = range(_step_index(steps, max(settings.redux_start_at, freedom)), _step_index(steps, settings.redux_end_at))
    ref = range(_step_index(steps, max(settings.ref_start_at, freedom)), _step_index(steps, settings.ref_end_at))
    plans = []
    for i in range(steps):
        use_redux, use_ref = n_subjects > 0 and i in redux, n_subjects > 0 and i in ref
        router = settings.enable_router and (use_redux or use_ref)
        plans.append(StepPlan(use_redux, use_ref, router))
    return plans
