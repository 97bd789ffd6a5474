"""Names from input as text output prints them, and whole numbers as text input writes them (the
one home of each rule)."""

from __future__ import annotations

import json
import re

__all__ = ["ID_PATTERN", "shown", "whole_number"]

_WHOLE = re.compile(r"0|[1-9][0-9]{0,18}")

ID_PATTERN = r"^(?=.*[A-Za-z0-9])[A-Za-z0-9_.:@-]{1,64}$(?![\s\S])"
"""An id (account, order, trade, asset; a settlement source): 1–64 of these characters, at least one a letter or
digit (not ``.`` or ``..``, which a client's URL handling rewrites: such an order could not be
cancelled). ``(?![\\s\\S])`` is the end of the text in Python and in JSON Schema's ECMA-262
alike; ``$`` alone also matched before a final newline, so ``alice\n`` was an account id and
``z-1\n`` an order id (found by review)."""



def shown(text: object) -> str:
    """``text`` as it is when it is printable ASCII, else as a JSON string (escaped): an account
    id or a file name from input can then neither add a line, nor move the cursor, nor reverse
    the text of what a command prints. (``solvent_verify.shown`` is stricter on its summary lines: a
    name that is not one plain word is quoted, so that it cannot add words to an ``ok:`` line.)"""
    value = str(text)
    return value if value.isascii() and value.isprintable() else json.dumps(value)


def whole_number(text: str) -> int | None:
    """``text`` as a whole number (0 to 10^19 − 1) when it is written in ASCII digits without a
    leading zero, else ``None``: the one rule for an integer a user types, on the command line,
    in an environment variable or in a URL. ``int()`` also reads ``1_0``, ``+1``, `` 1 `` and
    other scripts' digits (``٣``), and ``str.isdigit()`` passes ``²``, which ``int()`` refuses."""
    return int(text) if _WHOLE.fullmatch(text) else None
