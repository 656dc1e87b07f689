"""Likeness of finished renders (engine/likeness.py) in the story: the references are the
characters' prepared cut-outs (picture and mask, as the engine encodes them), their
embeddings are cached per engine and picture, and the report is kept with the render.
Best of K selects, among finished variants, the one whose least-like character is most alike.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Optional, Sequence

import numpy as np
from PIL import Image
from sqlalchemy import select

from engine.base import Generator, PanelRequest, RenderResult
from engine.likeness import Embedder, likeness_report, lowest
from story import renders
from story.models import CharacterImage
from story.studio import Studio
from story.views import RenderView


MEMORY_ITEMS = 64
"""Reference embeddings kept in memory (a few KB each)."""
_references: "OrderedDict[tuple[str, str, str, str], np.ndarray]" = OrderedDict()


def _cut_outs(studio: Studio, character_ids: Sequence[int]) -> list[tuple[str, str]]:
    """(subject hash, subject mask hash) of each character's rendering picture."""
    with studio.db.read() as session:
        rows = session.execute(select(CharacterImage.character_id, CharacterImage.subject_hash,
                                      CharacterImage.subject_mask_hash)
                               .where(CharacterImage.character_id.in_(character_ids), CharacterImage.position == 0))
        found = {cid: (image, mask) for cid, image, mask in rows}
    return [found[cid] for cid in character_ids]


def reference_vectors(studio: Studio, generator: Generator, embedder: Embedder,
                      character_ids: Sequence[int]) -> np.ndarray:
    """The embeddings of the characters' cut-outs, computed once per engine and picture."""
    vectors = []
    for image_hash, mask_hash in _cut_outs(studio, character_ids):
        key = (generator.fingerprint, embedder.method, image_hash, mask_hash)
        if key not in _references:
            picture = (studio.assets.open(image_hash), studio.assets.open(mask_hash))
            _references[key] = embedder.embed([picture])[0]
            while len(_references) > MEMORY_ITEMS:
                _references.popitem(last=False)
        _references.move_to_end(key)
        vectors.append(_references[key])
    return np.stack(vectors) if vectors else np.zeros((0, 1), np.float32)


def score(studio: Studio, generator: Generator, request: PanelRequest, subjects: list[dict[str, Any]],
          result: RenderResult) -> dict[str, Any]:
    """The likeness report to keep with a finished render (`subjects`: the worker's
    BuiltRequest.subjects, in request order). A failure is reported, never fatal."""
    ids = [s["id"] for s in subjects]
    return likeness_report(generator, result, request, lambda embedder: reference_vectors(studio, generator, embedder, ids))


def reference_pictures(studio: Studio, character_ids: Sequence[int]) -> list[tuple[Image.Image, Image.Image]]:
    """The characters' cut-outs (picture, mask) in order, as a render actor compares them."""
    return [(studio.assets.open(image), studio.assets.open(mask)) for image, mask in _cut_outs(studio, character_ids)]


def best_of(jobs: Sequence[RenderView]) -> Optional[RenderView]:
    """The finished render whose lowest character likeness is highest (the first on a tie)."""
    scored = [(lowest(j.likeness), -i, j) for i, j in enumerate(jobs)
              if j.status == "done" and lowest(j.likeness) is not None]
    return max(scored, key=lambda t: (t[0], t[1]))[2] if scored else None


def keep_best(studio: Studio, render_ids: Sequence[int]) -> Optional[RenderView]:
    """Select the best of these renders for its panel; the others stay in the history.
    None when none of them finished with a likeness score (e.g. a panel without characters)."""
    best = best_of([renders.get_render(studio, i) for i in render_ids])
    if best is not None:
        renders.select_render(studio, best.panel_id, best.id)
    return best


def summary(likeness: dict[str, Any]) -> str:
    """One line: 'likeness Mia 0.82, Bo 0.64' and any blend flags; '' without a report."""
    if likeness.get("error"):
        return "likeness: not scored"
    subjects = likeness.get("subjects") or []
    if not subjects:
        return ""
    text = "likeness " + ", ".join(f"{s['name']} {s['score']:.2f}" for s in subjects)
    flags = likeness.get("flags") or []
    return text + ("  ⚠ " + "; ".join(flags) if flags else "")
