"""Whole numbers typed by users (ids, seeds, panel and shot numbers): ASCII digits only, and
within SQLite's INTEGER, so a number never reaches the database it cannot hold."""
from __future__ import annotations

from typing import Optional

MAX_INTEGER = 2**63 - 1
"""The largest value an SQLite INTEGER column holds."""


def fits(value: int) -> bool:
    """True when `value` (an int, not a bool) is a whole number >= 0 SQLite can store."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INTEGER


def whole_number(text: str) -> Optional[int]:
    """The number `text` spells in ASCII digits (surrounding spaces allowed) when it fits,
    else None ("²", "٣", "-1", "1e3" and 2**63 are not whole numbers here)."""
    digits = text.strip()
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        return None
    value = int(digits)
    return value if value <= MAX_INTEGER else None
