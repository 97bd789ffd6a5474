"""solvent-verify: check what a venue running solvent publishes, without solvent.

Signed checkpoints (C2SP notes over RFC 9162 tree heads), record inclusion and consistency
proofs, margin-call and liquidation certificates, account extracts, and proof-of-liabilities
inclusion proofs.
It depends on the Python standard library and ``cryptography`` (Ed25519) only, and was written
from ``docs/verify.md`` and the project's verifiability specification, not from the engine: a
test fails if it imports anything else.
"""

from __future__ import annotations

import json

__all__ = ["VerifyError", "shown"]


def shown(text: object) -> str:
    """A name from a checked file as the summary line prints it: as it is when it is printable
    ASCII, else as a JSON string (escaped), so no id can add a line, move the cursor or reverse
    the text of what the verifier says."""
    value = str(text)
    return value if value.isascii() and value.isprintable() else json.dumps(value)


class VerifyError(Exception):
    """A check failed; ``str()`` is the one-line reason."""
