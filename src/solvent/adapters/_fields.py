"""Reading exchange payloads: typed field access that names the field path on refusal.

Exchange JSON carries numbers as strings (``"0.004"``) or as JSON numbers (``0.004``).
Read the document with ``loads_payload``: a JSON number becomes the ``Decimal`` of its
text, never a binary float. A Python ``float``, a boolean, NaN or an infinity in a number
field is refused with ``InvalidInput`` naming the path, e.g.
``binance positionRisk[2].entryPrice must be a decimal string or integer, not float``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from solvent.errors import InvalidInput
from solvent.jsonstrict import loads_strict
from solvent.model import Instrument, InstrumentKind, MarginMode
from solvent.portfolio import position_from_spec
from solvent.risk.venues import VenueProfile
from solvent.units import plain, to_decimal

__all__ = [
    "account_file",
    "as_list",
    "as_object",
    "field",
    "is_perpetual",
    "loads_payload",
    "number",
    "optional_number",
    "read_positions",
    "settle_wallet",
    "text",
]

_MISSING = object()


def loads_payload(data: bytes | str, what: str = "exchange payload") -> Any:
    """Parse an exchange response strictly, JSON numbers as exact ``Decimal`` values.

    >>> loads_payload('{"cum": 0.0, "maintMarginRatio": 0.1, "bracket": 1}')
    {'cum': Decimal('0.0'), 'maintMarginRatio': Decimal('0.1'), 'bracket': 1}
    """
    return loads_strict(data, what, exact_floats=True)


def as_object(raw: object, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where}: expected a JSON object, got {_kind(raw)}")
    return raw


def as_list(raw: object, where: str) -> list[Any]:
    if not isinstance(raw, list):
        raise InvalidInput(f"{where}: expected a JSON array, got {_kind(raw)}")
    return raw


def field(raw: Mapping[str, Any], key: str, where: str) -> Any:
    value = raw.get(key, _MISSING)
    if value is _MISSING or value is None:
        raise InvalidInput(f"{where}.{key}: missing field")
    return value


def text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = field(raw, key, where)
    if not isinstance(value, str):
        raise InvalidInput(f"{where}.{key}: expected a string, got {_kind(value)}")
    return value


def number(raw: Mapping[str, Any], key: str, where: str) -> Decimal:
    """A required exact number: a decimal string, an integer or a ``Decimal`` (never a float)."""
    return to_decimal(field(raw, key, where), f"{where}.{key}")


def optional_number(raw: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    """A number that may be absent, ``null`` or ``""`` (how exchanges leave a field empty)."""
    value = raw.get(key)
    if value is None or value == "":
        return None
    return to_decimal(value, f"{where}.{key}")


def settle_wallet(
    profile: VenueProfile, used: Iterable[Instrument], balances: Mapping[str, Decimal], where: str
) -> str:
    """The cross wallet, as a decimal string, in the one settlement asset of the positions.

    With no positions the venue's settlement asset is used if the venue has one, or the one
    asset among the venue's settlement assets that the balances hold. Other assets are not
    counted: solvent would need their index prices (write a multi-asset account file).
    """
    settles = sorted({i.settle for i in used})
    if not settles:
        candidates = sorted({i.settle for i in profile.instruments.values()})
        held = [a for a in candidates if balances.get(a)]
        settles = candidates if len(candidates) == 1 else held
        if not settles:
            return "0"
    if len(settles) > 1:
        raise InvalidInput(f"{where}: positions or balances in several settlement assets ({', '.join(settles)});"
                           " solvent's account has one cross wallet: split the account per asset")
    if used and settles[0] not in balances:
        # open positions with no balance of their asset: a wallet of 0 would show a bankrupt account
        raise InvalidInput(f"{where}: no {settles[0]} balance, the asset the positions settle in")
    return plain(balances.get(settles[0], Decimal(0)))


def is_perpetual(instrument: Instrument) -> bool:
    return instrument.kind in (InstrumentKind.LINEAR_PERPETUAL, InstrumentKind.INVERSE_PERPETUAL)


def _kind(raw: object) -> str:
    return "null" if raw is None else type(raw).__name__


@dataclasses.dataclass(slots=True)
class Positions:
    """An exchange's position rows read into account-file entries."""

    specs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    used: list[Instrument] = dataclasses.field(default_factory=list)
    isolated: dict[str, Decimal] = dataclasses.field(default_factory=dict)
    """Isolated margin per settlement asset: the cross wallet is the balance less it."""


def read_positions(rows: Iterable[tuple[str, object]], profile: VenueProfile,
                   parse: Callable[[Mapping[str, Any], str], dict[str, Any] | None]) -> Positions:
    """Each ``(where, row)`` through ``parse`` (an account-file position, or ``None`` for a
    zero-size row), with the instruments used and the isolated margin per asset. Each position
    is checked here as the account file's reader will check it, so a refusal names the row of
    the exchange's payload (``binance positionRisk[1].leverage``), not its place among the
    positions kept (zero-size rows skipped, it named ``positions[0]``; found by a new-user pass)."""
    out = Positions()
    for where, raw in rows:
        spec = parse(as_object(raw, where), where)
        if spec is None:
            continue
        position_from_spec(spec, profile, MarginMode.CROSS, where)
        instrument = profile.instrument(spec["symbol"])
        out.used.append(instrument)
        if spec["margin_mode"] == "isolated":
            out.isolated[instrument.settle] = out.isolated.get(instrument.settle, Decimal(0)) + Decimal(
                spec["isolated_margin"])
        out.specs.append(spec)
    return out


def account_file(profile: VenueProfile, positions: Positions, balances: Mapping[str, Decimal],
                 where: str) -> dict[str, Any]:
    """The account file ``parse_portfolio`` reads: cross by default, hedge mode when a leg has
    a side, the cross wallet in the positions' settlement asset (``settle_wallet``)."""
    hedge = any(p["position_side"] != "both" for p in positions.specs)
    return {
        "mode": "cross",
        "position_mode": "hedge" if hedge else "one_way",
        "wallet": settle_wallet(profile, positions.used, balances, where),
        "positions": positions.specs,
    }
