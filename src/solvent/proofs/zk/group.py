"""The prime-order group ristretto255 (RFC 9496) through libsodium, and Pedersen commitments.

Points are their 32-byte canonical encodings; scalars are Python integers taken modulo the
group order ``ORDER`` (ℓ). libsodium refuses a zero scalar and an identity result, which are
ordinary values here (a commitment to 0 with blinding 0, a sum that cancels), so this module
maps both to ``IDENTITY`` (the all-zero encoding). Every point read from outside goes through
``point``, which refuses an encoding that is not a canonical ristretto255 point.

``G`` is the standard base point and ``H = ristretto255_from_hash(SHA-512("solvent/pedersen/H/v1"))``
(``../shared/verifiability.md`` §3.3): a hash-derived point with no known discrete log relative
to ``G``, so ``Com(v, r) = v·G + r·H`` binds ``v`` (computationally) and hides it (perfectly).

The arithmetic on secrets (blinding factors, nonces) is Python big-int arithmetic, which is not
constant-time: run a prover where its timing cannot be observed. Verification handles no secret.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from functools import cache
from types import ModuleType

from solvent.errors import InvalidInput

__all__ = ["HEX_64", "IDENTITY", "MULTIPLICATIONS", "ORDER", "add", "base_mul", "commit", "generator_g",
           "generator_h", "mul", "neg", "point", "random_scalar", "scalar_from_hash", "sub"]

MULTIPLICATIONS = [0]
"""Scalar multiplications made so far (``bench_zk`` sizes its floor by them)."""
ORDER = 2**252 + 27742317777372353535851937790883648493
"""ℓ, the order of ristretto255."""
IDENTITY = bytes(32)
H_SEED = b"solvent/pedersen/H/v1"
HEX_64 = re.compile(r"[0-9a-f]{64}")
"""How a point or a scalar is written: exactly 64 lowercase hex digits (one spelling per value)."""


@cache
def _sodium() -> ModuleType:
    from solvent.extras import missing_extra

    try:
        import pysodium  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError as exc:  # the package, or the system libsodium it loads
        raise missing_extra(exc, "zk", "zero-knowledge proofs") from None
    except (OSError, ValueError) as exc:
        raise missing_extra(ImportError(str(exc)), "zk", "zero-knowledge proofs (the system libsodium)") from None
    module: ModuleType = pysodium
    return module


def _scalar(k: int) -> bytes:
    return (k % ORDER).to_bytes(32, "little")


def mul(k: int, p: bytes) -> bytes:
    """``k·p``."""
    k %= ORDER
    if k == 0 or p == IDENTITY:
        return IDENTITY
    MULTIPLICATIONS[0] += 1
    return bytes(_sodium().crypto_scalarmult_ristretto255(_scalar(k), p))


def base_mul(k: int) -> bytes:
    """``k·G``."""
    k %= ORDER
    if k == 0:
        return IDENTITY
    MULTIPLICATIONS[0] += 1
    return bytes(_sodium().crypto_scalarmult_ristretto255_base(_scalar(k)))


def add(p: bytes, q: bytes) -> bytes:
    if p == IDENTITY:
        return q
    if q == IDENTITY:
        return p
    return bytes(_sodium().crypto_core_ristretto255_add(p, q))


def sub(p: bytes, q: bytes) -> bytes:
    if q == IDENTITY:
        return p
    return bytes(_sodium().crypto_core_ristretto255_sub(p, q))


def neg(p: bytes) -> bytes:
    return sub(IDENTITY, p)


@cache
def generator_g() -> bytes:
    return base_mul(1)


@cache
def generator_h() -> bytes:
    return bytes(_sodium().crypto_core_ristretto255_from_hash(hashlib.sha512(H_SEED).digest()))


def commit(value: int, blinding: int) -> bytes:
    """``Com(v, r) = v·G + r·H`` (a negative ``v`` is taken modulo ℓ)."""
    return add(base_mul(value), mul(blinding, generator_h()))


def point(text: object, where: str) -> bytes:
    """A point from its hex encoding, refused unless it is a canonical ristretto255 encoding."""
    if not isinstance(text, str) or not HEX_64.fullmatch(text):
        raise InvalidInput(f"{where}: a point is 64 lowercase hex digits")
    raw = bytes.fromhex(text)
    if raw != IDENTITY and not _sodium().crypto_core_ristretto255_is_valid_point(raw):
        raise InvalidInput(f"{where}: not a ristretto255 point")
    return raw


def random_scalar() -> int:
    return secrets.randbelow(ORDER - 1) + 1


def scalar_from_hash(digest: bytes) -> int:
    """A scalar from a 64-byte hash, reduced modulo ℓ (bias below 2^-250)."""
    return int.from_bytes(digest, "little") % ORDER
