"""Shared fixtures of the AnyStory engine tests: golden data paths and one tiny generator."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GOLDEN = SHARED / "golden" / "anystory_flux_tiny"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "case.json").is_file()) if GOLDEN.is_dir() else []
COMPONENTS = GOLDEN / "components"


@pytest.fixture(scope="session")
def tiny_generator():
    from engine.anystory import AnyStoryGenerator

    return AnyStoryGenerator.tiny(device="cpu")


def golden_subject(case: str = "b_two_subjects_router", index: int = 0) -> tuple[Image.Image, Image.Image]:
    """A real subject picture and mask from the golden data."""
    folder = GOLDEN / case
    with Image.open(folder / f"subject_{index}.png") as image, Image.open(folder / f"subject_{index}_mask.png") as m:
        return image.convert("RGB"), m.convert("L")


def image_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
