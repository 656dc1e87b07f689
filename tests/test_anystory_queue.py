"""The AnyStory engine (tiny components) end to end through the render queue: encodings
cached per character version, settings passed through, routing maps kept with the render."""
import numpy as np

from engine.registry import EngineConfig, create_generator
from story import panels, projects, queue, renders
from story.routing_maps import load_routing_maps
from story.worker import Worker
from tests.queue_helpers import add_pictured_character


def test_tiny_anystory_renders_panels_from_the_queue(studio):
    generator = create_generator(EngineConfig(engine="anystory-tiny"))
    calls = []
    encode = generator.encode_subject
    generator.encode_subject = lambda image, mask: calls.append(1) or encode(image, mask)

    project = projects.create_project(studio, "Tiny", render_defaults={"width": 128, "height": 128, "steps": 4})
    add_pictured_character(studio, project.id, "Mia", (200, 40, 40), alias="ROLE-A", description="a girl in red")
    add_pictured_character(studio, project.id, "Bo", (40, 40, 200), description="a boy in blue")
    one = panels.add_panel(studio, project.id, prompt="ROLE-A waves", characters=["Mia"])
    two = panels.add_panel(studio, project.id, prompt="Mia and Bo talk",
                           characters=[("Mia", (0.0, 0.0, 0.5, 1.0)), "Bo"],
                           overrides={"params": {"anystory": {"layout_freedom": 0.25}}})
    batch = queue.render_all(studio, project.id, engine=generator.name, settings={"routing_maps": True})
    Worker(studio, generator).run_pending([job.id for job in batch.jobs])

    done = [renders.get_render(studio, job.id) for job in batch.jobs]
    assert [job.status for job in done] == ["done", "done"], [job.error for job in done]
    assert len(calls) == 2  # one encoding per character, reused by the second panel
    assert done[1].params["advanced"] == {"layout_freedom": 0.25}
    image = studio.assets.open(done[1].image_hash)
    assert image.size == (128, 128)
    mia_map, bo_map = load_routing_maps(studio, done[1])
    assert mia_map[:, 64:].max() == 0  # Mia's box keeps her to the left half
    assert bo_map.sum() > 0
    assert panels.get_panel(studio, one.id).selected_render_id == done[0].id
    assert panels.get_panel(studio, two.id).selected_render_id == done[1].id
    assert np.asarray(studio.assets.open(done[0].image_hash)).std() > 0
