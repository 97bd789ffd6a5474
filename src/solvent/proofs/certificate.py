"""Margin-call and liquidation certificates (``solvent-cert-v1``): one journaled level change,
with every number it rests on, checkable by anyone with ``solvent-verify certificate``.

A certificate binds a ``MarginLevelChanged`` event (a margin call, a liquidation trigger, a
bankruptcy, or any other level change) to

* the **record** that emitted it, with its RFC 9162 inclusion proof under a signed
  checkpoint (``journal/log_proofs.py``): the event is in the venue's signed history;
* the **rules** in force: the trigger (equity ≤ MM or equity < MM), the warning and
  margin-call ratios, the hysteresis, the settlement asset, the money quantum and the
  working precision of the arithmetic; the journal's **genesis record**, with its inclusion
  proof, binds the profile's name, the ratios, the settlement asset, the money quantum and
  each collateral asset's haircuts (the trigger and the MM tables are the named profile's,
  which the genesis record names but does not hold);
* the **marks**, each with the record that set it (its ``MarkPriceChanged`` event) and that
  record's inclusion proof;
* the account as it was **judged** (when its level changed, below): every
  wallet line with its price and haircut bands, every position with its quantity, contract
  size, cost, margin mode, isolated margin, volatility scale and the MM tier table in force;
* every intermediate number: each position's value, PnL, notional, tier and MM, each
  collateral line's value, each scope's equity, MM and notional (the cross account and each isolated
  position), and the level each scope gives.

``docs/verify.md`` states the arithmetic a verifier redoes; ``solvent_verify`` redoes it
without this package. The certificate is made by replaying the verified journal to the
record (``journal/explain.py``'s replay), so its numbers are the engine's.

**When in the record.** The account is judged as it was when its level changed: after the
command alone, or, for a level change that follows liquidation steps of the same record (a
partial close that brings it back above its target, the next round of a cascade), after
those steps (``journal/explain.py``'s ``judged_at`` keeps the account each time its level
changes while the record is replayed). Under a liquidation policy an account being
liquidated leaves liquidation only at its target equity, ``MM × (1 + target_buffer) +
exit_buffer × notional`` (``engine/liquidation.py``'s ``exit_guard``): the certificate states
both buffers (``rules.liquidation_exit``, bound to the configuration in force) and each
scope's notional, so a verifier redoes that rule too.

**The account's prior state.** Given a second signed checkpoint of size ``seq`` (records 0 to
seq−1) with a ``state`` line, the certificate also holds ``prior``: the account's extract under
it (``account_extract.py``, ``solvent-account-v1``: the account as the venue's state held it
just before the record) and the consistency proof from that checkpoint to the one covering
the record. When neither the record's input nor an event before the certified one names the
account (a mark move, the usual trigger), the judged account is that prior account, so a
verifier checks that the balances and positions listed are exactly the ones the signed state
holds, and that its level there is the claim's ``previous``. A record that changes the account
before judging it (its own fill, deposit, funding payment, an ADL against it) has no prior
binding (refused when asked for; ``prior_binds`` says whether it applies). Without ``prior`` the
certificate proves that these numbers, under these rules and these signed marks, give exactly
the equity and MM the signed event states, and that level, but not that they were the
account's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from solvent.engine.config import EngineConfig, LiquidationPolicy
from solvent.engine.context import Ctx
from solvent.engine.contract_value import gain
from solvent.engine.contract_value import notional as notional_of
from solvent.engine.contract_value import value as value_of
from solvent.engine.core import Engine
from solvent.engine.events import BOOK_STEP
from solvent.engine.liquidation import FirstClose, exit_guard, first_close, scope_order, target_equity
from solvent.engine.margin import MarginView, position_mm
from solvent.engine.margin_cache import MarginCache
from solvent.engine.state import AccountState
from solvent.engine.venue_rules import carried_equity, effective_policy, rule_of
from solvent.errors import InvalidInput
from solvent.journal.backend import JournalBackend, JournalError
from solvent.journal.checkpoint_note import note_signers, parse_checkpoint
from solvent.journal.codec import CodecError, decode_record, encode_command, encode_profile
from solvent.journal.explain import command_record, engine_before, judged_at
from solvent.journal.log_proofs import log_consistency, record_inclusion
from solvent.model import PositionSide
from solvent.proofs.account_extract import account_extract
from solvent.risk.collateral import value_wallet
from solvent.risk.levels import LEVEL_ORDER, MarginLevel, next_level
from solvent.risk.liquidation_rules import LiquidationRuleKind
from solvent.risk.rules import MMBasis
from solvent.units import WORKING_PRECISION, exact, plain

__all__ = ["CERT_VERSION", "after_binds", "certify", "prior_binds"]

CERT_VERSION = "solvent-cert-v1"
_RANK = {level.value: rank for rank, level in enumerate(LEVEL_ORDER)}
_BEING_LIQUIDATED = frozenset({MarginLevel.LIQUIDATION.value, MarginLevel.BANKRUPT.value})


def _s(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def _is_book_step(event: dict[str, Any]) -> bool:
    return bool(event["type"] == "LiquidationStep" and event["kind"] == BOOK_STEP)


def _pick(events: tuple[dict[str, Any], ...], account: str | None, index: int | None) -> int:
    """The event to certify: event ``index`` if given (a level change, or a liquidation step on
    the book, of ``account`` if given); else the first level change to margin call or worse (of
    ``account``, if given), else the first level change at all."""
    if index is not None:
        if not 0 <= index < len(events):
            raise InvalidInput(f"the record has {len(events)} events (0 to {len(events) - 1}), not an event {index}")
        if not (events[index]["type"] == "MarginLevelChanged" or _is_book_step(events[index])):
            raise InvalidInput(f"event {index} of the record is not a margin level change or a liquidation step "
                               "on the book")
        if account is not None and events[index]["account_id"] != account:
            raise InvalidInput(f"event {index} of the record is an event of another account")
        return index
    changes = [(i, e) for i, e in enumerate(events) if e["type"] == "MarginLevelChanged"
               and (account is None or e["account_id"] == account)]
    if not changes:
        who = f" of account {account!r}" if account is not None else ""
        raise InvalidInput(f"the record has no margin level change{who} to certify")
    serious = [i for i, e in changes if _RANK[e["level"]] >= _RANK[MarginLevel.MARGIN_CALL.value]]
    return serious[0] if serious else changes[0][0]


def _mark_records(backend: JournalBackend, seq: int, symbols: set[str]) -> dict[str, int]:
    """For each symbol, the last record at or before ``seq`` whose events changed its mark."""
    found: dict[str, int] = {}
    for stored in backend.records(1):
        if stored.seq > seq:
            break
        try:
            record = decode_record(stored.payload)
        except CodecError as exc:
            raise JournalError(f"journal corrupt at seq {stored.seq}: {exc}") from None
        for event in record.events:
            if event["type"] == "MarkPriceChanged" and event["symbol"] in symbols:
                found[event["symbol"]] = stored.seq
    return found


def _params_record(backend: JournalBackend, seq: int) -> int | None:
    """The last ``params`` record at or before ``seq``: the one whose rules are in force there."""
    found = None
    for stored in backend.records(1):
        if stored.seq > seq:
            break
        if stored.payload.find(b'"kind":"params","config":', 0, 64) != -1:  # the record's own kind
            found = stored.seq
    return found


def _tiers(engine: Engine, symbol: str, qty: Decimal) -> list[dict[str, str]]:
    table = engine.config.profile.rules_for(symbol).maintenance_table(abs(qty))
    return [{"floor": plain(t.floor_notional), "mmr": plain(t.maint_margin_rate), "amount": plain(t.maint_amount)}
            for t in table.tiers]


def _positions(engine: Engine, acc: AccountState, view: MarginView) -> list[dict[str, Any]]:
    """Every open position, grouped by symbol in sorted order (the order the engine sums)."""
    profile = engine.config.profile
    out: list[dict[str, Any]] = []
    for symbol in sorted({p.symbol for p in acc.positions.values()}):
        for pos in (p for p in acc.positions.values() if p.symbol == symbol):
            if not pos.qty:  # a flat position counts nowhere (margin.symbol_margin)
                continue
            inverse = profile.instrument(symbol).is_inverse
            mark = view.mark(symbol)
            size = pos.qty * pos.contract_size
            value = value_of(size, mark, inverse)
            notional = notional_of(size, mark, inverse)
            table = profile.rules_for(symbol).maintenance_table(abs(pos.qty))
            basis = abs(pos.cost) if profile.mm_basis is MMBasis.ENTRY else notional
            out.append({
                "symbol": symbol, "position_side": pos.position_side.value, "qty": plain(pos.qty),
                "contract_size": plain(pos.contract_size), "cost": plain(pos.cost), "inverse": inverse,
                "margin_mode": pos.margin_mode.value, "isolated_margin": plain(pos.isolated_margin),
                "scale": _s(view.scales.get(symbol)), "tiers": _tiers(engine, symbol, pos.qty),
                "value": plain(value), "upnl": plain(value - pos.cost), "notional": plain(notional),
                "tier": table.tier_index(basis) if pos.qty else 0, "mm": plain(position_mm(pos, view)),
            })
    return out


def _collateral(engine: Engine, acc: AccountState, view: MarginView) -> list[dict[str, Any]]:
    config = engine.config
    lines = value_wallet(acc.balances, view.asset_prices, config.settle_asset, config.collateral,
                         config.money_quantum, unpriced_counts_zero=True).lines
    out = []
    for line in lines:
        asset = config.collateral.get(line.asset)
        out.append({"asset": line.asset, "balance": plain(line.balance), "price": _s(line.price),
                    "haircut": plain(asset.haircut) if asset is not None else "0",
                    "haircut_tiers": [[plain(q), plain(c)] for q, c in asset.haircut_tiers] if asset else [],
                    "value": plain(line.value)})
    return out


def _scopes(engine: Engine, acc: AccountState, previous: str, policy: LiquidationPolicy | None
            ) -> list[dict[str, Any]]:
    """The cross account and each isolated position: equity, MM, the notional a liquidation's
    exit is read against, and the level the scope gives (``Engine._relevel``'s rules)."""
    margin = engine.margin_from_scratch(acc.account_id)
    profile, thresholds = engine.config.profile, engine.config.thresholds
    prev = MarginLevel(previous)

    def level(equity: Decimal, mm: Decimal, notional: Decimal) -> str:
        return exit_guard(policy, prev, next_level(prev, equity, mm, profile, thresholds), equity, mm, notional).value

    scopes = [{"scope": "cross", "symbol": None, "position_side": None, "equity": plain(margin.equity),
               "maintenance_margin": plain(margin.maintenance_margin), "notional": plain(margin.notional),
               "level": level(margin.equity, margin.maintenance_margin, margin.notional)}]
    scopes += [{"scope": "isolated", "symbol": part.symbol, "position_side": part.position_side.value,
                "equity": plain(part.equity), "maintenance_margin": plain(part.maintenance_margin),
                "notional": plain(part.notional),
                "level": level(part.equity, part.maintenance_margin, part.notional)}
               for part in margin.isolated]
    return scopes


_NAMES_ACCOUNT = ("account_id", "buyer_id", "seller_id", "counterparty")
"""The fields of an input or event that name an account it changes."""
_LIQUIDATING = frozenset({"LiquidationStep", "AutoDeleveraged", "LossSocialised", "CollateralConverted",
                          "InsuranceFundChanged"})
"""A liquidation step also moves the venue's book or backstop account, which it does not name;
the insurance fund covering an account's deficit (or taking its fee) moves the account and names
it only in its ``reason``."""


def prior_binds(command: dict[str, Any], events: Sequence[dict[str, Any]], index: int, account_id: str) -> bool:
    """Whether the account judged by event ``index`` is the account as it was before the record:
    neither the record's input nor an earlier event of it names the account, and no earlier
    event is a liquidation's."""
    return not any(item.get(name) == account_id for item in (command, *events[:index]) for name in _NAMES_ACCOUNT) \
        and not any(e.get("type") in _LIQUIDATING for e in events[:index])


_CLOSE_RULES = frozenset(LiquidationRuleKind)
"""The rules whose book close a certificate shows (``_liquidation``): every one. The close terms
of ``venue_rules.close_terms`` (a fee rate, a takeover at the bankruptcy price, dYdX's
insurance-fund delta against its bankruptcy quote, within its fillable price) and Drift's
takeover (``venue_rules.drift_step``)."""
_MOVES_ANYONE = frozenset({"AutoDeleveraged", "LossSocialised", "InsuranceFundChanged"})
"""Events that may move an account without naming it in an account field: an ADL, a socialised
loss, the fund covering a deficit (named in its ``reason`` only). Another account's liquidation
step moves that account and the book, which is never itself liquidated."""
_BETWEEN = frozenset({"MarginCall", "OrderCancelled"})
"""What may come between a liquidation trigger and the account's first step (its margin call
and its orders cancelled): nothing that moves the scope's equity."""


def _moves(event: dict[str, Any], account_id: str) -> bool:
    """Whether ``event`` may move the account's equity (``_MOVES_ANYONE``, an event naming it
    other than its margin call and its orders cancelled)."""
    return event["type"] in _MOVES_ANYONE or (
        event["type"] not in _BETWEEN and any(event.get(name) == account_id for name in _NAMES_ACCOUNT))


def step_claim_problem(events: Sequence[dict[str, Any]], index: int, account_id: str) -> str | None:
    """Why the liquidation step ``index`` cannot be certified on its own (``None``: it can). It
    can when it is the account's first liquidation step of the record and nothing before it in
    the record moved the account: its level did not change there (that level change's
    certificate shows the step), no earlier event names it but its orders cancelled, and none
    is an ADL, a socialised loss or a payment of the insurance fund."""
    for e in events[:index]:
        if e["type"] == "MarginLevelChanged" and e["account_id"] == account_id:
            return "its level changed earlier in the record: certify that level change, which shows its first step"
        if _moves(e, account_id):
            return "an earlier event of the record moves the account (or may: an ADL, a socialised loss, a payment " \
                   "of the insurance fund)"
    return None


def _first_step(events: Sequence[dict[str, Any]], index: int, account_id: str) -> int | None:
    """The account's first liquidation step after event ``index`` (at it, when it is one), a close
    on the book with nothing between that moves its equity (``_MOVES_ANYONE``, another event of
    it)."""
    if events[index]["type"] == "LiquidationStep":
        return index if _is_book_step(events[index]) and events[index]["account_id"] == account_id else None
    for j in range(index + 1, len(events)):
        e = events[j]
        if e["type"] == "LiquidationStep" and e["account_id"] == account_id:
            return j if e["kind"] == BOOK_STEP else None
        if _moves(e, account_id):
            return None
    return None


def _in_scope(position: dict[str, Any], scope: dict[str, Any]) -> bool:
    if scope["scope"] == "cross":
        return bool(position["margin_mode"] == "cross")
    return bool(position["margin_mode"] == "isolated" and (position["symbol"], position["position_side"]) == (
        scope["symbol"], scope["position_side"]))


def _first_under(judged: Engine, acc: AccountState, scopes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The scope a liquidation acts on first: the first below its maintenance margin in the order
    ``liquidate_account`` takes them (``scope_order``)."""
    keyed = {None if sc["scope"] == "cross" else (sc["symbol"], sc["position_side"]): sc for sc in scopes}
    keys = [None if key is None else (key[0], key[1].value) for key in scope_order(acc)]
    ordered = [keyed[key] for key in keys if key in keyed]
    profile = judged.config.profile
    return next((sc for sc in ordered if profile.is_liquidatable(Decimal(sc["equity"]),
                                                                 Decimal(sc["maintenance_margin"]))), None)


def _liquidation(judged: Engine, acc: AccountState, policy: LiquidationPolicy, scope: dict[str, Any],
                 scopes: list[dict[str, Any]], positions: list[dict[str, Any]], events: Sequence[dict[str, Any]],
                 index: int) -> dict[str, Any] | None:
    """The liquidation's first step in the judged scope, with the numbers it rests on: the
    position it closes, the equity that position carries, its bankruptcy price and the fee
    (``engine/liquidation.first_close``); ``None`` when the record has no such step or the
    venue's rule is not one ``_CLOSE_RULES`` names."""
    at = _first_step(events, index, acc.account_id)
    if at is None or _first_under(judged, acc, scopes) is not scope or not any(_in_scope(p, scope) for p in positions):
        return None  # no step, or another scope's comes first (the cross account, then isolated ones in order)
    step = events[at]
    config = dataclasses.replace(judged.config, liquidation=policy)
    if rule_of(config).kind not in _CLOSE_RULES:
        return None
    key = None if scope["scope"] == "cross" else (scope["symbol"], PositionSide(scope["position_side"]))
    qty, price = Decimal(step["qty"]), Decimal(step["price"])
    close = first_close(Ctx(judged.state, config, {}, MarginCache()), acc, key, qty, price)
    pos = close.position
    if pos.symbol != step["symbol"]:
        return None  # another scope's step came first (the cross account is liquidated before isolated ones)
    if close.terms.fee != Decimal(step["fee"]):
        raise JournalError(f"replayed, the liquidation step {at} charges {close.terms.fee}, not {step['fee']}")
    inverse = config.profile.instrument(pos.symbol).is_inverse
    sign, mark = (1 if pos.qty > 0 else -1), judged.margin_view().mark(pos.symbol)
    eq_exec = close.figures.equity + gain(sign * qty * pos.contract_size, price, mark, inverse)
    shown = next(i for i, p in enumerate(positions) if (p["symbol"], p["position_side"]) == (
        pos.symbol, pos.position_side.value))
    part: dict[str, Any] = {"rule": close.rule.value, "revision": policy.revision, "fee_rate": plain(close.fee_rate),
                            "step": at, "position": shown}
    if close.drift is not None:
        return part | _drift_part(config, acc, judged.state.now_ms, close, (qty, price), positions[shown], eq_exec)
    if close.rule is LiquidationRuleKind.DYDX_V4:
        dydx = _dydx_part(judged, config, close, qty, eq_exec)
        return None if dydx is None else part | dydx
    return part | {
        "carried_equity": plain(carried_equity(pos, qty, mark, close.figures, inverse)),
        "bankruptcy_price": plain(close.bankruptcy_exact), "equity_at_fill": plain(eq_exec),
        "fee": plain(close.terms.fee),
    }


def _dydx_part(judged: Engine, config: EngineConfig, close: FirstClose, qty: Decimal,
               eq_exec: Decimal) -> dict[str, Any] | None:
    """What a dYdX v4 close is judged on (``venue_rules.close_terms``, ``dydx_fillable``): the
    rule's parameters, the fillable price, the MM the close leaves on the position, the
    bankruptcy quote and price, and the insurance-fund delta (a fee, or the fund's payment).
    ``None`` where a certificate cannot show it: an MM on the entry basis, or a table that
    depends on the position's size (the verifier re-derives the MM left from the listed table)."""
    pos, f = close.position, close.figures
    rules = config.profile.rules_for(pos.symbol)
    rest = abs(pos.qty) - qty
    if f.mm <= 0 or config.profile.mm_basis is not MMBasis.MARK or (rest and rules.maintenance_table(rest).tiers
                                                        != rules.maintenance_table(abs(pos.qty)).tiers):
        return None
    rule = rule_of(config)
    quote = close.terms.bankruptcy
    return {
        "bankruptcy_adjustment_ppm": rule.bankruptcy_adjustment_ppm,
        "spread_to_maint_margin_ratio_ppm": rule.spread_to_maint_margin_ratio_ppm,
        "max_liquidation_fee_ppm": rule.max_liquidation_fee_ppm,
        "tick": _s(config.profile.instrument(pos.symbol).tick_size), "price_step": plain(config.price_step(pos.symbol)),
        "fillable_price": _s(close.fillable), "rest_mm": plain(f.rest_mm),
        "bankruptcy_price": _s(quote), "equity_at_fill": plain(eq_exec), "fee": plain(close.terms.fee),
        "fund_pays": plain(close.terms.fund_pays),
    }


def _drift_part(config: EngineConfig, acc: AccountState, now_ms: int, close: FirstClose,
                signed: tuple[Decimal, Decimal], position: dict[str, Any], eq_exec: Decimal) -> dict[str, Any]:
    """What a Drift takeover is computed from (``venue_rules.drift_step``): the rule's fees and
    escalation, the time since the account's previous step, the lot and price grid, and each
    intermediate figure in the precision Drift reads it."""
    drift, pos = close.drift, close.position
    assert drift is not None
    if (drift.qty, drift.price) != signed:
        raise JournalError(f"replayed, the Drift takeover is {drift.qty} at {drift.price}, not {signed[0]} at "
                           f"{signed[1]}")
    if Decimal(position["mm"]) != close.figures.pos_mm:
        raise JournalError(f"the position's MM {position['mm']} is not the {close.figures.pos_mm} the step reads")
    rule = rule_of(config)
    fees = rule.drift_fees[pos.symbol]
    policy = effective_policy(config)
    assert policy is not None
    return {
        "liquidator_fee": plain(fees.liquidator_fee), "if_liquidation_fee": plain(fees.if_liquidation_fee),
        "max_liquidator_fee": plain(rule.max_liquidator_fee), "fee_grace_ms": rule.fee_grace_ms,
        "fee_increase_per_ms": plain(rule.fee_increase_per_ms), "now_ms": now_ms,
        "last_liquidation_ms": acc.last_liquidation_ms, "escalated_fee": plain(drift.liquidator_fee),
        "lot": plain(config.profile.instrument(pos.symbol).lot), "price_step": plain(config.price_step(pos.symbol)),
        "target_equity": plain(target_equity(policy, close.figures.mm, close.figures.notional)),
        "shortage": plain(drift.shortage), "margin_ratio": plain(drift.margin_ratio),
        "base": None if drift.base is None else plain(drift.base), "equity_at_fill": plain(eq_exec),
        "fee": plain(close.terms.fee),
    }


def after_binds(events: Sequence[dict[str, Any]], index: int, account_id: str) -> bool:
    """Whether the account judged by event ``index`` is, in its balances and positions, the
    account as it was after the record: no later event of the record names it (its margin call
    and its orders cancelled aside, which move neither) and none is a liquidation's."""
    return not any((e.get("type") not in _BETWEEN and any(e.get(name) == account_id for name in _NAMES_ACCOUNT))
                   or e.get("type") in _LIQUIDATING for e in events[index + 1:])


def _state_part(backend: JournalBackend, size: int, note: str, signed: str, account_id: str) -> dict[str, Any]:
    """The account's extract under ``signed`` (a checkpoint of the first ``size`` records with a
    state line) and the consistency proof from it to ``note``."""
    checkpoint = parse_checkpoint(signed)
    if not note_signers(signed) & note_signers(note):
        raise InvalidInput("the state checkpoint is not signed by the key that signed the record's checkpoint")
    if checkpoint.size != size:
        raise InvalidInput(f"the state checkpoint must cover records 0–{size - 1} (size {size}), not size "
                           f"{checkpoint.size}")
    return {"extract": account_extract(backend, account_id, signed), "consistency": log_consistency(backend, signed,
                                                                                                     note)}


@exact
def certify(backend: JournalBackend, seq: int, note: str, account: str | None = None, *, index: int | None = None,
            prior: str | Callable[[int], str] | None = None) -> dict[str, Any]:
    """The certificate of a level change in record ``seq`` under the signed checkpoint ``note``
    (which must cover the record and the records that set its marks): its event ``index``, or
    the one ``_pick`` chooses (of ``account``, if given). ``prior``: a signed
    checkpoint of size ``seq`` with a state line, to bind the account's state before the record
    (refused when the record changes the account before judging it), or a signer of one, called
    only when the binding applies."""
    record = command_record(backend, seq, "no level change to certify")
    index = _pick(record.events, account, index)
    event = record.events[index]
    aid = str(event["account_id"])
    step_claim = event["type"] == "LiquidationStep"
    problem = step_claim_problem(record.events, index, aid) if step_claim else None
    if problem is not None:
        raise InvalidInput(f"the liquidation step {index} of record {seq} is not certified on its own: {problem}")
    command = encode_command(record.input) if record.kind == "command" and record.input is not None else {}
    binds = record.input is not None and prior_binds(command, record.events, index, aid)
    binds_after = not binds and not step_claim and after_binds(record.events, index, aid)
    if step_claim and (prior is None or not binds):
        raise InvalidInput(
            f"the liquidation step {index} of record {seq} is certified on its own only against the signed state "
            "before its record (no signed event states the equity and MM it was judged on): "
            + ("give a signer key or a state checkpoint of size " + str(seq) if binds else
               "an earlier event of the record is another account's liquidation, so that state is not the one judged"))
    if isinstance(prior, str) and parse_checkpoint(prior).size == seq + 1 and binds_after and not step_claim:
        binds, binds_after = False, True  # a state checkpoint after the record, where it binds
    elif isinstance(prior, str) and not binds:
        raise InvalidInput(
            f"record {seq} changes {aid} before judging it: the state before the record is not the one judged, "
            + (f"but the state after it is (give a state checkpoint of size {seq + 1})" if binds_after
               else "nor, as it changes it after too, the state after it (certify without a state checkpoint)"))
    assert record.input is not None
    at = judged_at(engine_before(backend, seq, None), record.input, aid, index)
    judged, policy = at.engine, at.policy
    if step_claim and "sha256" not in encode_profile(judged.config.profile):
        raise InvalidInput(f"the liquidation step {index} of record {seq} is not certified on its own: the venue "
                           f"profile in force is not the bundled {judged.config.profile.name} file (a dated overlay, "
                           "or a profile of its own), whose MM tables solvent-verify --profile could bind")
    acc = judged.state.accounts[aid]
    view = judged.margin_view()
    previous = acc.level if step_claim else str(event["previous"])
    scopes = _scopes(judged, acc, previous, policy)
    if step_claim:  # the account stays in liquidation: its worst scope is the one judged
        worst = max(range(len(scopes)), key=lambda i: (_RANK[scopes[i]["level"]], -i))
        equity, mm = Decimal(scopes[worst]["equity"]), Decimal(scopes[worst]["maintenance_margin"])
        event = {"account_id": aid, "previous": previous, "level": scopes[worst]["level"],
                 "equity": scopes[worst]["equity"], "maintenance_margin": scopes[worst]["maintenance_margin"],
                 "margin_ratio": plain(mm / equity) if equity > 0 else None}
        if event["level"] != previous:
            raise JournalError(f"record {seq}: replayed, {aid} is at {event['level']} when the step starts, not "
                               f"{previous}")
    claimed = (event["equity"], event["maintenance_margin"])
    chosen = next((i for i, sc in enumerate(scopes) if (sc["equity"], sc["maintenance_margin"]) == claimed
                   and sc["level"] == event["level"]), None)
    if chosen is None:
        raise JournalError(f"record {seq}: replayed, {aid}'s scopes do not give the recorded level change")
    config = judged.config
    listed = _positions(judged, acc, view)
    symbols = {p["symbol"] for p in listed} | {
        a for a in acc.balances if a != config.settle_asset}
    marks = {s: view.marks[s] for s in symbols if s in view.marks} | {
        a: view.asset_prices[a] for a in symbols if a in view.asset_prices}
    setters = _mark_records(backend, seq, set(marks))
    mark_proofs = {s: _log_part(record_inclusion(backend, setters[s], note)) for s in sorted(marks)
                   if s in setters}
    if set(mark_proofs) != set(marks):
        raise JournalError(f"record {seq}: no record sets the mark of {sorted(set(marks) - set(mark_proofs))}")
    inclusion = record_inclusion(backend, seq, note)
    bound: dict[str, Any] = {}
    params = _params_record(backend, seq)
    if params is not None:  # the rules in force are that record's, not the genesis record's
        bound["params"] = _log_part(record_inclusion(backend, params, note))
    if policy is not None and event["level"] in _BEING_LIQUIDATED:
        liquidation = _liquidation(judged, acc, policy, scopes[chosen], scopes, listed, record.events, index)
        if liquidation is not None:
            bound["liquidation"] = liquidation
    if step_claim and "liquidation" not in bound:
        raise InvalidInput(f"the liquidation step {index} of record {seq} is not one a certificate shows (solvent-"
                           "cert-v1 shows the first step of the scope a liquidation takes first, when that is the "
                           "account's worst; dYdX closes only for an MM on the mark basis)")
    if prior is not None and binds:
        bound["prior"] = _state_part(backend, seq, note, prior if isinstance(prior, str) else prior(seq), aid)
    elif prior is not None and binds_after:
        bound["after"] = _state_part(backend, seq + 1, note, prior if isinstance(prior, str) else prior(seq + 1),
                                     aid)
    return {
        "v": CERT_VERSION,
        "claim": {"seq": seq, "event_index": index, "account_id": aid, "previous": previous,
                  "level": event["level"]},
        "log": _log_part(inclusion) | {"checkpoint": note},
        "genesis": _log_part(record_inclusion(backend, 0, note)),
        "rules": {
            "profile": config.profile.name,
            "liquidation_trigger": config.profile.liquidation_trigger.value,
            "mm_basis": config.profile.mm_basis.value,
            "warning_ratio": plain(config.thresholds.warning),
            "margin_call_ratio": plain(config.thresholds.margin_call),
            "hysteresis": plain(config.thresholds.hysteresis),
            "settle_asset": config.settle_asset,
            "money_quantum": plain(config.money_quantum),
            "precision": WORKING_PRECISION,
            "liquidation_exit": None if policy is None else {"target_buffer": plain(policy.target_buffer),
                                                             "exit_buffer": plain(policy.exit_buffer)},
        },
        "marks": {s: {"price": plain(marks[s]), **mark_proofs[s]} for s in sorted(marks)},
        "collateral": _collateral(judged, acc, view),
        "positions": listed,
        "scopes": scopes,
        "judged_scope": chosen,
        "equity": event["equity"],
        "maintenance_margin": event["maintenance_margin"],
        "margin_ratio": event["margin_ratio"],
    } | bound


def _log_part(inclusion: dict[str, Any]) -> dict[str, Any]:
    return {"origin": inclusion["origin"], "size": inclusion["size"], "index": inclusion["index"],
            "record": inclusion["record"], "path": inclusion["path"]}
