"""The AnyStory settings as data: published defaults, validation, the step schedule, and that
the settings module stays importable without torch."""
from __future__ import annotations

import subprocess
import sys

import pytest

from dataclasses import fields

from engine.anystory.params import PARAMS, AnyStorySettings, describe_params, plan_steps, resolve_params
from engine.base import EngineError


def test_description_is_plain_data_for_the_ui():
    described = describe_params()
    assert [d["name"] for d in described] == [s.name for s in PARAMS]
    scale = next(d for d in described if d["name"] == "redux_scale")
    assert scale == {"name": "redux_scale", "type": "float", "default": 0.6, "default_multi": None,
                     "minimum": 0.0, "maximum": 2.0, "help": scale["help"]} and scale["help"]


def test_published_defaults():
    one, two = resolve_params({}, 1), resolve_params({}, 2)
    assert one.as_dict() == {"redux_scale": 0.6, "redux_start_at": 0.1, "redux_end_at": 0.3, "ref_start_at": 0.0,
                   "ref_end_at": 1.0, "ref_shift": 0.0, "enable_router": False, "enable_ref_mask": True,
                   "enable_ref_cache": True, "layout_freedom": 0.0, "routing_map_from": 0.0}
    assert two.as_dict() == {**one.as_dict(), "enable_router": True, "ref_start_at": 0.09}
    assert resolve_params({"enable_router": False}, 3).enable_router is False


def test_unknown_and_out_of_range_settings_are_refused():
    with pytest.raises(EngineError, match="unknown AnyStory setting.*ref_shfit"):
        resolve_params({"ref_shfit": 1.0}, 1)
    with pytest.raises(EngineError, match="ref_end_at"):
        resolve_params({"ref_end_at": 1.5}, 1)


def test_step_schedule_uses_the_published_rounding():
    # 25 steps, two subjects, published defaults: subject tokens on steps 3-7 (int(2.5+0.5)=3,
    # int(7.5+0.5)=8), references from step 2 (int(2.25+0.5)=2), router whenever either is on
    plans = plan_steps(25, resolve_params({}, 2), 2)
    assert [i for i, p in enumerate(plans) if p.redux] == [3, 4, 5, 6, 7]
    assert [i for i, p in enumerate(plans) if p.ref] == list(range(2, 25))
    assert [i for i, p in enumerate(plans) if p.router] == list(range(2, 25))
    assert not any(p.redux or p.ref or p.router for p in plan_steps(25, resolve_params({}, 0), 0))


def test_the_settings_type_has_one_field_per_described_setting():
    assert [f.name for f in fields(AnyStorySettings)] == [s.name for s in PARAMS]
    settings = resolve_params({"redux_scale": 1}, 1)
    assert settings.redux_scale == 1.0 and isinstance(settings.redux_scale, float)
    with pytest.raises(AttributeError):
        settings.redux_scale = 0.5  # frozen: a render's settings cannot drift while it runs


def test_each_engine_describes_its_own_settings():
    from engine.anystory import AnyStoryGenerator
    from engine.base import Generator
    from engine.draft import DraftGenerator
    from engine.registry import engine_parameters

    assert engine_parameters("anystory") == engine_parameters("anystory-tiny") == AnyStoryGenerator.parameters()
    assert AnyStoryGenerator.parameters() == describe_params()
    assert engine_parameters("draft") == DraftGenerator.parameters() == []
    assert isinstance(DraftGenerator(), Generator) and hasattr(Generator, "parameters")
    assert engine_parameters("no-such-engine") is None


def test_importing_the_settings_does_not_import_torch():
    code = ("import sys, engine.anystory, engine.anystory.params, engine.registry; "
            "engine.registry.engine_parameters('anystory'); print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


def test_layout_freedom_delays_all_character_conditioning():
    # 20 steps, two subjects: references would start at step 2 and subject tokens at 2..5;
    # with layout_freedom 0.3 nothing conditions the first 6 steps
    free = plan_steps(20, resolve_params({"layout_freedom": 0.3}, 2), 2)
    assert not any(p.redux or p.ref or p.router for p in free[:6])
    assert all(p.ref and p.router for p in free[6:]) and not any(p.redux for p in free)
    with pytest.raises(EngineError, match="layout_freedom"):
        resolve_params({"layout_freedom": 0.6}, 1)
