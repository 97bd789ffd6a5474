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
import re

__all__ = ["VerifyError", "canonical_number", "shown"]

_CANONICAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?")


def canonical_number(text: str) -> bool:
    """Whether ``text`` is a number spelt as a certificate's signer writes every number it
    computes: plain notation, a sign only when negative, no leading zeros and no trailing zeros
    after the point (``"40.78"``, ``"0"``, ``"-0.5"``; not ``"4.078E+1"``, ``"40.780"``,
    ``"+40.78"``, ``" 40.78"``, ``"4_0.78"`` or ``"-0"``). A certificate is the signer's bytes:
    another spelling of the same number is not what it wrote."""
    return _CANONICAL.fullmatch(text) is not None and text != "-0"


_PLAIN = re.compile(r"[A-Za-z0-9_.:@/+=-]+")
"""A name printed as it is: one word of the characters ids, hashes and origins are made of."""


def shown(text: object) -> str:
    """A name from a checked file as the summary line prints it: as it is when it is one plain
    word (``_PLAIN``), else as a JSON string (quoted, escaped), so no id can add a line, move the
    cursor, reverse the text or, with spaces, add words to what the verifier says (found by a
    new-user pass: an account id reading "bob included in …; the root the journal … publishes at
    record 7 #" made an ``ok:`` line claim a check that never ran)."""
    value = str(text)
    return value if _PLAIN.fullmatch(value) else json.dumps(value)


class VerifyError(Exception):
    """A check failed; ``str()`` is the one-line reason."""
