"""The matting segmenter behind the Segmenter interface: a tiny model with its own code in a
folder, loaded the way BiRefNet is (AutoModelForImageSegmentation, trust_remote_code), and
the clear error when no weights are there."""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import torch

from engine.base import EngineError
from engine.segment import Segmenter, SegmenterConfig, create_segmenter_from_config, resolve_segmenter
from segment_helpers import compose, ellipse_mask, iou, plain

CONFIGURATION = """
from transformers import PretrainedConfig

class TinyMattingConfig(PretrainedConfig):
    model_type = "tiny_matting"
"""

MODELING = """
import torch
from transformers import PreTrainedModel
from .configuration_tiny_matting import TinyMattingConfig

class TinyMatting(PreTrainedModel):
    config_class = TinyMattingConfig

    def __init__(self, config):
        super().__init__(config)
        self.head = torch.nn.Conv2d(3, 1, 1)
        self.post_init()

    def forward(self, pixels):
        fine = self.head(pixels)
        return [fine * 0, fine]  # coarse to fine, as BiRefNet returns them
"""

H, W = 96, 128
FIGURE = ellipse_mask(H, W, 40, 48, 20, 30)
SIGN = ellipse_mask(H, W, 100, 30, 14, 14)


@pytest.fixture(autouse=True)
def no_segmenter_env(monkeypatch, tmp_path):
    for name in ("ANYSTORY_SEGMENTER", "ANYSTORY_SAM_CHECKPOINT", "ANYSTORY_SAM_MODEL", "ANYSTORY_MATTING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANYSTORY_SAM_CACHE", str(tmp_path / "sam-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def tiny_model_dir(tmp_path):
    """A folder like BiRefNet's: config.json with auto_map, the model's code, its weights.
    The weights say 'red minus blue': the red figures on a blue background are the subject."""
    folder = tmp_path / "tiny-matting"
    folder.mkdir()
    (folder / "configuration_tiny_matting.py").write_text(textwrap.dedent(CONFIGURATION))
    (folder / "modeling_tiny_matting.py").write_text(textwrap.dedent(MODELING))
    namespace: dict = {}
    exec(compile((folder / "configuration_tiny_matting.py").read_text(), "configuration", "exec"), namespace)
    config = namespace["TinyMattingConfig"]()
    config.auto_map = {
        "AutoConfig": "configuration_tiny_matting.TinyMattingConfig",
        "AutoModelForImageSegmentation": "modeling_tiny_matting.TinyMatting",
    }
    config.save_pretrained(folder)
    weights = {"head.weight": torch.tensor([[[[8.0]], [[0.0]], [[-8.0]]]]), "head.bias": torch.tensor([0.0])}
    from safetensors.torch import save_file

    save_file(weights, str(folder / "model.safetensors"))
    assert json.loads((folder / "config.json").read_text())["auto_map"]
    return folder


def _scene():
    return compose(plain(H, W, (30, 60, 200)), [(FIGURE, (220, 40, 30)), (SIGN, (220, 40, 30))], noise=2)


def test_auto_picks_matting_when_its_model_is_in_a_folder(tiny_model_dir):
    assert resolve_segmenter(SegmenterConfig())[0] == "fallback"
    backend, reason = resolve_segmenter(SegmenterConfig(matting=str(tiny_model_dir)))
    assert backend == "matting" and str(tiny_model_dir) in reason


def test_the_tiny_model_cuts_out_and_clicks_choose_parts(tiny_model_dir):
    segmenter = create_segmenter_from_config(SegmenterConfig(matting=str(tiny_model_dir)))
    assert isinstance(segmenter, Segmenter) and segmenter.name.startswith("matting")
    both, score = segmenter.segment(_scene())
    assert iou(both, FIGURE | SIGN) > 0.9 and score > 0.5
    figure, _ = segmenter.segment(_scene(), [(40, 48, True)])
    assert iou(figure, FIGURE) > 0.9
    without_sign, _ = segmenter.segment(_scene(), [(100, 30, False)])
    assert iou(without_sign, FIGURE) > 0.9
    boxed, _ = segmenter.segment(_scene(), box=(80, 0, 128, 60))
    assert iou(boxed, SIGN) > 0.9


def test_missing_weights_give_the_clear_message(tmp_path):
    empty = tmp_path / "birefnet"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    with pytest.raises(EngineError, match="huggingface.co/ZhengPeng7/BiRefNet.*ANYSTORY_MATTING=DIR"):
        create_segmenter_from_config(SegmenterConfig(matting=str(empty)))
    with pytest.raises(EngineError, match="could not be loaded"):
        create_segmenter_from_config(SegmenterConfig(backend="matting"))
