"""Why a margin call or a liquidation happened, re-derived from the journal.

``explain(backend, seq)`` replays the verified journal up to record ``seq − 1``, then replays
record ``seq`` twice: once as recorded (its events must match) and once with liquidation
off, which leaves the book exactly as it was judged. For every account that the record
margin-called, re-levelled or liquidated it reports the marks used, each position with its
notional, PnL, MM and tier, the equity and MM (checked against the recorded event), the
thresholds, and for liquidations the fee and where the proceeds went.

``judged_at`` finds the book one level change was decided on when liquidation steps of the same
record came before it (certificates, ``proofs/certificate.py``): it replays the record with
liquidation on and keeps the account each time its level changes.
"""

from __future__ import annotations

import copy
import dataclasses
from decimal import Decimal
from typing import Any

from solvent.engine.commands import ChangeParams, Command
from solvent.engine.config import EngineConfig, LiquidationPolicy
from solvent.engine.context import Outcome
from solvent.engine.contract_value import notional as notional_of
from solvent.engine.core import Engine
from solvent.engine.events import Event, event_to_json
from solvent.engine.margin import AccountMargin, MarginView, position_mm
from solvent.engine.state import AccountState, EngineState, MarketState
from solvent.errors import InvalidInput
from solvent.journal.backend import JournalBackend, JournalError
from solvent.journal.codec import CodecError, Record, decode_record, encode_command
from solvent.journal.replay import _until, genesis_tree, open_genesis, replay_tail
from solvent.risk.tiers import tier_json
from solvent.text import shown
from solvent.units import exact, plain

__all__ = ["Judged", "command_record", "engine_before", "explain", "judged_at", "judged_engine", "render_explanation"]

_MAX_SEQ = 2**63 - 1
"""Sequence numbers are 64-bit signed integers in every backend."""

_JUDGED = {"MarginCall", "MarginLevelChanged", "LiquidationStep", "AutoDeleveraged", "LossSocialised",
           "BackstopLossLimit"}
_LIQUIDATION = {"LiquidationStep", "AutoDeleveraged", "LossSocialised", "BackstopLossLimit"}
_MONEY_FLOWS = {"LiquidationStep", "InsuranceFundChanged", "BalanceChanged", "AutoDeleveraged", "LossSocialised"}


def engine_before(backend: JournalBackend, seq: int, config: EngineConfig | None) -> Engine:
    config, head = open_genesis(backend, config)
    engine = Engine(config, checked=False)
    # the records before ``seq`` (none before record 1: ``_until`` yields a record before it stops)
    before = _until(backend.records(1), seq - 1) if seq > 1 else iter(())
    last, _, problem = replay_tail(engine, before, 1, head, tree=genesis_tree(backend))
    if problem is not None:
        raise JournalError(f"cannot explain record {seq}: journal damaged at {problem}")
    if last != seq - 1:
        raise JournalError(f"the journal has no record {seq} (last is {last})")
    return engine


def command_record(backend: JournalBackend, seq: int, otherwise: str) -> Record:
    """Record ``seq``, a command record (``InvalidInput`` naming ``otherwise`` if it is not one)."""
    if seq < 1:
        raise InvalidInput(f"record {seq}: give a command record (seq >= 1; record 0 is the genesis record)")
    if seq > _MAX_SEQ:
        raise InvalidInput(f"the journal has no record {seq}")
    stored = next(iter(backend.records(seq)), None)
    if stored is None or stored.seq != seq:
        raise InvalidInput(f"the journal has no record {seq}")
    try:
        record = decode_record(stored.payload)
    except CodecError as exc:
        raise JournalError(f"record {seq}: {exc}") from None
    if record.input is None:
        raise InvalidInput(f"record {seq} is a {record.kind} record, not a command: {otherwise}")
    return record


def judged_engine(before: Engine, cmd: Command) -> Engine:
    """A copy of ``before`` with ``cmd`` applied and liquidation off: the book exactly as the
    command left it, which is what its level changes were judged on (before any liquidation step)."""
    judged = Engine(dataclasses.replace(before.config, liquidation=None), state=copy.deepcopy(before.state),
                    checked=False)
    if isinstance(cmd, ChangeParams):  # the new rules, liquidation off too
        cmd = ChangeParams(dataclasses.replace(cmd.config, liquidation=None))
    judged.apply(cmd)
    return judged


class _Watching(Engine):
    """An engine that keeps what one account was judged on each time its level changes, and
    each time a liquidation of it starts: a copy of the account, of the markets and the rules in
    force (``Engine._relevel`` is the one place a level is decided, ``Engine._liquidate`` the one
    place a liquidation starts), with the event it led to (the level change; each of the
    liquidation's events)."""

    watched: str
    seen: list[tuple[Event, AccountState, dict[str, MarketState], EngineConfig, int]]

    def _relevel(self, acc: AccountState, m: AccountMargin) -> list[Event]:
        events = super()._relevel(acc, m)
        if events and acc.account_id == self.watched:
            self.seen.append((events[0], copy.deepcopy(acc), copy.deepcopy(self.state.markets), self.config,
                              self.state.now_ms))
        return events

    def _liquidate(self, account_id: str) -> Outcome:
        if account_id != self.watched:
            return super()._liquidate(account_id)
        kept = (copy.deepcopy(self.state.accounts[account_id]), copy.deepcopy(self.state.markets), self.config,
                self.state.now_ms)
        done = super()._liquidate(account_id)
        self.seen.extend((event, *kept) for event in done.events)
        return done


@dataclasses.dataclass(frozen=True, slots=True)
class Judged:
    """The book one level change was decided on: ``engine`` holds the account and the markets
    as they were at that moment, under the rules then in force, with liquidation off (so
    reading it changes nothing); ``policy`` is the liquidation policy that was on, which
    decides when an account leaves liquidation (``engine.liquidation.exit_guard``)."""

    engine: Engine
    policy: LiquidationPolicy | None


def judged_at(before: Engine, cmd: Command, account_id: str, index: int) -> Judged:
    """The book event ``index`` of ``cmd``'s events was decided on (a level change of
    ``account_id``, or an event of a liquidation of it: the account as the liquidation found
    it), found by applying ``cmd`` to a copy of ``before`` and keeping the account each time its
    level changes or a liquidation of it starts: after the command alone, or after liquidation
    steps of the same command."""
    watching = _Watching(before.config, state=copy.deepcopy(before.state), checked=False)
    watching.watched, watching.seen = account_id, []
    result = watching.apply(cmd)
    target = result.events[index] if 0 <= index < len(result.events) else None
    found = next((seen for seen in watching.seen if seen[0] is target), None)
    if found is None:
        raise JournalError(f"replaying the record, event {index} is not a level change or a liquidation of "
                           f"{account_id}")
    _, acc, markets, config, now_ms = found
    state = EngineState(now_ms=now_ms, accounts={account_id: acc}, markets=markets)
    return Judged(Engine(dataclasses.replace(config, liquidation=None), state=state, checked=False), config.liquidation)


@exact
def explain(backend: JournalBackend, seq: int, config: EngineConfig | None = None) -> dict[str, Any]:
    """The justification of record ``seq``'s margin calls and liquidations (JSON-ready)."""
    record = command_record(backend, seq, "nothing to explain")
    engine = engine_before(backend, seq, config)
    assert record.input is not None
    judged = judged_engine(engine, record.input)
    derived = [event_to_json(e) for e in engine.apply(record.input).events]
    events = list(record.events)
    accounts = sorted({str(e["account_id"]) for e in events if e["type"] in _JUDGED})
    return {
        "seq": seq,
        "command": encode_command(record.input) if record.kind == "command" else {"type": "ChangeParams",
                                                                                  "config": record.config},
        "events_match_replay": derived == events,
        "marks": {s: plain(m.mark) for s, m in sorted(judged.state.markets.items()) if m.mark is not None},
        "accounts": [_account(judged, aid, events) for aid in accounts if aid in judged.state.accounts],
        "liquidation": _liquidation(engine, events) if any(e["type"] in _LIQUIDATION for e in events) else None,
    }


def _account(judged: Engine, aid: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    cfg, acc = judged.config, judged.state.accounts[aid]
    ctx_view = MarginView(cfg, {s: m.mark for s, m in judged.state.markets.items() if m.mark is not None},
                          {s: m.mark for s, m in judged.state.markets.items() if m.mark is not None},
                          {s: m.volatility.scale for s, m in judged.state.markets.items() if m.volatility is not None})
    margin = judged.margin_from_scratch(aid)
    recorded = next((e for e in events if e["type"] in ("MarginLevelChanged", "MarginCall")
                     and e["account_id"] == aid), None)
    positions = []
    for (symbol, side), pos in sorted(acc.positions.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
        if pos.qty == 0 or symbol not in ctx_view.marks:
            continue
        mark = ctx_view.marks[symbol]
        inverse = cfg.profile.instrument(symbol).is_inverse
        notional = notional_of(pos.qty * pos.contract_size, mark, inverse)
        table = cfg.profile.rules_for(symbol).maintenance_table(abs(pos.qty))
        positions.append({
            "symbol": symbol, "position_side": side.value, "qty": plain(pos.qty),
            "entry_price": plain(pos.entry_price(inverse)), "mark_price": plain(mark), "notional": plain(notional),
            "unrealised_pnl": plain(pos.pnl(mark, inverse)),
            "margin_mode": pos.margin_mode.value, "isolated_margin": plain(pos.isolated_margin),
            "maintenance_margin": plain(position_mm(pos, ctx_view)),
            "tier": tier_json(table, table.tier_index(notional) + 1),
        })
    # The engine levels an account on the worst of its scopes: the cross account and each
    # isolated position, each judged on its own equity and MM (Engine._relevel). The recorded
    # event carries the numbers of the scope that set the level; find it among the same parts.
    scopes: list[dict[str, Any]] = [{"scope": "cross", "symbol": None, "position_side": None,
                                     "equity": plain(margin.equity),
                                     "maintenance_margin": plain(margin.maintenance_margin)}]
    scopes += [{"scope": "isolated", "symbol": part.symbol, "position_side": part.position_side.value,
                "equity": plain(part.equity), "maintenance_margin": plain(part.maintenance_margin)}
               for part in margin.isolated]
    judged_scope = next((sc for sc in scopes if recorded is not None and recorded["equity"] == sc["equity"]
                         and recorded["maintenance_margin"] == sc["maintenance_margin"]), None)
    ratio = margin.margin_ratio
    return {
        "account_id": aid,
        "collateral": plain(margin.collateral),
        "equity": plain(margin.equity),
        "maintenance_margin": plain(margin.maintenance_margin),
        "margin_ratio": None if ratio is None else plain(ratio),
        "scopes": scopes,
        "judged_scope": judged_scope,
        "matches_recorded": recorded is None or judged_scope is not None,
        "positions": positions,
        "thresholds": {"warning_ratio": plain(cfg.thresholds.warning),
                       "margin_call_ratio": plain(cfg.thresholds.margin_call),
                       "hysteresis": plain(cfg.thresholds.hysteresis),
                       "liquidation_trigger": cfg.profile.liquidation_trigger.value},
        "events": [e for e in events if e.get("account_id") == aid and e["type"] in _JUDGED],
    }


def _liquidation(engine: Engine, events: list[dict[str, Any]]) -> dict[str, Any]:
    policy = engine.config.liquidation
    rate = (policy.fee_rate if policy is not None and policy.fee_rate is not None
            else engine.config.profile.liquidation_fee_rate)
    steps = [e for e in events if e["type"] == "LiquidationStep"]
    fees = sum((Decimal(e["fee"]) for e in steps), start=Decimal(0))
    return {"fee_rate": plain(rate), "fees_total": plain(fees), "steps": steps,
            "proceeds": [e for e in events if e["type"] in _MONEY_FLOWS and e["type"] != "LiquidationStep"],
            "fund_rule": [e for e in events if e["type"] == "FundDrawdownAdl"],
            "backstop_loss_limit": [e for e in events if e["type"] == "BackstopLossLimit"]}


def render_explanation(ex: dict[str, Any]) -> str:
    """A plain-text report of ``explain``'s answer."""
    lines = [f"record {ex['seq']}: {ex['command']['type']} "
             f"(events {'match' if ex['events_match_replay'] else 'DIFFER FROM'} the replay)",
             "marks: " + (", ".join(f"{s} {p}" for s, p in ex["marks"].items()) or "none yet")]
    if not ex["accounts"]:
        lines.append("no margin call or liquidation in this record")
    for acc in ex["accounts"]:
        t = acc["thresholds"]
        lines.append(f"account {shown(acc['account_id'])}: equity {acc['equity']} MM {acc['maintenance_margin']} "
                     f"ratio {acc['margin_ratio']} (collateral {acc['collateral']}; "
                     f"{'matches' if acc['matches_recorded'] else 'DOES NOT match'} the recorded event)")
        for sc in acc["scopes"][1:]:
            lines.append(f"  isolated {sc['symbol']} {sc['position_side']}: equity {sc['equity']} "
                         f"MM {sc['maintenance_margin']}")
        judged_scope = acc["judged_scope"]
        if judged_scope is not None:
            where = ("the cross account" if judged_scope["scope"] == "cross" else
                     f"the isolated {judged_scope['symbol']} {judged_scope['position_side']} position")
            lines.append(f"  the recorded level was set by {where}")
        lines.append(f"  thresholds: warning {t['warning_ratio']}, margin call {t['margin_call_ratio']}, "
                     f"hysteresis {t['hysteresis']}, liquidation {t['liquidation_trigger']}")
        for p in acc["positions"]:
            tier = p["tier"]
            lines.append(f"  {p['symbol']} {p['position_side']} qty {p['qty']} entry {p['entry_price']} "
                         f"mark {p['mark_price']} notional {p['notional']} pnl {p['unrealised_pnl']} "
                         f"MM {p['maintenance_margin']} (tier {tier['index']}: {tier['floor_notional']}–"
                         f"{tier['cap_notional'] or '∞'}: "
                         f"mmr {tier['maint_margin_rate']} − {tier['maint_amount']}) {p['margin_mode']}")
        lines.extend(f"  event {e}" for e in acc["events"])
    liq = ex["liquidation"]
    if liq is not None:
        lines.append(f"liquidation: fee rate {liq['fee_rate']}, fees {liq['fees_total']}")
        lines.extend(f"  step {s}" for s in liq["steps"])
        lines.extend(f"  proceeds {p}" for p in liq["proceeds"])
        lines.extend(f"  fund rule: {f['symbol']} entered drawdown ADL, the fund's PnL there {f['drawdown']} below its "
                     f"peak before this close, peak balance {f['max_balance']}: the fund paid down to the rule's "
                     "limit and ADL took the rest" if f["started"] else
                     f"  fund rule: {f['symbol']} left drawdown ADL (PnL {f['drawdown']} below its peak, peak balance "
                     f"{f['max_balance']}): the fund pays its shortfalls again" for f in liq["fund_rule"])
        lines.extend(f"  backstop loss limit: {b['account_id']} lost {b['loss']}, at least {b['limit']} of its capital "
                     f"{b['capital']}: its positions in loss were deleveraged at the mark"
                     for b in liq.get("backstop_loss_limit", []))
    return "\n".join(lines)
