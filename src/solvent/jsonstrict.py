"""Strict JSON reading: the one home for how solvent parses JSON it did not write.

Every JSON document a user, a client or a file hands to solvent goes through
``loads_strict``: account files, tier files, venue profiles, HTTP bodies, journal records.
It refuses what a lenient parser would silently misread:

* **duplicate keys** (``{"side": "long", "side": "short"}`` must not become a short);
* **deep nesting** beyond ``MAX_DEPTH`` (a stack bomb, not data);
* text that is not UTF-8 (binary files, UTF-16, images), or has a byte-order mark;
* ``NaN``, ``Infinity`` and ``-Infinity``;
* floats, unless the caller allows them (exact numbers are decimal strings or integers),
  or asks for them as exact ``Decimal`` values (``exact_floats``: exchange payloads);
* integers longer than ``MAX_INT_DIGITS`` digits.

Errors are ``JsonRejected`` (an ``InvalidInput``) with a one-line message that names ``what`` was being read.

>>> loads_strict(b'{"qty": "0.5"}', "account file")
{'qty': '0.5'}
>>> loads_strict(b'{"side": "long", "side": "short"}', "account file")
Traceback (most recent call last):
...
solvent.jsonstrict.JsonRejected: account file: duplicate key 'side'
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Final, cast

from solvent.errors import InvalidInput

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "JsonRejected", "json_list", "json_object", "loads_strict"]

MAX_DEPTH: Final = 64
"""Deepest nesting of objects and arrays accepted (no solvent document needs more than 6)."""

MAX_INT_DIGITS: Final = 80
"""Longest integer literal accepted (far above any amount's fixed-point range)."""


class JsonRejected(InvalidInput):
    """A JSON document was refused: malformed, duplicate keys, too deep, floats, not UTF-8."""


class _Refusal(Exception):
    """Raised inside a parse hook; ``loads_strict`` names the document and re-raises it."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # built in C; a duplicate key leaves it shorter than the pairs
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refusal(f"duplicate key {key!r}")
            seen.add(key)
    return out


def _no_constant(name: str) -> Any:
    raise _Refusal(f"{name} is not a number solvent accepts")


def _no_float(literal: str) -> Any:
    """Refuse a float literal, suggesting the plain decimal string every reader takes (the HTTP
    API takes no exponent): only for a literal whose plain form is short. The exponent is
    checked before anything is built: ``1e-300000000`` is 12 characters and 300 million plain."""
    try:
        value = Decimal(literal) if len(literal) <= 64 else None
    except ArithmeticError:
        value = None
    if value is not None and value.is_finite() and -24 <= value.adjusted() <= 24:
        raise _Refusal(f"{literal[:64]} is a float; write exact numbers as strings, e.g. \"{format(value, 'f')}\"")
    # no string of it is taken either (found by a new-user pass: "e.g. \"1e400\"" was then refused)
    raise _Refusal(f"{literal[:64]} is a float, and beyond any size solvent takes; write exact numbers as strings")


def _bounded_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refusal(f"an integer of {len(literal)} digits is out of range")
    return int(literal)


def _decoder(parse_float: Any) -> json.JSONDecoder:
    return json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=parse_float,
                            parse_int=_bounded_int)


# Built once: ``json.loads`` with hooks builds a decoder (and its scanner) on every call, a
# third of the cost of a small document. The hooks hold no state of their own.
_STRICT: Final = _decoder(_no_float)
_FLOATS: Final = _decoder(float)
_EXACT_FLOATS: Final = _decoder(Decimal)


def _depth(text: str) -> int:
    """Deepest bracket nesting outside strings (a linear scan, before any parsing)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def loads_strict(
    data: bytes | str, what: str = "JSON", *, allow_float: bool = False, exact_floats: bool = False
) -> Any:
    """Parse one JSON document strictly (see the module docstring); ``InvalidInput`` on refusal.

    With ``allow_float`` a float literal comes back as a ``float``, so that the caller's own
    exact-number check can refuse it naming the field; without it a float is refused here.
    With ``exact_floats`` a float literal comes back as the ``Decimal`` of its text, never
    passing through a binary float (``0.1`` stays ``Decimal('0.1')``).

    >>> loads_strict(b'{"maintMarginRatio": 0.004}', "brackets", exact_floats=True)
    {'maintMarginRatio': Decimal('0.004')}
    """
    if isinstance(data, bytes):
        if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
            raise JsonRejected(f"{what}: starts with a byte-order mark; save it as UTF-8 without one")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRejected(f"{what} is not UTF-8 text (a binary or UTF-16 file?)") from None
    else:
        text = data
    if "\x00" in text:
        raise JsonRejected(f"{what} contains a NUL character (a binary file?)")
    # the depth is at most the number of opening brackets: the scan only runs when it could matter
    if text.count("{") + text.count("[") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise JsonRejected(f"{what} is nested deeper than {MAX_DEPTH} levels")
    decoder = _EXACT_FLOATS if exact_floats else _FLOATS if allow_float else _STRICT
    try:
        return decoder.decode(text)
    except _Refusal as exc:
        raise JsonRejected(f"{what}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise JsonRejected(f"{what} is not valid JSON: {exc.msg}: line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise JsonRejected(f"{what} is nested too deeply") from None


def json_object(raw: object, where: str, keys: set[str] | frozenset[str] | None = None) -> dict[str, Any]:
    """``raw`` as a JSON object; with ``keys``, exactly those fields (an unknown or a missing
    one is refused, named)."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} must be a JSON object")
    body = cast(dict[str, Any], raw)
    if keys is not None:
        unknown, missing = sorted(set(body) - keys), sorted(keys - set(body))
        if unknown:
            raise InvalidInput(f"{where}: unknown field {unknown[0]!r}")
        if missing:
            raise InvalidInput(f"{where}: missing field {missing[0]!r}")
    return body


def json_list(raw: object, where: str) -> list[Any]:
    """``raw`` as a JSON array."""
    if not isinstance(raw, list):
        raise InvalidInput(f"{where} must be a list")
    return raw
