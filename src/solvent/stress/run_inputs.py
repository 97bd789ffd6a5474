"""Every input of a cascade run, echoed into its JSON so that the JSON alone runs it again.

``RunInputs`` is what decides a run's ``digest``: the scenario (with the SHA-256 of the path
file a replay reads), the steps, the drop of a crash, the engine and liquidation procedure,
every parameter of the book (``BookParams``, resolved: venue, symbol and the start price on
the book's grid) and of the cascade (``CascadeParams`` with its ``ImpactParams``).
``to_json`` writes them with the version that ran; ``from_json`` reads them back strictly
(an unknown or missing field is refused, a path file whose bytes changed is refused), and
``execute`` runs them: the same inputs give the same digest.

The JSON form follows the project's conventions: exact values as plain decimal strings, and
the book generator's float parameters as the shortest string that reads back to the same
float (``repr``), so no value changes on the way through a file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar, cast, get_type_hints

import solvent
from solvent.errors import InvalidInput
from solvent.input_files import MAX_TABLE_BYTES, read_bounded
from solvent.jsonstrict import json_object
from solvent.risk.venues import VenueProfile
from solvent.stress.book import BookParams, SyntheticBook, check_book_params, generate_book
from solvent.stress.cascade import CascadeParams, EngineName, check_cascade_params, run_cascade
from solvent.stress.depeg import Depeg
from solvent.stress.impact import ImpactParams
from solvent.stress.policy import LIQUIDATION_MODES, LiquidationMode
from solvent.stress.result import CascadeResult
from solvent.stress.scenarios import replay_file, scenario_path
from solvent.units import plain, to_decimal

__all__ = ["FORMATS_WITHOUT_PROCEDURE", "INPUTS_FORMAT", "MAX_STEPS", "RunInputs", "decode_params", "encode_params",
           "execute", "file_sha256", "recorded_profile", "with_profile"]

INPUTS_FORMAT = "solvent-stress-inputs-v3"
"""v3: a collateral ``depeg`` (``null`` without one), and the venue ``profile`` the book was
built on, named as a journal names it (``journal.codec.encode_profile``: a bundled file by its
SHA-256, kept in ``profiles/history/`` when a later solvent changes it, or a dated overlay), so
a run again uses the same specs. v2 (neither field) still runs with its digest, on the
venue's profile as this solvent loads it. v2: the digest covers the liquidation procedure. A v1 file (v2's fields)
still runs; its recorded digest predates that and is not compared (``FORMATS_WITHOUT_PROCEDURE``)."""
FORMATS_WITHOUT_PROCEDURE = ("solvent-stress-inputs-v1",)
FORMATS_WITHOUT_DEPEG = ("solvent-stress-inputs-v1", "solvent-stress-inputs-v2")
MAX_STEPS = 50_000
"""The longest run, in one-minute steps: a month of minutes and more (the bundled calm month,
``realism`` A6, is 43,198)."""
ENGINES: tuple[EngineName, ...] = ("exact", "fast")

_T = TypeVar("_T")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(read_bounded(path, "file", MAX_TABLE_BYTES)).hexdigest()


@dataclass(frozen=True, slots=True)
class RunInputs:
    scenario: str
    steps: int
    drop: Decimal | None
    """The fall of a crash scenario; ``None`` for a replay (its prices are the path)."""
    engine: EngineName
    liquidation: LiquidationMode
    book: BookParams
    cascade: CascadeParams
    path_sha256: str | None = None
    """SHA-256 of the file a replay reads (``None`` for a crash scenario)."""
    book_file: str | None = None
    """A venue's own book (``book_file.read_book_file``) instead of a drawn one."""
    book_sha256: str | None = None
    depeg: Depeg | None = None
    """A collateral depeg (``stress/depeg.py``; the exact engine only)."""
    profile: dict[str, Any] | None = None
    """The venue profile as ``journal.codec.encode_profile`` names it (module docstring);
    ``None``: the venue's profile as loaded now (options, and v2 files)."""

    def check(self) -> None:
        """The limits every run keeps, whether its inputs come from options or from a file
        (``InvalidInput`` names the field)."""
        if not 1 <= self.steps <= MAX_STEPS:
            raise InvalidInput(f"inputs.steps must lie in [1, {MAX_STEPS:,}], got {self.steps}")
        if replay_file(self.scenario) is not None:
            if self.drop is not None:
                raise InvalidInput("inputs.drop sets the fall of a crash scenario; a replay's prices are its path "
                                   "(give null)")
            if self.path_sha256 is None:
                raise InvalidInput("inputs.path_sha256 is null: a replay names its path file's SHA-256, so a run "
                                   "again reads the same prices")
        elif self.drop is None or not Decimal(0) < self.drop < Decimal(1):
            raise InvalidInput(f"inputs.drop must lie strictly between 0 and 1 for a crash scenario, got {self.drop}")
        elif self.path_sha256 is not None:
            raise InvalidInput("inputs.path_sha256 names a path file, but a crash scenario reads none")
        if (self.book_file is None) != (self.book_sha256 is None) or (self.book_file is None) == (
                self.book.model == "file"):
            raise InvalidInput("inputs: a book read from a file names book_file, its book_sha256 and model 'file'; "
                               "a drawn book none of them")
        check_book_params(self.book)
        check_cascade_params(self.cascade, self.steps)
        if self.depeg is not None:
            if self.engine != "exact":
                raise InvalidInput("inputs.depeg runs on the exact engine (inputs.engine 'exact')")
            self.depeg.check("", self.steps)  # the settlement asset is checked once the book is built

    def to_json(self) -> dict[str, Any]:
        return {"format": INPUTS_FORMAT, "version": solvent.__version__, "scenario": self.scenario,
                "path_sha256": self.path_sha256, "steps": self.steps,
                "drop": None if self.drop is None else plain(self.drop), "engine": self.engine,
                "liquidation": self.liquidation, "book": encode_params(self.book),
                "cascade": {**encode_params(replace(self.cascade, impact=ImpactParams())),
                            "impact": encode_params(self.cascade.impact)},
                "book_file": self.book_file, "book_sha256": self.book_sha256,
                "depeg": None if self.depeg is None else encode_params(self.depeg), "profile": self.profile}

    @classmethod
    def from_json(cls, doc: object) -> RunInputs:
        """Inputs from ``to_json``'s object (module docstring); ``InvalidInput`` names what is wrong."""
        fields_v2 = {"format", "version", "scenario", "path_sha256", "steps", "drop", "engine", "liquidation", "book",
                     "cascade", "book_file", "book_sha256"}
        raw_format = doc.get("format") if isinstance(doc, dict) else None
        if isinstance(raw_format, str) and raw_format.startswith("solvent-adequacy-inputs"):  # named first (found
            raise InvalidInput(f"inputs: a capital adequacy report's (format {raw_format!r}), not a stress run's: "
                               "it runs with `solvent adequacy --inputs`")  # by a new-user pass: refused over a field)
        body = json_object(doc, "inputs",
                           fields_v2 if raw_format in FORMATS_WITHOUT_DEPEG else fields_v2 | {"depeg", "profile"})
        if body["format"] != INPUTS_FORMAT and body["format"] not in FORMATS_WITHOUT_DEPEG:
            raise InvalidInput(f"inputs: format {body['format']!r} is not {INPUTS_FORMAT}")
        engine, liquidation = body["engine"], body["liquidation"]
        if engine not in ENGINES:
            raise InvalidInput(f"inputs.engine: {engine!r} is not one of {', '.join(ENGINES)}")
        if liquidation not in LIQUIDATION_MODES:
            raise InvalidInput(f"inputs.liquidation: {liquidation!r} is not one of {', '.join(LIQUIDATION_MODES)}")
        cascade = json_object(body["cascade"], "inputs.cascade")
        cascade = {**CASCADE_ADDED, **cascade}  # written before the backstop's settings: none
        impact_raw = cascade.get("impact")
        if isinstance(impact_raw, dict):  # written before the withdrawal fields: none (λ stays 1)
            impact_raw = {**IMPACT_ADDED, **impact_raw}
        impact = decode_params(ImpactParams, impact_raw, "inputs.cascade.impact")
        steps = body["steps"]
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise InvalidInput(f"inputs.steps: {steps!r} is not a whole number >= 1")
        sha = body["path_sha256"]
        for name in ("path_sha256", "book_file", "book_sha256"):
            if body[name] is not None and not isinstance(body[name], str):
                raise InvalidInput(f"inputs.{name} must be a string or null")
            if name.endswith("sha256") and body[name] is not None and not re.fullmatch(r"[0-9a-f]{64}", body[name]):
                raise InvalidInput(f"inputs.{name} must be a SHA-256 (64 lowercase hex digits) or null")
        inputs = cls(scenario=_text(body["scenario"], "inputs.scenario"), steps=steps,
                   drop=None if body["drop"] is None else to_decimal(body["drop"], "inputs.drop"),
                   engine=cast(EngineName, engine), liquidation=cast(LiquidationMode, liquidation),
                   book=decode_params(BookParams, body["book"], "inputs.book"),
                   cascade=replace(decode_params(CascadeParams, {k: v for k, v in cascade.items() if k != "impact"},
                                           "inputs.cascade", skip={"impact"}), impact=impact),
                   path_sha256=sha, book_file=body["book_file"], book_sha256=body["book_sha256"],
                   depeg=None if body.get("depeg") is None else decode_params(Depeg, body["depeg"], "inputs.depeg"),
                   profile=None if body.get("profile") is None else json_object(body["profile"], "inputs.profile"))
        inputs.check()
        return inputs


def execute(inputs: RunInputs, progress: Callable[[int], None] | None = None
            ) -> tuple[SyntheticBook, list[Decimal], CascadeResult]:
    """Build the book, read or draw the path and run the cascade. A replay's file must have the
    bytes ``path_sha256`` names (when it names any)."""
    inputs.check()
    file = replay_file(inputs.scenario)
    if file is not None and inputs.path_sha256 is not None and file_sha256(file) != inputs.path_sha256:
        raise InvalidInput(f"{file} is not the file the run read: its SHA-256 is {file_sha256(file)}, the inputs "
                           f"name {inputs.path_sha256}")
    profile = recorded_profile(inputs.profile, inputs.book.venue, "run")
    if inputs.book_file is not None:
        from solvent.stress.book_file import read_book_file

        held = Path(inputs.book_file)
        if inputs.book_sha256 is not None and file_sha256(held) != inputs.book_sha256:
            raise InvalidInput(f"{held} is not the book the run read: its SHA-256 is {file_sha256(held)}, the "
                               f"inputs name {inputs.book_sha256}")
        book = read_book_file(held, inputs.book, profile)
    else:
        book = generate_book(inputs.book, profile)
    drop = inputs.drop if inputs.drop is not None else Decimal("0.5")  # unused by a replay
    path = scenario_path(inputs.scenario, book.params.start_price, drop, inputs.steps, book.tick)
    result = run_cascade(book, path, inputs.engine, inputs.cascade, progress, inputs.liquidation, inputs.depeg)
    return book, path, result


def recorded_profile(encoded: dict[str, Any] | None, venue: str, what: str) -> VenueProfile | None:
    """The profile a run's or a report's ``inputs.profile`` names (``None``: load ``venue`` as it
    is now); ``InvalidInput`` when it cannot be had (an overlay no longer in the data folder, a
    bundled profile changed) or is another venue's than ``inputs.book.venue``. ``what``: ``run``
    or ``report``, for the message."""
    if encoded is None:
        return None
    from solvent.journal.codec import CodecError, decode_profile

    try:
        profile = decode_profile(encoded)
    except CodecError as err:
        raise InvalidInput(f"inputs.profile: {str(err).replace('the journal', f'the {what}')}") from None
    if profile.name != venue:
        raise InvalidInput(f"inputs.profile names {profile.name}, inputs.book.venue {venue}")
    return profile


def with_profile(inputs: RunInputs, book: SyntheticBook) -> RunInputs:
    """``inputs`` as they ran: the book's resolved parameters and the profile it was built on."""
    from solvent.journal.codec import encode_profile

    return replace(inputs, book=book.params, profile=encode_profile(book.profile))


# -- the JSON codec of the parameter dataclasses ------------------------------------------------

def encode_params(params: object) -> dict[str, Any]:
    """A parameter dataclass as JSON: exact values as plain decimal strings, floats as ``repr``,
    tuples as lists (``decode_params`` reads it back)."""
    return {f.name: _value(getattr(params, f.name)) for f in fields(cast(Any, params))}


def _value(value: object) -> Any:
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return [_value(v) for v in value]
    return value


IMPACT_ADDED = {"withdrawal": "0", "withdrawal_floor": "0", "withdrawal_recovery": "0"}
"""``ImpactParams`` fields added after inputs files were first written, at their defaults."""
CASCADE_ADDED = {"backstop_capital": "0", "backstop_loss_limit": None, "releverage": "0", "response_minutes": "0",
                 "response_loss": "0.5"}
"""Likewise for ``CascadeParams``."""


def decode_params(cls: type[_T], raw: object, where: str, skip: frozenset[str] | set[str] = frozenset()) -> _T:
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cast(Any, cls))} - set(skip)
    body = json_object(raw, where, names)
    return cls(**{name: _read(hints[name], body[name], f"{where}.{name}") for name in names})


def _read(hint: object, raw: object, where: str) -> Any:
    if hint == Decimal | None or hint == str | None:
        if raw is None:
            return None
        hint = Decimal if hint == Decimal | None else str
    if hint is Decimal:
        return to_decimal(raw, where) if isinstance(raw, str) else _bad(where, raw, "a decimal string")
    if hint is float:
        return _float(raw, where)
    if hint is int:
        return raw if isinstance(raw, int) and not isinstance(raw, bool) else _bad(where, raw, "a whole number")
    if hint is str:
        return _text(raw, where)
    if hint == tuple[tuple[float, int, int], ...]:  # BookParams.leverage_mix
        if not isinstance(raw, list) or not all(isinstance(r, list) and len(r) == 3 for r in raw):
            _bad(where, raw, "a list of [share, low, high]")
        rows = cast(list[Any], raw)
        return tuple((_float(r[0], where), _read(int, r[1], where), _read(int, r[2], where)) for r in rows)
    raise InvalidInput(f"{where}: no reader for {hint}")


def _float(raw: object, where: str) -> float:
    if not isinstance(raw, str):
        _bad(where, raw, "a number written as a string")
    try:
        value = float(cast(str, raw))
    except ValueError:
        _bad(where, raw, "a number written as a string")
    if value != value or value in (float("inf"), float("-inf")):
        _bad(where, raw, "a finite number")
    return value


def _bad(where: str, raw: object, what: str) -> Any:
    raise InvalidInput(f"{where}: {raw!r} is not {what}")


def _text(raw: object, where: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise InvalidInput(f"{where}: {raw!r} is not a non-empty string")
    return raw
