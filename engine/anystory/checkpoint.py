"""Strict loading of the published AnyStory checkpoint (`anystory_flux.bin`).

The file is a torch-saved dict with three parts:
  "ref"    LoRA for the reference stream: transformer.<module>.lora_A/B.weight
  "redux"  subject-embedder extras: redux_up/down_lora_A/B.*, gate_proj.*
  "router" router_embedder.* (router-embedder extras), the per-attention routing-map
           projections transformer.<block>.attn.processor.*, and the router stream's LoRA.
Every tensor must land in a parameter of the same shape and every parameter must be given;
otherwise loading fails naming the offending keys. (The published loader uses strict=False.)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from engine.base import EngineError
from engine.anystory.lora import LoraFactors, StreamLoRA, lora_target_paths

PARTS = ("ref", "redux", "router")
_LORA_KEY = re.compile(r"transformer\.(.+)\.lora_([AB])\.weight")
_PROCESSOR = ".attn.processor."
_LIST_AT_MOST = 12


@dataclass
class _Problems:
    """Keys that did not fit, collected over the whole checkpoint so one error names them all."""

    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    misshaped: list[str] = field(default_factory=list)

    def raise_if_any(self, source: str) -> None:
        parts = []
        for label, keys in (("missing keys", self.missing), ("unexpected keys", self.extra),
                            ("keys with the wrong shape", self.misshaped)):
            if keys:
                more = f" (and {len(keys) - _LIST_AT_MOST} more)" if len(keys) > _LIST_AT_MOST else ""
                parts.append(f"{label}: {', '.join(keys[:_LIST_AT_MOST])}{more}")
        if parts:
            raise EngineError(f"the AnyStory checkpoint {source} does not fit the model; " + "; ".join(parts))


def read_checkpoint(path: str | Path) -> dict[str, dict[str, torch.Tensor]]:
    """Load the file (tensors only, on CPU) and check its three parts are there."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise EngineError(f"AnyStory checkpoint not found: {path}") from None
    except Exception as exc:  # pickle/zip errors: not a checkpoint at all
        raise EngineError(f"cannot read the AnyStory checkpoint {path}: {exc}") from exc
    if not isinstance(state, dict) or not all(isinstance(state.get(p), dict) for p in PARTS):
        found = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise EngineError(f"the AnyStory checkpoint {path} must hold the parts {', '.join(PARTS)}; found {found}")
    extra = sorted(set(state) - set(PARTS))
    if extra:
        raise EngineError(f"the AnyStory checkpoint {path} has unexpected parts: {', '.join(extra)}")
    return state


def _check_into(module: nn.Module, given: Mapping[str, torch.Tensor], label: str, problems: _Problems) -> bool:
    """Compare `given` with `module`'s state dict; record problems under `label` + key."""
    expected = module.state_dict()
    problems.missing += [label + k for k in expected if k not in given]
    problems.extra += [label + k for k in given if k not in expected]
    bad = [k for k in given if k in expected and tuple(given[k].shape) != tuple(expected[k].shape)]
    problems.misshaped += [f"{label}{k} {tuple(given[k].shape)} (model needs {tuple(expected[k].shape)})" for k in bad]
    return set(given) == set(expected) and not bad


def _load_into(module: nn.Module, given: Mapping[str, torch.Tensor], label: str, problems: _Problems) -> None:
    if _check_into(module, given, label, problems):
        module.load_state_dict(dict(given), strict=True)


def _lora(adapter: str, given: Mapping[str, torch.Tensor], transformer: nn.Module, label: str,
          problems: _Problems) -> StreamLoRA:
    """Build the factors of one stream's LoRA, checking each pair against its base layer."""
    cfg = transformer.config
    required, optional = lora_target_paths(adapter, cfg.num_layers, cfg.num_single_layers)
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in given.items():
        match = _LORA_KEY.fullmatch(key)
        if match is None or match[1] not in required | optional:
            problems.extra.append(label + key)
            continue
        pairs.setdefault(match[1], {})[match[2]] = tensor
    for path in sorted(required - set(pairs)):
        problems.missing += [f"{label}transformer.{path}.lora_{s}.weight" for s in "AB"]
    factors = {}
    for path, pair in sorted(pairs.items()):
        missing = [f"{label}transformer.{path}.lora_{s}.weight" for s in "AB" if s not in pair]
        problems.missing += missing
        if missing:
            continue
        base, down, up = transformer.get_submodule(path), pair["A"], pair["B"]
        want_down, want_up = (down.shape[0], base.in_features), (base.out_features, down.shape[0])
        for side, have, want in (("A", down, want_down), ("B", up, want_up)):
            if tuple(have.shape) != want:
                problems.misshaped.append(f"{label}transformer.{path}.lora_{side}.weight {tuple(have.shape)} "
                                          f"(model needs {want})")
        if (tuple(down.shape), tuple(up.shape)) == (want_down, want_up):
            factors[path] = LoraFactors(down, up)
    return StreamLoRA(factors)


def _split_router(router: Mapping[str, torch.Tensor]) -> tuple[dict, dict, dict]:
    """router part -> (router-embedder extras, routing-map projections by processor, LoRA keys)."""
    embedder, processors, lora = {}, {}, {}
    for key, tensor in router.items():
        if key.startswith("router_embedder."):
            embedder[key[len("router_embedder."):]] = tensor
        elif _PROCESSOR in key and key.startswith("transformer."):
            name, param = key[len("transformer."):].split(_PROCESSOR, 1)
            processors.setdefault(name + _PROCESSOR[:-1], {})[param] = tensor
        else:
            lora[key] = tensor
    return embedder, processors, lora


def load_checkpoint(state: Mapping[str, Mapping[str, torch.Tensor]], transformer: nn.Module,
                    embedders: nn.Module, source: str) -> dict[str, StreamLoRA]:
    """Load all three parts strictly into the embedders' extras and the transformer's AnyStory
    attention processors; return the per-stream LoRAs {"ref": ..., "router": ...}."""
    problems = _Problems()
    ref_lora = _lora("ref", state["ref"], transformer, "ref/", problems)
    _load_into(embedders.subject, state["redux"], "redux/", problems)
    embedder, processors, lora = _split_router(state["router"])
    _load_into(embedders.router, embedder, "router/router_embedder.", problems)
    known = transformer.attn_processors
    for name, given in sorted(processors.items()):
        if name not in known:
            problems.extra += [f"router/transformer.{name}.{k}" for k in given]
    for name, processor in known.items():
        _load_into(processor, processors.get(name, {}), f"router/transformer.{name}.", problems)
    router_lora = _lora("router", lora, transformer, "router/", problems)
    problems.raise_if_any(source)
    return {"ref": ref_lora, "router": router_lora}
