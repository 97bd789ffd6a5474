"""The Fiat–Shamir transcript: SHA-512 over length-prefixed, labelled messages.

Every public input of a statement is appended before the first challenge, so a challenge
depends on all of them: change a mark, a rate, a commitment, the checkpoint or the account,
and every challenge, hence the proof, changes. A challenge is appended back, so later
challenges depend on earlier ones.
"""

from __future__ import annotations

import hashlib

from solvent.proofs.zk.group import scalar_from_hash

__all__ = ["Transcript"]


class Transcript:
    def __init__(self, domain: str) -> None:
        self._hash = hashlib.sha512()
        self.append("domain", domain.encode())

    def append(self, label: str, data: bytes) -> None:
        name = label.encode()
        self._hash.update(len(name).to_bytes(8, "little") + name + len(data).to_bytes(8, "little") + data)

    def append_text(self, label: str, text: str) -> None:
        self.append(label, text.encode())

    def challenge(self, label: str) -> int:
        fork = self._hash.copy()
        fork.update(b"challenge:" + label.encode())
        value = scalar_from_hash(fork.digest())
        self.append(label, value.to_bytes(32, "little"))
        return value
