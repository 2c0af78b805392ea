"""Text from the wire, made safe to show on a terminal.

Titles and bodies are stored as the crawler sent them, but a crafted headline must not be able
to rewrite the operator's terminal: escape sequences (ESC …), other C0/C1 control characters,
DEL, and the bidi overrides and isolates that reorder what is displayed are shown as visible
``\\x1b`` / ``\\u202e`` escapes instead. Tabs and newlines become spaces. (The dashboard escapes
HTML separately; JSON output is escaped by the JSON encoder.)
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_SPACE = re.compile("[\t\n\r]+")


def _visible(m: re.Match[str]) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def terminal_safe(text: object) -> object:
    """``text`` with control, escape and bidi characters made visible; non-strings as given."""
    if not isinstance(text, str):
        return text
    return _UNSAFE.sub(_visible, _SPACE.sub(" ", text))
