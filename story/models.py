"""The SQLAlchemy 2 typed ORM of a story. The schema itself changes only through the
Alembic migrations in story/migrations/; these classes must match the latest one.

Images are not stored here: columns named `*_hash` hold the sha256 of a file in the
asset store (story/assets.py).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship



def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def owned_rows(back_populates: str, *, order_by: str, **options: Any) -> Any:
    """A one-to-many of rows that belong to this one, listed in `order_by` order. A row taken
    out of the list is deleted; deleting this one deletes its rows too, those not loaded by
    the foreign key's ON DELETE CASCADE (they are not loaded just to be deleted)."""
    return relationship(back_populates=back_populates, cascade="all, delete-orphan", passive_deletes=True,
                        order_by=order_by, **options)


class Timestamped:
    """When a row was made and last changed (SQLAlchemy sets `updated_at` on every update)."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Project(Timestamped, Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    author: Mapped[str] = mapped_column(String(200), default="")
    style: Mapped[str] = mapped_column(String(100), default="(No style)")
    page_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    render_defaults: Mapped[dict[str, Any]] = mapped_column(default=dict)

    characters: Mapped[list[Character]] = owned_rows("project", order_by="Character.id")
    panels: Mapped[list[Panel]] = owned_rows("project", order_by="Panel.position")


class Character(Timestamped, Base):
    __tablename__ = "characters"
    __table_args__ = (
        UniqueConstraint("project_id", "name_key"),
        UniqueConstraint("project_id", "alias"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    alias: Mapped[Optional[str]] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)  # a new picture bumps it: keys the cached encodings

    project: Mapped[Project] = relationship(back_populates="characters")
    images: Mapped[list[CharacterImage]] = owned_rows("character", order_by="CharacterImage.position")


class CharacterImage(Base):
    """A reference picture of a character; position 0 is the one used for rendering.
    One row per picture, so more pictures per character need no schema change."""

    __tablename__ = "character_images"
    __table_args__ = (UniqueConstraint("character_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    character_id: Mapped[int] = mapped_column(ForeignKey("characters.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    image_hash: Mapped[str] = mapped_column(String(64))
    mask_hash: Mapped[str] = mapped_column(String(64))
    subject_hash: Mapped[str] = mapped_column(String(64))
    subject_mask_hash: Mapped[str] = mapped_column(String(64))
    segmenter: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    character: Mapped[Character] = relationship(back_populates="images")


class Panel(Timestamped, Base):
    __tablename__ = "panels"
    __table_args__ = (Index(None, "project_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    prompt: Mapped[str] = mapped_column(Text, default="")
    caption: Mapped[str] = mapped_column(Text, default="")
    seed: Mapped[int] = mapped_column(default=0)
    overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    selected_render_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("renders.id", ondelete="SET NULL", use_alter=True)
    )
    version: Mapped[int] = mapped_column(default=1)  # every edit bumps it: a stale edit is refused

    project: Mapped[Project] = relationship(back_populates="panels")
    characters: Mapped[list[PanelCharacter]] = owned_rows("panel", order_by="PanelCharacter.position")
    balloons: Mapped[list[Balloon]] = owned_rows("panel", order_by="Balloon.position")
    renders: Mapped[list[Render]] = owned_rows("panel", order_by="Render.id", foreign_keys="Render.panel_id")


class PanelCharacter(Base):
    """A character appearing in a panel, with an optional normalised box (x0, y0, x1, y1)."""

    __tablename__ = "panel_characters"

    panel_id: Mapped[int] = mapped_column(
        ForeignKey("panels.id", ondelete="CASCADE"), primary_key=True
    )
    character_id: Mapped[int] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    box: Mapped[Optional[list[Any]]] = mapped_column(JSON)

    panel: Mapped[Panel] = relationship(back_populates="characters")
    character: Mapped[Character] = relationship()


class Balloon(Base):
    """A line of dialogue: who says it (a character, or nobody for off-panel voices)."""

    __tablename__ = "balloons"

    id: Mapped[int] = mapped_column(primary_key=True)
    panel_id: Mapped[int] = mapped_column(ForeignKey("panels.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    speaker_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("characters.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(20), default="speech")
    text: Mapped[str] = mapped_column(Text, default="")

    panel: Mapped[Panel] = relationship(back_populates="balloons")
    speaker: Mapped[Optional[Character]] = relationship()


class Render(Base):
    """One render job and, once done, one entry of the panel's history.

    While running, `worker_host`/`worker_pid` name the process that claimed it and
    `heartbeat_at` is refreshed by that process, so start-up recovery can tell a job whose
    worker died from one another live process is still working on."""

    __tablename__ = "renders"
    __table_args__ = (Index(None, "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    panel_id: Mapped[int] = mapped_column(ForeignKey("panels.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    engine: Mapped[str] = mapped_column(String(50))
    fingerprint: Mapped[str] = mapped_column(String(200), default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seed: Mapped[int] = mapped_column(default=0)
    image_hash: Mapped[Optional[str]] = mapped_column(String(64))
    progress: Mapped[float] = mapped_column(default=0.0)
    error: Mapped[Optional[str]] = mapped_column(Text)
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    routing_maps_hash: Mapped[Optional[str]] = mapped_column(String(64))
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    worker_host: Mapped[Optional[str]] = mapped_column(String(255))
    worker_pid: Mapped[Optional[int]] = mapped_column()
    heartbeat_at: Mapped[Optional[datetime]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[Optional[datetime]] = mapped_column()
    finished_at: Mapped[Optional[datetime]] = mapped_column()
    # quality tools (story/likeness.py, story/region_redo.py)
    likeness: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    parent_render_id: Mapped[Optional[int]] = mapped_column()  # no foreign key: see migration 0004
    region_hash: Mapped[Optional[str]] = mapped_column(String(64))
    latents_hash: Mapped[Optional[str]] = mapped_column(String(64))

    panel: Mapped[Panel] = relationship(back_populates="renders", foreign_keys=[panel_id])


class SubjectEncoding(Base):
    """A cached engine encoding of one character version; the tensors live in a file
    under the data directory's cache/encodings/."""

    __tablename__ = "subject_encodings"
    __table_args__ = (UniqueConstraint("character_id", "character_version", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    character_id: Mapped[int] = mapped_column(ForeignKey("characters.id", ondelete="CASCADE"))
    character_version: Mapped[int] = mapped_column()
    fingerprint: Mapped[str] = mapped_column(String(200))
    file: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
