"""solvent-verify: check what a venue running solvent publishes, without solvent.

Signed checkpoints (C2SP notes over RFC 9162 tree heads), record inclusion and consistency
proofs, margin-call and liquidation certificates, and proof-of-liabilities inclusion proofs.
It depends on the Python standard library and ``cryptography`` (Ed25519) only, and was written
from ``docs/verify.md`` and the project's verifiability specification, not from the engine: a
test fails if it imports anything else.
"""

from __future__ import annotations

__all__ = ["VerifyError"]


class VerifyError(Exception):
    """A check failed; ``str()`` is the one-line reason."""
