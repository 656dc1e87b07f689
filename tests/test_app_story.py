"""The Story and Projects tabs' handlers, called in-process over a real Studio (issue 15:
no typed text lost, renders that do not surprise; issue 21: names as text, all-or-nothing
saves). Each test drives the handlers as the browser would, through `Page`."""
from __future__ import annotations

import warnings
import zipfile

import gradio as gr
import pytest

from app import rendering
from app.character_delete import delete_warning
from app.projects_tab import header_text
from app.story_render import RenderHandlers
from app.ui import _reopen, build_app
from story import bundle, characters, panels, projects, queue, renders
from tests.app_helpers import Page, app_context, select, toasts
from tests.draft_helpers import figure

HOSTILE = "<img src=x> [link](http://a) **b**"


def opened_story(studio, *, worker=False, names=("Mira", "Fox", "Captain"), count=4, engine="draft"):
    """A four-panel story with three characters (pictures for the first two), the app built
    over it (for `engine`) and the story opened on a Page; returns (tab, page, project, panel
    ids, ctx)."""
    project = projects.create_project(studio, "Pier")
    for i, name in enumerate(names):
        alias = name.upper() if name == "Captain" else None
        picture = figure((200, 60 + 80 * i, 40), 60, 120) if i < 2 else None
        characters.add_character(studio, project.id, name, alias=alias, description=f"{name.lower()} in a coat",
                                 image=picture[0] if picture else None, mask=picture[1] if picture else None)
    ids = [panels.add_panel(studio, project.id, prompt=f"Mira on the pier, scene {i + 1}").id for i in range(count)]
    ctx = app_context(studio, worker=worker, engine=engine)
    with gr.Blocks():
        from app import story_tab

        state = gr.State(None)
        tab = story_tab.build(ctx, state)
    page = Page(tab.ui.editor_inputs | {tab.ui.variants_k, tab.ui.jobs, tab.ui.history_ids, tab.ui.strip})
    page[tab.ui.project] = project.id
    page.apply(tab.opened(page.data(tab.ui.editor_inputs)))
    return tab, page, project, ids, ctx


def render_click(tab, page, seed="same", variants=False):
    """Render / Re-render / Variants as the three chained events run them."""
    run = RenderHandlers(tab)
    page.apply(run.queuer(seed, variants)(page.data(tab.ui.editor_inputs | {tab.ui.variants_k})))
    page.apply(run.wait(page[tab.ui.jobs], progress=lambda *a, **k: None))
    page.apply(run.after(page.data({tab.ui.project, tab.ui.loaded, tab.ui.boxes, tab.ui.fields["size"]})))


def test_typed_text_is_saved_when_the_writer_picks_another_panel_or_adds_one(studio):
    tab, page, project, ids, _ = opened_story(studio)
    ui = tab.ui
    assert page[ui.loaded].id == ids[0]
    page[ui.fields["prompt"]] = "Mira waves from the boat"
    page[ui.fields["caption"]] = "Morning."
    page.apply(tab.pick(page.data(ui.editor_inputs), select(2)))
    assert page[ui.loaded].id == ids[2]
    first = panels.get_panel(studio, ids[0])
    assert (first.prompt, first.caption) == ("Mira waves from the boat", "Morning.")
    page[ui.fields["text0"]] = "Ahoy!"
    page.apply(tab.add(page.data(ui.editor_inputs)))
    assert [b.text for b in panels.get_panel(studio, ids[2]).balloons] == ["Ahoy!"]
    assert page[ui.loaded].position == 3 and page[ui.fields["prompt"]] == ""


def test_a_panel_that_cannot_be_saved_stays_open_with_the_text_as_typed(studio):
    tab, page, _, ids, _ = opened_story(studio)
    ui = tab.ui
    panels.update_panel(studio, ids[0], caption="changed in another tab")
    page[ui.fields["prompt"]] = "my unsaved words"
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = page.apply(tab.pick(page.data(ui.editor_inputs), select(1)))
    assert any("stays open" in t and "changed elsewhere" in t for t in toasts(record))
    assert set(out) == {ui.strip} and out[ui.strip]["selected_index"] == 0
    assert page[ui.loaded].id == ids[0] and page[ui.fields["prompt"]] == "my unsaved words"
    assert panels.get_panel(studio, ids[0]).prompt == "Mira on the pier, scene 1"


def test_save_panel_writes_every_field_or_none(studio):
    tab, page, project, ids, _ = opened_story(studio)
    ui = tab.ui
    page[ui.fields["caption"]] = "A new caption"
    page[ui.fields["speaker0"]] = "Captain"
    page[ui.fields["text0"]] = "Cast off!"
    characters.delete_character(studio, project.id, "Captain", confirm=True)  # the speaker is gone
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        page.apply(tab.save_clicked(page.data(ui.editor_inputs)))
    assert any("Captain" in t for t in toasts(record))
    stored = panels.get_panel(studio, ids[0])
    assert (stored.caption, stored.balloons, stored.version) == ("", [], page[ui.loaded].version)
    page[ui.fields["speaker0"]] = "Mira"  # fixed: the save goes through, no conflict with a half-save
    page.apply(tab.save_clicked(page.data(ui.editor_inputs)))
    stored = panels.get_panel(studio, ids[0])
    assert stored.caption == "A new caption" and [(b.speaker, b.text) for b in stored.balloons] == [("Mira", "Cast off!")]


def test_characters_named_in_the_scene_join_the_panel_and_unknown_names_are_reported(studio, capsys):
    tab, page, _, ids, _ = opened_story(studio)
    ui = tab.ui
    page[ui.fields["prompt"]] = "CAPTAIN stands on the pier while Fox watches CAPTIAN"
    page.apply(tab.save_clicked(page.data(ui.editor_inputs)))
    stored = panels.get_panel(studio, ids[0])
    assert [c.name for c in stored.characters] == ["Mira", "Captain", "Fox"]  # Mira: named when added
    assert page[ui.fields["cast"]] == ["Mira", "Captain", "Fox"]
    said = capsys.readouterr().out
    assert "Captain joins panel 1" in said and "Fox joins panel 1" in said
    assert "“CAPTIAN” in the scene of panel 1 names no character" in said
    # Taken out by the writer, a character stays out while the scene is not changed.
    page[ui.fields["cast"]] = ["Fox"]
    page.apply(tab.save_clicked(page.data(ui.editor_inputs)))
    assert [c.name for c in panels.get_panel(studio, ids[0]).characters] == ["Fox"]


def test_the_seed_follows_the_render_the_story_uses_and_duplicates_are_refused(studio):
    tab, page, _, ids, ctx = opened_story(studio, worker=True)
    ui = tab.ui
    try:
        page[ui.fields["cast"]] = ["Mira"]
        render_click(tab, page)
        render_click(tab, page, seed="new")
        chosen = panels.get_panel(studio, ids[0])
        selected = renders.get_render(studio, chosen.selected_render_id)
        assert page[ui.fields["seed"]] == selected.seed == chosen.seed
        render_click(tab, page)  # Render again: the chosen look, not the old seed
        newest = renders.list_renders(studio, ids[0])[-1]
        assert newest.seed == selected.seed
        assert len(page[ui.history_ids]) == 3
    finally:
        ctx.worker.stop(5)


def test_a_second_click_on_render_does_not_queue_the_same_render_again(studio):
    tab, page, _, ids, _ = opened_story(studio)  # no worker: the jobs stay queued
    run = RenderHandlers(tab)
    inputs = page.data(tab.ui.editor_inputs | {tab.ui.variants_k})
    first = run.queuer("same", False)(inputs)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        second = run.queuer("same", False)(page.data(tab.ui.editor_inputs | {tab.ui.variants_k}))
    assert len(first[tab.ui.jobs]) == 1 and second == {tab.ui.jobs: []}
    assert any("already has this render queued" in t for t in toasts(record)), toasts(record)
    assert len(queue.jobs(studio, pending_only=True)) == 1
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert run.queue_missing(None) == {tab.ui.jobs: []}  # no story: nothing to wait for
    assert len(run.queue_missing(page[tab.ui.project])[tab.ui.jobs]) == 3  # panel 1 is already queued


def test_renders_can_be_deleted_from_the_history_but_not_the_one_in_use(studio):
    tab, page, _, ids, ctx = opened_story(studio, worker=True)
    ui = tab.ui
    try:
        render_click(tab, page)
        render_click(tab, page, seed="new", variants=True)
    finally:
        ctx.worker.stop(5)
    run = RenderHandlers(tab)
    in_use = panels.get_panel(studio, ids[0]).selected_render_id
    choices = [value for _, value in tab.render_parts(page[ui.loaded], {}, page[ui.fields["size"]])[ui.drop_choice]["choices"]]
    assert in_use not in choices and len(choices) == 4
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        run.drop(page[ui.loaded], in_use, {}, page[ui.fields["size"]])
    assert any("choose another render" in t for t in toasts(record))
    page.apply(run.drop(page[ui.loaded], choices[0], {}, page[ui.fields["size"]]))
    assert [r.id for r in renders.list_renders(studio, ids[0])].count(choices[0]) == 0
    assert len(page[ui.history_ids]) == 4


def test_cancel_with_no_panel_open_cancels_only_this_storys_renders(studio):
    tab, page, project, ids, ctx = opened_story(studio)
    other = projects.create_project(studio, "Other story")
    theirs = queue.enqueue(studio, panels.add_panel(studio, other.id, prompt="a boat").id, engine="draft")
    mine = queue.enqueue(studio, ids[1], engine="draft")
    RenderHandlers(tab).cancel(project.id, None)
    assert queue.jobs(studio, [mine[0].id])[0].status == "cancelled"
    assert queue.jobs(studio, [theirs[0].id])[0].status == "queued"
    assert "1 render(s) queued or running (0 in this story)" in rendering.queue_note(ctx, project.id)


def test_deleting_a_panel_asks_first_and_shows_its_neighbour(studio):
    tab, page, _, ids, _ = opened_story(studio)
    ui = tab.ui
    page.apply(tab.pick(page.data(ui.editor_inputs), select(1)))
    asked = tab.ask_delete(page[ui.loaded])
    assert asked[ui.confirm_box]["visible"] is True and "Delete panel 2" in asked[ui.confirm_text]
    assert len(panels.list_panels(studio, page[ui.project])) == 4  # asking deletes nothing
    page.apply(tab.delete(page[ui.project], page[ui.loaded]))
    assert [p.id for p in panels.list_panels(studio, page[ui.project])] == [ids[0], ids[2], ids[3]]
    assert page[ui.loaded].id == ids[2]


def test_a_render_clicked_in_the_history_is_used_and_shows_where_its_characters_went(studio):
    tab, page, _, ids, ctx = opened_story(studio, worker=True)
    ui, run = tab.ui, RenderHandlers(tab)
    try:
        render_click(tab, page)
        render_click(tab, page, seed="new")
    finally:
        ctx.worker.stop(5)
    older = renders.list_renders(studio, ids[0])[0]
    assert panels.get_panel(studio, ids[0]).selected_render_id != older.id
    page[ui.fields["caption"]] = "typed before the click"
    page.apply(run.use(page.data(ui.editor_inputs | {ui.history_ids}), select(page[ui.history_ids].index(older.id))))
    stored = panels.get_panel(studio, ids[0])
    assert stored.selected_render_id == older.id and stored.caption == "typed before the click"  # saved first
    assert page[ui.fields["seed"]] == older.seed and page[ui.shown_render] == older.id
    shown = run.routing(older.id, True)
    assert shown[ui.routes_row]["visible"] is True and shown[ui.routes_image] is not None
    assert "<b>Mira</b>" in shown[ui.routes_legend] and "% of the panel" in shown[ui.routes_legend]
    assert run.routing(older.id, False) == {ui.routes_row: gr.update(visible=False)}


def test_ticking_characters_and_clearing_a_box(studio):
    from app.story_boxes import BoxHandlers

    tab, page, _, _, _ = opened_story(studio)
    ui, boxes = tab.ui, BoxHandlers(tab)
    view, size, box = page[ui.loaded], page[ui.fields["size"]], (0.1, 0.2, 0.5, 1.0)
    both = boxes.cast_changed(view, ["Mira", "Fox"], {"Mira": box}, size)
    assert both[ui.boxes] == {"Mira": box, "Fox": None} and both[ui.box_for]["choices"] == ["Mira", "Fox"]
    assert both[ui.preview] is not None  # the boxes drawn on the blank panel
    assert boxes.cast_changed(view, ["Fox"], {"Mira": box}, size)[ui.boxes] == {"Fox": None}  # untick: box gone
    cleared = boxes.cleared(view, {"Mira": box, "Fox": box}, "Mira", size)
    assert cleared[ui.boxes] == {"Mira": None, "Fox": box} and cleared[ui.corner] is None


def test_the_editor_s_small_buttons(studio):
    tab, page, project, _, _ = opened_story(studio, engine="anystory")
    ui = tab.ui
    seeds = {tab.new_seed()[ui.fields["seed"]] for _ in range(3)}
    assert len(seeds) == 3 and all(0 <= seed < 2**31 for seed in seeds)
    router = [p["name"] for p in tab.settings.params].index("enable_router")
    assert tab.reset_settings(["Mira"])[ui.fields[f"advanced{router}"]] is False  # the published defaults
    assert tab.reset_settings(["Mira", "Fox"])[ui.fields[f"advanced{router}"]] is True  # several characters
    assert tab.keep() == {ui.confirm_box: gr.update(visible=False)}
    panels.add_panel(studio, project.id, prompt="added in another tab", position=0)
    listed = tab.tab_opened(project.id, page[ui.loaded])
    assert len(listed[ui.strip]["value"]) == 5 and listed[ui.strip]["selected_index"] == 1  # where it is now
    assert ui.loaded not in listed and ui.fields["prompt"] not in listed  # the editor is left as typed
    panels.delete_panel(studio, page[ui.loaded].id)  # in another tab
    assert len(tab.tab_opened(project.id, page[ui.loaded])[ui.strip]) == 4  # a plain list: nothing selected


def test_the_draft_engine_hides_steps_and_guidance(studio):
    tab, *_ = opened_story(studio)
    assert tab.ui.fields["steps"].visible is False and tab.ui.fields["guidance"].visible is False


def test_an_engine_that_samples_shows_steps_and_guidance_and_saves_them(studio):
    tab, page, _, ids, _ = opened_story(studio, engine="anystory")  # described, never loaded
    ui = tab.ui
    assert ui.fields["steps"].visible is True and ui.fields["guidance"].visible is True
    page[ui.fields["steps"]], page[ui.fields["guidance"]] = 12, 2.5
    page.apply(tab.save_clicked(page.data(ui.editor_inputs)))
    stored = panels.get_panel(studio, ids[0]).overrides
    assert (stored["steps"], stored["guidance"]) == (12, 2.5)


def test_user_text_is_shown_as_text_in_the_header_confirmations_and_render_notes(studio):
    project = projects.create_project(studio, HOSTILE, author=HOSTILE)
    mira = characters.add_character(studio, project.id, HOSTILE)
    panel = panels.add_panel(studio, project.id, prompt="x", characters=[mira.id])
    ctx = app_context(studio)
    header = header_text(ctx, project.id)
    assert "<img" not in header and "&lt;img src=x&gt; [link](http://a) **b**" in header
    warning = delete_warning(ctx, project.id, mira.id)
    assert "<img" not in warning and "&lt;img src=x&gt;" in warning
    job = queue.enqueue(studio, panel.id, engine="draft")[0]
    characters.delete_character(studio, project.id, mira.id, confirm=True)
    from story.worker import Worker
    from engine.draft import DraftGenerator

    Worker(studio, DraftGenerator()).run_pending([job.id])
    note = rendering.failure_note(ctx, panels.get_panel(studio, panel.id))
    assert "deleted" in note and "<img" not in note and "&lt;img" in note


def test_the_projects_tab_exports_a_bundle_and_titles_a_script_import(studio, shared_dir):
    from app import projects_tab

    ctx = app_context(studio)
    with gr.Blocks():
        tab = projects_tab.build(ctx, gr.State(None), gr.HTML(), gr.Tabs())
    project = projects.create_project(studio, "Bundle me")
    out = tab.export_bundle(project.id)
    path = out[tab.ui.bundle_download]["value"]
    assert zipfile.is_zipfile(path) and bundle.import_bundle(studio, path).name == "Bundle me (2)"
    from tests.conftest import REPO

    script = REPO / "tests" / "data" / "lantern_fox.json"
    imported = tab.import_file(str(script), "")[tab.ui.project]
    assert projects.get_project(studio, imported).name == "Lantern fox"
    titled = tab.import_file(str(script), "The Lantern Fox")[tab.ui.project]
    assert projects.get_project(studio, titled).name == "The Lantern Fox"


def test_a_reload_reopens_the_story_this_browser_had_open(studio):
    project = projects.create_project(studio, "Remembered")
    reopen = _reopen(app_context(studio))
    assert reopen(project.id) == project.id
    projects.delete_project(studio, project.id)
    assert reopen(project.id) is None and reopen(None) is None


def test_the_whole_app_builds_with_dict_outputs(studio):
    assert build_app(app_context(studio)) is not None


def test_a_deleted_characters_alias_left_in_a_scene_is_named_before_deleting(studio):
    project = projects.create_project(studio, "Aliases")
    captain = characters.add_character(studio, project.id, "Captain", alias="CAPTAIN")
    panels.add_panel(studio, project.id, prompt="a quiet pier")
    panels.add_panel(studio, project.id, prompt="CAPTAIN waves")
    assert panels.panels_mentioning(studio, project.id, captain.id) == [2]
    text = delete_warning(app_context(studio), project.id, captain.id)
    assert "It appears in panel 2" in text and "The scene of panel 2 names it" in text and "plain word" in text


def test_the_queue_note_counts_renders_while_they_wait(studio):
    tab, page, project, ids, ctx = opened_story(studio)
    assert "queue empty" in RenderHandlers(tab).queue_note(project.id)[tab.ui.queue_note]
    for panel_id in ids:
        queue.enqueue(studio, panel_id, engine="draft")
    assert "4 render(s) queued or running" in RenderHandlers(tab).queue_note(project.id)[tab.ui.queue_note]



def test_a_refused_box_click_on_a_character_picture_does_not_block_the_next_clicks(studio):
    from app.characters_tab import MODES, Selection

    demo = build_app(app_context(studio))
    wired = next(f for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "clicked")
    clicked, (_, preview, selection) = wired.fn, wired.outputs
    picture, _ = figure((200, 60, 40), 60, 120)
    sel = Selection(image=picture, original=picture)
    sel = clicked(sel, MODES[2], select([30, 30]))[selection]  # first corner
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        refused = clicked(sel, MODES[2], select([30, 30]))  # the same spot: no box
    assert toasts(record) and sel.box is None and refused["__type__"] == "update"
    after = clicked(sel, MODES[0], select([50, 100]))  # a click on the figure now works
    assert after[selection].mask is not None and after[selection].mask.any() and after[preview] is not None


def test_render_progress_shows_on_the_status_line_only(studio):
    """Issue 15.2: while a render waits or runs, the editor's fields carry no progress overlay."""
    demo = build_app(app_context(studio))
    fns = list(demo.fns.values())
    waits = [f for f in fns if getattr(f.fn, "__name__", "") == "wait"]
    assert len(waits) == 4  # Render, Re-render, Variants, Render missing
    for wait in waits:
        assert [c.elem_id for c in wait.show_progress_on] == ["render-status"]
    names = {"queue_render", "queue_missing", "after"}
    for f in fns:
        if getattr(f.fn, "__name__", "") in names:
            assert f.show_progress == "hidden", f.fn.__name__


def test_the_projects_tab_creates_renames_and_deletes_after_asking(studio, capsys):
    from app import projects_tab

    ctx = app_context(studio)
    with gr.Blocks():
        tab = projects_tab.build(ctx, gr.State(None), gr.HTML(), gr.Tabs())
    ui = tab.ui
    created = tab.create(HOSTILE, "Ann", "Comic book")
    project_id = created[ui.project]
    assert created[ui.new_name] == "" and "&lt;img src=x&gt;" in capsys.readouterr().out  # the toast shows text
    listed = tab.refresh(project_id)
    assert listed[ui.table][0][0] == HOSTILE and listed[ui.current_box]["visible"] is True
    assert "<img" not in listed[ui.header]
    assert tab.rename(project_id, "The Pier")[ui.rename_box] == "The Pier"
    asked = tab.ask_delete(project_id)
    assert asked[ui.confirm_box]["visible"] is True and "The Pier" in asked[ui.confirm_text]
    assert projects.get_project(studio, project_id).name == "The Pier"  # asking deletes nothing
    assert tab.delete(project_id)[ui.project] is None
    assert projects.list_projects(studio) == []


def test_the_projects_tab_opens_a_row_or_the_sample_and_keeps_a_story_it_asked_about(studio):
    from app import projects_tab

    ctx = app_context(studio, worker=True)
    try:
        with gr.Blocks():
            tab = projects_tab.build(ctx, gr.State(None), gr.HTML(), gr.Tabs())
        ui = tab.ui
        sample = tab.open_sample(progress=lambda *a, **k: None)[ui.project]
        assert all(p.selected_render_id is not None for p in projects.get_project(studio, sample).panels)
    finally:
        ctx.worker.stop(5)
    mine = projects.create_project(studio, "Mine").id
    ids = tab.refresh(None)[ui.row_ids]
    opened = tab.open_row(ids, select([ids.index(mine), 0]))
    assert opened[ui.project] == mine and opened[ui.tabs].selected == "story"
    assert tab.keep() == {ui.confirm_box: gr.update(visible=False)}
    assert {p.id for p in projects.list_projects(studio)} == {sample, mine}


def test_move_duplicate_reload_and_box_drawing(studio):
    from app.story_boxes import BoxHandlers

    tab, page, project, ids, _ = opened_story(studio)
    ui = tab.ui
    page[ui.fields["caption"]] = "kept by the move"
    page.apply(tab.mover(1)(page.data(ui.editor_inputs)))
    assert [p.id for p in panels.list_panels(studio, project.id)][:2] == [ids[1], ids[0]]
    assert page[ui.loaded].position == 1 and panels.get_panel(studio, ids[0]).caption == "kept by the move"
    page.apply(tab.duplicate(page.data(ui.editor_inputs)))
    assert page[ui.loaded].position == 2 and page[ui.fields["caption"]] == "kept by the move"
    page[ui.fields["caption"]] = "thrown away"
    page.apply(tab.reload(page[ui.project], page[ui.loaded]))
    assert page[ui.fields["caption"]] == "kept by the move"
    boxes = BoxHandlers(tab)
    size = page[ui.fields["size"]]
    page.apply(boxes.clicked(page[ui.loaded], page[ui.boxes], None, "Mira", size, select([10, 10])))
    too_small = boxes.clicked(page[ui.loaded], page[ui.boxes], page[ui.corner], "Mira", size, select([12, 12]))
    assert too_small[ui.corner] is None and ui.boxes not in too_small  # the next click starts a new box
    page.apply(boxes.clicked(page[ui.loaded], page[ui.boxes], None, "Mira", size, select([64, 64])))
    page.apply(boxes.clicked(page[ui.loaded], page[ui.boxes], page[ui.corner], "Mira", size, select([320, 640])))
    assert page[ui.boxes]["Mira"] == pytest.approx((0.1, 0.1, 0.5, 1.0))
    page.apply(tab.save_clicked(page.data(ui.editor_inputs)))
    assert panels.get_panel(studio, page[ui.loaded].id).characters[0].box == pytest.approx((0.1, 0.1, 0.5, 1.0))


def test_opening_another_story_saves_the_open_panel_first(studio):
    tab, page, project, ids, _ = opened_story(studio)
    ui = tab.ui
    other = projects.create_project(studio, "Another story")
    panels.add_panel(studio, other.id, prompt="a lighthouse")
    page[ui.fields["caption"]] = "typed before switching stories"
    page[ui.project] = other.id
    page.apply(tab.opened(page.data(ui.editor_inputs)))
    assert panels.get_panel(studio, ids[0]).caption == "typed before switching stories"
    assert page[ui.loaded].project_id == other.id and page[ui.fields["prompt"]] == "a lighthouse"
