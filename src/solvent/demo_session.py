"""The demo's engine session: the sample book traded into the engine, then the crash path.

Everything is bundled: the ``binance-usdm`` profile, ``data/sample_accounts.json`` and the
BTCUSDT 1-minute path of 2025-10-10. A market-making desk account takes the other side of
every sample position, so each position enters the engine the way it would on a venue:
deposit, leverage and margin mode, a limit order that passes the pre-trade check, and a
two-sided fill. Then, minute by minute, the path's close is fed as the index source and
time advances 60 s; the engine's ``MarginLevelChanged``, ``MarginCall`` and liquidation
events are the result. The engine is the embedded default (``default_config``: liquidation
on), as the service runs it: the ``book`` account takes liquidation orders at the square-root
impact price, and the insurance fund starts with ``DEMO_INSURANCE``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from solvent.engine import (
    AdvanceTime,
    Command,
    CommandResult,
    Deposit,
    Engine,
    Fill,
    FundInsurance,
    LiquidationPolicy,
    PlaceOrder,
    PriceUpdate,
    SetLeverage,
    SetMarginMode,
)
from solvent.engine.config import default_config
from solvent.engine.events import LiquidationStep, MarginCall, MarginLevelChanged
from solvent.journal import DurableEngine, SqliteBackend
from solvent.journal.head_file import HeadFile, default_head_file
from solvent.jsonstrict import loads_strict
from solvent.model import MarginMode, PositionSide, Side
from solvent.units import to_decimal

__all__ = ["BOOK_DEPOSIT", "DEMO_INSURANCE", "LevelEvent", "LiquidationRow", "held_prices", "minute_commands",
           "run_session", "session_commands"]

DESK = "desk"
DESK_DEPOSIT = Decimal(100_000_000)
BOOK_DEPOSIT = Decimal(1_000_000_000)
"""Seed of the venue's book account, the counterparty of liquidation orders."""
DEMO_INSURANCE = Decimal(100_000)
"""The demo's insurance fund at the start."""
START_MS = 1760129100000 - 3_600_000  # an hour before the path's first minute
SOURCE = "binance-um-1m-close"
PATH_SYMBOL = "BTCUSDT"
"""The symbol of the bundled price path."""
BOOK = LiquidationPolicy().book_account
"""The book account of ``default_config``'s liquidation policy."""


@dataclass(frozen=True, slots=True)
class LevelEvent:
    minute_utc: str
    account_id: str
    previous: str
    level: str
    price: Decimal
    margin_ratio: Decimal | None
    margin_call: bool


@dataclass(frozen=True, slots=True)
class LiquidationRow:
    """One liquidation step the engine took on the path (``LiquidationStep``)."""

    minute_utc: str
    account_id: str
    symbol: str
    qty: Decimal
    price: Decimal
    fee: Decimal


def _sample() -> dict[str, Any]:
    data: dict[str, Any] = loads_strict(
        (resources.files("solvent") / "data" / "sample_accounts.json").read_bytes(), "sample accounts")
    return data


def _opening(account: dict[str, Any], number: int, clock: list[int]) -> Iterator[Command]:
    name = account["name"]
    mode = MarginMode(account.get("mode", "cross"))
    deposit = to_decimal(account.get("wallet", "0"))
    extra = Decimal(0)  # isolated margin, and the pre-trade check's taker-fee reserve (0.05 %)
    for pos in account["positions"]:
        notional = to_decimal(pos["qty"]) * to_decimal(pos["entry"])
        extra += notional * Decimal("0.0005")
        if mode is MarginMode.ISOLATED:
            extra += notional / to_decimal(pos["leverage"])
    yield Deposit(name, "USDT", deposit + extra)
    for k, pos in enumerate(account["positions"]):
        symbol, qty, entry = pos["symbol"], to_decimal(pos["qty"]), to_decimal(pos["entry"])
        side = Side(pos["side"])
        slot = PositionSide(pos.get("position_side", "both"))
        clock[0] += 1000
        yield AdvanceTime(clock[0])
        yield PriceUpdate(symbol, SOURCE, entry)
        if mode is MarginMode.ISOLATED:
            yield SetMarginMode(name, symbol, mode)
        if "leverage" in pos:
            yield SetLeverage(name, symbol, to_decimal(pos["leverage"]))
        oid = f"{name}-{k}"
        yield PlaceOrder(name, oid, symbol, side, qty, entry, position_side=slot)
        buyer, seller = (name, DESK) if side is Side.LONG else (DESK, name)
        buy_oid, sell_oid = (oid, None) if side is Side.LONG else (None, oid)
        yield Fill(f"open-{number}-{k}", symbol, entry, qty, buyer, seller,
                   buy_order_id=buy_oid, sell_order_id=sell_oid,
                   buyer_position_side=slot if buyer == name else PositionSide.BOTH,
                   seller_position_side=slot if seller == name else PositionSide.BOTH)


def session_commands() -> tuple[list[Command], list[tuple[str, Decimal, int]]]:
    """The opening commands, and the path as ``(minute, close, time_ms)``."""
    from solvent.cli.demo import load_sample_path

    sample = _sample()
    clock = [START_MS]
    cmds: list[Command] = [AdvanceTime(START_MS), FundInsurance(DEMO_INSURANCE), Deposit(DESK, "USDT", DESK_DEPOSIT),
                           SetLeverage(DESK, "BTCUSDT", Decimal(10)), SetLeverage(DESK, "ETHUSDT", Decimal(10))]
    for number, account in enumerate(sample["accounts"]):
        cmds.extend(_opening(account, number, clock))
    path = [(p.minute_utc, p.close, START_MS + 3_600_000 + 60_000 * i) for i, p in enumerate(load_sample_path())]
    return cmds, path


def held_prices() -> dict[str, Decimal]:
    """Every symbol of the sample book but the path's, at its sample ``mark`` (else the last
    entry): the bundled path is BTCUSDT's only, so these are held where the calculator holds
    them, and fed each minute so their index stays fresh (a stale index pauses liquidation of
    every account holding the symbol)."""
    held: dict[str, Decimal] = {}
    for account in _sample()["accounts"]:
        for pos in account["positions"]:
            if pos["symbol"] != PATH_SYMBOL:
                held[pos["symbol"]] = to_decimal(pos.get("mark", pos["entry"]))
    return dict(sorted(held.items()))


def minute_commands(now_ms: int, close: Decimal, held: dict[str, Decimal]) -> list[Command]:
    """One minute of the path: the time, the held prices, then the path's close."""
    return [AdvanceTime(now_ms), *[PriceUpdate(s, SOURCE, p) for s, p in held.items()],
            PriceUpdate(PATH_SYMBOL, SOURCE, close)]


def run_session(journal: Path | None = None) -> tuple[Engine, list[LevelEvent], list[LiquidationRow], str | None]:
    """Run the opening and the path; return the engine, every level change and liquidation
    step on the path, and the journal's head hash when ``journal`` (a SQLite file, replaced if
    present) is given.

    With a journal every accepted command is made durable before the session moves on: the
    opening in one group commit, then one group commit per minute of the path.
    """
    config = default_config(overlays=False)  # the bundled specs the sample accounts are sized for
    durable: DurableEngine | None = None
    if journal is not None:
        head = HeadFile(default_head_file(str(journal)))
        for stale in (journal, Path(f"{journal}-wal"), Path(f"{journal}-shm"), head.path):
            stale.unlink(missing_ok=True)
        durable = DurableEngine(SqliteBackend(journal), config, head_file=head)
    engine = durable.engine if durable is not None else Engine(config)

    def apply_all(cmds: list[Command]) -> list[CommandResult]:
        return durable.apply_many(cmds) if durable is not None else [engine.apply(c) for c in cmds]

    opening, path = session_commands()
    opening = [Deposit(BOOK, "USDT", BOOK_DEPOSIT), *opening]
    for cmd, result in zip(opening, apply_all(opening), strict=True):
        if not result.accepted:
            raise RuntimeError(f"demo opening refused {cmd}: {result.denial}")
    found: list[LevelEvent] = []
    steps: list[LiquidationRow] = []
    held = held_prices()
    for minute, close, now_ms in path:
        events = [e for result in apply_all(minute_commands(now_ms, close, held)) for e in result.events]
        for i, e in enumerate(events):
            if isinstance(e, MarginLevelChanged) and e.account_id not in (DESK, BOOK):
                # the engine follows the level change that raises a margin call with its MarginCall
                after = events[i + 1] if i + 1 < len(events) else None
                called = isinstance(after, MarginCall) and after.account_id == e.account_id
                found.append(LevelEvent(minute, e.account_id, e.previous, e.level, close, e.margin_ratio, called))
            elif isinstance(e, LiquidationStep):
                steps.append(LiquidationRow(minute, e.account_id, e.symbol, e.qty, e.price, e.fee))
    head_hash = None
    if durable is not None:
        head_hash = durable.head_hash
        durable.close()
    return engine, found, steps, head_hash
