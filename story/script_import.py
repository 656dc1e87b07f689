"""Import of AnyStory storyboard scripts (the JSON of the published AnyStory storyboard).

A script has an optional "故事梗概" (synopsis), a "角色表" (characters: "角色名" name,
optional "简单描述", "alias" such as "ROLE-A", "simple_prompt" the English description)
and "分镜头" (shots: "序号" number, "旁白" narration, "prompt" mentioning characters by
alias, optional "act_roles", "出场角色" and "场景描述").

Each character becomes a character without a picture (description = simple_prompt, the
text prompts are expanded with); each shot becomes a panel, in 序号 order, with its
prompt, the narration as caption, and the characters named by act_roles or mentioned in
the prompt. The Chinese 简单描述 and 场景描述 and the synopsis are checked but not kept:
the story model has no field for them. Everything is checked before anything is written,
and written in one transaction.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

from pydantic import AfterValidator, Field, ValidationError

from story.characters import clean_alias, new_character_row
from story.errors import InvalidInput
from story.json_input import Record, Text, parse_json, validation_error
from story.models import Panel, PanelCharacter
from story.numbers import MAX_INTEGER, fits, whole_number
from story.panels import new_seed
from story.projects import clean_name, get_project, name_key, new_project_row, touch
from story.prompts import CharacterText, find_references
from story.studio import Studio
from story.views import ProjectView

MAX_SCRIPT_BYTES = 16 * 2**20
# AnyStory scripts name characters ROLE-A, ROLE-B…; such a word that the character
# table lacks is a typo the writer should hear about.
ALIAS_WORD = re.compile(r"(?<![\w-])ROLE-[A-Za-z0-9]+(?![\w-])")


@dataclass(frozen=True)
class Shot:
    number: int
    prompt: str
    caption: str
    aliases: tuple[str, ...]  # acting characters, in order of first mention


@dataclass(frozen=True)
class Script:
    synopsis: str
    characters: list[CharacterText]  # id: the place in 角色表; alias: always set
    shots: list[Shot]


Stripped = Annotated[Text, AfterValidator(str.strip)]


class CharacterRow(Record):
    """A row of 角色表."""

    name: Stripped = Field(alias="角色名")
    brief: Stripped = Field("", alias="简单描述")  # checked, not kept
    alias: Stripped
    simple_prompt: Stripped


class ShotRow(Record):
    """A shot of 分镜头 (its 序号 is read first: it names the shot in messages)."""

    prompt: Stripped
    narration: Stripped = Field(alias="旁白")
    scene: Stripped = Field("", alias="场景描述")  # checked, not kept
    acting: list[Text] = Field([], alias="出场角色")  # checked, not kept
    act_roles: list[Text] = []


class ScriptDocument(Record):
    synopsis: Stripped = Field("", alias="故事梗概")  # checked, not kept
    characters: list[Any] = Field(alias="角色表")
    shots: list[Any] = Field(alias="分镜头")


RecordType = TypeVar("RecordType", bound=Record)


def _validated(model: type[RecordType], obj: Any, where: str) -> RecordType:
    if not isinstance(obj, dict):
        raise InvalidInput(f"{where} must be an object.")
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise validation_error(exc, where) from None


def _filled(value: str, key: str, where: str) -> str:
    if not value:
        raise InvalidInput(f"{where}: \"{key}\" is empty.")
    return value


def _character(obj: Any, index: int) -> CharacterText:
    where = f"角色表[{index}]"
    name = obj.get("角色名") if isinstance(obj, dict) else None
    if isinstance(name, str) and name.strip():
        where = f"{where} ({name.strip()})"
    row = _validated(CharacterRow, obj, where)
    _filled(row.name, "角色名", where)
    try:
        alias = clean_alias(_filled(row.alias, "alias", where))
        clean_name(row.name, "character")
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc}") from exc
    return CharacterText(index, row.name, alias, _filled(row.simple_prompt, "simple_prompt", where))


def _characters(table: list[Any]) -> list[CharacterText]:
    found: list[CharacterText] = []
    for index, obj in enumerate(table):
        character = _character(obj, index)
        for other in found:
            if other.alias == character.alias:
                raise InvalidInput(f"角色表: the alias {character.alias} is used by both {other.name} and {character.name}.")
            if name_key(other.name) == name_key(character.name):
                raise InvalidInput(f"角色表: the character {character.name} is listed twice.")
        found.append(character)
    return found


def _shot_number(obj: dict[str, Any], where: str) -> int:
    """序号: a whole number >= 0, or one written as ASCII digits."""
    value = obj.get("序号")
    if value is None:
        raise InvalidInput(f"{where} has no \"序号\" (required).")
    number = whole_number(value) if isinstance(value, str) else value
    if number is None or not fits(number):
        raise InvalidInput(f"{where}: \"序号\" must be a whole number from 0 to {MAX_INTEGER}, not {value!r}.")
    return number


def _shot(obj: Any, where: str, characters: list[CharacterText]) -> Shot:
    if not isinstance(obj, dict):
        raise InvalidInput(f"{where} must be an object.")
    number = _shot_number(obj, where)
    where = f"shot {number} ({where})"
    row = _validated(ShotRow, obj, where)
    prompt, caption = _filled(row.prompt, "prompt", where), _filled(row.narration, "旁白", where)
    act_roles = [a.strip() for a in row.act_roles]
    known = {c.alias for c in characters}
    for alias in act_roles + ALIAS_WORD.findall(prompt):
        if alias not in known:
            raise InvalidInput(
                f"{where} names {alias}, which is not an alias in 角色表 ({', '.join(sorted(known)) or 'none'})."
            )
    mentioned = [c.alias for c in find_references(prompt, characters)]
    aliases = mentioned + [a for a in dict.fromkeys(act_roles) if a not in mentioned]
    return Shot(number, prompt, caption, tuple(aliases))


def parse_script(document: Any) -> Script:
    """Validate a parsed storyboard script; raise InvalidInput naming the first problem."""
    script = _validated(ScriptDocument, document, "The script")
    characters = _characters(script.characters)
    shots_data = script.shots
    if not shots_data:
        raise InvalidInput("The script's 分镜头 has no shots.")
    shots: dict[int, Shot] = {}
    for index, obj in enumerate(shots_data):
        shot = _shot(obj, f"分镜头[{index}]", characters)
        if shot.number in shots:
            raise InvalidInput(f"分镜头[{index}]: 序号 {shot.number} appears twice.")
        shots[shot.number] = shot
    return Script(script.synopsis, characters, [shots[n] for n in sorted(shots)])


def read_script(path: str | os.PathLike) -> Script:
    """Read and validate a script file (UTF-8, with or without BOM)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_SCRIPT_BYTES:
            raise InvalidInput(f"{path.name} is {size} bytes; a script may have at most {MAX_SCRIPT_BYTES}.")
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path.name} is not UTF-8 text (byte {exc.start}).") from exc
    return parse_script(parse_json(text, path.name))


def import_script(studio: Studio, path: str | os.PathLike, project_name: Optional[str] = None) -> ProjectView:
    """Create a project from a storyboard script file (named after the file unless
    `project_name` is given; a taken name becomes "Name (2)")."""
    script = read_script(path)
    with studio.db.write() as session:
        project = new_project_row(session, project_name or Path(path).stem, rename_if_taken=True)
        ids = {
            c.alias: new_character_row(session, project.id, c.name, c.alias, c.description).id
            for c in script.characters
        }
        for position, shot in enumerate(script.shots):
            session.add(Panel(
                project_id=project.id, position=position, prompt=shot.prompt, caption=shot.caption,
                seed=new_seed(), overrides={},
                characters=[PanelCharacter(character_id=ids[a], position=i) for i, a in enumerate(shot.aliases)],
            ))
        touch(session, project.id)
        project_id = project.id
    return get_project(studio, project_id)
