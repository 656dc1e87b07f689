"""The project document of a bundle (project.json) as pydantic models: built from a
project's rows, validated field by field on import, and written back as new rows.

It carries every field of the project, its characters with all their pictures, its
panels (characters with boxes, dialogue, seed, overrides, version, times) and each
panel's render history (parameters, status, timings, notes) with the selected render.
Rows refer to each other by list index, never by database id; a character also records
the id it had where the bundle was made (`id`), only so that the character ids inside
render parameters can be remapped on import. Left out: cached subject encodings
(recomputed on demand) and which worker process holds a running render.

A field added to a record is one line: a `*_hash` field is an asset the bundle carries,
and a render field with the name of a Render column is copied both ways.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Optional

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, ValidationError, model_validator

from story.characters import clean_alias
from story.errors import InvalidInput
from story.json_input import Count, Flag, Int, Json, Number, Record, Text, user_check, validation_error
from story.page_check import check_page_settings
from story.panels import check_box
from story.projects import clean_name, name_key
from story.render_request import check_settings
from story.vocabulary import BALLOON_KINDS, RENDER_STATUSES

FORMAT = "anystory-studio-bundle"
VERSION = 1
HASH = re.compile(r"[0-9a-f]{64}")


def _iso_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"a time must be ISO 8601 text, not {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 time") from None


def _sha256(value: str) -> str:
    if not HASH.fullmatch(value):
        raise ValueError("not a sha256 hash")
    return value


def _box(values: Optional[list[float]]) -> Optional[list[float]]:
    box = check_box(values)
    return list(box) if box else None


def _one_of(allowed: tuple[str, ...], what: str):
    """A validator that accepts only the `allowed` names of `what`."""
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"unknown {what} {value!r}; use one of {', '.join(allowed)}")
        return value
    return check


Time = Annotated[datetime, BeforeValidator(_iso_time), PlainSerializer(datetime.isoformat, when_used="json")]
Hash = Annotated[str, Field(strict=True), AfterValidator(_sha256)]


def hash_fields(record: type[Record]) -> tuple[str, ...]:
    """The fields of a record that name an asset file (by the schema's `*_hash` convention)."""
    return tuple(name for name in record.model_fields if name.endswith("_hash"))


class PictureRecord(Record):
    position: Int
    segmenter: Text = ""
    created_at: Time
    image_hash: Hash
    mask_hash: Hash
    subject_hash: Hash
    subject_mask_hash: Hash


class CharacterRecord(Record):
    id: Optional[Count] = None
    name: Annotated[Text, AfterValidator(user_check(lambda name: clean_name(name, "character")))]
    alias: Annotated[Optional[Text], AfterValidator(user_check(clean_alias))] = None
    description: Text = ""
    version: Int
    created_at: Time
    updated_at: Time
    pictures: list[PictureRecord] = []

    @model_validator(mode="after")
    def _pictures_unique(self) -> "CharacterRecord":
        _unique([p.position for p in self.pictures], "picture position")
        return self


class MemberRecord(Record):
    """A character in a panel: its index in the document's characters, and its box."""

    character: Count
    position: Int = 0
    box: Annotated[Optional[list[Number]], AfterValidator(user_check(_box))] = None


class BalloonRecord(Record):
    speaker: Optional[Count] = None
    position: Int = 0
    kind: Annotated[Text, AfterValidator(_one_of(BALLOON_KINDS, "balloon kind"))]
    text: Text


class RenderRecord(Record):
    status: Annotated[Text, AfterValidator(_one_of(RENDER_STATUSES, "render status"))]
    engine: Text
    fingerprint: Text = ""
    params: Json = {}
    seed: Int = 0
    image_hash: Optional[Hash] = None
    routing_maps_hash: Optional[Hash] = None
    progress: Number = 0.0
    error: Optional[Text] = None
    notes: Text = ""
    timings: Json = {}
    cancel_requested: Flag = False
    created_at: Time
    started_at: Optional[Time] = None
    finished_at: Optional[Time] = None
    # quality tools (story/bundle_quality.py); absent in older bundles
    likeness: Json = {}
    parent_render: Optional[Count] = None  # index of the render a region redo redid, in its panel
    region_hash: Optional[Hash] = None
    latents_hash: Optional[Hash] = None


class PanelRecord(Record):
    position: Int
    prompt: Text = ""
    caption: Text = ""
    seed: Int
    overrides: Annotated[Json, AfterValidator(user_check(lambda o: check_settings(o, "the panel's overrides")))] = {}
    version: Int = 1
    created_at: Time
    updated_at: Time
    characters: list[MemberRecord] = []
    balloons: list[BalloonRecord] = []
    renders: list[RenderRecord] = []
    selected_render: Optional[Count] = None

    @model_validator(mode="after")
    def _references(self) -> "PanelRecord":
        _unique([m.character for m in self.characters], "character")
        if self.selected_render is not None and self.selected_render >= len(self.renders):
            raise ValueError(f"\"selected_render\" {self.selected_render} is not one of its {len(self.renders)} render(s)")
        for i, render in enumerate(self.renders):
            if render.parent_render is not None and (render.parent_render >= len(self.renders) or render.parent_render == i):
                raise ValueError(f"renders[{i}]: \"parent_render\" {render.parent_render} is not another render of its panel")
        return self


class ProjectRecord(Record):
    name: Text
    author: Text = ""
    style: Text = "(No style)"
    page_settings: Annotated[Json, AfterValidator(user_check(check_page_settings))] = {}
    render_defaults: Annotated[Json, AfterValidator(user_check(
        lambda d: check_settings(d, "the project's render defaults")))] = {}
    created_at: Time
    updated_at: Time


class BundleDocument(Record):
    format: Text = FORMAT
    version: Int = VERSION
    project: ProjectRecord
    characters: list[CharacterRecord] = []
    panels: list[PanelRecord] = []

    @model_validator(mode="after")
    def _references(self) -> "BundleDocument":
        count = len(self.characters)
        for p, panel in enumerate(self.panels):
            refs = [(f"characters[{i}]", "character", m.character) for i, m in enumerate(panel.characters)]
            refs += [(f"balloons[{i}]", "speaker", b.speaker) for i, b in enumerate(panel.balloons)]
            for place, key, index in refs:
                if index is not None and index >= count:
                    raise ValueError(f"panels[{p}].{place}: \"{key}\" refers to character {index}, which the bundle lacks")
        _unique([p.position for p in self.panels], "panel position")
        _unique([name_key(c.name) for c in self.characters], "character name")
        _unique([c.alias for c in self.characters if c.alias], "character alias")
        return self


def _unique(values: list[Any], what: str) -> None:
    seen = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} appears twice")
        seen.add(value)


def check_header(document: Any) -> None:
    """Refuse a document that is not a bundle of a version this app reads."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InvalidInput("This zip is not an AnyStory Studio project bundle (project.json has no bundle format name).")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise InvalidInput(
            f"The bundle has format version {version!r}; this AnyStory Studio reads version {VERSION}"
            " (a newer app may have made it)."
        )


def parse_document(document: Any) -> BundleDocument:
    """Validate a parsed project.json; raise InvalidInput naming the first problem."""
    check_header(document)
    try:
        return BundleDocument.model_validate(document)
    except ValidationError as exc:
        raise validation_error(exc, "project.json") from None


def referenced_hashes(document: BundleDocument | dict[str, Any]) -> set[str]:
    """Every asset hash a project document (validated, or as read from project.json) points at."""
    if not isinstance(document, BundleDocument):
        document = parse_document(document)
    found = {getattr(pic, f) for c in document.characters for pic in c.pictures for f in hash_fields(PictureRecord)}
    found |= {getattr(r, f) for p in document.panels for r in p.renders for f in hash_fields(RenderRecord)}
    found.discard(None)
    return found
