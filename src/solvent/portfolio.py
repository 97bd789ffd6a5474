"""Portfolios from plain data: the ``solvent account`` file format (see ``docs/account-file.md``).

A portfolio is a cross wallet and positions on one venue, each position with the margin
rules that apply to it: the venue's, or a one-bracket override (``mmr`` and
``maint_amount``) given in the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from solvent.calc.account import MONEY_QUANTUM, AccountReport, assess_account
from solvent.errors import InvalidInput
from solvent.file_formats import AccountFile, HaircutSpec, PositionEntry, read_as
from solvent.limits import MAX_AMOUNT, MAX_PRICE, MAX_QTY, min_price, within
from solvent.model import Asset, Instrument, MarginMode, Position, PositionMode, PositionSide, Side, two_in_one_slot
from solvent.risk.collateral import DEFAULT_HAIRCUTS, CollateralValue, value_wallet
from solvent.risk.rules import MarginRules, TieredRules
from solvent.risk.tiers import TierTable
from solvent.risk.venues import VenueProfile
from solvent.units import ZERO, exact, non_negative, plain, positive, to_decimal

__all__ = ["Portfolio", "margin_amount", "override_rules", "parse_portfolio", "position_from_spec"]

E = TypeVar("E", Side, MarginMode, PositionSide, PositionMode)


@dataclass(frozen=True, slots=True)
class Portfolio:
    """A cross wallet (its value in the settlement asset) and positions with their margin rules.

    ``collateral`` is the per-asset valuation of a multi-asset wallet (``None`` when the file
    gives the wallet as one settlement-asset amount); ``wallet`` is then its total.
    """

    profile: VenueProfile
    wallet: Decimal
    positions: tuple[Position, ...]
    rules: tuple[MarginRules, ...]
    collateral: CollateralValue | None = None

    @exact
    def assess(self) -> AccountReport:
        return assess_account(self.wallet, self.positions, self.rules, self.profile)


@exact
def override_rules(mmr: object, maint_amount: object, where: str) -> MarginRules:
    """One bracket given by hand: ``MM = notional × mmr − maint_amount`` at every size."""
    rate = positive(mmr, f"{where}.mmr")
    if rate > 1:
        raise InvalidInput(f"{where}.mmr must be <= 1, got {rate}")
    amount = non_negative(maint_amount if maint_amount is not None else "0", f"{where}.maint_amount")
    return TieredRules(TierTable.single(rate, maint_amount=amount, name=f"{where} bracket"))


@exact
def position_from_spec(
    raw: Mapping[str, Any] | PositionEntry, profile: VenueProfile, default_mode: MarginMode, where: str,
    rules: MarginRules | None = None,
) -> tuple[Position, MarginRules]:
    """Build one position (and its rules) from an account-file entry.

    ``rules`` (a tier table the caller was given, e.g. ``liq-price --tiers``) takes the place of
    the venue's table for every check, the leverage's included."""
    spec = raw if isinstance(raw, PositionEntry) else read_as(raw, PositionEntry, where)
    instrument = profile.instrument(spec.symbol)
    side = _enum(Side, spec.side, f"{where}.side")
    mode = _enum(MarginMode, spec.margin_mode or default_mode.value, f"{where}.margin_mode")
    qty = within(positive(spec.qty, f"{where}.qty"), MAX_QTY, f"{where}.qty")
    entry = _price(spec.entry, instrument, f"{where}.entry")
    mark = _price(spec.mark, instrument, f"{where}.mark") if spec.mark is not None else None
    within(qty * instrument.contract_size * max(entry, mark or entry), MAX_AMOUNT,
             f"{where}: qty × contract size × price")
    leverage = positive(spec.leverage, f"{where}.leverage") if spec.leverage is not None else None
    if spec.maint_amount is not None and spec.mmr is None:
        raise InvalidInput(f"{where}: 'maint_amount' needs 'mmr' (it is that bracket's maintenance amount)")
    if spec.isolated_margin is not None and mode is MarginMode.CROSS:
        raise InvalidInput(f"{where}: 'isolated_margin' is for an isolated position; this one is cross "
                           "(set \"margin_mode\": \"isolated\", or leave it out)")
    if spec.mmr is not None:
        if rules is not None:
            raise InvalidInput(f"{where}: give 'mmr' or a tier table, not both")
        rules = override_rules(spec.mmr, spec.maint_amount, where)
    elif rules is None:
        rules = profile.rules_for(spec.symbol)
    if leverage is not None:
        rules.check_leverage(qty, instrument.notional(qty, entry), leverage)
        if not profile.on_leverage_grid(leverage):
            raise InvalidInput(f"{where}.leverage: {leverage} is not a multiple of {profile.leverage_step}, "
                               f"the leverage step of {profile.name}")
    _check_mm_not_negative(rules, qty, instrument.notional(qty, mark or entry), where)
    isolated = ZERO
    if mode is MarginMode.ISOLATED:
        isolated = _isolated_margin(spec.isolated_margin, instrument.notional(qty, entry), leverage, where)
    position = Position(
        instrument=instrument,
        side=side,
        qty=qty,
        entry_price=entry,
        mark_price=mark,
        margin_mode=mode,
        isolated_margin=isolated,
        position_side=_enum(PositionSide, spec.position_side, f"{where}.position_side"),
        leverage=leverage,
    )
    return position, rules


def _price(value: object, instrument: Instrument, where: str) -> Decimal:
    """A price in the range the engine accepts (``solvent/limits.py``): one tick to 10^9."""
    price = positive(value, where)
    low = min_price(instrument.tick_size)
    if price < low:
        raise InvalidInput(f"{where} {price} is below one tick of {instrument.symbol} ({low})")
    return within(price, MAX_PRICE, where)


def _check_mm_not_negative(rules: MarginRules, qty: Decimal, notional: Decimal, where: str) -> None:
    """Refuse a bracket whose ``maint_amount`` makes MM negative at the position's notional."""
    mm = rules.maintenance_table(qty).maintenance_margin(notional)
    if mm < 0:
        raise InvalidInput(
            f"{where}: maint_amount makes maintenance margin negative ({plain(mm)}) at notional {plain(notional)}"
        )


def _check_hedge_legs(positions: Sequence[Position]) -> None:
    """Legs of one symbol share one mark and one margin mode, as a venue has them."""
    first: dict[str, Position] = {}
    for p in positions:
        symbol = p.instrument.symbol
        other = first.setdefault(symbol, p)
        if p.mark_price != other.mark_price:
            raise InvalidInput(
                f"{symbol}: legs of one symbol need one mark, got {other.mark_price} and {p.mark_price}"
            )
        if p.margin_mode is not other.margin_mode:
            raise InvalidInput(f"{symbol}: legs of one symbol must share one margin mode")


def _isolated_margin(given: object, entry_notional: Decimal, leverage: Decimal | None, where: str) -> Decimal:
    if given is not None:
        return margin_amount(given, f"{where}.isolated_margin")
    if leverage is None:
        raise InvalidInput(f"{where}: an isolated position needs 'isolated_margin' or 'leverage'")
    return within(entry_notional / leverage, MAX_AMOUNT, f"{where}: the margin entry notional / leverage")


def margin_amount(value: object, where: str) -> Decimal:
    """A wallet or margin amount: not negative, at most the largest amount solvent accepts."""
    return within(non_negative(value, where), MAX_AMOUNT, where)


@exact
def parse_portfolio(raw: Any, profile: VenueProfile) -> Portfolio:
    """Validate an account file's decoded JSON (see ``docs/account-file.md``)."""
    if not isinstance(raw, dict):
        raise InvalidInput("an account file must hold a JSON object")
    doc = read_as(raw, AccountFile, "account")
    mode = _enum(MarginMode, doc.mode, "mode")
    built = [position_from_spec(s, profile, mode, f"positions[{i}]") for i, s in enumerate(doc.positions)]
    positions = tuple(p for p, _ in built)
    _check_slots(positions, doc.position_mode)
    rules = tuple(r for _, r in built)
    if "wallet" not in raw and any(p.margin_mode is MarginMode.CROSS for p in positions):
        # a cross position needs the wallet it draws on; left out, it read as 0 and showed the account bankrupt
        raise InvalidInput("'wallet' is missing: cross positions draw on the cross wallet "
                           "(write \"wallet\": \"0\" for an empty one)")
    if not isinstance(doc.wallet, dict):
        if any(v is not None for v in (doc.prices, doc.haircuts, doc.settle)):
            raise InvalidInput("'prices', 'haircuts' and 'settle' need a multi-asset wallet object")
        return Portfolio(profile, margin_amount(doc.wallet, "wallet"), positions, rules)
    collateral = _wallet_value(doc, profile, positions)
    return Portfolio(profile, collateral.total, positions, rules, collateral)


def _wallet_value(doc: AccountFile, profile: VenueProfile, positions: Sequence[Position]) -> CollateralValue:
    """Value ``"wallet": {asset: amount}`` with ``"prices"`` and haircuts (``risk/collateral.py``)."""
    settle = _settle_asset(profile, positions, doc.settle)
    balances = {_asset_name(a, "wallet"): _balance(v, f"wallet.{a}") for a, v in doc.wallet.items()}
    prices_raw = doc.prices or {}
    prices = {_asset_name(a, "prices"): within(positive(v, f"prices.{a}"), MAX_PRICE, f"prices.{a}")
              for a, v in prices_raw.items()}
    stray = sorted(set(prices) - set(balances) - {settle})
    if stray:
        raise InvalidInput(f"prices: {', '.join(stray)} not in the wallet")
    unpriced = sorted(a for a, b in balances.items() if a != settle and b and a not in prices)
    if unpriced:
        raise InvalidInput(f"prices.{unpriced[0]} is required: the index price of a non-settlement wallet asset")
    given = doc.haircuts or {}
    assets: dict[str, Asset] = {}
    for asset in sorted(set(balances) - {settle}):
        if asset in given:
            assets[asset] = _asset_spec(asset, given[asset])
        elif asset in DEFAULT_HAIRCUTS:
            assets[asset] = Asset(asset, haircut=DEFAULT_HAIRCUTS[asset])
        elif balances[asset] > 0:
            raise InvalidInput(f"no haircut for collateral asset {asset}: give \"haircuts\": {{\"{asset}\": ...}}")
        else:
            assets[asset] = Asset(asset)  # a debt takes no haircut
    stray = sorted(set(given) - set(assets))
    if stray:
        raise InvalidInput(f"haircuts: {', '.join(stray)} not a non-settlement asset of the wallet")
    return value_wallet(balances, prices, settle, assets, MONEY_QUANTUM)


def _balance(value: object, where: str) -> Decimal:
    """One asset's balance: negative for a debt, at most the largest amount either way."""
    balance = to_decimal(value, where)
    within(abs(balance), MAX_AMOUNT, where)
    return balance


def _settle_asset(profile: VenueProfile, positions: Sequence[Position], given: object) -> str:
    """``"settle"`` if given, else the positions' settlement asset, else the venue's only one."""
    settles = {p.instrument.settle for p in positions} or {i.settle for i in profile.instruments.values()}
    if given is not None:
        if given not in settles:
            raise InvalidInput(f"settle must be one of {', '.join(sorted(settles))}, got {given!r}")
        return str(given)
    if len(settles) != 1:
        raise InvalidInput(f"multi-asset wallet: give \"settle\" (one of {', '.join(sorted(settles))})")
    return settles.pop()


def _object(raw: object, where: str) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} must be an object")
    return raw


def _asset_name(name: object, where: str) -> str:
    if not isinstance(name, str) or not name or len(name) > 32:
        raise InvalidInput(f"{where}: bad asset name {name!r}")
    return name


def _asset_spec(asset: str, raw: object) -> Asset:
    """``"0.05"``, or ``{"haircut": "0.05", "tiers": [["10", "0.1"], ...]}`` (size bands)."""
    if not isinstance(raw, dict):
        return Asset(asset, haircut=non_negative(raw, f"haircuts.{asset}"))
    spec = read_as(raw, HaircutSpec, f"haircuts.{asset}")
    bands = tuple((positive(q, f"haircuts.{asset}.tiers"), non_negative(h, f"haircuts.{asset}.tiers"))
                  for q, h in spec.tiers)
    return Asset(asset, haircut=non_negative(spec.haircut, f"haircuts.{asset}.haircut"), haircut_tiers=bands)


def _check_slots(positions: Sequence[Position], given: str | None) -> None:
    declared = None if given is None else _enum(PositionMode, given, "position_mode")
    if declared is None and positions:
        # Left out, the positions decide, and they must agree: one account is in one mode.
        hedged = [p.position_side is not PositionSide.BOTH for p in positions]
        if any(hedged) and not all(hedged):
            i = hedged.index(False)
            raise InvalidInput(
                f"positions[{i}] ({positions[i].instrument.symbol} {positions[i].side.value}): no position_side, "
                "but another position has a hedge-mode one (\"long\"/\"short\"); an account is in one mode: "
                "give every position a position_side, or none"
            )
    for i, p in enumerate(positions):
        where = f"positions[{i}] ({p.instrument.symbol} {p.side.value})"
        if declared is PositionMode.HEDGE and p.position_side is PositionSide.BOTH:
            raise InvalidInput(f"{where}: position_side is required in hedge mode (\"long\" or \"short\")")
        if declared is PositionMode.ONE_WAY and p.position_side is not PositionSide.BOTH:
            raise InvalidInput(f"{where}: position_side {p.position_side.value!r} is for hedge mode, "
                               "but position_mode is \"one_way\"")
    seen: set[tuple[str, PositionSide]] = set()
    for p in positions:
        key = (p.instrument.symbol, p.position_side)
        if key in seen:
            raise InvalidInput(two_in_one_slot(p.instrument.symbol, p.position_side))
        seen.add(key)
    _check_hedge_legs(positions)


def _enum(kind: type[E], raw: object, where: str) -> E:
    try:
        return kind(str(raw))
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise InvalidInput(f"{where} must be one of {choices}, got {raw!r}") from None
