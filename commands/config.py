"""The engine and segmenter settings of a command: the environment's (`ANYSTORY_*`) with
the flags the user gave in place (engine/overlay.py)."""
from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Optional

from engine.overlay import overlaid
from engine.registry import EngineConfig
from engine.segment import SegmenterConfig


def engine_config(args: argparse.Namespace) -> EngineConfig:
    """The environment's engine settings overridden by the flags given (a flag per field)."""
    return overlaid(EngineConfig.from_env(), **{f.name: getattr(args, f.name, None) for f in fields(EngineConfig)})


def segmenter_config(args: argparse.Namespace, device: Optional[str] = None) -> SegmenterConfig:
    """The environment's segmenter settings overridden by the flags given."""
    return overlaid(SegmenterConfig.from_env(), backend=getattr(args, "segmenter", None),
                    checkpoint=getattr(args, "sam_checkpoint", None), model_type=getattr(args, "sam_model", None),
                    device=device)
