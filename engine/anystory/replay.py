"""Replay a golden case folder: `python -m engine.anystory.replay CASE_DIR --out OUT_DIR`.

Reads CASE_DIR/case.json (its `components` names the components folder, relative to the case),
encodes the case's subject pictures and masks and writes OUT_DIR/encodings.safetensors with
the case's tensor names (redux_embeds_i, router_embeds_i when the router is on,
ref_tokens_mean_i, ref_ids_i, ref_mask_i). Then generates from the case's prompt embeddings
and initial latents, using the case's sampled ref_tokens_i for the reference stream when
present, and writes OUT_DIR/final_latents.safetensors (key final_latents) and OUT_DIR/image.png.
`--memory int8` (fp8, ...) loads the transformer through the same quantized from_pretrained
path real weights take, to see how far a profile moves the numbers.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from engine.base import EngineError, PanelRequest
from engine.anystory.generator import AnyStoryGenerator
from engine.anystory.params import PARAMS, AnyStorySettings, resolve_params
from engine.anystory.pipeline import DenoiseHooks, Prompt, stack_subjects, to_image

_OUR_NAMES = {"redux_embeds": "redux_embeds", "router_embeds": "router_embeds", "ref_tokens": "ref_tokens_mean",
              "ref_ids": "ref_ids", "ref_mask": "ref_mask"}


def read_case(case_dir: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """case.json and tensors.safetensors of a case folder."""
    try:
        case = json.loads((case_dir / "case.json").read_text())
        tensors = load_file(case_dir / "tensors.safetensors")
    except (OSError, ValueError) as exc:
        raise EngineError(f"{case_dir} is not a readable case folder: {exc}") from exc
    return case, tensors


def encode_case(generator: AnyStoryGenerator, case_dir: Path, case: dict[str, Any]) -> list[dict[str, torch.Tensor]]:
    """Encode every subject of the case through the Generator interface."""
    encodings = []
    for i, (picture, mask) in enumerate(case["subjects"]):
        with Image.open(case_dir / picture) as image, Image.open(case_dir / mask) as mask_image:
            encoding = generator.encode_subject(image.convert("RGB"), mask_image.convert("L"))
        encodings.append(generator.subject_tensors(encoding, f"subject {i}"))
    return encodings


def case_settings(case: dict[str, Any]) -> AnyStorySettings:
    """The engine settings the case gives (the published generate() arguments)."""
    return resolve_params({s.name: case[s.name] for s in PARAMS if s.name in case}, len(case["subjects"]))


def replay(case_dir: Path, out_dir: Path, device: str = "cpu", memory: str = "full") -> dict[str, torch.Tensor]:
    """Run one case with a memory profile's components; returns what it wrote plus the latents
    after each step (`step_latents`)."""
    case, tensors = read_case(case_dir)
    generator = AnyStoryGenerator.tiny(device=device, components=(case_dir / case["components"]).resolve(),
                                       ref_size=case["ref_size"], memory=memory)
    return replay_with(generator, case_dir, out_dir)


def replay_with(generator: AnyStoryGenerator, case_dir: Path, out_dir: Path) -> dict[str, torch.Tensor]:
    """Run one case with a generator built for it (the case's components and ref_size)."""
    case, tensors = read_case(case_dir)
    encodings = encode_case(generator, case_dir, case)
    written = {}
    for i, enc in enumerate(encodings):
        for ours, theirs in _OUR_NAMES.items():
            if ours != "router_embeds" or case["enable_router"]:
                written[f"{theirs}_{i}"] = enc[ours].float().cpu().contiguous()
        if f"ref_tokens_{i}" in tensors:
            enc["ref_tokens"] = tensors[f"ref_tokens_{i}"].to(enc["ref_tokens"])
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(written, out_dir / "encodings.safetensors")

    to = {"device": generator.components.device, "dtype": generator.components.dtype}
    prompt = Prompt(tensors["prompt_embeds"][None].to(**to), tensors["pooled_prompt_embeds"][None].to(**to),
                    tensors["text_ids"].to(**to))
    request = PanelRequest("", seed=case["seed"], width=case["width"], height=case["height"], steps=case["steps"],
                           guidance=case["guidance"])
    steps = []
    with torch.no_grad():
        hooks = DenoiseHooks(on_step=lambda i, lat: steps.append(lat[0].float().cpu()))
        latents = generator.generate(prompt, request, case_settings(case), stack_subjects(encodings), hooks,
                                     latents=tensors["initial_latents"][None].to(**to))
        image = generator.decode(latents, case["height"], case["width"])
    final = latents[0].float().cpu().contiguous()
    save_file({"final_latents": final}, out_dir / "final_latents.safetensors")
    to_image(image).save(out_dir / "image.png")
    return {**written, "final_latents": final, "step_latents": torch.stack(steps), "image": torch.from_numpy(image)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case_dir", type=Path, help="a case folder (case.json, tensors.safetensors, pictures)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the outputs")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--memory", default="full", help="memory profile: full (default), auto, int8, fp8, nf4, "
                                                         "nf4-offload (the transformer loads quantized as with real weights)")
    args = parser.parse_args(argv)
    try:
        replay(args.case_dir, args.out, args.device, args.memory)
    except EngineError as exc:
        parser.exit(2, f"replay: {exc}\n")
    print(f"wrote {args.out}/encodings.safetensors, final_latents.safetensors, image.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
