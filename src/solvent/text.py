"""Names from input as text output prints them (the one home of that rule)."""

from __future__ import annotations

import json

__all__ = ["shown"]


def shown(text: object) -> str:
    """``text`` as it is when it is printable ASCII, else as a JSON string (escaped): an account
    id or a file name from input can then neither add a line, nor move the cursor, nor reverse
    the text of what a command prints. (``solvent_verify`` applies the same rule on its side.)"""
    value = str(text)
    return value if value.isascii() and value.isprintable() else json.dumps(value)
