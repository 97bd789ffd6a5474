"""Binding a certificate's rules to the venue profile file the journal ran on
(``solvent-verify certificate FILE --profile PROFILE.json``, ``docs/verify.md``).

The journal's genesis record, included under the signed checkpoint, names its bundled profile
with a digest: SHA-256 over the profile file's length (8 bytes, big-endian) and bytes, then the
same for the exchange-info file it names, if any. Given the file, this module checks that digest,
the profile's name, the liquidation trigger and MM basis the certificate states, and, for the
``tiered`` margin model, that every position's tier table is the instrument's table in the
profile: the floors and rates as written, each maintenance amount by the continuity recursion
(``a_0 = 0``, ``a_i = a_(i-1) + floor_i × (rate_i − rate_(i-1))``). Other margin models are
bound by the digest alone (their tables depend on the position's size or open interest; this
verifier does not re-derive them) and the summary says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from solvent_verify import VerifyError

__all__ = ["bind_profile", "profile_digest"]


def profile_digest(parts: list[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _decimal(raw: object, where: str, whose: str = "the profile's") -> Decimal:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ArithmeticError, ValueError):
        raise VerifyError(f"{whose} {where} is not a number") from None
    if not value.is_finite():
        raise VerifyError(f"{whose} {where} is not a number")
    return value


def _table(profile: dict[str, Any], symbol: str) -> list[tuple[Decimal, Decimal, Decimal]]:
    """``(floor, rate, amount)`` of ``symbol``'s tiers in a ``tiered`` profile, floors ascending."""
    instruments = profile.get("instruments")
    spec = instruments.get(symbol) if isinstance(instruments, dict) else None
    if not isinstance(spec, dict):
        raise VerifyError(f"{symbol} is not an instrument of the profile")
    defaults = profile.get("defaults", {})
    ref = {**(defaults if isinstance(defaults, dict) else {}), **spec}.get("tiers")
    tables = profile.get("tier_tables", {})
    rows = tables.get(ref) if isinstance(ref, str) and isinstance(tables, dict) else ref
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise VerifyError(f"{symbol}: the profile has no tier table for it")
    where = f"{symbol} tier table"
    brackets = sorted((_decimal(r.get("notional_floor"), where), _decimal(r.get("maint_margin_ratio"), where))
                      for r in rows)
    out: list[tuple[Decimal, Decimal, Decimal]] = []
    for floor, rate in brackets:
        amount = Decimal(0) if not out else out[-1][2] + floor * (rate - out[-1][1])
        out.append((floor, rate, amount))
    return out


def bind_profile(cert: dict[str, Any], genesis_profile: object, data: bytes, profile: object,
                 read_beside: Callable[[str], bytes]) -> str:
    """Check the profile file (its bytes ``data``, parsed as ``profile``; ``read_beside`` reads a
    file next to it) against the genesis record's profile entry and the certificate's rules and
    tiers (module docstring); what was bound, for the summary line. ``VerifyError`` if not."""
    if not isinstance(genesis_profile, dict) or not isinstance(genesis_profile.get("name"), str):
        raise VerifyError("the genesis record names no profile")
    name, recorded = genesis_profile["name"], genesis_profile.get("sha256")
    if not isinstance(recorded, str):
        raise VerifyError(f"the journal's genesis record names {name} without its digest (a journal written before "
                          "solvent recorded it, or a profile that is not bundled): --profile cannot be bound")
    if not isinstance(profile, dict):
        raise VerifyError("the profile file is not a venue profile (not a JSON object)")
    parts = [data]
    info = profile.get("exchange_info")
    if info is not None:
        if not isinstance(info, str) or not info or "/" in info or "\\" in info or "\0" in info or info.startswith("."):
            raise VerifyError("the profile's exchange_info must be a file name next to it")
        parts.append(read_beside(info))
    if profile_digest(parts) != recorded:
        raise VerifyError(f"the profile file is not the one the journal ran on (its SHA-256 is not the genesis "
                          f"record's {recorded[:16]}…)")
    if profile.get("name") != name:
        raise VerifyError(f"the profile file names {profile.get('name')!r}, the journal {name!r}")
    rules = cert.get("rules", {})
    for field in ("liquidation_trigger", "mm_basis"):
        if rules.get(field) != profile.get(field):
            raise VerifyError(f"the certificate's {field} {rules.get(field)!r} is not the profile's "
                              f"{profile.get(field)!r}")
    model = profile.get("margin_model")
    if model != "tiered":
        return f"profile {name} bound by digest, trigger and basis ({model} tables not re-derived)"
    for position in cert.get("positions", []):
        symbol = position.get("symbol") if isinstance(position, dict) else None
        if not isinstance(symbol, str):
            raise VerifyError("malformed certificate: positions")
        stated = position.get("tiers")
        if not isinstance(stated, list) or not all(isinstance(t, dict) for t in stated):
            raise VerifyError(f"malformed certificate: {symbol} tiers")
        cert_tier = f"{symbol} tier"
        mine = [(_decimal(t.get("floor"), cert_tier, "the certificate's"), _decimal(t.get("mmr"), cert_tier,
                 "the certificate's"), _decimal(t.get("amount"), cert_tier, "the certificate's"))
                for t in stated]
        if mine != _table(profile, symbol):
            raise VerifyError(f"{symbol}: the certificate's tier table is not the profile's")
    return f"profile {name} bound (digest, trigger, basis, tier tables)"
