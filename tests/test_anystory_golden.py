"""The AnyStory engine reproduces the published implementation's golden outputs
(../shared/golden/anystory_flux_tiny) at the golden README's tolerances."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from tests.anystory_helpers import CASES, GOLDEN

ATOL = RTOL = 1e-4  # encodings and latents
IMAGE_ATOL = 1e-3
ENCODING_NAMES = ("redux_embeds_", "router_embeds_", "ref_tokens_mean_", "ref_ids_", "ref_mask_")


@pytest.fixture(scope="module", params=CASES)
def replayed(request, tmp_path_factory):
    from engine.anystory.replay import replay

    out = tmp_path_factory.mktemp(request.param)
    produced = replay(GOLDEN / request.param, out)
    return request.param, out, produced, load_file(GOLDEN / request.param / "tensors.safetensors")


def test_there_are_golden_cases():
    assert {"a_one_subject", "b_two_subjects_router", "c_no_subject"} <= set(CASES)


def test_encodings_match(replayed):
    case, out, _, golden = replayed
    ours = load_file(out / "encodings.safetensors")
    expected = {k for k in golden if k.startswith(ENCODING_NAMES)}
    assert set(ours) == expected
    for name in expected:
        torch.testing.assert_close(ours[name], golden[name], atol=ATOL, rtol=RTOL, msg=f"{case}: {name}")


def test_every_step_and_final_latents_match(replayed):
    case, out, produced, golden = replayed
    torch.testing.assert_close(produced["step_latents"], golden["step_latents"], atol=ATOL, rtol=RTOL)
    final = load_file(out / "final_latents.safetensors")
    assert set(final) == {"final_latents"}
    torch.testing.assert_close(final["final_latents"], golden["final_latents"], atol=ATOL, rtol=RTOL)


def test_image_matches(replayed):
    case, out, produced, golden = replayed
    np.testing.assert_allclose(produced["image"].numpy(), golden["image"].numpy(), atol=IMAGE_ATOL, rtol=0)
    written = np.asarray(Image.open(out / "image.png"), dtype=np.int16)
    reference = np.asarray(Image.open(GOLDEN / case / "image.png"), dtype=np.int16)
    assert written.shape == reference.shape
    assert np.abs(written - reference).max() <= 1  # 8-bit rounding of values within 1e-3


def test_replay_command_line(tmp_path):
    case = GOLDEN / "a_one_subject"
    result = subprocess.run([sys.executable, "-m", "engine.anystory.replay", str(case), "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    final = load_file(tmp_path / "final_latents.safetensors")["final_latents"]
    torch.testing.assert_close(final, load_file(case / "tensors.safetensors")["final_latents"], atol=ATOL, rtol=RTOL)
    assert (tmp_path / "image.png").is_file() and (tmp_path / "encodings.safetensors").is_file()


def test_replay_command_line_rejects_a_folder_that_is_not_a_case(tmp_path, capsys):
    from engine.anystory.replay import main

    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path), "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "not a readable case folder" in capsys.readouterr().err
