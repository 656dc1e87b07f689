"""The quality tools on the tiny AnyStory engine through the render queue: SigLIP likeness
kept with the render, final latents kept as an asset, a region redo whose final latents
outside the region are the parent's, and all of it through a bundle round trip."""
import numpy as np
from PIL import Image

from engine.registry import EngineConfig, create_generator
from story import bundle, panels, projects, queue, renders
from story.latent_assets import load_latents
from story.maintenance import gc
from story.region_redo import enqueue_region
from story.worker import Worker
from tests.queue_helpers import add_pictured_character


def test_tiny_anystory_likeness_latents_and_region_redo_through_the_queue(studio, tmp_path):
    generator = create_generator(EngineConfig(engine="anystory-tiny"))
    worker = Worker(studio, generator)
    project = projects.create_project(studio, "Tiny", render_defaults={"width": 128, "height": 128, "steps": 4})
    add_pictured_character(studio, project.id, "Mia", (200, 40, 40))
    add_pictured_character(studio, project.id, "Bo", (40, 40, 200))
    panel = panels.add_panel(studio, project.id, prompt="Mia and Bo", characters=["Mia", "Bo"])
    (job,) = queue.enqueue(studio, panel.id, engine=generator.name)
    worker.run_pending([job.id])
    first = renders.get_render(studio, job.id)
    assert first.status == "done", first.error
    assert first.likeness["method"] == "siglip"
    assert [s["name"] for s in first.likeness["subjects"]] == ["Mia", "Bo"]
    assert first.routing_maps_hash is None  # maps were used for the check, not kept (not asked for)
    latents = load_latents(studio, first.latents_hash)
    assert latents.shape == (1, 64, 16) and latents.dtype == np.float32

    region = Image.new("L", (128, 128), 0)
    region.paste(255, (64, 0, 128, 64))  # the top right quarter: cells rows 0-3, cols 4-7
    redo = enqueue_region(studio, first.id, region, engine=generator.name)
    worker.run_pending([redo.id])
    redo = renders.get_render(studio, redo.id)
    assert redo.status == "done", redo.error
    grid, parent_grid = load_latents(studio, redo.latents_hash).reshape(8, 8, -1), latents.reshape(8, 8, -1)
    outside = np.ones((8, 8), bool)
    outside[0:4, 4:8] = False
    assert np.array_equal(grid[outside], parent_grid[outside])
    assert not np.array_equal(grid[~outside], parent_grid[~outside])
    assert redo.parent_render_id == first.id and redo.likeness["method"] == "siglip"
    assert panels.get_panel(studio, panel.id).selected_render_id == redo.id

    gc(studio, min_age_s=0)  # kept latents and regions are referenced assets
    copy = bundle.import_bundle(studio, bundle.export_bundle(studio, "Tiny", tmp_path / "tiny.zip"))
    again = renders.list_renders(studio, copy.panels[0].id)
    assert [(r.likeness, r.latents_hash, r.region_hash) for r in again] == [
        (r.likeness, r.latents_hash, r.region_hash) for r in (first, redo)]
    assert again[1].parent_render_id == again[0].id
    assert np.array_equal(load_latents(studio, again[0].latents_hash), latents)
