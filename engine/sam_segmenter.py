"""The `sam` segmenter: Meta's Segment Anything through its own `SamPredictor`.

The image embedding (the expensive ViT pass) is computed once per picture, keyed by a hash
of its pixels, and kept in a small LRU so further clicks, and going back to an earlier
picture, only run the light prompt encoder and mask decoder. Importing this module imports
torch; engine/segment.py does so only when the sam backend is chosen.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from functools import partial
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from segment_anything import SamPredictor, sam_model_registry
from segment_anything.modeling import (
    ImageEncoderViT,
    MaskDecoder,
    PromptEncoder,
    Sam,
    TwoWayTransformer,
)

from engine.base import EngineError
from engine.segment import ImageLike, PixelBox, Point, check_prompts, flatten_on_white, to_pil

SamBuilder = Callable[[], Sam]


def build_tiny_sam() -> Sam:
    """A SAM with random weights and tiny sizes (64 px input, 32-dim features), built from
    segment_anything's own modules: tests and benchmarks run the real code path with it."""
    size, patch, dim = 64, 8, 32
    return Sam(
        image_encoder=ImageEncoderViT(
            img_size=size, patch_size=patch, embed_dim=dim, depth=2, num_heads=2,
            mlp_ratio=2, out_chans=dim, qkv_bias=True, use_rel_pos=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            window_size=4, global_attn_indexes=(1,),
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=dim, image_embedding_size=(size // patch, size // patch),
            input_image_size=(size, size), mask_in_chans=4,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=dim, mlp_dim=64, num_heads=2),
            transformer_dim=dim, iou_head_depth=3, iou_head_hidden_dim=dim,
        ),
    ).eval()


def model_builder(model_type: str) -> SamBuilder:
    """The untrained model for `model_type`: Meta's registry, or the tiny test model."""
    if model_type == "tiny":
        return build_tiny_sam
    if model_type not in sam_model_registry:
        raise EngineError(f"unknown SAM model {model_type!r}; choose vit_b, vit_l or vit_h")
    return partial(sam_model_registry[model_type], checkpoint=None)


def load_sam(path: Path, model_type: str, builder: Optional[SamBuilder] = None) -> Sam:
    """Build the model for `model_type` and load the checkpoint's weights into it (on CPU)."""
    model = (builder or model_builder(model_type))()
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a file that is no checkpoint
        raise EngineError(f"{path} is not a readable SAM checkpoint ({exc})") from exc
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as exc:
        raise EngineError(
            f"the checkpoint {path} does not fit the SAM model {model_type}: is it "
            "another size? choose it with --sam-model vit_b|vit_l|vit_h"
        ) from exc
    return model.eval()


class SamSegmenter:
    """Segment Anything with an LRU of image embeddings (a few pictures)."""

    def __init__(self, model: Sam, label: str, device: Optional[str] = None, cache_size: int = 4):
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.predictor = SamPredictor(model.to(device))
        self.name = f"sam {label}"
        self.cache_size = cache_size
        self._embeddings: OrderedDict[str, tuple] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_checkpoint(
        cls,
        path: Path,
        model_type: str = "vit_b",
        device: Optional[str] = None,
        builder: Optional[SamBuilder] = None,
    ) -> "SamSegmenter":
        """Load a checkpoint file (Meta's, or one saved from the same architecture)."""
        return cls(load_sam(path, model_type, builder), model_type, device)

    def segment(self, image: ImageLike, points: Sequence[Point] = (),
                box: Optional[PixelBox] = None) -> tuple[np.ndarray, float]:
        """Mask for the clicks and/or box; with no prompt at all, the whole picture is the box.

        One click alone is ambiguous (a shirt or the person?): SAM then proposes three
        masks and the best-scoring one is kept; several prompts give a single mask.
        """
        pil = to_pil(image)
        points, box = check_prompts(pil.size, points, box)
        if not points and box is None:
            box = (0.0, 0.0, float(pil.width), float(pil.height))
        coords = np.array([p[:2] for p in points], dtype=np.float32) if points else None
        labels = np.array([int(p[2]) for p in points]) if points else None
        with self._lock, torch.inference_mode():
            self._set_image(np.asarray(flatten_on_white(pil)))
            masks, scores, _ = self.predictor.predict(
                point_coords=coords,
                point_labels=labels,
                box=None if box is None else np.array(box, dtype=np.float32),
                multimask_output=len(points) == 1 and box is None,
            )
        best = int(np.argmax(scores))
        return masks[best].astype(bool), float(np.clip(scores[best], 0.0, 1.0))

    def _set_image(self, rgb: np.ndarray) -> None:
        """Give the predictor this picture's embedding, computing it only on a cache miss."""
        key = hashlib.sha256(rgb.tobytes()).hexdigest() + str(rgb.shape)
        predictor = self.predictor
        if key in self._embeddings:
            self._embeddings.move_to_end(key)
            predictor.features, predictor.original_size, predictor.input_size = self._embeddings[key]
            predictor.is_image_set = True
            return
        predictor.set_image(rgb)
        self._embeddings[key] = (predictor.features, predictor.original_size, predictor.input_size)
        while len(self._embeddings) > self.cache_size:
            self._embeddings.popitem(last=False)
