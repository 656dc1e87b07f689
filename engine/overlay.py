"""The one rule for combining settings: environment variables give a config (`from_env`),
and each flag the user gave replaces its field; flags left out (None, or False for on/off
switches) keep the environment's value."""
from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

Config = TypeVar("Config")


def overlaid(config: Config, **flags: Any) -> Config:
    """A copy of the dataclass `config` with the given flags (not None or False) in place."""
    given = {name: value for name, value in flags.items() if value is not None and value is not False}
    return dataclasses.replace(config, **given)
