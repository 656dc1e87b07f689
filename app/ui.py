"""The whole app: a header saying which story is open, and one tab per job."""
from __future__ import annotations

from typing import Any, Optional

import gradio as gr

from app import characters_tab, export_tab, projects_tab, settings_tab, story_tab
from app.context import AppContext
from app.web_fonts import FAMILY as CJK_FAMILY, font_face_css
from story import projects
from story.errors import StudioError

THEME = gr.themes.Soft(
    primary_hue="orange", secondary_hue="amber", neutral_hue="stone",
    font=["ui-rounded", "Nunito", "Segoe UI", "system-ui", CJK_FAMILY, "sans-serif"],
    font_mono=["IBM Plex Mono", "ui-monospace", "Consolas", CJK_FAMILY, "monospace"],
)
CSS = """
#app-title h1 { margin-bottom: 0; letter-spacing: -0.02em; }
#app-title p { margin-top: 2px; opacity: 0.75; }
#story-header { border-left: 4px solid var(--color-accent); padding-left: 12px; }
#story-header h3 { margin: 0; }
#story-header p { margin: 2px 0 0; opacity: 0.8; }
#panel-strip .caption-label, #cast-gallery .caption-label { font-weight: 600; }
#render-status:empty, #queue-note:empty { display: none; }
#panel-toolbar { align-items: center; }
.dropdown-arrow { flex-shrink: 0; }
input[role="listbox"] { text-overflow: ellipsis; min-width: 0; }
#panel-toolbar #variants-k input { padding: 4px 6px; }
.routing-legend { list-style: none; padding: 0; margin: 0; }
.routing-legend li { margin: 4px 0; }
.routing-legend .swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px;
  vertical-align: -2px; margin-right: 4px; }
footer { display: none !important; }
""" + font_face_css()


LAST_PROJECT_KEY = "anystory-last-project"
"""Where each browser keeps the story it had open, so a reload reopens it."""


def _header() -> gr.HTML:
    with gr.Row(equal_height=True):
        gr.Markdown("# AnyStory Studio\nWrite a story in panels; the same characters in every picture.",
                    elem_id="app-title")
        return gr.HTML(elem_id="story-header")


def _reopen(ctx: AppContext) -> Any:
    """The handler that reopens, on page load, the story this browser had open (if it still exists)."""
    def reopen(remembered: Optional[int]) -> Optional[int]:
        if remembered is None:
            return None
        try:
            return projects.get_project(ctx.studio, int(remembered)).id
        except (StudioError, TypeError, ValueError):
            return None
    return reopen


def build_app(ctx: AppContext) -> gr.Blocks:
    """Lay out every tab and wire its events; theme and CSS go to launch() (THEME, CSS)."""
    with gr.Blocks(title="AnyStory Studio", delete_cache=(1800, 3600)) as demo:  # uploads and copies
        project = gr.State(None)
        last_project = gr.BrowserState(None, storage_key=LAST_PROJECT_KEY)
        header = _header()
        with gr.Tabs() as tabs:
            with gr.Tab("Projects", id="projects") as projects_page:
                projects_ui = projects_tab.build(ctx, project, header, tabs)
            with gr.Tab("Characters", id="characters") as characters_page:
                characters = characters_tab.build(ctx, project)
            with gr.Tab("Story", id="story") as story_page:
                story = story_tab.build(ctx, project)
            with gr.Tab("Export", id="export"):
                export_tab.build(ctx, project)
            with gr.Tab("Settings", id="settings") as settings_page:
                status = settings_tab.build(ctx)
        # A reload reopens this browser's story; opening a tab refreshes its lists (another
        # browser tab may have changed the story), never a form the writer may be halfway through.
        demo.load(_reopen(ctx), last_project, project).then(projects_ui.refresh, project, projects_ui.listing_outputs)
        project.change(lambda p: p, project, last_project)
        projects_page.select(projects_ui.refresh, project, projects_ui.listing_outputs)
        characters_page.select(characters.tab_opened, project, {characters.cast})
        story_page.select(story.tab_opened, [project, story.ui.loaded], story.listing_outputs)
        settings_page.select(lambda: settings_tab.status_text(ctx), None, status)
    return demo
