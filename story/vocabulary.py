"""Names and defaults that the story layer, the app and the exporters share (one home each):
render statuses, the pending ones, balloon kinds, and the default render settings."""
from __future__ import annotations

from typing import Any

RENDER_STATUSES = ("queued", "running", "done", "failed", "cancelled")
PENDING = ("queued", "running")
"""Statuses of a render job that has not finished."""
BALLOON_KINDS = ("speech", "thought", "shout", "whisper")
DEFAULT_RENDER_SETTINGS: dict[str, Any] = {
    "width": 768, "height": 768, "steps": 25, "guidance": 3.5, "routing_maps": False, "params": {},
}
"""Render settings of a panel whose project and overrides set none (story/render_request.py)."""
