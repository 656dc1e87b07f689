"""The worker's seam for the quality tools: run a job as a plain render or a region redo,
score its likeness, and turn what that produced into the render row's columns."""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Optional

from engine.base import CancelFn, Generator, ProgressFn, RenderResult
from engine.region import render_region
from story import likeness
from story.latent_assets import put_latents
from story.region_redo import redo_for
from story.render_request import BuiltRequest
from story.studio import Studio


def render_job(studio: Studio, generator: Generator, job_id: int, built: BuiltRequest,
               progress: Optional[ProgressFn] = None, cancel: Optional[CancelFn] = None) -> RenderResult:
    """Render job `job_id` (its region only, for a region redo) and score its likeness.

    The engine is always asked for routing maps (they say where each character went, which
    the likeness check compares); they are kept with the render only when the job asked."""
    request = dataclasses.replace(built.request, return_routing_maps=True)
    redo = redo_for(studio, job_id)
    if redo is None:
        result = generator.render(request, progress, cancel)
    else:
        result = render_region(generator, request, redo, progress, cancel)
    result.info["likeness"] = likeness.score(studio, generator, request, built.subjects, result)
    if not built.request.return_routing_maps:
        result.routing_maps = None
    return result


def result_columns(studio: Studio, result: RenderResult, timings: dict[str, float]) -> dict[str, Any]:
    """The likeness report and the kept latents (asset hash) of a finished render; adds the
    scoring time to `timings`."""
    begin = time.perf_counter()
    report = result.info.get("likeness", {})
    latents_hash = put_latents(studio, result.latents) if result.latents is not None else None
    timings["likeness_ms"] = report.get("ms", 0.0)
    timings["latents_ms"] = (time.perf_counter() - begin) * 1e3
    return {"likeness": report, "latents_hash": latents_hash}
