"""The Characters tab: the cast with thumbnails, a picture cut out by clicks or a box,
name / alias / description, replace picture, delete (warning when panels use it)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional

import gradio as gr
import numpy as np
from PIL import Image

from app.character_delete import delete_warning
from app.common import asset_file, inform, need_project, ui_picture, user_errors
from app.context import AppContext
from app.overlay import cutout_preview, selection_overlay
from story import characters, projects

MODES = ["Include (click the character)", "Exclude (click the background)", "Box (two corners)"]


@dataclass
class Selection:
    """The picture being cut out and the writer's clicks; lives in gr.State per browser tab."""

    image: Optional[Image.Image] = None
    points: list[tuple[float, float, bool]] = field(default_factory=list)
    box: Optional[tuple[float, float, float, float]] = None
    corner: Optional[tuple[float, float]] = None
    mask: Optional[np.ndarray] = None
    segmenter: str = ""
    changed: bool = False
    """True once the writer uploaded or clicked: saving then stores the new picture."""

    def overlay(self) -> Optional[Image.Image]:
        if self.image is None:
            return None
        return selection_overlay(self.image, self.mask, self.points, self.box, self.corner)


def cast_gallery(ctx: AppContext, project_id: Optional[int]) -> list[tuple[str, str]]:
    """(thumbnail, caption) for each character, in the order they were added."""
    if not project_id:
        return []
    cast = projects.get_project(ctx.studio, project_id).characters
    return [
        (asset_file(ctx.studio, c.subject_hash) or ui_picture("no_picture.png"),
         c.name + (f" · {c.alias}" if c.alias else ""))
        for c in cast
    ]


def segment(ctx: AppContext, sel: Selection) -> Selection:
    """Run the segmenter on the current clicks/box and warn about doubtful selections."""
    if not sel.points and sel.box is None:
        sel.mask = None
        return sel
    segmenter = ctx.segmenter()
    mask, _score = segmenter.segment(sel.image, points=sel.points, box=sel.box)
    _, warning = characters.validate_mask(sel.image, mask)
    if warning:
        gr.Warning(warning[0].upper() + warning[1:] + ".")
    sel.mask, sel.segmenter = mask, segmenter.name
    return sel


def cutout(sel: Selection) -> Optional[Image.Image]:
    if sel.mask is None or not sel.mask.any():
        return None
    subject, subject_mask = characters.prepare_subject(sel.image, sel.mask)
    return cutout_preview(subject, subject_mask)


def build(ctx: AppContext, project: gr.State) -> Any:
    """Lay out the Characters tab and wire its events; returns its refresh function."""
    selection = gr.State(Selection())
    current = gr.State(None)  # id of the character in the form, None for a new one
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=260):
            gr.Markdown("## Cast")
            cast = gr.Gallery(show_label=False, columns=2, height=420, allow_preview=False,
                              object_fit="contain", elem_id="cast-gallery")
            new_btn = gr.Button("+ New character", elem_id="new-character")
            segmenter_note = gr.Markdown(elem_id="segmenter-note")
        with gr.Column(scale=5):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    picture = gr.Image(label="Picture — upload, then click the character", type="pil",
                                       image_mode=None, sources=["upload", "clipboard"], height=420,
                                       elem_id="character-picture")
                    mode = gr.Radio(MODES, value=MODES[0], show_label=False, elem_id="click-mode")
                    clear_btn = gr.Button("Clear clicks", size="sm")
                with gr.Column(scale=2):
                    preview = gr.Image(label="Cut-out", interactive=False, height=200,
                                       elem_id="character-cutout")
                    name = gr.Textbox(label="Name", placeholder="Mira", elem_id="character-name")
                    alias = gr.Textbox(label="Alias (optional, one word)", placeholder="ROLE-A",
                                       elem_id="character-alias")
                    description = gr.Textbox(label="Description (used in prompts)", lines=3,
                                             placeholder="a small girl with red braids and a yellow raincoat",
                                             elem_id="character-description")
                    with gr.Row():
                        save_btn = gr.Button("Save character", variant="primary", elem_id="save-character")
                        delete_btn = gr.Button("Delete…", variant="stop", elem_id="delete-character")
            with gr.Group(visible=False) as confirm_box:
                confirm_text = gr.HTML(padding=True, elem_id="confirm-delete-character-text")
                with gr.Row():
                    confirm_btn = gr.Button("Yes, delete", variant="stop", elem_id="confirm-delete-character")
                    keep_btn = gr.Button("Keep")

    form = [current, name, alias, description, picture, preview, selection]

    def empty_form():
        return None, "", "", "", None, None, Selection()

    def refresh(project_id: Optional[int]):
        engine_name, reason = ctx.segmenter_status()
        note = f"**Segmenter:** {engine_name}  \n<small>{reason}</small>"
        return (cast_gallery(ctx, project_id), note) + empty_form()

    @user_errors
    def pick(project_id: Optional[int], evt: gr.SelectData):
        chosen = projects.get_project(ctx.studio, need_project(project_id)).characters[evt.index]
        sel = Selection()
        if chosen.image_hash:
            sel.image = ctx.studio.assets.open(chosen.image_hash)
            sel.mask = characters.mask_array(ctx.studio.assets.open(chosen.mask_hash))
            sel.segmenter = chosen.segmenter
        return (chosen.id, chosen.name, chosen.alias or "", chosen.description, sel.overlay(),
                asset_file(ctx.studio, chosen.subject_hash), sel)

    @user_errors
    def uploaded(image: Optional[Image.Image]):
        sel = Selection(image=image, changed=image is not None)
        if image is not None and image.mode in ("RGBA", "LA", "PA"):
            sel = segment(ctx, sel)  # a cut-out upload needs no clicks
        return sel.overlay(), cutout(sel), sel

    @user_errors
    def clicked(sel: Selection, click_mode: str, evt: gr.SelectData):
        if sel.image is None:
            raise gr.Error("Upload a picture of the character first.", print_exception=False)
        x, y = float(evt.index[0]), float(evt.index[1])
        sel = replace(sel, points=list(sel.points))  # a refused click leaves the stored selection as it was
        sel.changed = True
        if click_mode == MODES[2]:
            if sel.corner is None:
                sel.corner = (x, y)
                return sel.overlay(), gr.skip(), sel
            sel.box, sel.corner = (*sel.corner, x, y), None
        else:
            sel.points.append((x, y, click_mode == MODES[0]))
        sel = segment(ctx, sel)
        return sel.overlay(), cutout(sel), sel

    def cleared(sel: Selection):
        sel = Selection(image=sel.image, changed=sel.image is not None)
        return sel.overlay(), None, sel

    @user_errors
    def save(project_id: Optional[int], char_id: Optional[int], name_: str, alias_: str,
             description_: str, sel: Selection):
        project_id = need_project(project_id)
        if sel.changed and sel.mask is None:
            raise gr.Error("Click on the character (or drag a box) to cut it out before saving.",
                           print_exception=False)
        picture = (sel.image, sel.mask) if sel.changed else (None, None)
        if char_id is None:
            saved = characters.add_character(ctx.studio, project_id, name_, alias=alias_, description=description_,
                                             image=picture[0], mask=picture[1], segmenter=sel.segmenter)
        else:
            saved = characters.update_character(ctx.studio, project_id, char_id, name=name_,
                                                alias=alias_, description=description_)
            if sel.changed:
                saved = characters.set_character_picture(ctx.studio, project_id, char_id, *picture,
                                                         segmenter=sel.segmenter)
        inform(f"Saved {saved.name}.")
        return refresh(project_id)

    @user_errors
    def ask_delete(project_id: Optional[int], char_id: Optional[int]):
        if char_id is None:
            raise gr.Error("Choose a character in the cast first.", print_exception=False)
        return gr.update(visible=True), delete_warning(ctx, need_project(project_id), char_id)

    @user_errors
    def delete(project_id: Optional[int], char_id: Optional[int]):
        characters.delete_character(ctx.studio, need_project(project_id), char_id, confirm=True)
        gr.Info("Character deleted.")
        return (gr.update(visible=False),) + refresh(project_id)

    outputs = [cast, segmenter_note] + form
    project.change(refresh, project, outputs)
    cast.select(pick, project, form)
    new_btn.click(empty_form, None, form)
    picture.upload(uploaded, picture, [picture, preview, selection])
    picture.select(clicked, [selection, mode], [picture, preview, selection], concurrency_limit=2)
    clear_btn.click(cleared, selection, [picture, preview, selection])
    save_btn.click(save, [project, current, name, alias, description, selection], outputs)
    delete_btn.click(ask_delete, [project, current], [confirm_box, confirm_text])
    keep_btn.click(lambda: gr.update(visible=False), None, confirm_box)
    confirm_btn.click(delete, [project, current], [confirm_box] + outputs)
    return refresh, outputs
