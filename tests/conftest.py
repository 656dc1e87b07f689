"""Fixtures shared by the whole suite: a fresh data directory, the shared golden data, and
the tiny AnyStory engine registered as "anystory-tiny"."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def _tiny_anystory(config):
    """The AnyStory engine on the tiny random-weight components of ../shared/golden."""
    from engine.anystory import AnyStoryGenerator

    return AnyStoryGenerator.tiny(device=config.device or "cpu", memory=config.memory, offload=config.offload)


def pytest_configure(config) -> None:
    """Offer the tests' "anystory-tiny" engine (never offered to users)."""
    from engine.registry import register_engine

    register_engine("anystory-tiny", _tiny_anystory)


@pytest.fixture
def studio(tmp_path):
    """A Studio on a fresh data directory (real SQLite file, real asset store)."""
    from story.studio import Studio

    opened = Studio.open(tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the repository (golden data); CI clones the repo next to it."""
    assert SHARED.is_dir(), f"{SHARED} is missing: the suite expects ../shared beside the repository"
    return SHARED
