"""Binding a certificate's rules to the venue profile file the journal ran on
(``solvent-verify certificate FILE --profile PROFILE.json``, ``docs/verify.md``).

The journal's genesis record, included under the signed checkpoint, names its bundled profile
with a digest: SHA-256 over the profile file's length (8 bytes, big-endian) and bytes, then the
same for the exchange-info file it names, if any. Given the file, this module checks that digest,
the profile's name, the liquidation trigger and MM basis the certificate states, every position's kind (inverse or
not) and, for a profile without an exchange-info file, its contract size, and that every
position's MM table is the instrument's in the profile: for the ``tiered`` margin model the floors and rates
as written, each maintenance amount by the continuity recursion (``a_0 = 0``, ``a_i = a_(i-1) +
floor_i × (rate_i − rate_(i-1))``); for ``dydx`` one tier at ``imf_ppm × mmf_ppm / 10¹²``; for
``drift`` without a size premium (``imf_factor`` 0) one tier at ``maintenance_ratio``. A table
that depends on the position's size (Drift with a size premium) is bound by the digest alone,
and the summary says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from solvent_verify import VerifyError

__all__ = ["bind_profile", "instrument_spec", "profile_digest"]


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


def instrument_spec(profile: dict[str, Any], symbol: object) -> dict[str, Any] | None:
    """``symbol``'s entry in the profile file with the file's ``defaults`` under it (as solvent
    reads an instrument), ``None`` when the file has no such instrument."""
    instruments = profile.get("instruments")
    spec = instruments.get(symbol) if isinstance(instruments, dict) and isinstance(symbol, str) else None
    if not isinstance(spec, dict):
        return None
    defaults = profile.get("defaults", {})
    return {**(defaults if isinstance(defaults, dict) else {}), **spec}


def _spec(profile: dict[str, Any], symbol: str) -> dict[str, Any]:
    merged = instrument_spec(profile, symbol)
    if merged is None:
        raise VerifyError(f"{symbol} is not an instrument of the profile")
    return merged


def _table(profile: dict[str, Any], symbol: str) -> list[tuple[Decimal, Decimal, Decimal]]:
    """``(floor, rate, amount)`` of ``symbol``'s tiers in a ``tiered`` profile, floors ascending."""
    ref = _spec(profile, symbol).get("tiers")
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


def _flat_table(profile: dict[str, Any], symbol: str) -> list[tuple[Decimal, Decimal, Decimal]] | None:
    """The one-tier MM table of a ``dydx`` instrument (``imf_ppm × mmf_ppm / 10¹²``) or of a
    ``drift`` one without a size premium (``maintenance_ratio`` when ``imf_factor`` is 0); ``None``
    where the table depends on the position's size (not re-derived here)."""
    merged = _spec(profile, symbol)
    model, where = profile.get("margin_model"), f"{symbol} margin"
    if model == "dydx":
        imf, mmf = merged.get("imf_ppm"), merged.get("mmf_ppm")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (imf, mmf)):
            raise VerifyError(f"{symbol}: the profile's imf_ppm and mmf_ppm are not positive integers")
        assert isinstance(imf, int) and isinstance(mmf, int)
        return [(Decimal(0), Decimal(imf) * Decimal(mmf) / Decimal(10**12), Decimal(0))]
    if model == "drift" and _decimal(merged.get("imf_factor", "0"), where) == 0:
        return [(Decimal(0), _decimal(merged.get("maintenance_ratio"), where), Decimal(0))]
    return None


_INVERSE_KINDS = ("inverse_perpetual", "inverse_future")


def _kind(profile: dict[str, Any], symbol: str, position: dict[str, Any]) -> None:
    """The position is valued as its instrument's kind says (``inverse``), and, for a profile that
    holds its instruments itself (no exchange-info file), with its contract size."""
    merged = _spec(profile, symbol)
    if position.get("inverse") is not (merged.get("kind") in _INVERSE_KINDS):
        raise VerifyError(f"{symbol}: the certificate's inverse {position.get('inverse')!r} is not the profile's "
                          f"instrument kind {merged.get('kind')!r}")
    if profile.get("exchange_info") is None and _decimal(merged.get("contract_size", "1"), f"{symbol} contract size") \
            != _decimal(position.get("contract_size"), f"{symbol} contract size", "the certificate's"):
        raise VerifyError(f"{symbol}: the certificate's contract size is not the profile's")


def bind_profile(cert: dict[str, Any], genesis_profile: object, data: bytes, profile: object,
                 read_beside: Callable[[str], bytes]) -> tuple[str, bool]:
    """Check the profile file (its bytes ``data``, parsed as ``profile``; ``read_beside`` reads a
    file next to it) against the genesis record's profile entry and the certificate's rules and
    tiers (module docstring); what was bound, for the summary line, and whether every position's
    MM table was re-derived from the file. ``VerifyError`` if not."""
    if not isinstance(genesis_profile, dict) or not isinstance(genesis_profile.get("name"), str):
        raise VerifyError("the genesis record names no profile")
    name, recorded = genesis_profile["name"], genesis_profile.get("sha256")
    if isinstance(genesis_profile.get("overlay"), dict):
        raise VerifyError(f"the journal runs a dated overlay of {name} (solvent venues update), not the bundled "
                          "file: --profile binds bundled profile files only")
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
    if model not in ("tiered", "dydx", "drift"):
        return f"profile {name} bound by digest, trigger and basis ({model} tables not re-derived)", False
    for position in cert.get("positions", []):
        symbol = position.get("symbol") if isinstance(position, dict) else None
        if not isinstance(symbol, str):
            raise VerifyError("malformed certificate: positions")
        _kind(profile, symbol, position)
        table = _table(profile, symbol) if model == "tiered" else _flat_table(profile, symbol)
        if table is None:
            return (f"profile {name} bound by digest, trigger and basis ({symbol}: its {model} table depends on "
                    "the size and is not re-derived)", False)
        stated = position.get("tiers")
        if not isinstance(stated, list) or not all(isinstance(t, dict) for t in stated):
            raise VerifyError(f"malformed certificate: {symbol} tiers")
        cert_tier = f"{symbol} tier"
        mine = [(_decimal(t.get("floor"), cert_tier, "the certificate's"), _decimal(t.get("mmr"), cert_tier,
                 "the certificate's"), _decimal(t.get("amount"), cert_tier, "the certificate's"))
                for t in stated]
        if mine != table:
            raise VerifyError(f"{symbol}: the certificate's tier table is not the profile's")
    return f"profile {name} bound (digest, trigger, basis, tier tables)", True
