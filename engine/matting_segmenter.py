"""The `matting` segmenter: an automatic matting model (BiRefNet, as the published AnyStory
storyboard uses it) loaded through transformers' AutoModelForImageSegmentation.

The model sees the picture (or the box) at MODEL_SIDE², normalised with ImageNet's mean and
spread, and returns a matte; its last output, through a sigmoid, is the subject's alpha.
Clicks then choose among the separate parts as with the fallback: positive clicks keep the
parts under them, negative clicks drop them. Importing this module imports torch;
engine/segment.py does so only when the matting backend is chosen.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from engine.base import EngineError
from engine.fallback_segmenter import choose_parts, drop_parts
from engine.segment import MATTING_REPO, ImageLike, PixelBox, Point, check_prompts, search_window, to_pil

MODEL_SIDE = 1024
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_matting_model(source: str, device: Optional[str] = None) -> torch.nn.Module:
    """The model in a local folder or a Hugging Face repo (its code runs: trust_remote_code)."""
    from transformers import AutoModelForImageSegmentation

    try:
        model = AutoModelForImageSegmentation.from_pretrained(source, trust_remote_code=True)
    except (OSError, ValueError, ImportError, KeyError, AttributeError) as exc:  # AttributeError: code too old
        raise EngineError(
            f"the matting model {source} could not be loaded ({str(exc).splitlines()[0]}). "
            f"Download the files of huggingface.co/{MATTING_REPO} (config.json, its .py "
            "files and model.safetensors) on a machine with internet into a folder, and give "
            "that folder with ANYSTORY_MATTING=DIR or in Settings; or choose another segmenter."
        ) from exc
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval()


def _last_output(output: Any) -> torch.Tensor:
    """BiRefNet returns a list of mattes (coarse to fine); other models an object with logits."""
    if isinstance(output, (list, tuple)):
        return output[-1]
    return output.logits if hasattr(output, "logits") else output


class MattingSegmenter:
    """An automatic matte, then the writer's clicks choose its parts."""

    def __init__(self, model: torch.nn.Module, label: str = "BiRefNet"):
        self.model = model
        self.name = f"matting {label}"

    @classmethod
    def load(cls, source: str, device: Optional[str] = None) -> "MattingSegmenter":
        """Load the model from a folder or repo id (see load_matting_model)."""
        label = MATTING_REPO.split("/")[-1] if source == MATTING_REPO else source
        return cls(load_matting_model(source, device), label)

    def matte(self, image: Image.Image) -> np.ndarray:
        """Alpha in [0, 1] (H x W float32) for the whole picture."""
        parameter = next(self.model.parameters())
        rgb = np.asarray(image.convert("RGB").resize((MODEL_SIDE, MODEL_SIDE), Image.Resampling.BILINEAR))
        pixels = torch.from_numpy(rgb.astype(np.float32) / 255)
        pixels = (pixels - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
        batch = pixels.permute(2, 0, 1)[None].to(device=parameter.device, dtype=parameter.dtype)
        with torch.inference_mode():
            logits = _last_output(self.model(batch)).float()
            alpha = torch.nn.functional.interpolate(logits[:, :1].sigmoid(), size=(image.height, image.width),
                                                    mode="bilinear", align_corners=False)
        return alpha[0, 0].cpu().numpy()

    def segment(self, image: ImageLike, points: Sequence[Point] = (),
                box: Optional[PixelBox] = None) -> tuple[np.ndarray, float]:
        """Mask of the matte (alpha >= 0.5) within the box, parts chosen by the clicks; the
        score is the mean confidence of the matte inside the mask."""
        pil = to_pil(image)
        points, box = check_prompts(pil.size, points, box)
        x0, y0, x1, y1 = search_window(pil.size, box)
        alpha = self.matte(pil.crop((x0, y0, x1, y1)))
        local = [(x - x0, y - y0, p) for x, y, p in points if x0 <= x < x1 and y0 <= y < y1]
        selected = drop_parts(choose_parts(alpha >= 0.5, local), local)
        mask = np.zeros((pil.height, pil.width), bool)
        mask[y0:y1, x0:x1] = selected
        return mask, float(alpha[selected].mean()) if selected.any() else 0.0
