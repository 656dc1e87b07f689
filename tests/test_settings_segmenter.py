"""Settings → Cut-outs: pointing the app at a SAM checkpoint or a matting folder, in-process,
kept in the data directory for the next start; SAM stays the first choice."""
from __future__ import annotations

import json

import gradio as gr
import pytest
import torch

from app import settings_segmenter
from app.context import AppContext
from engine.registry import EngineConfig
from engine.segment import SegmenterConfig, resolve_segmenter


@pytest.fixture
def ctx(studio, tmp_path, monkeypatch):
    monkeypatch.setenv("ANYSTORY_SAM_CACHE", str(tmp_path / "no-sam"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return AppContext(studio, EngineConfig(engine="draft"), SegmenterConfig())


@pytest.fixture
def tiny_checkpoint(tmp_path):
    from engine.sam_segmenter import build_tiny_sam

    torch.manual_seed(0)
    path = tmp_path / "tiny_sam.pth"
    torch.save(build_tiny_sam().state_dict(), path)
    return path


def test_a_checkpoint_chosen_in_settings_is_used_and_kept(ctx, studio, tiny_checkpoint):
    assert "Built-in cut-out" in settings_segmenter.segmenter_words(ctx)
    words = settings_segmenter.choose_model(ctx, f" {tiny_checkpoint} ", "tiny", "")
    assert words.startswith("**Cut-outs:** Segment Anything")
    assert ctx.segmenter().name == "sam tiny"
    saved = json.loads((studio.root / "segmenter.json").read_text())
    assert saved == {"checkpoint": str(tiny_checkpoint), "model_type": "tiny", "matting": None}
    later = AppContext(studio, EngineConfig(engine="draft"), SegmenterConfig())
    settings_segmenter.restore_saved_choice(later)
    assert later.segmenter_status()[0] == "sam"
    settings_segmenter.choose_model(ctx, "", "vit_b", "")
    assert ctx.segmenter().name == "fallback"


def test_the_command_line_wins_over_the_saved_choice(ctx, studio, tiny_checkpoint, tmp_path):
    settings_segmenter.choose_model(ctx, str(tiny_checkpoint), "tiny", "")
    other = tmp_path / "other.pth"
    other.write_bytes(b"x")
    flags = AppContext(studio, EngineConfig(engine="draft"), SegmenterConfig(checkpoint=str(other)))
    settings_segmenter.restore_saved_choice(flags)
    assert flags.segmenter_config.checkpoint == str(other)


def test_a_missing_file_is_refused_and_changes_nothing(ctx, studio):
    with pytest.raises(ValueError, match="There is no checkpoint file at /nowhere/sam.pth"):
        settings_segmenter.choose_model(ctx, "/nowhere/sam.pth", "vit_b", "")
    assert ctx.segmenter_status()[0] == "fallback" and not (studio.root / "segmenter.json").exists()


def test_sam_stays_first_when_both_models_are_there(tiny_checkpoint, tmp_path):
    matting = tmp_path / "birefnet"
    matting.mkdir()
    (matting / "config.json").write_text("{}")
    config = SegmenterConfig(checkpoint=str(tiny_checkpoint), model_type="tiny", matting=str(matting))
    assert resolve_segmenter(config)[0] == "sam"


def test_the_settings_handler_returns_the_note_by_component(ctx, tiny_checkpoint):
    with gr.Blocks():
        parts = settings_segmenter.build(ctx)
    shown = parts["chosen"](str(tiny_checkpoint), "tiny", "")
    assert "Segment Anything" in shown[parts["note"]]
