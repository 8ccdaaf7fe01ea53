"""Masking personal data (脱敏) for display: ID numbers, phone numbers, names, free text.

Every function accepts None (→ '') or any other odd value and never raises: masking
runs while rendering pages and exports, where an exception would hide the whole table.
Values too short to keep anything safely are masked completely.

`mask_text` is the one masking of free text (evidence notes, return and review
comments, display names, audit before/after): the ID numbers and mainland mobile
numbers inside it are masked the way `mask_id` and `mask_phone` mask a cell, the rest is
kept. `mask_json` masks a parsed JSON value (an audit event's before/after) with it.
Pages (the `mask_text` Jinja filter), the API, CSV and `hrss audit show` all use these.
No role has a right to see free text unmasked (see hrss.auth.roles): it is masked for
everyone, the auditor too; only a privileged ledger export (audited) shows full values.

This module lives beside the cell maskers it reuses and imports nothing of the web or
the CLI, so every one of them can import it. It must not be imported at module level by
`hrss.audit.service`: `hrss.ledgers.identifiers` imports that (for the time zone).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from typing import Any

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


# --- free text ---------------------------------------------------------------------

# A number is a whole run of digits: never part of a longer run or of a decimal (38.03).
_LEFT = r"(?<![0-9])(?<![0-9]\.)"
_RIGHT = r"(?![0-9])(?!\.[0-9])"
_SEPARATORS = re.compile(r"[ \-]")
# A mainland mobile number 1[3-9]xxxxxxxxx, also written 138 1234 5678 or 138-1234-5678,
# and with +86 / 0086 / 86 before it. Tried first: its +86/0086 forms are 13-15 digits.
_PHONE = r"(?P<cc>(?:\+|00)?86[ \-]?)?(?P<phone>1[3-9][0-9][ \-]?[0-9]{4}[ \-]?[0-9]{4})"
# A resident ID number: 18 characters (the last may be X), also grouped 6-8-4 by a space
# or a hyphen; or an old 15-digit one. Any such run is masked, valid check digit or not.
_ID = r"(?P<id>[0-9]{6}[ \-]?[0-9]{8}[ \-]?[0-9]{3}[0-9Xx]|[0-9]{15})"
_PERSONAL = re.compile(f"{_LEFT}(?:{_PHONE}|{_ID}){_RIGHT}")
# Full-width digits, X, + and - (typed with a Chinese input method) read as ASCII, one
# character for one, so that a match's place in the probe is its place in the text.
_PROBE = str.maketrans({**{chr(0xFF10 + d): str(d) for d in range(10)},
                        "Ｘ": "X", "ｘ": "x", "＋": "+", "－": "-", "\u3000": " "})


def _masked_match(m: re.Match[str]) -> str:
    if m.group("phone") is not None:
        return (m.group("cc") or "") + mask_phone(_SEPARATORS.sub("", m.group("phone")))
    return mask_id(_SEPARATORS.sub("", m.group("id")))


def mask_text(value: object) -> str:
    """Free text with the ID numbers and mobile numbers in it masked, the rest kept.

    '身份证320382198001010019电话13812341234' → '身份证320382********0019电话138****1234'
    (full-width digits too). Only a whole run of digits is one: 138123412345 (12 digits),
    2025-12, 38.03 and a 19-digit card number are kept. None → ''.
    """
    text = _text(value)
    if not any(c.isdigit() for c in text):
        return text
    try:
        probe = text.translate(_PROBE)
        parts, at = [], 0
        for m in _PERSONAL.finditer(probe):
            parts += [text[at:m.start()], _masked_match(m)]
            at = m.end()
        return "".join(parts) + text[at:]
    except Exception:  # never raise while rendering: hide everything rather than show it
        return "*" * len(text)


# --- JSON values (audit before/after) -------------------------------------------------

ID_KEYS = ("id_number", "idnumber", "id_no", "idno", "id_card", "idcard", "identity", "sfz", "身份证", "证件号")
PHONE_KEYS = ("phone", "mobile", "telephone", "手机", "电话", "联系方式")
PERSON_NAME_KEYS = ("姓名", "person_name", "real_name", "名单")  # names of persons: always masked
BULK_NAME_KEYS = ("name", "names")  # masked when they hold a list (names in bulk)


def _key_kind(key: str) -> str | None:
    k = key.lower()
    if any(p in k for p in ID_KEYS):
        return "id"
    if any(p in k for p in PHONE_KEYS) or k == "tel" or k.endswith("_tel"):
        return "phone"
    if any(p in k for p in PERSON_NAME_KEYS):
        return "name"
    return None


_MASKERS: dict[str, Callable[[object], str]] = {"id": mask_id, "phone": mask_phone, "name": mask_name}


def mask_json(value: Any) -> Any:
    """A copy of a parsed JSON value with personal data masked.

    Keys that look like an ID number or a phone number have their values masked, wherever
    they are; so have keys naming persons (姓名, person_name …) and name keys holding a
    list (names in bulk). Every other string goes through `mask_text`, so an ID number or
    mobile number is masked wherever it stands in it; numbers and booleans are kept.
    """
    return _mask(value, None)


def _mask(value: Any, kind: str | None) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            k = _key_kind(str(key))
            if k is None and str(key).lower() in BULK_NAME_KEYS and isinstance(item, list):
                k = "name"
            out[key] = _mask(item, k or kind)
        return out
    if isinstance(value, list):
        return [_mask(item, kind) for item in value]
    if kind is not None and isinstance(value, str | int) and not isinstance(value, bool):
        return _MASKERS[kind](str(value))
    if isinstance(value, str):
        return mask_text(value)
    return value


def mask_json_text(text: str | None) -> Any:
    """A stored before/after (JSON text) parsed and masked; text that is not JSON is masked as text."""
    if text is None:
        return None
    try:
        return mask_json(json.loads(text))
    except ValueError:
        return mask_text(text)
