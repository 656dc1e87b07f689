"""Prompt composition: a pure function from a panel's text to the generator's prompt.

A panel refers to characters by alias (as AnyStory storyboard scripts do, e.g. "ROLE-A")
or by name. At render time each reference is replaced by that character's description,
as the published AnyStory storyboard does, and the project's style preset wraps the result.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional

STYLES: dict[str, str] = {
    "(No style)": "{}",
    "Comic book": "comic book panel of {}. bold ink lines, flat vivid colours, graphic novel art",
    "Japanese anime": "anime illustration of {}. clean line art, cel shading, expressive, detailed background",
    "Watercolour": "watercolour painting of {}. soft washes, paper texture, gentle light",
    "Chinese ink painting": "traditional Chinese ink painting of {}. ink wash, brush strokes, negative space, rice paper",
    "3D animation": "3D animated film still of {}. soft global illumination, vivid colours, expressive characters",
    "Photographic": "cinematic photograph of {}. natural light, shallow depth of field, film grain",
    "Line art": "line art drawing of {}. clean black outlines, minimal, white background",
    "Film noir": "black and white film noir still of {}. hard shadows, high contrast, moody",
}


@dataclass(frozen=True)
class CharacterText:
    """What the composer needs of a character."""

    id: int
    name: str
    alias: Optional[str]
    description: str


def _pattern(term: str) -> re.Pattern[str]:
    """Match `term` as a whole word (aliases like ROLE-A contain a hyphen)."""
    return re.compile(rf"(?<![\w-]){re.escape(term)}(?![\w-])", re.IGNORECASE)


def find_references(prompt: str, characters: Iterable[CharacterText]) -> list[CharacterText]:
    """The characters a prompt mentions by alias or name, in order of first mention."""
    found = []
    for character in characters:
        spots = [m.start() for t in (character.alias, character.name) if t for m in _pattern(t).finditer(prompt)]
        if spots:
            found.append((min(spots), character))
    return [c for _, c in sorted(found, key=lambda item: item[0])]


ALIAS_LIKE = re.compile(r"(?<![\w-])[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*(?![\w-])")
"""A word written like an alias: capitals (ROLE-A, CAPTAIN), the way scripts name characters."""


def unknown_references(prompt: str, characters: Iterable[CharacterText]) -> list[str]:
    """Words of the prompt written like an alias (capitals, 3 letters or more, or with a
    hyphen) that name no character: typos or deleted characters, which the engine would get
    as plain words."""
    terms = [t for c in characters for t in (c.alias, c.name) if t]
    rest = _any_of(terms).sub(" ", prompt) if terms else prompt
    words = [m.group(0) for m in ALIAS_LIKE.finditer(rest)]
    return list(dict.fromkeys(w for w in words if len(w) >= 3 or "-" in w))


def _any_of(terms: list[str]) -> re.Pattern[str]:
    """One pattern matching any of `terms` as a whole word, longest first (so "ROLE-AB"
    is not read as "ROLE-A"); group `t<i>` is the i-th term in that order."""
    ordered = sorted(terms, key=len, reverse=True)
    return re.compile("|".join(rf"(?P<t{i}>(?<![\w-]){re.escape(t)}(?![\w-]))" for i, t in enumerate(ordered)),
                      re.IGNORECASE)


def expand_references(prompt: str, characters: Iterable[CharacterText]) -> str:
    """Replace each alias or name with the character's description (longest terms first,
    so "ROLE-AB" is not read as "ROLE-A"); characters without a description keep their name."""
    terms = []
    for character in characters:
        replacement = character.description.strip().rstrip(".") or character.name
        terms += [(t, replacement) for t in (character.alias, character.name) if t]
    if not terms:
        return prompt.strip()
    terms.sort(key=lambda item: len(item[0]), reverse=True)
    # the group that matched says which term it is, whatever case folding the regex engine
    # applied ("ipek" matches "İpek", whose casefold() is "i̇pek", so no casefold lookup)
    return _any_of([t for t, _ in terms]).sub(lambda m: terms[int(m.lastgroup[1:])][1], prompt).strip()


def apply_style(style: str, text: str) -> str:
    """Wrap `text` in a style preset; an unknown style name leaves the text as it is."""
    return STYLES.get(style, "{}").format(text)


def compose_prompt(prompt: str, characters: Iterable[CharacterText], style: str = "(No style)") -> str:
    """The generator's prompt for a panel: references expanded, style applied."""
    return apply_style(style, expand_references(prompt, list(characters)))
