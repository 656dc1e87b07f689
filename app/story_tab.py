"""The Story tab's behaviour: the panels in order, the panel editor (scene, cast with boxes,
caption, dialogue, render settings), rendering with progress and Cancel, and the render
history. The layout is app/story_layout.py; every handler here returns {component: value}.

No typed text is ever dropped: every action that leaves the open panel (another panel,
+ Add, Duplicate, Move, a render from the history, another story) saves it first, and
stays on it with a warning when it cannot be saved. Renders report progress in one place
(the status line under the toolbar) and leave the editor usable while they run.
"""
from __future__ import annotations

from typing import Any, Optional

import gradio as gr
from app import quality_ui, rendering, story_events
from app.common import Outputs, asset_file, inform, need_panel, need_project, plain, short, ui_picture, user_errors, warn
from app.context import AppContext
from app.engine_settings import EngineSettings
from app.overlay import boxes_overlay
from app.panel_form import NARRATOR, PanelForm
from app.story_boxes import panel_base
from app.story_layout import StoryUI, build_layout
from story import panels, projects, renders
from story.errors import InvalidInput, NotFound, StudioError
from story.views import PanelView, RenderView


def strip_items(ctx: AppContext, project_id: Optional[int]) -> list[tuple[str, str]]:
    """(thumbnail, caption) of every panel in story order."""
    if not project_id:
        return []
    return [
        (asset_file(ctx.studio, p.selected_image_hash) or ui_picture("not_rendered.png"),
         f"{p.number} · {short(p.caption or p.prompt, 40) or 'empty panel'}")
        for p in panels.list_panels(ctx.studio, project_id)
    ]


def history_items(ctx: AppContext, view: PanelView, history: list[RenderView]) -> tuple[list[tuple[str, str]], list[int]]:
    """Finished renders of a panel (newest first) with captions, and their ids."""
    done = [r for r in reversed(history) if r.status == "done" and r.image_hash]
    items = []
    for r in done:
        took = f" · {r.duration_s:.1f} s" if r.duration_s is not None else ""
        star = "★ in story · " if r.id == view.selected_render_id else ""
        items.append((asset_file(ctx.studio, r.image_hash),
                      f"{star}#{r.id}{quality_ui.history_label(r)} · seed {r.seed} · {r.engine}{took}"))
    return items, [r.id for r in done]


def drop_choices(view: PanelView, history: list[RenderView]) -> list[tuple[str, int]]:
    """The renders the writer may delete: finished ones except the one the story uses."""
    return [(f"#{r.id} · seed {r.seed} · {r.status}", r.id) for r in reversed(history)
            if r.finished and r.id != view.selected_render_id]


class StoryTab:
    """The Story tab's handlers over its components (`ui`)."""

    def __init__(self, ctx: AppContext, ui: StoryUI, settings: EngineSettings) -> None:
        self.ctx, self.ui, self.settings = ctx, ui, settings

    # What the tab shows -------------------------------------------------------------

    @property
    def listing_outputs(self) -> set[Any]:
        """What `listing` fills."""
        ui = self.ui
        return {ui.strip, ui.queue_note, *(c for k, c in ui.fields.components.items() if k == "cast" or k.startswith("speaker"))}

    def listing(self, project_id: Optional[int], selected: Optional[int] = None) -> Outputs:
        """The panel list, queue note and character choices (not the editor: the writer may
        be mid-edit when switching tabs)."""
        ui = self.ui
        names = [c.name for c in projects.get_project(self.ctx.studio, project_id).characters] if project_id else []
        strip = strip_items(self.ctx, project_id)
        out = {ui.strip: gr.update(value=strip, selected_index=selected) if selected is not None else strip,
               ui.queue_note: rendering.queue_note(self.ctx, project_id), ui.fields["cast"]: gr.update(choices=names)}
        out.update({c: gr.update(choices=[NARRATOR] + names) for k, c in ui.fields.components.items()
                    if k.startswith("speaker")})
        return out

    @user_errors
    def tab_opened(self, project_id: Optional[int], view: Optional[PanelView]) -> Outputs:
        """The Story tab was opened: fresh list with the open panel selected where it is now
        (another tab may have moved or deleted panels), editor untouched."""
        position = None
        if view is not None:
            try:
                position = panels.get_panel(self.ctx.studio, view.id).position
            except NotFound:
                pass  # deleted elsewhere: nothing to select
        return self.listing(project_id, position)

    def render_parts(self, view: PanelView, box_map: dict, size: str) -> Outputs:
        """What depends on the panel's renders: history, status, overlay base, deletable renders."""
        ui = self.ui
        history = renders.list_renders(self.ctx.studio, view.id)
        items, ids = history_items(self.ctx, view, history)
        selected = ids.index(view.selected_render_id) if view.selected_render_id in ids else None
        return {ui.history: gr.update(value=items, selected_index=selected), ui.history_ids: ids,
                ui.status: rendering.failure_note(self.ctx, view), ui.shown_render: view.selected_render_id,
                ui.preview: boxes_overlay(panel_base(self.ctx, view, size), list(box_map.items())),
                ui.drop_choice: gr.update(choices=drop_choices(view, history), value=None)}

    def cast_parts(self, view: PanelView) -> Outputs:
        """The saved panel's cast, boxes and title (after a save, without touching text fields)."""
        ui = self.ui
        box_map = {c.name: c.box for c in view.characters}
        count = len(panels.list_panels(self.ctx.studio, view.project_id))
        return {ui.loaded: view, ui.title: f"### Panel {view.number} of {count}",
                ui.fields["cast"]: gr.update(value=list(box_map)), ui.boxes: box_map, ui.corner: None,
                ui.box_for: gr.update(choices=list(box_map), value=next(iter(box_map), None))}

    def editor(self, view: PanelView) -> Outputs:
        """The whole editor showing a stored panel."""
        shown = projects.get_project(self.ctx.studio, view.project_id)
        form = PanelForm.of(view, shown.render_defaults, self.settings.engine)
        parts = self.cast_parts(view)
        return {**parts, **self.ui.fields.fill(form), **self.render_parts(view, parts[self.ui.boxes], form.size),
                self.ui.confirm_box: gr.update(visible=False)}

    def blank(self) -> Outputs:
        """The editor with no panel open."""
        ui = self.ui
        form = PanelForm.blank(self.settings.engine)
        return {ui.loaded: None, ui.title: "### Choose or add a panel", **ui.fields.fill(form), ui.boxes: {},
                ui.corner: None, ui.box_for: gr.update(choices=[], value=None), ui.preview: None,
                ui.history: [], ui.history_ids: [], ui.status: "", ui.shown_render: None,
                ui.drop_choice: gr.update(choices=[], value=None), ui.confirm_box: gr.update(visible=False)}

    def show(self, project_id: Optional[int], panel_id: int) -> Outputs:
        """The list and the editor on one panel."""
        view = panels.get_panel(self.ctx.studio, panel_id)
        return {**self.listing(project_id, view.position), **self.editor(view)}

    def first_panel(self, project_id: Optional[int]) -> Outputs:
        """A newly opened story shows its first panel in the editor."""
        first = panels.list_panels(self.ctx.studio, project_id)[:1] if project_id else []
        if first:
            return self.show(project_id, first[0].id)
        return {**self.listing(project_id), **self.blank()}

    # Saving ---------------------------------------------------------------------------

    def save(self, data: dict) -> Optional[PanelView]:
        """Write what the writer changed since loading, all fields in one transaction; None
        when nothing changed. A stale version raises Conflict and writes nothing."""
        view = data[self.ui.loaded]
        if view is None:
            return None
        form = self.ui.fields.read(data)
        defaults = projects.get_project(self.ctx.studio, view.project_id).render_defaults
        before = PanelForm.of(view, defaults, self.settings.engine)
        changes: dict[str, Any] = {k: getattr(form, k) for k in ("prompt", "caption", "seed")
                                   if getattr(form, k) != getattr(before, k)}
        overrides = form.overrides(view.overrides, before)
        if overrides != view.overrides:
            changes["overrides"] = overrides
        wanted = [(name, data[self.ui.boxes].get(name)) for name in form.cast]
        if wanted != [(c.name, c.box) for c in view.characters]:
            changes["characters"] = wanted
        if form.balloons != before.balloons:
            changes["balloons"] = form.dialogue()
        if not changes:
            return None
        saved = panels.save_panel(self.ctx.studio, view.id, expected_version=view.version, **changes)
        if "prompt" in changes:
            for note in panels.scene_notes(self.ctx.studio, saved, form.cast):
                inform(note)
        return saved

    def leave(self, data: dict) -> None:
        """Save the open panel before showing another; refuse to leave when it cannot be saved."""
        view = data[self.ui.loaded]
        try:
            self.save(data)
        except (StudioError, ValueError) as exc:
            raise InvalidInput(f"Panel {view.number} stays open, its changes unsaved: {exc}") from None

    # Panel list ---------------------------------------------------------------------------

    @user_errors
    def opened(self, data: dict) -> Outputs:
        """Another story was opened: save the panel of the previous one, show the new one."""
        view = data[self.ui.loaded]
        if view is not None and view.project_id != data[self.ui.project]:
            try:
                self.save(data)
            except NotFound:
                pass  # the previous story was deleted
            except (StudioError, ValueError) as exc:
                warn(f"Your changes to panel {view.number} of the previous story were not saved: {exc}")
        return self.first_panel(data[self.ui.project])

    def pick(self, data: dict, evt: gr.SelectData) -> Outputs:
        """A click on a panel of the list: save the open one, then show the clicked one."""
        view = data[self.ui.loaded]
        try:
            self.leave(data)
            project_id = need_project(data[self.ui.project])
            return self.show(project_id, panels.panel_id_at(self.ctx.studio, project_id, evt.index + 1))
        except (gr.Error, StudioError, ValueError) as exc:
            warn(exc.message if isinstance(exc, gr.Error) else str(exc))
            return {self.ui.strip: gr.update(selected_index=view.position if view else None)}

    @user_errors
    def add(self, data: dict) -> Outputs:
        self.leave(data)
        view = data[self.ui.loaded]
        added = panels.add_panel(self.ctx.studio, need_project(data[self.ui.project]),
                                 position=view.position + 1 if view else None)
        return self.show(data[self.ui.project], added.id)

    @user_errors
    def duplicate(self, data: dict) -> Outputs:
        self.leave(data)
        copy = panels.duplicate_panel(self.ctx.studio, need_panel(data[self.ui.loaded]).id)
        return self.show(data[self.ui.project], copy.id)

    def mover(self, step: int):
        """The handler of ▲ (step -1) or ▼ (step 1)."""
        @user_errors
        def move(data: dict) -> Outputs:
            self.leave(data)
            view = need_panel(data[self.ui.loaded])
            panels.move_panel(self.ctx.studio, view.id, view.position + step)
            return self.show(data[self.ui.project], view.id)
        return move

    @user_errors
    def ask_delete(self, view: Optional[PanelView]) -> Outputs:
        view = need_panel(view)
        renders_ = len(renders.list_renders(self.ctx.studio, view.id))
        text = (f"<p><b>Delete panel {view.number}</b> ({plain(short(view.caption or view.prompt, 60) or 'empty')})"
                f" with its {renders_} render(s)? This cannot be undone.</p>")
        return {self.ui.confirm_box: gr.update(visible=True), self.ui.confirm_text: text}

    def keep(self) -> Outputs:
        return {self.ui.confirm_box: gr.update(visible=False)}

    @user_errors
    def delete(self, project_id: Optional[int], view: Optional[PanelView]) -> Outputs:
        """Delete the open panel (after the writer confirmed); show its neighbour."""
        view = need_panel(view)
        panels.delete_panel(self.ctx.studio, view.id, expected_version=view.version)
        inform(f"Panel {view.number} deleted.")
        remaining = panels.list_panels(self.ctx.studio, need_project(project_id))
        if not remaining:
            return self.first_panel(project_id)
        return self.show(project_id, remaining[min(view.position, len(remaining) - 1)].id)

    # Editor -------------------------------------------------------------------------------

    @user_errors
    def save_clicked(self, data: dict) -> Outputs:
        view = need_panel(data[self.ui.loaded])
        saved = self.save(data) or view
        inform(f"Panel {saved.number} saved.")
        return self.show(data[self.ui.project], saved.id)

    @user_errors
    def reload(self, project_id: Optional[int], view: Optional[PanelView]) -> Outputs:
        """Show the stored panel, dropping unsaved changes (the way out of a conflict)."""
        return self.show(project_id, need_panel(view).id)

    @user_errors
    def new_seed(self) -> Outputs:
        return {self.ui.fields["seed"]: panels.new_seed()}

    @user_errors
    def reset_settings(self, names: list[str]) -> Outputs:
        shown = self.settings.widget_values(self.settings.shown({}, len(names or [])))
        return {self.ui.fields[f"advanced{i}"]: value for i, value in enumerate(shown)}


def build(ctx: AppContext, project: gr.State) -> StoryTab:
    """Lay out the Story tab and wire its events; returns its handlers."""
    settings = EngineSettings.of(ctx.engine_name())
    tab = StoryTab(ctx, build_layout(project, settings), settings)
    story_events.wire(tab)
    return tab
