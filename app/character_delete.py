"""What deleting a character does to the story, said before the writer confirms: the panels
it appears in, and the panels whose scene names it (the word would reach the engine as is)."""
from __future__ import annotations

from app.common import plain
from app.context import AppContext
from story import characters, panels


def _numbers(numbers: list[int]) -> str:
    return f"panel{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))}"


def delete_warning(ctx: AppContext, project_id: int, char_id: int) -> str:
    """The confirmation text (HTML, the user's text escaped)."""
    shown = characters.get_character(ctx.studio, project_id, char_id)
    used = characters.panels_using(ctx.studio, project_id, char_id)
    named = panels.panels_mentioning(ctx.studio, project_id, char_id)
    where = (f"It appears in {_numbers(used)}; it will be taken out of them (dialogue keeps its text)."
             if used else "No panel uses it.")
    words = " or ".join(f"“{plain(w)}”" for w in (shown.name, shown.alias) if w)
    mention = (f" The scene of {_numbers(named)} names it ({words}): the word stays in the scene and the "
               "engine gets it as a plain word, so edit those scenes." if named else "")
    return f"<p><b>Delete {plain(shown.name)}?</b> {plain(where)}{mention}</p>"
