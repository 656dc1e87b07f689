"""Characters: registering them from a picture, and the character services.

A character's picture is stored with its mask and the prepared subject the generator
encodes, as the published AnyStory storyboard prepares it (a square crop around the mask
with a small margin, everything outside the mask white). Names are unique per project
case-insensitively; aliases (e.g. "ROLE-A", as AnyStory storyboard scripts use them) are
unique per project. A new picture or mask bumps the character's version, which makes cached
subject encodings of the old version stale; renaming keeps the version.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from story.errors import Conflict, InvalidInput, NotFound
from story.models import Character, CharacterImage, Panel, PanelCharacter
from story.projects import ProjectRef, clean_name, name_key, project_row, touch
from story.studio import Studio
from story.views import CharacterView

SUBJECT_MARGIN = 0.04
"""Extra side length of the square crop around the mask (the published storyboard uses 4 %)."""

FULL_COVERAGE_WARNING = 0.98
"""A mask covering at least this share of the picture probably selected the background too."""

MaskLike = Union[Image.Image, np.ndarray]


def mask_array(mask: MaskLike) -> np.ndarray:
    """A bool H x W array from a bool/0-255 array or a PIL mask (grey values >= 128 are in)."""
    if isinstance(mask, Image.Image):
        return np.asarray(mask.convert("L")) >= 128
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"a mask must be a single-channel picture, got shape {array.shape}")
    return array >= 128 if array.dtype == np.uint8 else array.astype(bool)


def validate_mask(image: Image.Image, mask: MaskLike) -> tuple[np.ndarray, Optional[str]]:
    """Return (bool mask, warning or None); refuse an empty mask or one of another size."""
    array = mask_array(mask)
    if array.shape != (image.height, image.width):
        raise ValueError(
            f"the mask is {array.shape[1]} x {array.shape[0]} pixels but the picture is "
            f"{image.width} x {image.height}; use a mask made for this picture"
        )
    if not array.any():
        raise ValueError("the selection is empty: click on the character or drag a box around it")
    coverage = float(array.mean())
    if coverage >= FULL_COVERAGE_WARNING:
        return array, (
            f"the selection covers {coverage:.0%} of the picture, so the background is probably "
            "part of the character; add a negative click on the background if that is wrong"
        )
    return array, None


def square_around(mask: np.ndarray, margin: float = SUBJECT_MARGIN) -> tuple[int, int, int]:
    """(left, top, side) of the square centred on the mask's bounding box, `margin` larger."""
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    side = int(round(max(bottom - top, right - left) * (1 + margin)))
    return int(round((left + right - side) / 2)), int(round((top + bottom - side) / 2)), side


def prepare_subject(image: Image.Image, mask: MaskLike) -> tuple[Image.Image, Image.Image]:
    """The subject picture (RGB, white outside the mask) and its mask (mode L, 0/255), both
    the square crop around the mask; parts of the square beyond the picture are white/0."""
    array, _ = validate_mask(image, mask)
    left, top, side = square_around(array)
    rgb = np.asarray(image.convert("RGB"))
    subject = np.full((side, side, 3), 255, np.uint8)
    cut = np.zeros((side, side), bool)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + side, image.height), min(left + side, image.width)
    window = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
    cut[window] = array[y0:y1, x0:x1]
    subject[window] = np.where(cut[window][..., None], rgb[y0:y1, x0:x1], 255)
    return Image.fromarray(subject), Image.fromarray(cut.astype(np.uint8) * 255)


def soft_cutout(image: Image.Image, mask: MaskLike) -> tuple[Image.Image, Image.Image]:
    """The square crop around the mask in its own colours, and its soft alpha (mode L): how
    much of each outline pixel is the character, for previews on any background."""
    from engine.segment import flatten_on_white
    from engine.soft_edges import soft_alpha

    array, _ = validate_mask(image, mask)
    rgb = flatten_on_white(image)
    alpha = soft_alpha(np.asarray(rgb, np.float32), array)
    left, top, side = square_around(array)
    box = (left, top, left + side, top + side)
    return rgb.crop(box), Image.fromarray((alpha * 255).round().astype(np.uint8)).crop(box)


def transparency_mask(image: Image.Image) -> Optional[np.ndarray]:
    """The character as the picture's transparency shows it, or None when it has none."""
    from engine.fallback_segmenter import real_alpha

    return real_alpha(image)


CharacterRef = int | str


def clean_alias(alias: Optional[str]) -> Optional[str]:
    alias = (alias or "").strip()
    if not alias:
        return None
    if any(c.isspace() for c in alias) or len(alias) > 100:
        raise InvalidInput(f"The alias {alias!r} must be one word of at most 100 characters.")
    return alias


def character_row(session: Session, project_id: int, ref: CharacterRef) -> Character:
    """Find a character of a project by id, name (case-insensitive) or alias."""
    query = select(Character).where(Character.project_id == project_id)
    if isinstance(ref, int):
        row = session.scalar(query.where(Character.id == ref))
    else:
        row = session.scalar(query.where(Character.name_key == name_key(ref))) or session.scalar(
            query.where(Character.alias == ref.strip())
        )
    if row is None:
        raise NotFound(f"No character {ref!r} in this project.")
    return row


def _check_unique(session: Session, project_id: int, name: str, alias: Optional[str], own_id: Optional[int]) -> None:
    base = select(Character.id).where(Character.project_id == project_id)
    if own_id is not None:
        base = base.where(Character.id != own_id)
    if session.scalar(base.where(Character.name_key == name_key(name))):
        raise Conflict(f"This project already has a character named {name!r}.")
    if alias and session.scalar(base.where(Character.alias == alias)):
        raise Conflict(f"This project already has a character with the alias {alias!r}.")


def new_character_row(
    session: Session, project_id: int, name: str, alias: Optional[str] = None, description: str = ""
) -> Character:
    """Add a character row (shared by the service and the importers)."""
    name, alias = clean_name(name, "character"), clean_alias(alias)
    _check_unique(session, project_id, name, alias, None)
    row = Character(
        project_id=project_id, name=name, name_key=name_key(name), alias=alias,
        description=(description or "").strip(),
    )
    session.add(row)
    session.flush()
    return row


def _view(session: Session, character_id: int, warning: Optional[str] = None) -> CharacterView:
    session.flush()
    session.expire_all()
    row = session.scalars(
        select(Character).where(Character.id == character_id).options(selectinload(Character.images))
    ).one()
    return CharacterView.of(row, warning)


@dataclass(frozen=True)
class StoredPicture:
    """The four asset hashes of a character picture, written before any row points to them."""

    image: str
    mask: str
    subject: str
    subject_mask: str
    warning: Optional[str]


def store_picture(studio: Studio, image: Image.Image, mask: MaskLike) -> StoredPicture:
    """Check the mask, prepare the subject and put all four images in the asset store."""
    try:
        array, warning = validate_mask(image, mask)
    except ValueError as exc:
        raise InvalidInput(str(exc).capitalize() + ".") from exc
    subject, subject_mask = prepare_subject(image, array)
    put = studio.assets.put_image
    mask_image = Image.fromarray(array.astype(np.uint8) * 255)
    return StoredPicture(put(image), put(mask_image), put(subject), put(subject_mask), warning)


def _attach_picture(
    session: Session, row: Character, picture: StoredPicture, segmenter: str, *, bump: bool = True
) -> None:
    """Make `picture` the character's main picture (position 0); a changed picture bumps
    the version (a new character keeps version 1)."""
    session.execute(
        CharacterImage.__table__.delete().where(
            CharacterImage.character_id == row.id, CharacterImage.position == 0
        )
    )
    session.add(CharacterImage(
        character_id=row.id, position=0, image_hash=picture.image, mask_hash=picture.mask,
        subject_hash=picture.subject, subject_mask_hash=picture.subject_mask, segmenter=segmenter,
    ))
    if bump:
        row.version += 1


def add_character(
    studio: Studio, project: ProjectRef, name: str, *, alias: Optional[str] = None,
    description: str = "", image: Optional[Image.Image] = None, mask: Optional[MaskLike] = None,
    segmenter: str = "",
) -> CharacterView:
    """Add a character, with its picture and mask when given (else one can be set later
    with set_character_picture). A picture needs a mask; a bad one saves nothing."""
    if (image is None) != (mask is None):
        raise InvalidInput("A character picture needs its mask (and a mask its picture).")
    picture = store_picture(studio, image, mask) if image is not None else None
    with studio.db.write() as session:
        project_id = project_row(session, project).id
        row = new_character_row(session, project_id, name, alias, description)
        if picture:
            _attach_picture(session, row, picture, segmenter, bump=False)
        touch(session, project_id)
        return _view(session, row.id, picture.warning if picture else None)


def set_character_picture(
    studio: Studio, project: ProjectRef, ref: CharacterRef, image: Image.Image, mask: MaskLike,
    *, segmenter: str = "",
) -> CharacterView:
    """Give a character a new picture and mask (a new version: its cached encodings go stale)."""
    picture = store_picture(studio, image, mask)
    with studio.db.write() as session:
        project_id = project_row(session, project).id
        row = character_row(session, project_id, ref)
        _attach_picture(session, row, picture, segmenter)
        touch(session, project_id)
        return _view(session, row.id, picture.warning)


def get_character(studio: Studio, project: ProjectRef, ref: CharacterRef) -> CharacterView:
    with studio.db.read() as session:
        return _view(session, character_row(session, project_row(session, project).id, ref).id)


def update_character(
    studio: Studio, project: ProjectRef, ref: CharacterRef, *, name: Optional[str] = None,
    alias: Optional[str] = None, description: Optional[str] = None,
) -> CharacterView:
    """Rename, re-alias or re-describe a character (the version, and so the cached
    encodings, stay: neither the picture nor the mask changed). alias="" removes it."""
    with studio.db.write() as session:
        project_id = project_row(session, project).id
        row = character_row(session, project_id, ref)
        new_name = clean_name(name, "character") if name is not None else row.name
        new_alias = clean_alias(alias) if alias is not None else row.alias
        _check_unique(session, project_id, new_name, new_alias, row.id)
        row.name, row.name_key, row.alias = new_name, name_key(new_name), new_alias
        if description is not None:
            row.description = description.strip()
        touch(session, project_id)
        session.flush()
        return _view(session, row.id)


def panels_using(studio: Studio, project: ProjectRef, ref: CharacterRef) -> list[int]:
    """Numbers (1-based) of the panels a character appears in."""
    with studio.db.read() as session:
        row = character_row(session, project_row(session, project).id, ref)
        positions = session.scalars(
            select(Panel.position).join(PanelCharacter).where(PanelCharacter.character_id == row.id)
            .order_by(Panel.position)
        )
        return [p + 1 for p in positions]


def delete_character(studio: Studio, project: ProjectRef, ref: CharacterRef, *, confirm: bool = False) -> None:
    """Delete a character. When panels use it, `confirm=True` is required; it is then
    removed from those panels (their dialogue lines keep their text, without speaker)."""
    with studio.db.write() as session:
        project_id = project_row(session, project).id
        row = character_row(session, project_id, ref)
        used = session.scalar(
            select(func.count()).select_from(PanelCharacter).where(PanelCharacter.character_id == row.id)
        )
        if used and not confirm:
            raise Conflict(
                f"{row.name} appears in {used} panel(s); confirm to delete the character and remove it from them."
            )
        users = select(PanelCharacter.panel_id).where(PanelCharacter.character_id == row.id)
        session.execute(update(Panel).where(Panel.id.in_(users)).values(version=Panel.version + 1))
        session.delete(row)
        touch(session, project_id)
