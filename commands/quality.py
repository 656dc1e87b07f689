"""The quality options of `render`: --keep-best (best of K variants by likeness) and
--region MASK (redo one region of the panel's render), and the likeness in render listings."""
from __future__ import annotations

import argparse
from typing import Any, Optional, Sequence

from story import likeness, panels, region_redo
from story.assets import read_image_file
from story.errors import InvalidInput
from story.queue import SeedChoice
from story.studio import Studio
from story.views import RenderView


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add --keep-best and --region to the `render` parser."""
    parser.add_argument("--keep-best", action="store_true",
                        help="with --variants K: select the variant whose least-like character is most alike")
    parser.add_argument("--region", metavar="MASK.png",
                        help="with --panel N: render again only the region painted white (or opaque) in this "
                             "mask of the panel's render; new seed unless --seed is given")


def check_options(args: argparse.Namespace) -> None:
    """One-line errors for quality options that cannot work together."""
    if args.keep_best and (args.variants < 2 or args.no_wait):
        raise InvalidInput("--keep-best needs --variants K (2 or more) and waits for them (no --no-wait).")
    if args.region and (not args.panel or len(args.panel) != 1 or args.variants != 1 or args.keep_best):
        raise InvalidInput("--region needs exactly one --panel N (and no --variants or --keep-best).")


def region_job(args: argparse.Namespace, studio: Studio, engine: str, seed: SeedChoice) -> RenderView:
    """Queue the redo of the painted region of panel N's selected render."""
    panel = panels.get_panel(studio, panels.panel_id_at(studio, args.project, args.panel[0]))
    if panel.selected_render_id is None:
        raise InvalidInput(f"Panel {panel.number} has no render to redo a region of; render it first.")
    mask = read_image_file(args.region, label="region mask")
    return region_redo.enqueue_region(studio, panel.selected_render_id, mask, engine=engine,
                                      seed="new" if seed is None else seed)


def keep_best(args: argparse.Namespace, studio: Studio, jobs: Sequence[RenderView]) -> tuple[dict[str, Any], list[str]]:
    """With --keep-best, select the best finished variant: (JSON fields, lines to print)."""
    if not getattr(args, "keep_best", False):
        return {}, []
    best = likeness.keep_best(studio, [j.id for j in jobs])
    if best is None:
        return {"best_render_id": None}, ["No variant has a likeness score (no characters?); nothing selected."]
    return {"best_render_id": best.id}, [f"Kept the best: render {best.id} ({likeness.summary(best.likeness)})."]


def describe(job: RenderView) -> Optional[str]:
    """What the render listing adds about a render: its likeness and the region it redid."""
    parts = [likeness.summary(job.likeness)]
    if job.parent_render_id is not None:
        parts.append(f"region redo of render {job.parent_render_id}")
    text = "  ".join(p for p in parts if p)
    return text or None
