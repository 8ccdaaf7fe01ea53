"""Masking personal data (脱敏) for display: ID numbers, phone numbers, names.

Every function accepts None (→ '') or any other odd value and never raises: masking
runs while rendering pages and exports, where an exception would hide the whole table.
Values too short to keep anything safely are masked completely.
"""

from __future__ import annotations

import unicodedata

from hrss.ledgers.identifiers import normalise


def _text(value: object) -> str:
    """The value as text; '' for None or a value that cannot be printed."""
    if value is None:
        return ""
    try:
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return value if isinstance(value, str) else str(value)
    except Exception:
        return ""


def _compact(text: str) -> str:
    """NFKC without whitespace, case kept (for names)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def mask_id(value: object) -> str:
    """320382198001010019 → 320382********0019 (region code and last 4 kept).

    Other lengths keep the first 2 and last 2 characters; 4 or fewer are all masked.
    """
    text = normalise(_text(value))
    if len(text) == 18:
        return text[:6] + "*" * 8 + text[-4:]
    if len(text) <= 4:
        return "*" * len(text)
    return text[:2] + "*" * (len(text) - 4) + text[-2:]


def mask_phone(value: object) -> str:
    """13812341234 → 138****1234 (first 3 and last 4 kept); 7 or fewer are all masked."""
    text = normalise(_text(value))
    if len(text) <= 7:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


def mask_name(value: object) -> str:
    """张三丰 → 张** (the first character kept); a one-character name is all masked."""
    text = _compact(_text(value))
    if len(text) <= 1:
        return "*" * len(text)
    return text[0] + "*" * (len(text) - 1)
