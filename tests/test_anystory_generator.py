"""The AnyStory engine through the Generator interface, on the tiny components: encode once
and reuse, progress and cancel between steps, clear errors for bad input, the registry path."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from engine.base import EngineError, Generator, PanelRequest, RenderCancelled, SubjectEncoding, SubjectInput
from tests.anystory_helpers import golden_subject, image_array, tiny_generator  # noqa: F401 (fixture)

SIZE, STEPS = 128, 6


def request(*subjects: SubjectInput, **kwargs) -> PanelRequest:
    base = dict(prompt="two friends on a bridge at dusk", width=SIZE, height=SIZE, steps=STEPS, seed=7)
    base.update(kwargs)
    return PanelRequest(subjects=list(subjects), **base)


@pytest.fixture(scope="module")
def encodings(tiny_generator):
    return [tiny_generator.encode_subject(*golden_subject(index=i)) for i in range(2)]


def test_is_a_generator(tiny_generator):
    assert isinstance(tiny_generator, Generator)
    assert tiny_generator.fingerprint.startswith("anystory-tiny:")
    assert "tiny" in tiny_generator.describe()


def test_encoding_is_deterministic_numpy_made_once(tiny_generator, encodings):
    again = tiny_generator.encode_subject(*golden_subject(index=0))
    first = encodings[0]
    assert first.fingerprint == tiny_generator.fingerprint
    assert set(first.tensors) == {"redux_embeds", "router_embeds", "ref_tokens", "ref_ids", "ref_mask"}
    for name, array in first.tensors.items():
        assert isinstance(array, np.ndarray) and array.dtype == np.float32
        np.testing.assert_array_equal(array, again.tensors[name])
    assert first.tensors["redux_embeds"].shape == (81, 32) and first.tensors["router_embeds"].shape == (9, 32)


def test_render_reuses_the_cached_encoding_deterministically(tiny_generator, encodings):
    one = request(SubjectInput("ada", encodings[0]))
    first, second = tiny_generator.render(one), tiny_generator.render(one)
    assert first.image.size == (SIZE, SIZE) and first.image.mode == "RGB"
    np.testing.assert_array_equal(image_array(first.image), image_array(second.image))
    bare = tiny_generator.render(request())
    other_seed = tiny_generator.render(request(SubjectInput("ada", encodings[0]), seed=8))
    assert np.abs(image_array(first.image) - image_array(bare.image)).max() > 0.02  # the subject conditions
    assert np.abs(image_array(first.image) - image_array(other_seed.image)).max() > 0.02


def test_published_defaults_follow_the_number_of_subjects(tiny_generator, encodings):
    one = tiny_generator.render(request(SubjectInput("ada", encodings[0])))
    two = tiny_generator.render(request(*(SubjectInput(n, e) for n, e in zip("ab", encodings))))
    assert one.info["settings"]["enable_router"] is False and one.info["settings"]["ref_start_at"] == 0.0
    assert two.info["settings"]["enable_router"] is True and two.info["settings"]["ref_start_at"] == 0.09


def test_progress_is_reported_after_every_step(tiny_generator, encodings):
    seen = []
    tiny_generator.render(request(SubjectInput("ada", encodings[0])), progress=lambda i, n: seen.append((i, n)))
    assert seen == [(i, STEPS) for i in range(1, STEPS + 1)]


def test_cancel_stops_between_steps(tiny_generator, encodings):
    seen = []
    with pytest.raises(RenderCancelled):
        tiny_generator.render(request(SubjectInput("ada", encodings[0])), progress=lambda i, n: seen.append(i),
                              cancel=lambda: len(seen) >= 2)
    assert seen == [1, 2]
    # the generator is usable again afterwards
    assert tiny_generator.render(request(steps=2)).image.size == (SIZE, SIZE)


@pytest.mark.parametrize("params, message", [
    ({"redux_scal": 0.5}, "unknown AnyStory setting"),
    ({"redux_scale": 7.0}, "between"),
    ({"enable_router": "yes"}, "true or false"),
])
def test_bad_settings_are_rejected(tiny_generator, params, message):
    with pytest.raises(EngineError, match=message):
        tiny_generator.render(request(params=params))


def test_encoding_of_another_engine_is_rejected(tiny_generator, encodings):
    foreign = SubjectEncoding("draft:0000", encodings[0].tensors)
    with pytest.raises(EngineError, match="encode the character again"):
        tiny_generator.render(request(SubjectInput("ada", foreign)))


@pytest.mark.parametrize("kwargs, message", [({"width": 100}, "multiple of 16"), ({"steps": 0}, "steps")])
def test_bad_panel_sizes_are_rejected(tiny_generator, kwargs, message):
    with pytest.raises(EngineError, match=message):
        tiny_generator.render(request(**kwargs))


def test_bad_subject_pictures_are_rejected(tiny_generator):
    image, mask = golden_subject()
    with pytest.raises(EngineError, match="size"):
        tiny_generator.encode_subject(image, mask.resize((64, 64)))
    with pytest.raises(EngineError, match="empty"):
        tiny_generator.encode_subject(image, Image.new("L", image.size, 0))


def test_registry_builds_the_tiny_engine_and_renders():
    from engine.registry import EngineConfig, create_generator

    generator = create_generator(EngineConfig(engine="anystory-tiny"))
    result = generator.render(request(steps=2))
    assert result.image.size == (SIZE, SIZE)


def test_real_weights_give_clear_messages_when_absent(tmp_path):
    """Offline with an empty cache (no weights can be downloaded here): the messages say what to do."""
    code = ("from engine.anystory.loading import load_real\n"
            "from engine.base import EngineError\n"
            "import sys\n"
            "for flux in ('black-forest-labs/FLUX.1-dev', sys.argv[1]):\n"
            "    try:\n"
            "        load_real(flux, 'black-forest-labs/FLUX.1-Redux-dev', 'Junjie96/AnyStory', 'cpu', 'float32', False)\n"
            "    except EngineError as exc:\n"
            "        print(exc)\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    (tmp_path / "flux").mkdir()
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "flux")], capture_output=True, text=True,
                            timeout=300, env=env)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2, result.stderr[-2000:]
    assert "not in the local Hugging Face cache" in lines[0] and "black-forest-labs/FLUX.1-dev" in lines[0]
    assert lines[1].startswith(f"FLUX.1-dev: the folder {tmp_path / 'flux'} could not be loaded")


def test_unreachable_hub_says_the_weights_are_not_cached(tmp_path):
    """Online mode with the hub out of reach (a closed port on this machine) gives the same
    plain message as offline mode, not diffusers' stack of errors."""
    code = ("from engine.anystory.loading import load_real\n"
            "from engine.base import EngineError\n"
            "try:\n"
            "    load_real('black-forest-labs/FLUX.1-dev', 'black-forest-labs/FLUX.1-Redux-dev', 'Junjie96/AnyStory',"
            " 'cpu', 'float32', False)\n"
            "except EngineError as exc:\n"
            "    print(exc)\n")
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path / "hf")}
    env.pop("HF_HUB_OFFLINE", None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert "not in the local Hugging Face cache" in result.stdout, result.stdout + result.stderr[-2000:]
