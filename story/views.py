"""Plain read-only snapshots of the story that services hand to the UI and the CLI,
so that nothing above story/ holds a database session or a lazy ORM object."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Optional

from story import models


@dataclass(frozen=True)
class CharacterView:
    id: int
    name: str
    alias: Optional[str]
    description: str
    version: int
    image_hash: Optional[str] = None
    mask_hash: Optional[str] = None
    subject_hash: Optional[str] = None
    subject_mask_hash: Optional[str] = None
    segmenter: str = ""
    picture_count: int = 0
    warning: Optional[str] = None
    """Set right after a picture was stored with a doubtful mask (e.g. it covers everything)."""

    @property
    def has_picture(self) -> bool:
        return self.subject_hash is not None

    @classmethod
    def of(cls, row: models.Character, warning: Optional[str] = None) -> "CharacterView":
        first = row.images[0] if row.images else None
        return cls(
            id=row.id, name=row.name, alias=row.alias, description=row.description,
            version=row.version,
            image_hash=first.image_hash if first else None,
            mask_hash=first.mask_hash if first else None,
            subject_hash=first.subject_hash if first else None,
            subject_mask_hash=first.subject_mask_hash if first else None,
            segmenter=first.segmenter if first else "",
            picture_count=len(row.images), warning=warning,
        )


@dataclass(frozen=True)
class PanelCharacterView:
    character_id: int
    name: str
    alias: Optional[str]
    box: Optional[tuple[float, float, float, float]]


@dataclass(frozen=True)
class BalloonView:
    id: int
    speaker_id: Optional[int]
    speaker: Optional[str]
    kind: str
    text: str


@dataclass(frozen=True)
class RenderView:
    id: int
    panel_id: int
    status: str
    engine: str
    fingerprint: str
    params: dict[str, Any]
    seed: int
    image_hash: Optional[str]
    progress: float
    error: Optional[str]
    notes: str
    routing_maps_hash: Optional[str]
    created_at: datetime
    started_at: Optional[datetime]
    finished_at: Optional[datetime]
    timings: dict[str, Any] = field(default_factory=dict)
    cancel_requested: bool = False
    worker: Optional[str] = None
    likeness: dict[str, Any] = field(default_factory=dict)
    parent_render_id: Optional[int] = None
    region_hash: Optional[str] = None
    latents_hash: Optional[str] = None

    @property
    def finished(self) -> bool:
        """True once the job can no longer change (done, failed or cancelled)."""
        return self.status in ("done", "failed", "cancelled")

    @property
    def duration_s(self) -> Optional[float]:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @classmethod
    def of(cls, row: models.Render) -> "RenderView":
        return cls(
            id=row.id, panel_id=row.panel_id, status=row.status, engine=row.engine,
            fingerprint=row.fingerprint, params=dict(row.params or {}), seed=row.seed,
            image_hash=row.image_hash, progress=row.progress, error=row.error, notes=row.notes,
            routing_maps_hash=row.routing_maps_hash, created_at=row.created_at,
            started_at=row.started_at, finished_at=row.finished_at,
            timings=dict(row.timings or {}), cancel_requested=bool(row.cancel_requested),
            worker=f"{row.worker_host}:{row.worker_pid}" if row.worker_host else None,
            likeness=dict(row.likeness or {}), parent_render_id=row.parent_render_id,
            region_hash=row.region_hash, latents_hash=row.latents_hash,
        )


@dataclass(frozen=True)
class PanelView:
    id: int
    project_id: int
    position: int
    prompt: str
    caption: str
    seed: int
    overrides: dict[str, Any]
    version: int
    characters: list[PanelCharacterView] = field(default_factory=list)
    balloons: list[BalloonView] = field(default_factory=list)
    selected_render_id: Optional[int] = None
    selected_image_hash: Optional[str] = None

    @property
    def number(self) -> int:
        """1-based panel number as writers count them."""
        return self.position + 1


@dataclass(frozen=True)
class ProjectSummary:
    id: int
    name: str
    author: str
    style: str
    panel_count: int
    character_count: int
    updated_at: datetime


@dataclass(frozen=True)
class ProjectView:
    id: int
    name: str
    author: str
    style: str
    page_settings: dict[str, Any]
    render_defaults: dict[str, Any]
    characters: list[CharacterView]
    panels: list[PanelView]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: models.Project, panels: list[PanelView]) -> "ProjectView":
        return cls(
            id=row.id, name=row.name, author=row.author, style=row.style,
            page_settings=dict(row.page_settings or {}),
            render_defaults=dict(row.render_defaults or {}),
            characters=[CharacterView.of(c) for c in row.characters],
            panels=panels,
            created_at=row.created_at, updated_at=row.updated_at,
        )


def to_json(view: Any) -> Any:
    """A view as JSON-ready data (datetimes as ISO strings), for the CLI's --json."""
    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        return value

    return convert(asdict(view))
