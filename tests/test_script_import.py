"""AnyStory storyboard script import: characters, panels in 序号 order with the acting
characters, and every malformed script refused with nothing imported."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from story import projects
from story.errors import InvalidInput
from story.script_import import import_script

SAMPLE = Path(__file__).resolve().parent / "data" / "lantern_fox.json"


def _script() -> dict:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def _write(tmp_path: Path, document: dict, name: str = "story.json", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + json.dumps(document, ensure_ascii=False).encode())
    return path


def test_the_sample_script_becomes_characters_and_panels(studio):
    project = import_script(studio, SAMPLE)
    assert project.name == "lantern_fox"
    assert [(c.name, c.alias, c.description, c.has_picture) for c in project.characters] == [
        ("小琳", "ROLE-A", "a little girl with two braids, wearing a red padded jacket.", False),
        ("灯笼狐", "ROLE-B", "a white fox carrying a glowing paper lantern on its tail", False),
        ("爷爷", "ROLE-C", "an old man with a grey beard and a blue cotton robe", False),
    ]
    shots = _script()["分镜头"]
    assert [p.prompt for p in project.panels] == [s["prompt"] for s in shots]
    assert [p.caption for p in project.panels] == [s["旁白"] for s in shots]
    # act_roles and the aliases the prompt mentions, in order of mention
    assert [[c.alias for c in p.characters] for p in project.panels] == [
        ["ROLE-A"], ["ROLE-B", "ROLE-A"], ["ROLE-A", "ROLE-B"], ["ROLE-A", "ROLE-C"],
    ]


def test_shots_are_ordered_by_number_and_bom_is_accepted(studio, tmp_path):
    script = _script()
    script["分镜头"].reverse()
    script["分镜头"][0]["序号"] = "4"  # a number written as text is read as the number
    project = import_script(studio, _write(tmp_path, script, bom=True), "Reversed")
    assert project.name == "Reversed"
    assert [p.caption for p in project.panels] == [s["旁白"] for s in _script()["分镜头"]]


def test_taken_names_get_a_number(studio, tmp_path):
    assert import_script(studio, SAMPLE).name == "lantern_fox"
    assert import_script(studio, SAMPLE).name == "lantern_fox (2)"
    projects.create_project(studio, "Mine")
    assert import_script(studio, SAMPLE, "mine").name == "mine (2)"


def _break(change):
    script = copy.deepcopy(_script())
    change(script)
    return script


@pytest.mark.parametrize("change, match", [
    (lambda s: s["分镜头"][1].update(act_roles=["ROLE-Z"]), r"shot 2 .*ROLE-Z.*not an alias"),
    (lambda s: s["分镜头"][2].update(prompt="ROLE-D waves at ROLE-A"), r"shot 3 .*ROLE-D"),
    (lambda s: s["角色表"][2].update(alias="ROLE-A"), "alias ROLE-A is used by both 小琳 and 爷爷"),
    (lambda s: s["角色表"][2].update(角色名="小琳"), "小琳 is listed twice"),
    (lambda s: s["分镜头"][3].update(序号=2), "序号 2 appears twice"),
    (lambda s: s["分镜头"][1].pop("prompt"), r"shot 2 \(分镜头\[1\]\) has no \"prompt\""),
    (lambda s: s["分镜头"][0].pop("旁白"), r"shot 1 .* has no \"旁白\""),
    (lambda s: s["分镜头"][0].pop("序号"), r"分镜头\[0\] has no \"序号\""),
    (lambda s: s["角色表"][1].pop("simple_prompt"), r"角色表\[1\] \(灯笼狐\) has no \"simple_prompt\""),
    (lambda s: s["角色表"][0].pop("alias"), r"角色表\[0\] \(小琳\) has no \"alias\""),
    (lambda s: s.pop("角色表"), r"has no \"角色表\""),
    (lambda s: s.update(分镜头=[]), "no shots"),
    (lambda s: s["分镜头"][0].update(act_roles="ROLE-A"), r"\"act_roles\" must be a list"),
    (lambda s: s["角色表"][0].update(alias="ROLE A"), "one word"),
])
def test_malformed_scripts_are_refused_and_nothing_is_imported(studio, tmp_path, change, match):
    with pytest.raises(InvalidInput, match=match):
        import_script(studio, _write(tmp_path, _break(change)))
    assert projects.list_projects(studio) == []


def test_unreadable_files_are_refused(studio, tmp_path):
    (tmp_path / "bad.json").write_text('{"角色表": [', encoding="utf-8")
    with pytest.raises(InvalidInput, match="not valid JSON.*line 1"):
        import_script(studio, tmp_path / "bad.json")
    (tmp_path / "gbk.json").write_bytes('{"故事梗概": "雪夜"}'.encode("gbk"))
    with pytest.raises(InvalidInput, match="not UTF-8"):
        import_script(studio, tmp_path / "gbk.json")
    with pytest.raises(InvalidInput, match="Cannot read"):
        import_script(studio, tmp_path / "missing.json")
    assert projects.list_projects(studio) == []


@pytest.mark.parametrize("number", ["²", "٣", "-1", 2**64, 1.5, True, "1e3"])
def test_odd_shot_numbers_are_refused(studio, tmp_path, number):
    script = _break(lambda s: s["分镜头"][0].update(序号=number))
    with pytest.raises(InvalidInput, match=r"分镜头\[0\]: \"序号\" must be a whole number"):
        import_script(studio, _write(tmp_path, script))
    assert projects.list_projects(studio) == []


@pytest.mark.parametrize("text, match", [
    ('{"角色表": ' + "[" * 100_000 + "]" * 100_000 + "}", "too deeply"),
    ('{"角色表": [], "x": ' + "[" * 200 + "]" * 200 + "}", "too deeply"),
    ('{"角色表": [], "分镜头": [{"序号": NaN}]}', "NaN is not a JSON number"),
])
def test_deeply_nested_or_nan_scripts_are_refused(studio, tmp_path, text, match):
    (tmp_path / "deep.json").write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput, match=match):
        import_script(studio, tmp_path / "deep.json")
    assert projects.list_projects(studio) == []
