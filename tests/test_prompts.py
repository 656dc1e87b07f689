"""Prompt composition: references by alias or name expand to descriptions; styles wrap."""
import pytest

from story.prompts import CharacterText, compose_prompt, expand_references, find_references

MIA = CharacterText(1, "Mia", "ROLE-A", "a girl with red hair.")
FOX = CharacterText(2, "Fox", "ROLE-AB", "a small orange fox")
NODESC = CharacterText(3, "Bob", None, "")


def test_alias_and_name_expand_to_descriptions_longest_first():
    out = compose_prompt("ROLE-A meets ROLE-AB; mia smiles", [MIA, FOX])
    assert out == "a girl with red hair meets a small orange fox; a girl with red hair smiles"


def test_words_containing_a_name_are_left_alone():
    assert compose_prompt("Foxglove grows near Bob", [FOX, NODESC]) == "Foxglove grows near Bob"


def test_style_wraps_the_expanded_prompt():
    out = compose_prompt("ROLE-A reads", [MIA], "Comic book")
    assert out.startswith("comic book panel of a girl with red hair reads.")


def test_unknown_style_leaves_the_text():
    assert compose_prompt("a tree", [], "No such style") == "a tree"


def test_find_references_in_order_of_mention():
    assert find_references("Fox chases ROLE-A", [MIA, FOX, NODESC]) == [FOX, MIA]


@pytest.mark.parametrize("prompt", ["İpek waves", "ipek waves", "İPEK waves", "IPEK waves"])
def test_names_whose_case_folding_changes_length_expand(prompt):
    ipek = CharacterText(1, "İpek", None, "a girl with a kite")
    assert expand_references(prompt, [ipek]) == "a girl with a kite waves"


def test_a_panel_naming_ipek_renders(studio):
    from engine.draft import DraftGenerator
    from story import panels, projects, queue
    from story.worker import Worker
    from tests.draft_helpers import RED
    from tests.queue_helpers import add_pictured_character

    project = projects.create_project(studio, "Kites", render_defaults={"width": 160, "height": 120})
    add_pictured_character(studio, project.id, "İpek", RED)
    panel = panels.add_panel(studio, project.id, prompt="ipek flies a kite", characters=["İpek"])
    job, = queue.enqueue(studio, panel.id, engine="draft")
    done = Worker(studio, DraftGenerator()).run_one()
    assert (done.id, done.status, done.error) == (job.id, "done", None)
