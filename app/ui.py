"""The whole app: a header saying which story is open, and one tab per job."""
from __future__ import annotations

import gradio as gr

from app import characters_tab, export_tab, projects_tab, settings_tab, story_tab
from app.context import AppContext

THEME = gr.themes.Soft(
    primary_hue="orange", secondary_hue="amber", neutral_hue="stone",
    font=["ui-rounded", "Nunito", "Segoe UI", "system-ui", "sans-serif"],
)
CSS = """
#app-title h1 { margin-bottom: 0; letter-spacing: -0.02em; }
#app-title p { margin-top: 2px; opacity: 0.75; }
#story-header { border-left: 4px solid var(--color-accent); padding-left: 12px; }
#panel-strip .caption-label, #cast-gallery .caption-label { font-weight: 600; }
#render-status:empty, #queue-note:empty { display: none; }
.routing-legend { list-style: none; padding: 0; margin: 0; }
.routing-legend li { margin: 4px 0; }
.routing-legend .swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px;
  vertical-align: -2px; margin-right: 4px; }
footer { display: none !important; }
"""


def build_app(ctx: AppContext) -> gr.Blocks:
    """Lay out every tab and wire its events; theme and CSS go to launch() (THEME, CSS)."""
    with gr.Blocks(title="AnyStory Studio", delete_cache=(1800, 3600)) as demo:  # uploads and copies
        project = gr.State(None)
        with gr.Row(equal_height=True):
            gr.Markdown("# AnyStory Studio\nWrite a story in panels; the same characters in every picture.",
                        elem_id="app-title")
            header = gr.Markdown(elem_id="story-header")
        with gr.Tabs() as tabs:
            with gr.Tab("Projects", id="projects") as projects_page:
                refresh_projects, project_outputs = projects_tab.build(ctx, project, header, tabs)
            with gr.Tab("Characters", id="characters") as characters_page:
                _, cast_outputs = characters_tab.build(ctx, project)
            with gr.Tab("Story", id="story") as story_page:
                _, story_outputs = story_tab.build(ctx, project)
            with gr.Tab("Export", id="export"):
                export_tab.build(ctx, project)
            with gr.Tab("Settings", id="settings") as settings_page:
                status = settings_tab.build(ctx)
        # Opening a tab refreshes its lists (another browser tab may have
        # changed the story), never a form the writer may be halfway through.
        demo.load(refresh_projects, project, project_outputs)
        projects_page.select(refresh_projects, project, project_outputs)
        characters_page.select(lambda p: characters_tab.cast_gallery(ctx, p), project, cast_outputs[0])
        story_page.select(lambda p: story_tab.listing_values(ctx, p), project,
                          story_outputs[:story_tab.LISTING_OUTPUTS])
        settings_page.select(lambda: settings_tab.status_text(ctx), None, status)
    return demo
