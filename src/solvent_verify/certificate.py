"""Margin-call and liquidation certificates ``solvent-cert-v1`` (``docs/verify.md``).

The checks, in order: the checkpoint's signature; the record's inclusion under it and the
event the claim names in it; each mark's record and its ``MarkPriceChanged``; then the
arithmetic, redone here in a decimal context of the stated precision (half-even): each wallet
line, each position's value, PnL, notional, tier and MM, each scope's equity and MM and the
level it gives, the account's level (the worst scope) and the event's numbers; with a
``prior``, that the account listed is the one the venue's signed state held before the record
(``prior.py``).
"""

from __future__ import annotations

import decimal
import hashlib
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from solvent_verify import VerifyError, canonical_number, shown
from solvent_verify.liquidation import MOVERS, Clock, check_first_step, names_account
from solvent_verify.note import Checkpoint, VerifierKey, verify_note
from solvent_verify.prior import bind_prior
from solvent_verify.profile import bind_profile, instrument_spec
from solvent_verify.tlog import leaf_hash, root_from_inclusion

__all__ = ["scope_level", "verify_certificate"]

VERSION = "solvent-cert-v1"
LEVELS = ("healthy", "warning", "margin_call", "liquidation", "bankrupt")
TRIGGERS = ("equity_at_or_below_mm", "equity_below_mm")
_RANK = {level: rank for rank, level in enumerate(LEVELS)}
PRECISION = 40
"""Significant digits of the engine's arithmetic (half-even): part of solvent-cert-v1."""
_HEX32 = re.compile(r"[0-9a-f]{64}")
_FIELDS = frozenset({"v", "claim", "log", "genesis", "rules", "marks", "collateral", "positions", "scopes",
                     "judged_scope", "equity", "maintenance_margin", "margin_ratio", "params", "prior", "after",
                     "liquidation"})
"""The top-level fields of solvent-cert-v1: a certificate with another is refused, not read past."""


def _field(obj: Any, name: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(obj, dict) or name not in obj or not isinstance(obj[name], kind) or (
            kind is int and isinstance(obj[name], bool)):
        raise VerifyError(f"malformed certificate: {name}")
    return obj[name]


def _dec(obj: Any, name: str, recorded: bool = False) -> Decimal:
    """The number ``obj[name]``: spelt as the certificate's signer writes it (``canonical_number``),
    or, ``recorded``, as a journal record holds it (``str(Decimal)``: the journal's own spelling,
    read as a number)."""
    text = _field(obj, name, str)
    if not recorded:
        return _canonical(text, name)
    try:
        value = Decimal(text)
    except decimal.InvalidOperation:
        raise VerifyError(f"malformed certificate: {name} {text!r} is not a number") from None
    if not value.is_finite():
        raise VerifyError(f"malformed certificate: {name} {text!r} is not finite")
    return value


def _canonical(text: Any, what: str) -> Decimal:
    """A number the certificate states, in the one spelling its signer writes (``canonical_number``):
    ``4.078E+1`` or ``40.780`` for ``40.78`` is refused, not read as the same number."""
    if not isinstance(text, str) or not canonical_number(text):
        raise VerifyError(f"malformed certificate: {what} {text!r} is not a number in the signer's spelling "
                          "(plain notation, no exponent, no trailing zeros)")
    return Decimal(text)


def _included(log: Any, checkpoint: Checkpoint, index: int) -> dict[str, Any]:
    """The record at ``index``, once its inclusion proof leads to the checkpoint's root."""
    record_text = _field(log, "record", str)
    path = _field(log, "path", list)
    if _field(log, "index", int) != index:
        raise VerifyError(f"the proof is for record {log['index']}, not {index}")
    if _field(log, "origin", str) != checkpoint.origin or _field(log, "size", int) != checkpoint.size:
        # what the proof says it is against must be the checkpoint it is checked against (found by
        # review: these two were ignored, so any value verified)
        raise VerifyError(f"record {index}'s proof names log {log['origin']!r} at size {log['size']}, not the "
                          f"signed checkpoint's {checkpoint.origin!r} at {checkpoint.size}")
    if not all(isinstance(h, str) and _HEX32.fullmatch(h) for h in path):
        raise VerifyError("malformed certificate: a path entry is not 64 lowercase hex digits")
    hashes = [bytes.fromhex(h) for h in path]
    root = root_from_inclusion(index, checkpoint.size, leaf_hash(record_text.encode()), hashes)
    if root != checkpoint.root:
        raise VerifyError(f"record {index} is not in the signed journal")
    try:
        record = json.loads(record_text)
    except json.JSONDecodeError:
        raise VerifyError(f"record {index} is not JSON") from None
    if _field(record, "seq", int) != index:
        raise VerifyError(f"record {index} says it is record {record.get('seq')}")
    return dict(record)


def _wallet_line(line: Any, settle: str, quantum: Decimal, marks: dict[str, Decimal]) -> Decimal:
    asset, balance = _field(line, "asset", str), _dec(line, "balance")
    if asset != settle and line.get("price") is not None and marks.get(asset) != _dec(line, "price"):
        raise VerifyError(f"{asset}: price {line['price']} is not its signed mark")
    if asset == settle:
        if _dec(line, "price") != 1 or _dec(line, "haircut") != 0 or _field(line, "haircut_tiers", list):
            raise VerifyError(f"{asset}: the settlement asset counts at face value (price 1, no haircut)")
        value = balance
    elif line.get("price") is None:
        if balance < 0:
            raise VerifyError(f"{asset}: a debt without a price")
        value = Decimal(0)
    else:
        price = _dec(line, "price")
        if balance < 0:
            raw = balance * price
        else:
            bands = [(Decimal(0), _dec(line, "haircut"))]
            for band in _field(line, "haircut_tiers", list):
                if not isinstance(band, list) or len(band) != 2:
                    raise VerifyError(f"malformed certificate: {asset} haircut band")
                bands.append((_canonical(band[0], f"{asset} haircut band"),
                              _canonical(band[1], f"{asset} haircut band")))
            counted = Decimal(0)
            for i, (start, cut) in enumerate(bands):
                if balance <= start:
                    break
                end = bands[i + 1][0] if i + 1 < len(bands) else balance
                counted += (min(balance, end) - start) * (1 - cut)
            raw = counted * price
        value = (raw / quantum).to_integral_value(rounding=decimal.ROUND_FLOOR) * quantum
    if value != _dec(line, "value"):
        raise VerifyError(f"{asset}: value {line['value']} stated, {value} computed")
    return value


def _position(pos: Any, marks: dict[str, Decimal], basis_rule: str) -> tuple[Decimal, Decimal, Decimal]:
    """``(upnl, mm, notional)`` of one position, once every stated intermediate number checks."""
    symbol = _field(pos, "symbol", str)
    if symbol not in marks:
        raise VerifyError(f"{symbol}: no mark in the certificate")
    mark = marks[symbol]
    size = _dec(pos, "qty") * _dec(pos, "contract_size")
    inverse = _field(pos, "inverse", bool)
    value = -size / mark if inverse else size * mark
    upnl = value - _dec(pos, "cost")
    notional = abs(size) / mark if inverse else abs(size) * mark
    basis = abs(_dec(pos, "cost")) if basis_rule == "entry" else notional
    tiers = _field(pos, "tiers", list)
    if not tiers or _dec(tiers[0], "floor") != 0:
        raise VerifyError(f"{symbol}: the MM table must start at 0")
    floors = [_dec(t, "floor") for t in tiers]
    if floors != sorted(floors) or len(set(floors)) != len(floors):
        raise VerifyError(f"{symbol}: the MM table's floors must ascend")
    for row in tiers:  # every row a number, the rows this position does not reach too; a row's rate and
        _dec(row, "mmr", True)  # amount are the venue's, as the journal recorded them ("421482000.0"),
        _dec(row, "amount", True)  # not figures the signer computed and spelt
    tier = max(i for i, floor in enumerate(floors) if floor <= basis)
    mm = basis * _dec(tiers[tier], "mmr", True) - _dec(tiers[tier], "amount", True) if size else Decimal(0)
    if "scale" not in pos:  # null when none: stated, as every field of the format (found by review)
        raise VerifyError("malformed certificate: scale")
    if pos["scale"] is not None and size:
        mm *= _dec(pos, "scale")
    stated = {"value": value, "upnl": upnl, "notional": notional, "mm": mm}
    for name, computed in stated.items():
        if _dec(pos, name) != computed:
            raise VerifyError(f"{symbol}: {name} {pos[name]} stated, {computed} computed")
    if size and _field(pos, "tier", int) != tier:
        raise VerifyError(f"{symbol}: tier {pos['tier']} stated, {tier} computed")
    return upnl, mm, notional


def scope_level(previous: str, equity: Decimal, mm: Decimal, rules: dict[str, Decimal | str],
                notional: Decimal | None = None) -> str:
    """The level a scope gives (``docs/verify.md``, step 4); ``rules``: ``trigger``, ``warning``,
    ``margin_call``, ``hysteresis``, and under a liquidation policy ``target_buffer`` and
    ``exit_buffer``: a scope being liquidated whose level would be lower stays in liquidation
    while its equity is below ``MM × (1 + target_buffer) + exit_buffer × notional``."""
    level = _level_rules(previous, equity, mm, rules)
    if ("target_buffer" not in rules or _RANK[previous] < _RANK["liquidation"] or _RANK[level] >= _RANK["liquidation"]
            or mm <= 0):
        return level
    target_buffer, exit_buffer = rules["target_buffer"], rules["exit_buffer"]
    assert isinstance(target_buffer, Decimal) and isinstance(exit_buffer, Decimal)
    if notional is None:
        raise VerifyError("a scope leaving liquidation needs its notional")
    return "liquidation" if equity < mm * (1 + target_buffer) + exit_buffer * notional else level


def _level_rules(previous: str, equity: Decimal, mm: Decimal, rules: dict[str, Decimal | str]) -> str:
    exact = decimal.Context(prec=decimal.MAX_PREC, traps=[decimal.Inexact, decimal.InvalidOperation])
    bankrupt = equity < 0 or (equity == 0 and mm > 0)
    if bankrupt:
        return "bankrupt"
    if mm > 0 and (equity < mm if rules["trigger"] == "equity_below_mm" else equity <= mm):
        return "liquidation"
    if mm <= 0:
        return "healthy"
    was = _RANK[previous]
    call, warn, h = rules["margin_call"], rules["warning"], rules["hysteresis"]
    assert isinstance(call, Decimal) and isinstance(warn, Decimal) and isinstance(h, Decimal)
    if mm >= exact.multiply(call, equity) or (was >= _RANK["margin_call"] and mm >= exact.multiply(call - h, equity)):
        return "margin_call"
    if mm >= exact.multiply(warn, equity) or (was >= _RANK["warning"] and mm >= exact.multiply(warn - h, equity)):
        return "warning"
    return "healthy"


def _rules(cert: dict[str, Any]) -> tuple[dict[str, Decimal | str], int]:
    raw = _field(cert, "rules", dict)
    trigger, basis = _field(raw, "liquidation_trigger", str), _field(raw, "mm_basis", str)
    precision = _field(raw, "precision", int)
    if trigger not in TRIGGERS or basis not in ("mark", "entry") or precision != PRECISION:
        raise VerifyError(f"unknown rules: trigger, MM basis or precision (solvent-cert-v1 computes with "
                          f"{PRECISION} digits)")
    rules: dict[str, Decimal | str] = {
        "trigger": trigger, "basis": basis, "settle": _field(raw, "settle_asset", str),
        "quantum": _dec(raw, "money_quantum"), "warning": _dec(raw, "warning_ratio"),
        "margin_call": _dec(raw, "margin_call_ratio"), "hysteresis": _dec(raw, "hysteresis")}
    exit_rules = raw.get("liquidation_exit")
    if exit_rules is not None:
        rules |= {"target_buffer": _dec(exit_rules, "target_buffer"), "exit_buffer": _dec(exit_rules, "exit_buffer")}
    return rules, precision


def verify_certificate(cert: Any, key: VerifierKey,
                       profile: tuple[bytes, object, Callable[[str], bytes]] | None = None) -> str:
    """A one-line summary when the certificate holds; ``VerifyError`` with the reason if not.
    With ``profile`` (the venue profile file's bytes, parsed JSON, and a reader of the files
    beside it), also that it is the one the journal ran on and that the certificate's trigger,
    basis and tier tables are its (``profile.bind_profile``)."""
    if _field(cert, "v", str) != VERSION:
        raise VerifyError(f"unknown certificate version {cert.get('v')!r}")
    unknown = sorted(set(cert) - _FIELDS)
    if unknown:
        raise VerifyError(f"malformed certificate: unknown field {unknown[0]!r} (solvent-cert-v1 has no such field)")
    for field, shape in (("rules", dict), ("marks", dict), ("collateral", list), ("positions", list),
                         ("scopes", list)):
        _field(cert, field, shape)
    claim, log = _field(cert, "claim", dict), _field(cert, "log", dict)
    seq, account = _field(claim, "seq", int), _field(claim, "account_id", str)
    previous, level = _field(claim, "previous", str), _field(claim, "level", str)
    if previous not in _RANK or level not in _RANK:
        raise VerifyError("unknown level in the claim")
    checkpoint = verify_note(_field(log, "checkpoint", str), key)
    if _field(log, "origin", str) != checkpoint.origin or _field(log, "size", int) != checkpoint.size:
        raise VerifyError("the proof names another log or size than its checkpoint")
    record = _included(log, checkpoint, seq)
    if record.get("kind") == "params" and (not isinstance(cert.get("params"), dict) or cert["params"].get("index")
                                           != seq):
        raise VerifyError(f"record {seq} changes the parameters: the certificate must cite it as the ones in force")
    events = _field(record, "events", list)
    index = _field(claim, "event_index", int)
    if not 0 <= index < len(events):
        raise VerifyError(f"record {seq} has no event {index}")
    event = events[index]
    step_claim = isinstance(event, dict) and event.get("type") == "LiquidationStep"
    if step_claim:
        event = _step_claim(cert, events, index, account, previous, level)
    elif (not isinstance(event, dict) or event.get("type") != "MarginLevelChanged"
          or event.get("account_id") != account or event.get("previous") != previous or event.get("level") != level):
        raise VerifyError(f"event {index} of record {seq} is not the claimed level change")
    for name in ("equity", "maintenance_margin", "margin_ratio"):
        if cert.get(name) != event.get(name):
            raise VerifyError(f"the certificate's {name} is not the event's")
    rules, precision = _rules(cert)
    config = _genesis_binds(cert, checkpoint, rules)
    bound, tables_bound = "", False
    if profile is not None:
        said, tables_bound = bind_profile(cert, config.get("profile"), *profile)
        bound = f"; {said}"
    if step_claim and not tables_bound:
        raise VerifyError("a liquidation step certified on its own is checked with --profile (the venue profile file "
                          "whose MM tables it re-derives: no signed number states the step's MM)")
    if profile is not None and isinstance(cert.get("liquidation"), dict):
        part, positions = cert["liquidation"], cert["positions"]
        shown_at = part.get("position")
        symbol = positions[shown_at].get("symbol") if isinstance(shown_at, int) and not isinstance(
            shown_at, bool) and 0 <= shown_at < len(positions) and isinstance(positions[shown_at], dict) else None
        bound += _bind_liquidation(part, config.get("liquidation"), profile[1], symbol,
                                   cert["rules"].get("money_quantum"))
    bound += f"; {bind_prior(cert, record, checkpoint, key, seq, index)}" if "prior" in cert or "after" in cert else (
        "; account state not bound (no state checkpoint)")
    if "prior" in cert:
        bound += _bind_markets(cert, events, index, config)
    with decimal.localcontext(decimal.Context(prec=precision, rounding=decimal.ROUND_HALF_EVEN,
                                              traps=[decimal.InvalidOperation, decimal.DivisionByZero])):
        marks = _marks(cert, checkpoint, seq)
        summary, judged, first_under = _arithmetic(cert, event, marks, rules, seq)
        if "liquidation" in cert:
            if event["level"] not in ("liquidation", "bankrupt") or not isinstance(config.get("liquidation"), dict):
                raise VerifyError("a liquidation step is shown for a claim that is not a liquidation under a policy")
            if isinstance(cert["liquidation"], dict) and cert["liquidation"].get("rule") == "dydx_v4" and \
                    rules["basis"] != "mark":
                raise VerifyError("a dYdX close is shown only for an MM on the mark basis")
            kind, symbol, side, equity, mm, notional = judged
            quantum = rules["quantum"]
            assert isinstance(quantum, Decimal)
            summary += "; " + check_first_step(cert["liquidation"], events, index, account, (kind, symbol, side),
                                               (equity, mm, notional), _field(cert, "positions", list), marks,
                                               quantum, config["liquidation"], first_under, _clock(cert, record))
        return summary + bound


def _step_claim(cert: dict[str, Any], events: list[Any], index: int, account: str, previous: str,
                level: str) -> dict[str, Any]:
    """A claim of a liquidation step on its own (the account already being liquidated): the
    event is the account's step on the book, the first of the record with nothing before it
    that moves the account, the level stays, and the certificate shows the step. The level
    change the arithmetic checks is the claim's, with the certificate's numbers (no signed event
    states them: they are checked against the positions and marks)."""
    step = events[index]
    if step.get("account_id") != account or step.get("kind") != "book":
        raise VerifyError(f"event {index} is not a liquidation step of {shown(account)} on the book")
    if previous != level or level not in ("liquidation", "bankrupt"):
        raise VerifyError("a liquidation step is certified on its own only while the account stays in liquidation")
    for e in events[:index]:
        if not isinstance(e, dict):
            raise VerifyError("malformed record: an event is not an object")
        if e.get("type") in MOVERS or names_account(e, account):
            raise VerifyError(f"an event before step {index} moves {shown(account)} (or may: an ADL, a socialised "
                              "loss, a payment of the insurance fund): the step is not certified on its own")
    part = cert.get("liquidation")
    if not isinstance(part, dict) or part.get("step") != index:
        raise VerifyError("a certificate of a liquidation step shows that step (liquidation.step)")
    if "prior" not in cert or "after" in cert:
        raise VerifyError("a liquidation step certified on its own needs the signed state before its record (prior): "
                          "no signed event states the equity and MM it was judged on")
    for name in ("equity", "maintenance_margin", "margin_ratio"):
        value = cert.get(name)
        if not (isinstance(value, str) and canonical_number(value)) and not (
                name == "margin_ratio" and "margin_ratio" in cert and value is None):
            raise VerifyError(f"malformed certificate: {name} is not a number in plain notation")
    return {"account_id": account, "previous": previous, "level": level, "equity": cert["equity"],
            "maintenance_margin": cert["maintenance_margin"], "margin_ratio": cert.get("margin_ratio")}



def _bind_markets(cert: dict[str, Any], events: list[Any], index: int, config: dict[str, Any]) -> str:
    """With a ``prior``: each mark the certificate uses is the signed prior state's (``markets``
    of its state document), or the last one the record set before the claimed event; each
    collateral asset's price likewise (``null`` only for an asset no market prices); and each
    position's volatility scale likewise (``MaintenanceScaleChanged``; ``null`` when the
    configuration in force runs no volatility rule, whatever the market still holds). So a stale
    mark, a dropped collateral price or a forged scale is refused."""
    markets = cert["prior"]["extract"]["document"].get("markets")
    if not isinstance(markets, dict):
        raise VerifyError("the signed prior state holds no markets")
    moved: dict[str, Any] = {}
    scaled: dict[str, Any] = {}
    for e in events[:index]:
        if isinstance(e, dict) and e.get("type") == "MarkPriceChanged":
            moved[str(e.get("symbol"))] = e.get("mark_price")
        elif isinstance(e, dict) and e.get("type") == "MaintenanceScaleChanged":
            scaled[str(e.get("symbol"))] = e.get("scale")
    for symbol, entry in _field(cert, "marks", dict).items():
        market = markets.get(symbol)
        signed = moved[symbol] if symbol in moved else market.get("mark") if isinstance(market, dict) else None
        if signed is None or not _same(entry.get("price") if isinstance(entry, dict) else None, signed):
            raise VerifyError(f"{shown(symbol)}: the mark {entry.get('price') if isinstance(entry, dict) else None} "
                              "is not the one in force at the event (the signed prior state's, or the record's)")
    settle = cert["rules"].get("settle_asset")
    for line in _field(cert, "collateral", list):
        asset = line.get("asset") if isinstance(line, dict) else None
        if not isinstance(asset, str) or asset == settle:
            continue
        market = markets.get(asset)
        in_force = moved[asset] if asset in moved else market.get("mark") if isinstance(market, dict) else None
        price = line.get("price")
        if (in_force is None) != (price is None) or (price is not None and not _same(price, in_force)):
            raise VerifyError(f"{shown(asset)}: the price {price} is not the one in force at the event")
    scaling = config.get("volatility_mm") not in (False, None)
    for pos in _field(cert, "positions", list):
        symbol = pos.get("symbol") if isinstance(pos, dict) else None
        market = markets.get(symbol) if isinstance(symbol, str) else None
        if not isinstance(market, dict):
            raise VerifyError(f"{shown(str(symbol))}: the signed prior state holds no such market")
        volatility = market.get("volatility")
        signed = None if not scaling else scaled[symbol] if symbol in scaled else volatility.get("scale") if \
            isinstance(volatility, dict) else None
        stated = pos.get("scale")
        if (signed is None) != (stated is None) or (signed is not None and not _same(stated, signed)):
            raise VerifyError(f"{shown(symbol)}: the MM scale {stated} is not the one in force at the event")
    return "; marks and MM scales as in force"


def _clock(cert: dict[str, Any], record: dict[str, Any]) -> Clock | None:
    """The time the record is applied at and the account's previous liquidation step, from the
    signed prior state (already bound by ``bind_prior``); ``None`` without one."""
    if "prior" not in cert:
        return None
    extract = cert["prior"]["extract"]
    now, last = extract["document"].get("now_ms"), extract["account"].get("last_liquidation_ms")
    command = record.get("input")
    if isinstance(command, dict) and command.get("type") == "AdvanceTime":
        now = command.get("now_ms")
    if not isinstance(now, int) or not (last is None or isinstance(last, int)):
        raise VerifyError("the signed prior state holds no time")
    return now, last


def _bind_liquidation(part: dict[str, Any], policy: Any, profile: Any, symbol: object, quantum: object) -> str:
    """With ``--profile``: the liquidation rule shown is the profile's (unless the journal runs
    the generic procedure), and so is the fee rate (unless the journal's policy sets its own)."""
    rules = profile.get("liquidation") if isinstance(profile, dict) else None
    if not isinstance(policy, dict) or not isinstance(rules, dict):
        raise VerifyError("the profile or the journal holds no liquidation rules")
    if policy.get("venue_rules", True) is not False and part.get("rule") != rules.get("policy", "generic"):
        raise VerifyError(f"the liquidation rule {part.get('rule')!r} is not the profile's {rules.get('policy')!r}")
    if policy.get("fee_rate") is None and part.get("fee_rate") != profile.get("liquidation_fee_rate", "0"):
        raise VerifyError(f"the liquidation fee rate {part.get('fee_rate')} is not the profile's "
                          f"{profile.get('liquidation_fee_rate', '0')}")
    if part.get("rule") == "drift":
        return " and its liquidation rule, fee rate" + _bind_drift(part, rules, profile, symbol, quantum)
    if part.get("rule") == "dydx_v4":
        return " and its liquidation rule, fee rate" + _bind_dydx(part, rules, profile, symbol, quantum)
    return " and its liquidation rule and fee rate"


_DEFAULT_LOT = "0.00000001"
"""The quantity step of an instrument whose profile gives no lot size (solvent's ``DEFAULT_LOT``)."""


def _same(stated: object, published: object) -> bool:
    """Whether two numbers are equal; ``published`` may be a ratio ``"a/b"`` (a profile's fee)."""
    if not isinstance(stated, str) or not canonical_number(stated):  # the certificate's own spelling
        return False
    try:
        text = str(published)
        if "/" in text:
            num, _, den = text.partition("/")
            with decimal.localcontext(decimal.Context(prec=40)):
                value = Decimal(num) / Decimal(den)
        else:
            value = Decimal(text)
        return Decimal(str(stated)) == value
    except (decimal.InvalidOperation, decimal.DivisionByZero, ValueError, ArithmeticError):
        return False


def _positive_or_none(raw: object) -> object:
    """A lot or tick as the engine reads a profile: absent, or not above 0, is none."""
    try:
        return raw if raw is not None and Decimal(str(raw)) > 0 else None
    except (decimal.InvalidOperation, ValueError):
        return raw


def _bind_drift(part: dict[str, Any], rules: dict[str, Any], profile: dict[str, Any], symbol: object,
                quantum: object) -> str:
    """Drift's market fees and fee escalation are the profile's, and so are the lot and price
    grid when the profile holds them itself (not through an exchange-info file)."""
    markets = rules.get("markets")
    fees = markets.get(symbol) if isinstance(markets, dict) and isinstance(symbol, str) else None
    if not isinstance(fees, dict):
        raise VerifyError(f"the profile's Drift rule has no fees for {symbol!r}")
    published = {"liquidator_fee": fees.get("liquidator_fee"), "if_liquidation_fee": fees.get("if_liquidation_fee"),
                 "max_liquidator_fee": rules.get("max_liquidator_fee", "0"),
                 "fee_increase_per_ms": rules.get("fee_increase_per_ms", "0")}
    for name, value in published.items():
        if not _same(part.get(name), value):
            raise VerifyError(f"the liquidation {name} {part.get(name)} is not the profile's {value}")
    if part.get("fee_grace_ms") != rules.get("fee_grace_ms", 0):
        raise VerifyError(f"the liquidation fee_grace_ms {part.get('fee_grace_ms')} is not the profile's "
                          f"{rules.get('fee_grace_ms', 0)}")
    grid = _grid(profile, symbol)
    if grid is None:
        return " and Drift fees (lot and price step not bound: the profile reads them from its exchange info)"
    lot, step = grid[0], grid[1] or quantum
    if not _same(part.get("lot"), lot) or not _same(part.get("price_step"), step):
        raise VerifyError(f"the liquidation lot {part.get('lot')} and price step {part.get('price_step')} are not "
                          f"the profile's {lot} and {step}")
    return ", Drift fees, lot and price step"


def _grid(profile: dict[str, Any], symbol: object) -> tuple[object, object] | None:
    """The instrument's lot (``lot_size``, else solvent's default) and tick (``tick_size``, or
    ``None``) as the profile file states them; ``None`` for a profile that reads them from its
    exchange-info file (not bound here)."""
    if profile.get("exchange_info") is not None:
        return None
    merged = instrument_spec(profile, symbol) or {}
    return _positive_or_none(merged.get("lot_size")) or _DEFAULT_LOT, _positive_or_none(merged.get("tick_size"))


_DYDX_DEFAULTS = {"bankruptcy_adjustment_ppm": 1_000_000, "spread_to_maint_margin_ratio_ppm": 100_000,
                  "max_liquidation_fee_ppm": 15_000}
"""dYdX v4's genesis values, which a profile that does not state them runs on."""


def _bind_dydx(part: dict[str, Any], rules: dict[str, Any], profile: dict[str, Any], symbol: object,
               quantum: object) -> str:
    """dYdX's fillable-price and fee parameters are the profile's, and so are the tick and price
    step when the profile holds them itself."""
    for name, default in _DYDX_DEFAULTS.items():
        if part.get(name) != rules.get(name, default):
            raise VerifyError(f"the liquidation {name} {part.get(name)} is not the profile's "
                              f"{rules.get(name, default)}")
    grid = _grid(profile, symbol)
    if grid is None:
        return " and dYdX parameters (tick not bound: the profile reads it from its exchange info)"
    tick = grid[1]
    if (tick is None) != (part.get("tick") is None) or (tick is not None and not _same(part.get("tick"), tick)) \
            or not _same(part.get("price_step"), tick or quantum):
        raise VerifyError(f"the liquidation tick {part.get('tick')} and price step {part.get('price_step')} are not "
                          f"the profile's")
    return ", dYdX parameters and tick"


def _in_force(cert: dict[str, Any], checkpoint: Checkpoint) -> dict[str, Any]:
    """The configuration the certificate's rules are bound to: the genesis record's, or, after
    a parameter change, that of the ``params`` record it cites (at or before the judged record)."""
    genesis = _included(_field(cert, "genesis", dict), checkpoint, 0)
    config: dict[str, Any] | None = _field(genesis, "config", dict) if genesis.get("kind") == "genesis" else None
    if config is None:
        raise VerifyError("record 0 is not a genesis record")
    if "params" not in cert:
        return config
    entry = _field(cert, "params", dict)
    at = _field(entry, "index", int)
    if not 0 < at <= _field(_field(cert, "claim", dict), "seq", int):
        raise VerifyError(f"the parameter record {at} is not before the judged record")
    record = _included(entry, checkpoint, at)
    if record.get("kind") != "params":
        raise VerifyError(f"record {at} is not a params record")
    config = dict(_field(record, "config", dict))
    named = [e.get("digest") for e in _field(record, "events", list) if isinstance(e, dict)
             and e.get("type") == "ParamsChanged"]
    if named != [hashlib.sha256(json.dumps(config, separators=(",", ":")).encode()).hexdigest()]:
        raise VerifyError(f"record {at}'s ParamsChanged does not name its configuration's digest")
    return config


def _genesis_binds(cert: dict[str, Any], checkpoint: Checkpoint, rules: dict[str, Decimal | str]) -> dict[str, Any]:
    """The rules and haircuts stated are the ones in force (``_in_force``): the configuration."""
    config = _in_force(cert, checkpoint)
    thresholds = _field(config, "thresholds", dict)
    bound = {"warning": _dec(thresholds, "warning", True), "margin_call": _dec(thresholds, "margin_call", True),
             "hysteresis": _dec(thresholds, "hysteresis", True), "quantum": _dec(config, "money_quantum", True),
             "settle": _field(config, "settle_asset", str)}
    for name, value in bound.items():
        if rules[name] != value:
            raise VerifyError(f"the rules' {name} is not the journal's ({value})")
    policy = config.get("liquidation")
    if policy is None and "target_buffer" in rules:
        raise VerifyError("the rules state a liquidation exit, but the journal runs without liquidation")
    if policy is not None:
        if not isinstance(policy, dict):
            raise VerifyError("the journal's liquidation policy is not an object")
        for name in ("target_buffer", "exit_buffer"):
            if name not in policy or rules.get(name) != _dec(policy, name, True):
                raise VerifyError(f"the rules' liquidation exit {name} is not the journal's")
    profile = _field(config, "profile", dict).get("name")
    if _field(_field(cert, "rules", dict), "profile", str) != profile:
        raise VerifyError(f"the rules' profile is not the journal's ({profile})")
    assets = _field(config, "collateral", dict)
    for line in _field(cert, "collateral", list):
        asset = line.get("asset") if isinstance(line, dict) else None
        if asset == rules["settle"] or not isinstance(asset, str):
            continue
        known = assets.get(asset)
        if not isinstance(known, dict):
            raise VerifyError(f"{asset} is not a collateral asset of the journal")
        tiers = [[Decimal(q), Decimal(c)] for q, c in known.get("haircut_tiers", [])]
        stated = [[_canonical(q, f"{asset} haircut band"), _canonical(c, f"{asset} haircut band")]
                  for q, c in _field(line, "haircut_tiers", list)]
        if _dec(line, "haircut") != _dec(known, "haircut", True) or stated != tiers:
            raise VerifyError(f"{asset}: the haircuts are not the journal's")
    return config


def _marks(cert: dict[str, Any], checkpoint: Checkpoint, seq: int) -> dict[str, Decimal]:
    marks: dict[str, Decimal] = {}
    for symbol, entry in _field(cert, "marks", dict).items():
        price = _dec(entry, "price")
        at = _field(entry, "index", int)
        if at > seq:
            raise VerifyError(f"{symbol}: its mark was set after record {seq}")
        record = _included(entry, checkpoint, at)
        if not any(isinstance(e, dict) and e.get("type") == "MarkPriceChanged" and e.get("symbol") == symbol
                   and _event_price(e) == price for e in record.get("events", [])):
            raise VerifyError(f"{symbol}: record {at} does not set the mark {entry['price']}")
        marks[symbol] = price
    return marks


def _event_price(event: dict[str, Any]) -> Decimal | None:
    try:
        return Decimal(str(event.get("mark_price")))
    except decimal.InvalidOperation:
        return None


Scope = tuple[str, str | None, str | None, Decimal, Decimal, Decimal]
"""A scope as computed: kind, symbol, position side, equity, MM, notional."""


def _arithmetic(cert: dict[str, Any], event: dict[str, Any], marks: dict[str, Decimal],
                rules: dict[str, Decimal | str], seq: int) -> tuple[str, Scope, tuple[str, Any, Any] | None]:
    """The summary line's claim, the judged scope, and the first scope below its maintenance
    margin in the order a liquidation takes them (the cross account, then isolated positions by
    symbol and side), once every stated number checks."""
    settle, quantum, basis = rules["settle"], rules["quantum"], rules["basis"]
    assert isinstance(settle, str) and isinstance(quantum, Decimal) and isinstance(basis, str)
    wallet = Decimal(0)
    lines = _field(cert, "collateral", list)
    assets = [line.get("asset") if isinstance(line, dict) else None for line in lines]
    if len(set(map(str, assets))) != len(assets):
        raise VerifyError("the wallet lists an asset twice")
    for line in lines:
        wallet += _wallet_line(line, settle, quantum, marks)
    positions = _field(cert, "positions", list)
    slots = [(p.get("symbol"), p.get("position_side")) if isinstance(p, dict) else None for p in positions]
    if len(set(map(str, slots))) != len(slots):
        raise VerifyError("a position is listed twice")
    if any(_dec(p, "qty") == 0 for p in positions):
        raise VerifyError("a flat position is listed (a flat position counts nowhere)")
    cross_equity, cross_mm, cross_notional = wallet, Decimal(0), Decimal(0)
    isolated: list[tuple[str, str, Decimal, Decimal, Decimal]] = []
    by_symbol: dict[str, tuple[Decimal, Decimal]] = {}
    held: dict[str, tuple[Decimal, Decimal, bool]] = {}
    for pos in positions:
        upnl, mm, notional = _position(pos, marks, basis)
        mode = _field(pos, "margin_mode", str)
        if mode == "isolated":
            isolated.append((pos["symbol"], _field(pos, "position_side", str), _dec(pos, "isolated_margin") + upnl,
                             mm, notional))
        elif mode == "cross":
            if _dec(pos, "isolated_margin") != 0:
                raise VerifyError(f"{pos['symbol']}: a cross position holds no isolated margin")
            pnl, req = by_symbol.get(pos["symbol"], (Decimal(0), Decimal(0)))
            by_symbol[pos["symbol"]] = (pnl + upnl, req + mm)
            size, kind = _dec(pos, "contract_size"), _field(pos, "inverse", bool)
            qty, contract, inverse = held.get(pos["symbol"], (Decimal(0), size, kind))
            if (contract, inverse) != (size, kind):
                raise VerifyError(f"{pos['symbol']}: its positions differ in contract size or kind")
            held[pos["symbol"]] = (qty + abs(_dec(pos, "qty")), contract, inverse)
        else:
            raise VerifyError(f"unknown margin mode {mode!r}")
    for pnl, req in by_symbol.values():
        cross_equity += pnl
        cross_mm += req
    for held_symbol in sorted(held):  # the quantity held on a symbol (long + short), at its mark
        qty, contract, inverse = held[held_symbol]
        mark = marks[held_symbol]
        cross_notional += qty * contract / mark if inverse else qty * contract * mark
    previous = cert["claim"]["previous"]
    computed: list[Scope] = [
        ("cross", None, None, cross_equity, cross_mm, cross_notional)] + [
        ("isolated", s, side, e, m, n) for s, side, e, m, n in isolated]
    stated = _field(cert, "scopes", list)
    if len(stated) != len(computed):
        raise VerifyError(f"{len(stated)} scopes stated, {len(computed)} computed")
    levels = []
    for sc, (kind, symbol, side, equity, mm, notional) in zip(stated, computed, strict=True):
        missing = [k for k in ("scope", "symbol", "position_side") if not isinstance(sc, dict) or k not in sc]
        if missing:  # a cross scope's symbol and side are null, stated (found by review: deleting them passed)
            raise VerifyError(f"malformed certificate: {missing[0]}")
        if (sc["scope"], sc["symbol"], sc["position_side"]) != (kind, symbol, side):
            raise VerifyError("the scopes are not the positions'")
        if _dec(sc, "equity") != equity or _dec(sc, "maintenance_margin") != mm:
            raise VerifyError(f"{kind} scope: equity {sc['equity']}, MM {sc['maintenance_margin']} stated; "
                              f"{equity}, {mm} computed")
        if ("notional" in sc or ("target_buffer" in rules and _RANK[previous] >= _RANK["liquidation"])) and _dec(
                sc, "notional") != notional:
            raise VerifyError(f"{kind} scope: notional {sc.get('notional')} stated, {notional} computed")
        judged = scope_level(previous, equity, mm, rules, notional)
        if sc.get("level") != judged:
            raise VerifyError(f"{kind} scope: level {sc.get('level')} stated, {judged} computed")
        levels.append(judged)
    worst = max(range(len(levels)), key=lambda i: (_RANK[levels[i]], -i))
    if levels[worst] != event["level"]:
        raise VerifyError(f"the account's level is {levels[worst]}, not {event['level']}")
    if _field(cert, "judged_scope", int) != worst:
        raise VerifyError("the judged scope is not the worst one")
    _, _, _, equity, mm, _ = computed[worst]
    if Decimal(event["equity"]) != equity or Decimal(event["maintenance_margin"]) != mm:
        raise VerifyError("the event's equity and MM are not the judged scope's")
    ratio = mm / equity if equity > 0 else None
    stated_ratio = event.get("margin_ratio")
    if (ratio is None) != (stated_ratio is None) or (ratio is not None and Decimal(str(stated_ratio)) != ratio):
        raise VerifyError(f"margin ratio {stated_ratio} stated, {ratio} computed")
    if event["level"] == "bankrupt":
        why = f"equity {event['equity']} {'<' if equity < 0 else '='} 0 with MM {event['maintenance_margin']}"
    else:
        op = {"liquidation": "≤" if rules["trigger"] != "equity_below_mm" else "<"}.get(event["level"], "vs")
        why = f"equity {event['equity']} {op} MM {event['maintenance_margin']}"
    ordered = computed[:1] + sorted(computed[1:], key=lambda sc: (str(sc[1]), str(sc[2])))
    under = next(((kind, symbol, side) for kind, symbol, side, equity, mm, _ in ordered
                  if _level_rules(previous, equity, mm, rules) in ("liquidation", "bankrupt")), None)
    move = f"stays in {event['level']}" if event["previous"] == event["level"] else \
        f"{event['previous']} → {event['level']}"  # a liquidation step certified on its own, or a level change
    return f"ok: {shown(event['account_id'])} {move} at seq {seq} ({why})", computed[worst], under
