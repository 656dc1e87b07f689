"""The AnyStory engine: FLUX.1-dev + FLUX.1-Redux-dev + the published AnyStory checkpoint.

Importing this package is cheap: torch, diffusers and transformers load only when
`AnyStoryGenerator` is first used (engine.anystory.params is plain Python for the UI).

How a panel is rendered (AnyStoryGenerator.render, generator.py), in order:

1. Settings: `params.resolve_params` checks the panel's advanced settings and fills in the
   published defaults for its number of characters -> a frozen `params.AnyStorySettings`.
2. Subjects: each character was encoded once (`encoder.SubjectEncoder`: SigLIP + the
   Redux embedder with AnyStory's extras -> subject tokens and router tokens; the VAE ->
   reference tokens and their mask). `pipeline.stack_subjects` puts a panel's characters side
   by side; `pipeline.box_allow` turns their boxes into the image tokens each may take.
3. Schedule: `params.plan_steps` says per step which streams are on (subject tokens,
   reference, router: a `StepPlan`).
4. Denoising: `pipeline.denoise` runs the Euler steps. A `pipeline.Conditioning` holds what
   lasts the whole render: the reference cache (`transformer.StreamTransformer.reference_kv`
   runs the reference stream once, `attention.reference_cache` keeps the keys inside the
   masks), the box grouping of image tokens, the attention layouts and rotary frequencies
   (`transformer.RenderCache`), and gives each step its `transformer.StepInputs`.
5. One forward (`transformer.StreamTransformer.__call__`): text and subject tokens on the
   context side, image tokens on the image side, router tokens riding in front of the text
   with the "router" LoRA on their rows only and their own modulation (`lora.StreamLinear`
   rows, `streams.per_row`; `streams.Side`: one stream's view of a FLUX block). In every
   layer:
   - routing maps: `routing.route_tokens` picks each image token's subject from the router
     tokens and the layer's `routing.RoutingLayer` (the routing-map projections, whose
     factors `attention.AnyStoryAttnProcessor` holds; its `__call__` is the stock FLUX one
     and our forward does not use it); `routing.winner_groups` groups the image tokens by
     subject. Without the router, boxes give fixed groups.
   - attention: `attention.routed_attention` runs router tokens over their own and the image
     keys, text and subject tokens over every other key, each group of image tokens over the
     text and image keys plus its own subjects' subject tokens and reference keys. No
     (queries x keys) bias is built; ref_shift is one row.
6. Decoding: `pipeline.decode` (the FLUX VAE), and on request the routing maps averaged over
   layers and steps (`pipeline.RoutingAverage`).

Loading (`loading.py`) builds the components and installs the processors; `checkpoint.py`
splits the published checkpoint; `replay.py` replays a golden case.
"""
from __future__ import annotations

from typing import Any

__all__ = ["AnyStoryGenerator"]


def __getattr__(name: str) -> Any:
    if name == "AnyStoryGenerator":
        from engine.anystory.generator import AnyStoryGenerator

        return AnyStoryGenerator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
