"""The JSON files solvent reads, as msgspec types: the one home of their field lists.

Each file is decoded in two steps. Its shape (which fields, which are required, objects,
lists, enum values, no unknown field) is checked here, by ``msgspec.convert`` into the types
below; then the readers check the values (numbers exact and in range, prices on the tick,
leverage within the tier) and build solvent's objects. The published JSON Schemas
(``solvent schema NAME``, ``schemas/NAME.schema.json``) are generated from the same types,
so the files, the readers and the schemas can't drift apart.

Numbers are left to the readers (``units.to_decimal``): in the schema they are a decimal
string or an integer, never a JSON float. The readers also accept surrounding spaces and
``_`` separators in a decimal string; the schema describes the canonical form.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import msgspec

from solvent.errors import InvalidInput
from solvent.model import MarginMode, PositionMode, PositionSide, Side
from solvent.units import PLAIN_NUMBER_PATTERN

__all__ = ["SCHEMAS", "AccountFile", "HaircutSpec", "Number", "OptionalNumber", "PositionEntry", "json_schema",
           "one_of", "read_as"]

_NUMBER_SCHEMA = {
    "anyOf": [{"type": "string", "pattern": f"^{PLAIN_NUMBER_PATTERN}$"}, {"type": "integer"}],
    "description": "An exact number: a decimal string in ASCII digits, or an integer; never a JSON float.",
}
Number = Annotated[Any, msgspec.Meta(extra_json_schema=_NUMBER_SCHEMA)]
"""A number field: its value is checked by the reader (``units.to_decimal``), not here."""
OptionalNumber = Annotated[Any, msgspec.Meta(extra_json_schema={
    "anyOf": [*_NUMBER_SCHEMA["anyOf"], {"type": "null"}], "description": _NUMBER_SCHEMA["description"]})]
"""A number field that may be left out or ``null``."""


def one_of(kind: type[StrEnum]) -> msgspec.Meta:
    """A string field holding one of ``kind``'s values: the schema lists them, the reader
    checks (and names them when the value is not one)."""
    return msgspec.Meta(extra_json_schema={"enum": [m.value for m in kind]})


SideName = Annotated[str, one_of(Side)]
MarginModeName = Annotated[str, one_of(MarginMode)]
PositionSideName = Annotated[str, one_of(PositionSide)]
PositionModeName = Annotated[str, one_of(PositionMode)]


class PositionEntry(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One position of an account file (``docs/account-file.md``)."""

    symbol: str
    side: SideName
    qty: Number
    entry: Number
    mark: OptionalNumber = None
    leverage: OptionalNumber = None
    isolated_margin: OptionalNumber = None
    margin_mode: MarginModeName | None = None
    """Overrides the file's ``mode`` for this position."""
    mmr: OptionalNumber = None
    maint_amount: OptionalNumber = None
    position_side: PositionSideName = PositionSide.BOTH.value


class HaircutSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A collateral asset's haircut, with size bands: ``tiers`` are ``[from_qty, haircut]``."""

    haircut: Number = "0"
    tiers: list[tuple[Number, Number]] = msgspec.field(default_factory=list)


_WALLET_SCHEMA = {"anyOf": [_NUMBER_SCHEMA, {"type": "object", "additionalProperties": _NUMBER_SCHEMA}],
                  "description": "The cross wallet in the settlement asset, or {asset: balance} (a debt negative)."}
_HAIRCUT_SCHEMA = {"anyOf": [_NUMBER_SCHEMA, {"$ref": "#/$defs/HaircutSpec"}]}


class AccountFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An account file (``solvent account --file``; ``solvent.parse_portfolio``)."""

    name: str | None = None
    mode: MarginModeName = MarginMode.CROSS.value
    position_mode: PositionModeName | None = None
    wallet: Annotated[Any, msgspec.Meta(extra_json_schema=_WALLET_SCHEMA)] = "0"
    positions: list[PositionEntry] = msgspec.field(default_factory=list)
    prices: dict[str, Number] | None = None
    haircuts: dict[str, Annotated[Any, msgspec.Meta(extra_json_schema=_HAIRCUT_SCHEMA)]] | None = None
    settle: str | None = None

T = TypeVar("T")


def read_as(raw: object, kind: Any, what: str) -> Any:
    """``raw`` (decoded JSON) as ``kind``; a file of the wrong shape is refused with one line
    naming the place, e.g. ``account file positions[0]: missing field 'symbol'``."""
    try:
        return msgspec.convert(raw, kind, strict=True)
    except msgspec.ValidationError as exc:
        message, _, at = str(exc).partition(" - at `$")
        place = at.rstrip("`").lstrip(".")
        raise InvalidInput(f"{what}{' ' + place if place else ''}: {_plain(message)}") from None


def _plain(message: str) -> str:
    """msgspec's message in solvent's words (field names quoted as elsewhere)."""
    for old, new in (("Object missing required field `", "missing field '"),
                     ("Object contains unknown field `", "unknown field '"),
                     ("Invalid enum value ", "not one of the allowed values: ")):
        if message.startswith(old):
            message = new + message[len(old):]
    return message.replace("`", "'")


def json_schema(name: str) -> dict[str, Any]:
    """The published JSON Schema (2020-12) ``name``, generated by msgspec from its types."""
    kind, *referenced = SCHEMAS[name]()
    (top, *_), defs = msgspec.json.schema_components([kind, *referenced], ref_template="#/$defs/{name}")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **top, "$defs": defs}


def _venue_types() -> tuple[type[Any], ...]:
    from solvent.risk.profile_format import PROFILE_TYPES  # the profile's types build on this module

    return PROFILE_TYPES


SCHEMAS: Mapping[str, Callable[[], tuple[type[Any], ...]]] = {
    "account": lambda: (AccountFile, HaircutSpec),
    "venue": _venue_types,
}
"""The published schemas by name (``solvent schema NAME``): the file's type, then the types
its ``Any`` fields refer to by ``$ref``."""
