"""The Characters tab: the cast with thumbnails; a picture uploaded through the app's image
checks and cut out by clicks, a box, the brush or an uploaded mask, previewed on a light and
a dark background; name / alias / description; delete (warning when panels use it).

Every handler returns a dict keyed by component (tests call them in-process).
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Optional

import gradio as gr
from PIL import Image

from app.character_selection import ADD_COLOUR, REMOVE_COLOUR, Selection
from app.character_delete import delete_warning
from app.editor_handoff import hand_over, sent_copy
from app.common import asset_file, inform, need_project, ui_picture, user_errors, warn
from app.context import AppContext
from app.settings_segmenter import segmenter_words
from story import characters, projects
from story.assets import read_image_file

MODES = ["Include (click the character)", "Exclude (click the background)", "Box (two corners)"]
AUTOMATIC = ("fallback", "matting")
"""Segmenters that find the character without clicks: an upload is cut out at once."""


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


def run_segmenter(ctx: AppContext, sel: Selection) -> Selection:
    """Cut out from the clicks/box (or, for an automatic segmenter, from none); warn about a
    doubtful selection. A picture with transparency and no clicks keeps its own cut."""
    automatic = ctx.segmenter_status()[0] in AUTOMATIC
    if not sel.points and sel.box is None and (sel.base is not None or not automatic):
        return sel
    segmenter = ctx.segmenter()
    mask, _score = segmenter.segment(sel.image, points=sel.points, box=sel.box)
    sel.base, sel.segmenter = mask, segmenter.name
    if mask.any():
        _, warning = characters.validate_mask(sel.image, sel.mask)
        if warning:
            warn(warning[0].upper() + warning[1:] + ".")
    return sel


def read_upload(path: Optional[str], label: str) -> Image.Image:
    """A picture uploaded through Gradio, read by the app's one ingest path (format, size and
    pixel checks), then removed from Gradio's upload folder inside the data directory."""
    if not path:
        raise gr.Error(f"Choose a {label} file.", print_exception=False)
    try:
        return read_image_file(path, label=label)
    finally:
        Path(path).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            Path(path).parent.rmdir()  # Gradio's folder for this upload, when empty


class CharactersTab:
    """The tab's components and handlers; `build` lays it out inside a gr.Blocks."""

    def __init__(self, ctx: AppContext, project: gr.State):
        self.ctx, self.project = ctx, project
        self.selection = gr.State(Selection())
        self.current = gr.State(None)  # id of the character in the form, None for a new one
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=260):
                self._cast_column()
            with gr.Column(scale=5):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        self._picture_column()
                    with gr.Column(scale=2):
                        self._form_column()
                self._confirm_box()
        self.form = [self.current, self.name, self.alias, self.description, self.picture, self.preview,
                     self.selection]
        self.outputs = [self.cast, self.note] + self.form
        self._wire()

    def _cast_column(self) -> None:
        gr.Markdown("## Cast")
        self.cast = gr.Gallery(show_label=False, columns=2, height=420, allow_preview=False,
                               object_fit="contain", elem_id="cast-gallery")
        self.new_btn = gr.Button("+ New character", elem_id="new-character")
        self.note = gr.Markdown(elem_id="segmenter-note")

    def _picture_column(self) -> None:
        with gr.Column(elem_id="character-picture"):
            self.picture = gr.Image(label="Picture: upload one, then click the character", type="pil",
                                    interactive=False, height=420, elem_id="character-picture-view")
            self.upload_btn = gr.UploadButton("Upload a picture…", file_types=["image"], size="sm",
                                              elem_id="upload-picture")
        self.mode = gr.Radio(MODES, value=MODES[0], show_label=False, elem_id="click-mode")
        with gr.Row():
            self.clear_btn = gr.Button("Clear clicks", size="sm")
            self.mask_btn = gr.UploadButton("Upload a mask… (white = character)", file_types=["image"],
                                            size="sm", elem_id="upload-mask")
        with gr.Accordion("Touch up with the brush", open=False, elem_id="brush-panel") as self.brush_panel:
            gr.Markdown("Paint **green** over parts the cut-out misses and **red** over parts it "
                        "should not have, then apply.")
            self.brush = gr.ImageEditor(
                type="numpy", sources=(), transforms=(), layers=False, height=420, elem_id="mask-brush",
                brush=gr.Brush(colors=[ADD_COLOUR, REMOVE_COLOUR], color_mode="fixed"),
                eraser=gr.Eraser(), label="Brush", show_label=False)
            self.brush_btn = gr.Button("Apply brush strokes", size="sm", elem_id="apply-brush")
            self.brush_sent = sent_copy(self.brush)  # what Apply sends (see app.editor_handoff)

    def _form_column(self) -> None:
        self.preview = gr.Image(label="Cut-out on light and dark", interactive=False, height=200,
                                elem_id="character-cutout")
        self.name = gr.Textbox(label="Name", placeholder="Mira", elem_id="character-name")
        self.alias = gr.Textbox(label="Alias (optional, one word)", placeholder="ROLE-A",
                                elem_id="character-alias")
        self.description = gr.Textbox(label="Description (used in prompts)", lines=3,
                                      placeholder="a small girl with red braids and a yellow raincoat",
                                      elem_id="character-description")
        with gr.Row():
            self.save_btn = gr.Button("Save character", variant="primary", elem_id="save-character")
            self.delete_btn = gr.Button("Delete…", variant="stop", elem_id="delete-character")

    def _confirm_box(self) -> None:
        with gr.Group(visible=False) as self.confirm_box:
            self.confirm_text = gr.HTML(padding=True, elem_id="confirm-delete-character-text")
            with gr.Row():
                self.confirm_btn = gr.Button("Yes, delete", variant="stop", elem_id="confirm-delete-character")
                self.keep_btn = gr.Button("Keep")

    # Handlers: each returns {component: value}.

    def shown(self, sel: Selection) -> dict[Any, Any]:
        """The picture with the selection drawn on it, the cut-out preview, the state."""
        return {self.picture: sel.overlay(), self.preview: sel.preview(), self.selection: sel}

    def tab_opened(self, project_id: Optional[int]) -> dict[Any, Any]:
        """The tab was opened: the cast afresh (another browser tab may have changed it), the
        form untouched (the writer may be halfway through it)."""
        return {self.cast: cast_gallery(self.ctx, project_id)}

    def empty_form(self) -> dict[Any, Any]:
        """A blank form for a new character."""
        return {self.current: None, self.name: "", self.alias: "", self.description: "",
                **self.shown(Selection())}

    def refresh(self, project_id: Optional[int]) -> dict[Any, Any]:
        """The cast, the segmenter's note and an empty form."""
        return {self.cast: cast_gallery(self.ctx, project_id), self.note: segmenter_words(self.ctx),
                **self.empty_form()}

    def pick(self, project_id: Optional[int], evt: gr.SelectData) -> dict[Any, Any]:
        """A character of the cast into the form, with its picture and stored mask."""
        chosen = projects.get_project(self.ctx.studio, need_project(project_id)).characters[evt.index]
        sel = Selection()
        if chosen.image_hash:
            assets = self.ctx.studio.assets
            sel = Selection.of_stored(assets.open(chosen.image_hash),
                                      characters.mask_array(assets.open(chosen.mask_hash)), chosen.segmenter)
        return {self.current: chosen.id, self.name: chosen.name, self.alias: chosen.alias or "",
                self.description: chosen.description, **self.shown(sel)}

    def uploaded(self, path: Optional[str]) -> dict[Any, Any]:
        """A new picture: checked like the CLI's, cut out at once when it has transparency
        or the segmenter needs no clicks; a large one is worked on as a smaller copy."""
        return self.shown(run_segmenter(self.ctx, Selection.of_upload(read_upload(path, "picture"))))

    def clicked(self, sel: Selection, click_mode: str, evt: gr.SelectData) -> dict[Any, Any]:
        """A click on the picture: include, exclude, or a corner of the box."""
        if sel.image is None:
            raise gr.Error("Upload a picture of the character first.", print_exception=False)
        x, y = float(evt.index[0]), float(evt.index[1])
        before = (list(sel.points), sel.box)
        if click_mode == MODES[2]:
            if sel.corner is None:
                sel.corner, sel.changed = (x, y), True
                return {self.picture: sel.overlay(), self.selection: sel}
            sel.box, sel.corner = (*sel.corner, x, y), None
        else:
            sel.points.append((x, y, click_mode == MODES[0]))
        try:
            run_segmenter(self.ctx, sel)
        except ValueError as exc:  # a click the segmenter refuses is not kept: the next one works
            sel.points, sel.box = before
            raise gr.Error(str(exc)[0].upper() + str(exc)[1:] + ".", print_exception=False) from exc
        sel.changed = True
        return self.shown(sel)

    def cleared(self, sel: Selection) -> dict[Any, Any]:
        """Back to the picture as uploaded (its automatic cut-out, no clicks or brush)."""
        if sel.original is None:
            return self.shown(Selection())
        return self.shown(run_segmenter(self.ctx, Selection.of_upload(sel.original)))

    def mask_uploaded(self, sel: Selection, path: Optional[str]) -> dict[Any, Any]:
        """A ready mask for the picture (as the CLI's --mask)."""
        if sel.image is None:
            raise gr.Error("Upload a picture of the character first.", print_exception=False)
        sel.use_mask_file(read_upload(path, "mask"))
        return self.shown(sel)

    def brush_opened(self, sel: Selection) -> dict[Any, Any]:
        """The brush's canvas: the picture with the current selection tinted, no strokes."""
        return {self.brush: None if sel.image is None else
                {"background": sel.overlay(), "layers": [], "composite": None}}

    def brush_applied(self, sel: Selection, editor: Optional[dict]) -> dict[Any, Any]:
        """Green strokes join the cut-out, red ones leave it; the canvas starts afresh."""
        if sel.image is None:
            raise gr.Error("Upload a picture of the character first.", print_exception=False)
        sel.paint((editor or {}).get("layers") or [])
        return {**self.shown(sel), **self.brush_opened(sel)}

    def save(self, project_id: Optional[int], char_id: Optional[int], name: str, alias: str,
             description: str, sel: Selection) -> dict[Any, Any]:
        """Add or update the character; a new picture is stored at its original size."""
        project_id = need_project(project_id)
        mask = sel.full_mask() if sel.changed else None
        if sel.changed and (mask is None or not mask.any()):
            raise gr.Error("Click on the character (or drag a box, or paint it) before saving.",
                           print_exception=False)
        image = sel.original if sel.changed else None
        studio = self.ctx.studio
        if char_id is None:
            saved = characters.add_character(studio, project_id, name, alias=alias, description=description,
                                             image=image, mask=mask, segmenter=sel.segmenter)
        else:
            saved = characters.update_character(studio, project_id, char_id, name=name, alias=alias,
                                                description=description)
            if sel.changed:
                saved = characters.set_character_picture(studio, project_id, char_id, image, mask,
                                                         segmenter=sel.segmenter)
        if saved.warning:
            warn(saved.warning[0].upper() + saved.warning[1:] + ".")
        inform(f"Saved {saved.name}.")
        return self.refresh(project_id)

    def ask_delete(self, project_id: Optional[int], char_id: Optional[int]) -> dict[Any, Any]:
        """Ask before deleting, saying which panels use the character."""
        if char_id is None:
            raise gr.Error("Choose a character in the cast first.", print_exception=False)
        warning = delete_warning(self.ctx, need_project(project_id), char_id)
        return {self.confirm_box: gr.update(visible=True), self.confirm_text: warning}

    def delete(self, project_id: Optional[int], char_id: Optional[int]) -> dict[Any, Any]:
        """Delete the character (taken out of its panels) and refresh the cast."""
        characters.delete_character(self.ctx.studio, need_project(project_id), char_id, confirm=True)
        inform("Character deleted.")
        return {self.confirm_box: gr.update(visible=False), **self.refresh(project_id)}

    def kept(self) -> dict[Any, Any]:
        """The writer chose to keep the character: close the question."""
        return {self.confirm_box: gr.update(visible=False)}

    def _wire(self) -> None:
        shown = [self.picture, self.preview, self.selection]
        confirm = [self.confirm_box, self.confirm_text]
        self.project.change(self.refresh, self.project, self.outputs)
        self.cast.select(user_errors(self.pick), self.project, self.form)
        self.new_btn.click(self.empty_form, None, self.form)
        self.upload_btn.upload(user_errors(self.uploaded), self.upload_btn, shown)
        self.picture.select(user_errors(self.clicked), [self.selection, self.mode], shown, concurrency_limit=2)
        self.clear_btn.click(self.cleared, self.selection, shown)
        self.mask_btn.upload(user_errors(self.mask_uploaded), [self.selection, self.mask_btn], shown)
        # the brush is never a server event's input, and its progress shows on the cut-out
        # preview: otherwise Gradio re-reads it on every later event (app.editor_handoff)
        on_preview = {"show_progress_on": self.preview}
        self.brush_panel.expand(self.brush_opened, self.selection, self.brush, show_progress="hidden", **on_preview)
        hand_over(self.brush_btn.click, self.brush, self.brush_sent).then(
            user_errors(self.brush_applied), [self.selection, self.brush_sent], shown + [self.brush], **on_preview)
        self.save_btn.click(user_errors(self.save), [self.project, self.current, self.name, self.alias,
                                                     self.description, self.selection], self.outputs)
        self.delete_btn.click(user_errors(self.ask_delete), [self.project, self.current], confirm)
        self.keep_btn.click(self.kept, None, self.confirm_box)
        self.confirm_btn.click(user_errors(self.delete), [self.project, self.current],
                               [self.confirm_box] + self.outputs)


def build(ctx: AppContext, project: gr.State) -> CharactersTab:
    """Lay out the Characters tab and wire its events; returns its handlers."""
    return CharactersTab(ctx, project)
