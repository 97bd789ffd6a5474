"""A proof of knowledge of ``x`` with ``P0 = x·H`` or ``P1 = x·H``, not saying which
(Cramer–Damgård–Schoenmakers OR composition of two Schnorr proofs on the base ``H``).

A commitment whose value is 0 is ``r·H``, so this proves that one of two commitments opens to
0: a bit (``C`` or ``C − G``), or an absolute value (``C_abs − C_q`` or ``C_abs + C_q``). The
proof is ``(e0, e1, z0, z1)``: the verifier rebuilds ``A_i = z_i·H − e_i·P_i`` and checks
``e0 + e1`` against the transcript's challenge over ``P0, P1, A0, A1``.
"""

from __future__ import annotations

from dataclasses import dataclass

from solvent.proofs.zk.group import ORDER, generator_h, mul, random_scalar, sub
from solvent.proofs.zk.transcript import Transcript

__all__ = ["OrProof", "prove_or", "verify_or"]


@dataclass(frozen=True, slots=True)
class OrProof:
    e0: int
    e1: int
    z0: int
    z1: int


def _challenge(t: Transcript, label: str, p0: bytes, p1: bytes, a0: bytes, a1: bytes) -> int:
    for name, value in (("p0", p0), ("p1", p1), ("a0", a0), ("a1", a1)):
        t.append(f"{label}/{name}", value)
    return t.challenge(f"{label}/e")


def prove_or(t: Transcript, label: str, p0: bytes, p1: bytes, which: int, x: int) -> OrProof:
    """Prove knowledge of ``x`` with ``(p0, p1)[which] = x·H``."""
    h = generator_h()
    k, e_fake, z_fake = random_scalar(), random_scalar(), random_scalar()
    fake = p1 if which == 0 else p0
    a_real, a_fake = mul(k, h), sub(mul(z_fake, h), mul(e_fake, fake))
    a0, a1 = (a_real, a_fake) if which == 0 else (a_fake, a_real)
    e = _challenge(t, label, p0, p1, a0, a1)
    e_real = (e - e_fake) % ORDER
    z_real = (k + e_real * x) % ORDER
    if which == 0:
        return OrProof(e_real, e_fake, z_real, z_fake)
    return OrProof(e_fake, e_real, z_fake, z_real)


def verify_or(t: Transcript, label: str, p0: bytes, p1: bytes, proof: OrProof) -> bool:
    h = generator_h()
    if not all(0 <= v < ORDER for v in (proof.e0, proof.e1, proof.z0, proof.z1)):
        return False
    a0 = sub(mul(proof.z0, h), mul(proof.e0, p0))
    a1 = sub(mul(proof.z1, h), mul(proof.e1, p1))
    return (proof.e0 + proof.e1) % ORDER == _challenge(t, label, p0, p1, a0, a1)
