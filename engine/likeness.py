"""Likeness check: how much each character's region of a finished render looks like the
character's reference cut-out, in [0, 1], and flags for a likely blend.

A character's region is where the render put it: its routing map when the render has maps,
else its box, else the draft engine's placement, else the whole panel. Each region is cut
out (its bounding box, pixels outside the region masked as the reference's background is)
and compared with every reference by an engine's embedder: vectors whose cosine similarity
is the likeness (clipped to [0, 1]; a picture against itself scores 1). The AnyStory engine
embeds with the SigLIP image encoder it already loads (engine/anystory/likeness.py); the
draft engine uses `thumbnail_embed`, a cheap spatial similarity.

Blend flags compare every region with every reference: a region that matches another
character about as well as its own (both above the embedder's match level), or a character
that matches no region at all.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np
from PIL import Image

from engine.base import Box, Generator, PanelRequest, RenderResult

log = logging.getLogger(__name__)

Picture = tuple[Image.Image, Image.Image]
"""An RGB picture and its mask (mode L, white = the character)."""
Embed = Callable[[Sequence[Picture]], np.ndarray]
"""embed(pictures) -> (n, d) unit vectors."""

REGION_LEVEL = 0.5
"""A pixel belongs to a character's region where its map is at least this share of its peak."""
BLEND_MARGIN = 0.05
"""A region matching another character within this margin of its own is a likely blend."""
THUMB = 24
"""Side of the draft similarity's thumbnails (pixels)."""


@dataclass(frozen=True)
class Embedder:
    """A way to compare pictures: `embed`, a short `method` name, and the cosine at which a
    region is taken to show a character (`match`)."""

    method: str
    embed: Embed
    match: float


@dataclass
class LikenessReport:
    """Scores per subject (request order), the region x reference similarity matrix, flags."""

    method: str
    names: list[str]
    scores: list[float]
    matrix: list[list[float]]
    flags: list[str] = field(default_factory=list)
    ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The plain data kept with the render."""
        return {"method": self.method, "ms": round(self.ms, 2), "flags": self.flags,
                "subjects": [{"name": n, "score": round(s, 4)} for n, s in zip(self.names, self.scores)],
                "matrix": [[round(v, 4) for v in row] for row in self.matrix]}


def box_mask(box: Box, width: int, height: int) -> np.ndarray:
    """A normalised box as an (height, width) float mask."""
    x0, y0, x1, y1 = box
    grid = np.zeros((height, width), np.float32)
    grid[int(y0 * height):max(int(y0 * height) + 1, int(round(y1 * height))),
         int(x0 * width):max(int(x0 * width) + 1, int(round(x1 * width)))] = 1.0
    return grid


def region_maps(result: RenderResult, request: PanelRequest) -> list[np.ndarray]:
    """Each subject's region as an (H, W) weight map: routing map, box, draft placement or all."""
    width, height = result.image.size
    maps = result.routing_maps or []
    placements = result.info.get("placements") or []
    regions = []
    for i, subject in enumerate(request.subjects):
        if i < len(maps) and np.asarray(maps[i]).any():
            regions.append(np.asarray(maps[i], np.float32))
        elif subject.box is not None:
            regions.append(box_mask(subject.box, width, height))
        elif i < len(placements):
            x0, y0, x1, y1 = placements[i]
            regions.append(box_mask((x0 / width, y0 / height, x1 / width, y1 / height), width, height))
        else:
            regions.append(np.ones((height, width), np.float32))
    return regions


def crop_region(image: Image.Image, weights: np.ndarray) -> Picture:
    """The bounding box of a region and its mask (weights >= REGION_LEVEL of their peak)."""
    inside = weights >= REGION_LEVEL * float(weights.max()) if weights.max() > 0 else np.ones_like(weights, bool)
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    mask = Image.fromarray((inside * 255).astype(np.uint8), "L")
    return image.convert("RGB").crop(box), mask.crop(box)


def tight(picture: Picture) -> Picture:
    """A picture and its mask cropped to the mask's bounding box (the whole picture when the
    mask is empty), so a reference and a region are framed alike whatever their margins."""
    image, mask = picture
    box = mask.convert("L").point(lambda v: 255 if v > 127 else 0).getbbox() or (0, 0, *image.size)
    return image.convert("RGB").crop(box), mask.convert("L").crop(box)


def _on_white(picture: Picture, side: int) -> np.ndarray:
    """A picture framed tightly, white outside its mask, stretched to side x side, in [0, 1]."""
    image, mask = tight(picture)
    canvas = Image.new("RGB", image.size, (255, 255, 255))
    canvas.paste(image, (0, 0), mask)
    return np.asarray(canvas.resize((side, side), Image.Resampling.BOX), np.float32) / 255.0


def thumbnail_embed(pictures: Sequence[Picture]) -> np.ndarray:
    """The draft similarity: each picture (tightly framed, on white) as a 24 x 24 thumbnail, each colour
    channel's mean removed, scaled to unit length: the cosine is the thumbnails' correlation,
    which follows where each colour lies (a picture's pixels in another order score ~0)."""
    vectors = []
    for picture in pictures:
        thumb = _on_white(picture, THUMB)
        flat = (thumb - thumb.mean(axis=(0, 1))).ravel()
        vectors.append(flat / max(float(np.linalg.norm(flat)), 1e-8))
    return np.stack(vectors)


DRAFT_EMBEDDER = Embedder("thumbnail", thumbnail_embed, match=0.5)


def embedder_for(generator: Generator) -> Embedder:
    """The AnyStory engine's SigLIP embedder, or the draft similarity for any other engine."""
    if getattr(generator, "name", "") == "anystory":
        from engine.anystory.likeness import siglip_embedder

        return siglip_embedder(generator)
    return DRAFT_EMBEDDER


def blend_flags(names: Sequence[str], matrix: np.ndarray, match: float) -> list[str]:
    """Regions that match another character about as well as their own; characters that
    match no region. `matrix[i, j]`: region of subject i against reference of subject j."""
    flags = []
    for i, name in enumerate(names):
        for j, other in enumerate(names):
            if i != j and matrix[i, j] >= match and matrix[i, j] >= matrix[i, i] - BLEND_MARGIN:
                flags.append(f"{name}'s region also looks like {other}")
    for j, name in enumerate(names):
        if matrix[:, j].max() < match:
            flags.append(f"{name} matches no region")
    return flags


def compare(embedder: Embedder, names: Sequence[str], regions: Sequence[Picture],
            references: np.ndarray) -> LikenessReport:
    """Score each region against its own reference (`references`: their embeddings, in the
    same order) and flag likely blends."""
    matrix = np.clip(embedder.embed(regions) @ np.asarray(references).T, -1.0, 1.0)
    scores = [float(np.clip(matrix[i, i], 0.0, 1.0)) for i in range(len(names))]
    return LikenessReport(embedder.method, list(names), scores, matrix.tolist(),
                          blend_flags(names, matrix, embedder.match))


def score_render(embedder: Embedder, result: RenderResult, request: PanelRequest,
                 references: np.ndarray) -> LikenessReport:
    """The likeness report of a finished render (`references`: the subjects' embeddings in
    request order, e.g. `embedder.embed(cut-outs)`, which a caller may cache)."""
    started = time.perf_counter()
    if not request.subjects:
        return LikenessReport(embedder.method, [], [], [])
    regions = [crop_region(result.image, grid) for grid in region_maps(result, request)]
    report = compare(embedder, [s.name for s in request.subjects], regions, references)
    report.ms = (time.perf_counter() - started) * 1e3
    return report


def likeness_report(generator: Generator, result: RenderResult, request: PanelRequest,
                    references: Callable[[Embedder], np.ndarray]) -> dict[str, Any]:
    """The report to keep with a finished render (`references(embedder)`: the subjects'
    embeddings in request order). A failure is reported, never fatal: the render succeeded."""
    try:
        embedder = embedder_for(generator)
        return score_render(embedder, result, request, references(embedder)).to_json()
    except Exception as exc:
        log.exception("likeness check failed")
        return {"error": f"{type(exc).__name__}: {exc}"}


def lowest(likeness: dict[str, Any]) -> Optional[float]:
    """The lowest character score of a stored report (None without characters or report)."""
    scores = [s["score"] for s in likeness.get("subjects", [])]
    return min(scores) if scores else None
