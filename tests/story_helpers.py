"""Test helpers for the story layer: real PNG bytes and a project that uses every field
(pictures, boxes, dialogue, overrides, a render history with a selected render)."""
from __future__ import annotations

import io
from datetime import datetime

from PIL import Image

from story import characters, panels, projects, renders
from story.models import Character, CharacterImage, Render
from story.studio import Studio
from story.views import ProjectView


def png(color: tuple[int, ...], size: tuple[int, int] = (24, 16), mode: str = "RGB") -> bytes:
    """A real PNG file of one colour."""
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def add_picture(studio: Studio, character_id: int, seed: int, position: int = 0) -> list[str]:
    """Store a picture, mask and subject for a character (as the segment step will) and
    bump its version; returns the four hashes."""
    images = [png((seed, 40, 200 - seed)), png((seed + 1,), mode="L"),
              png((seed, 80, 200 - seed)), png((seed + 3,), mode="L")]
    hashes = [studio.assets.put_bytes(data) for data in images]
    with studio.db.write() as session:
        session.add(CharacterImage(
            character_id=character_id, position=position, image_hash=hashes[0], mask_hash=hashes[1],
            subject_hash=hashes[2], subject_mask_hash=hashes[3], segmenter="alpha",
        ))
        session.get(Character, character_id).version += 1
    return hashes


def add_render(studio: Studio, panel_id: int, status: str, color: int | None, **fields) -> int:
    """A render row as the queue writes it; `color` gives it an image."""
    image_hash = studio.assets.put_bytes(png((color, color, 0))) if color is not None else None
    with studio.db.write() as session:
        row = Render(panel_id=panel_id, status=status, engine="draft", fingerprint="draft:v1",
                     params={"steps": 4, "size": [512, 512]}, seed=11, image_hash=image_hash, **fields)
        session.add(row)
        session.flush()
        return row.id


def rich_project(studio: Studio, name: str = "Fox Tale", shade: int = 0) -> ProjectView:
    """A project exercising every field a bundle must carry (`shade` varies its images)."""
    p = projects.create_project(
        studio, name, author="Ann Lee", style="Comic book",
        page_settings={"size": "A4", "template": "2x3", "gutter_mm": 4},
        render_defaults={"steps": 20, "width": 768},
    )
    mia = characters.add_character(studio, p.id, "Mia", alias="ROLE-A", description="a girl in a red coat")
    fox = characters.add_character(studio, p.id, "Fox", alias="ROLE-B", description="a small orange fox")
    characters.add_character(studio, p.id, "Narrator")
    add_picture(studio, mia.id, 10 + shade)
    add_picture(studio, mia.id, 20 + shade, position=1)
    add_picture(studio, fox.id, 30 + shade)
    first = panels.add_panel(
        studio, p.id, prompt="ROLE-A meets ROLE-B in the snow", caption="雪中相遇。",
        characters=[("Mia", (0.0, 0.1, 0.5, 1.0)), "Fox"], seed=1234,
        balloons=[("Mia", "speech", "Hello, fox!"), (None, "thought", "…"), ("Fox", "whisper", "hi")],
        overrides={"steps": 28, "guidance": 3.5},
    )
    panels.add_panel(studio, p.id, prompt="an empty forest at dusk", seed=5)
    started = datetime(2026, 1, 2, 3, 4, 5, 678901)
    add_render(studio, first.id, "failed", None, error="out of memory", started_at=started)
    done = add_render(studio, first.id, "done", 90 + shade, notes="Fox left out", progress=1.0,
                      timings={"encode_ms": 12, "denoise_ms": 3400},
                      started_at=started, finished_at=datetime(2026, 1, 2, 3, 5, 0, 1))
    with studio.db.write() as session:
        session.get(Render, done).routing_maps_hash = studio.assets.put_bytes(png((7 + shade,), mode="L"))
    add_render(studio, first.id, "done", 120 + shade, progress=1.0)
    renders.select_render(studio, first.id, done)
    return projects.get_project(studio, p.id)
