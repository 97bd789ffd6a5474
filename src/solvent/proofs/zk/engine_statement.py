"""A CEMA statement and witness for one account of the engine (``cema``), with the reasons an
account is outside Z1.

The engine decides; this module only transcribes. It reads the account's balances and
positions, the marks and each position's MM tier, builds the statement, and then checks that
the statement's excess (``cema.excess``) is exactly the engine's own ``equity − MM`` for the
account: an account with anything Z1 does not model is refused rather than attested
differently from the engine. The claim (``claim="auto"``) follows the engine's trigger
(``VenueProfile.is_liquidatable``, the one home of that decision): an account the engine would
liquidate gets "equity ≤ MM" (or "< MM" where the venue's trigger is strict), any other
"equity > MM" (or "≥").

A statement is about one margin scope, as the engine judges them: ``cross`` (the wallet and the
cross positions) or ``isolated:SYMBOL`` (one isolated position and the margin it holds).
Covered: positions on linear instruments (one-way, or hedge mode's two per symbol as two terms)
with tiered MM on the notional at the mark or on the entry value (each position's tier, its rate
and maintenance amount, is public, and its bounds are proven: Z1b), no volatility-scaled MM, and
(cross) a wallet in the settlement asset only. Refused, naming the reason: inverse instruments,
an isolated hedge-mode position, MM rates that grow with size, other collateral assets (the
engine rounds each asset's value down; Z1 attests exact sums).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from decimal import Decimal

from solvent.engine.core import Engine
from solvent.engine.margin import position_mm, position_tier
from solvent.engine.state import AccountState, PositionState
from solvent.errors import InvalidInput
from solvent.journal.backend import JournalBackend
from solvent.model import MarginMode, PositionSide
from solvent.proofs.zk.cema import CollateralTerm, PositionTerm, Statement, Witness, coefficients, excess
from solvent.risk.levels import is_strict
from solvent.risk.rules import MMBasis, size_independent
from solvent.risk.tiers import TierTable

__all__ = [
    "OutsideZ1",
    "account_statement",
    "auto_claim",
    "checkpoint_of",
    "claim_decision",
    "holder_problem",
    "journal_state",
    "money_unit",
    "new_salt",
    "parse_checkpoint",
    "pseudonym",
    "public_inputs_problem",
    "scope_figures",
    "scopes_of",
    "tier_bounds",
]


class OutsideZ1(InvalidInput):
    """The account holds something a Z1 attestation does not cover."""


def checkpoint_of(header: dict[str, object]) -> str:
    """The checkpoint a statement names: ``venue@seq:state_hash`` of a journal snapshot header
    (``proofs.liabilities.snapshot_at``)."""
    return f"{header['venue']}@{header['journal_seq']}:{header['state_hash']}"


JUDGED = "judged"


def journal_state(backend: JournalBackend, seq: int | None, judged: bool = False) -> tuple[Engine, str]:
    """The engine a statement is made on, and its checkpoint: the state after record ``seq``
    (the last when ``None``), ``venue@seq:state_hash``; or, ``judged``, the state record ``seq``'s
    level changes were judged on (the state before it with its input applied, before any
    liquidation step: ``journal.explain.judged_engine``), ``venue@seq:judged:state_hash``. A
    liquidation is attested on the judged state: after the record, the account is already
    (partly) closed."""
    from solvent.journal.explain import command_record, engine_before, judged_engine
    from solvent.proofs.liabilities import snapshot_at

    if not judged:
        engine, header, _ = snapshot_at(backend, seq)
        return engine, checkpoint_of(header)
    if seq is None:
        raise InvalidInput("the judged state is a record's: give its seq")
    record = command_record(backend, seq, "the judged state is a command record's")
    assert record.input is not None
    engine = judged_engine(engine_before(backend, seq, None), record.input)
    return engine, f"{engine.config.profile.name}@{seq}:{JUDGED}:{engine.state_hash()}"


def parse_checkpoint(checkpoint: str) -> tuple[int, bool] | None:
    """``(seq, judged)`` of a checkpoint ``journal_state`` wrote; ``None`` if it is not one."""
    _, at, rest = checkpoint.rpartition("@")
    parts = rest.split(":")
    if not at or not parts[0].isascii() or not parts[0].isdigit() or len(parts[0]) > 18 or len(parts) not in (2, 3) or (
            len(parts) == 3 and parts[1] != JUDGED):
        return None
    return int(parts[0]), len(parts) == 3


def pseudonym(checkpoint: str, account_id: str, salt: str) -> str:
    """The name an account goes by in a statement: SHA-256 of the checkpoint, the account id and
    a random salt that only the holder gets (in its openings): the holder recomputes it; without
    the salt, not even someone holding the journal and every account id can link the two."""
    return hashlib.sha256(f"solvent/cema/account/v2\n{checkpoint}\n{account_id}\n{salt}".encode()).hexdigest()[:32]


def new_salt() -> str:
    return secrets.token_hex(16)


def money_unit(engine: Engine, symbols: Iterable[str]) -> Decimal:
    """The statement's money unit μ, fixed by public data: the finest of the money quantum and
    each instrument's lot × contract size × price step (a cost is a sum of fills on that grid)."""
    config = engine.config
    digits = _decimals(config.money_quantum)
    for symbol in symbols:
        inst = config.profile.instrument(symbol)
        digits = max(digits, _decimals(inst.lot * inst.contract_size * config.price_step(symbol)))
    return Decimal(1).scaleb(-digits)


def auto_claim(engine: Engine, equity: Decimal, mm: Decimal) -> str:
    """The claim that states the engine's own decision for an account at ``equity`` and ``mm``."""
    profile = engine.config.profile
    strict = is_strict(profile)
    if profile.is_liquidatable(equity, mm):
        return "equity_lt_mm" if strict else "equity_le_mm"
    return "equity_gt_mm" if not strict and mm > 0 else "equity_ge_mm"


def claim_decision(engine: Engine, st: Statement) -> str | None:
    """What ``st``'s claim says of the venue's liquidation decision: ``liquidatable`` or
    ``not_liquidatable`` when it is one side of the venue's trigger (``auto_claim``), ``None``
    when it is not (``equity ≤ MM`` on a venue that liquidates only below MM decides nothing),
    or when the statement holds no position: without MM the trigger does not apply (only a
    negative equity is liquidated, which no claim against MM states)."""
    claim = st.claim
    if not st.positions:
        return None
    if is_strict(engine.config.profile):
        return {"equity_lt_mm": "liquidatable", "equity_ge_mm": "not_liquidatable"}.get(claim)
    return {"equity_le_mm": "liquidatable", "equity_gt_mm": "not_liquidatable"}.get(claim)


def tier_bounds(table: TierTable, index: int) -> tuple[Decimal, Decimal | None]:
    """The notionals tier ``index`` holds as the engine looks it up (``TierTable.tier_index``:
    the last tier whose floor is at or below the notional): ``[floor, next floor)``, the first
    from 0 and the last without a cap."""
    tiers = table.tiers
    return (tiers[index].floor_notional if index else Decimal(0),
            tiers[index + 1].floor_notional if index + 1 < len(tiers) else None)


def _term(symbol: str, mark: Decimal, lot: Decimal, table: TierTable, index: int, basis: MMBasis,
          side: str = "both") -> PositionTerm:
    band = table.tiers[index]
    floor, cap = tier_bounds(table, index)
    return PositionTerm(symbol, mark, lot, band.maint_margin_rate, band.maint_amount, floor, cap,
                        "entry" if basis is MMBasis.ENTRY else "mark", side)


def public_inputs_problem(engine: Engine, checkpoint: str, st: Statement) -> str | None:
    """Why ``st``'s public inputs are not the venue's at ``checkpoint`` (``engine`` replayed
    there): the checkpoint, each mark, lot and MM tier (one of the symbol's tiers in the venue
    profile), the collateral term; ``None`` when they all are."""
    if st.checkpoint != checkpoint:
        return f"the statement's checkpoint {st.checkpoint} is not the journal's {checkpoint}"
    config, view = engine.config, engine.margin_view()
    profile = config.profile
    if [(c.asset, c.price, c.haircut, c.unit) for c in st.collateral] != [
            (config.settle_asset, Decimal(1), Decimal(0), st.money_unit)]:
        return (f"the collateral term is not the settlement asset {config.settle_asset} at price 1 without haircut, "
                "counted in the money unit")
    unknown = [t.symbol for t in st.positions if t.symbol not in profile.instruments]
    if unknown:
        return f"{unknown[0]} is not an instrument of {profile.name}"
    expected = money_unit(engine, (t.symbol for t in st.positions))
    if st.money_unit != expected:
        return f"the money unit {st.money_unit} is not the venue's {expected}"
    for term in st.positions:
        inst = profile.instruments.get(term.symbol)
        if inst is None or inst.is_inverse or term.symbol not in view.marks:
            return f"{term.symbol} is not a linear instrument with a mark at {checkpoint}"
        if term.mark != view.mark(term.symbol):
            return f"{term.symbol}: the statement's mark {term.mark} is not the journal's {view.mark(term.symbol)}"
        if term.lot != inst.lot * inst.contract_size:
            return f"{term.symbol}: the lot {term.lot} is not the instrument's {inst.lot * inst.contract_size}"
        rules = profile.rules_for(term.symbol)
        if not size_independent(rules):
            return f"{term.symbol}: its MM rate depends on size, which no public check can bind"
        table = rules.maintenance_table(inst.lot)
        if term not in [_term(term.symbol, term.mark, term.lot, table, i, profile.mm_basis, term.side)
                        for i in range(len(table.tiers))]:
            return f"{term.symbol}: rate {term.mm_rate}, amount {term.maint_amount} is not one of the venue's tiers"
    return None


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(-exponent, 0)


def account_statement(engine: Engine, account_id: str, checkpoint: str, claim: str = "auto",
                      bits: int = 64, scope: str = "cross", salt: str | None = None) -> tuple[Statement, Witness]:
    """The statement and witness of ``account_id``'s ``scope`` now (module docstring): ``cross``,
    or ``isolated:SYMBOL``; ``salt`` makes the pseudonym (``pseudonym``; a fresh one when
    ``None``, which only a caller that never needs to reveal it may use)."""
    if scope != "cross" and not (scope.startswith("isolated:") and scope != "isolated:"):
        raise InvalidInput(f"the scope must be cross or isolated:SYMBOL, got {scope!r}")
    acc = engine.state.accounts.get(account_id)
    if acc is None:
        raise InvalidInput(f"no account {account_id!r} in the journal at {checkpoint}")
    config, view = engine.config, engine.margin_view()
    profile = config.profile
    settle = config.settle_asset
    held = sorted((p for p in acc.positions.values() if p.qty != 0), key=lambda p: (p.symbol, p.position_side.value))
    isolated = [p for p in held if _is_isolated(acc, p)]
    if scope == "cross":
        others = sorted(a for a, v in acc.balances.items() if a != settle and v != 0)
        if others:
            raise OutsideZ1(f"account {account_id} holds {others[0]} as collateral: Z1 covers a wallet in {settle} "
                            "only (the engine rounds each asset's value; Z1 attests exact sums)")
        balance = acc.balances.get(settle, Decimal(0))
        positions = [p for p in held if not _is_isolated(acc, p)]
    else:
        symbol = scope.removeprefix("isolated:")
        positions = [p for p in isolated if p.symbol == symbol]
        if any(p.position_side is not PositionSide.BOTH for p in positions):
            raise OutsideZ1(f"{symbol} is isolated in hedge mode: Z1 covers one isolated one-way position a scope")
        if not scope.startswith("isolated:") or not positions:
            raise InvalidInput(f"account {account_id} has no isolated position in {symbol} (scopes: cross"
                               + "".join(f", isolated:{p.symbol}" for p in isolated) + ")")
        balance = positions[0].isolated_margin
    terms, qty, costs = [], [], []
    for pos in positions:
        inst = profile.instrument(pos.symbol)
        if inst.is_inverse:
            raise OutsideZ1(f"{pos.symbol} is inverse: Z1 covers linear instruments")
        if pos.symbol in view.scales:
            raise OutsideZ1(f"{pos.symbol} has a volatility-scaled MM: Z1 covers a flat rate")
        if not size_independent(profile.rules_for(pos.symbol)):
            raise OutsideZ1(f"the MM rate of {pos.symbol} depends on the position's size: Z1 covers rates set by "
                            "notional tiers, which a verifier checks against the venue profile")
        table, tier = position_tier(pos, view)
        band = table.tiers[tier - 1]
        lot = inst.lot
        if pos.qty % lot:
            raise OutsideZ1(f"{pos.symbol}: {pos.qty} is not a whole number of lots of {lot}")
        terms.append(_term(pos.symbol, view.mark(pos.symbol), lot * pos.contract_size, table, tier - 1,
                           profile.mm_basis, pos.position_side.value))
        qty.append(int(pos.qty / lot))
        costs.append(pos.cost)
        basis = abs(pos.cost) if profile.mm_basis is MMBasis.ENTRY else abs(pos.qty) * pos.contract_size * view.mark(
            pos.symbol)
        if position_mm(pos, view) != band.maintenance_margin(basis):
            raise OutsideZ1(f"{pos.symbol}: the engine's MM is not its tier's rate and amount on the notional")
    unit = money_unit(engine, (p.symbol for p in positions))
    if balance % unit or any(c % unit for c in costs):
        raise OutsideZ1(f"account {account_id}: a balance or cost is finer than the money unit {unit}")
    equity, mm = scope_figures(engine, account_id, scope)
    chosen = auto_claim(engine, equity, mm) if claim == "auto" else claim
    statement = Statement(checkpoint, pseudonym(checkpoint, account_id, salt if salt is not None else new_salt()),
                          chosen, unit,
                          (CollateralTerm(settle, Decimal(1), Decimal(0), unit),), tuple(terms), bits, scope)
    witness = Witness((int(balance / unit),), tuple(qty), tuple(int(c / unit) for c in costs))
    scale = coefficients(statement).scale
    if Decimal(excess(statement, witness)) * unit / scale != equity - mm:
        raise OutsideZ1(f"account {account_id}: the engine's equity or MM has a part Z1 does not model")
    return statement, witness


def _is_isolated(acc: AccountState, pos: PositionState) -> bool:
    return pos.margin_mode is not MarginMode.CROSS or acc.margin_mode.get(pos.symbol, MarginMode.CROSS) \
        is not MarginMode.CROSS


def scope_figures(engine: Engine, account_id: str, scope: str) -> tuple[Decimal, Decimal]:
    """The engine's equity and MM of one scope of the account (``AccountMargin``)."""
    margin = engine.margin(account_id)
    if scope == "cross":
        return margin.equity, margin.maintenance_margin
    for part in margin.isolated:
        if f"isolated:{part.symbol}" == scope and part.position_side is PositionSide.BOTH:
            return part.equity, part.maintenance_margin
    raise InvalidInput(f"account {account_id} has no scope {scope}")


def scopes_of(engine: Engine, account_id: str) -> list[str]:
    """The account's margin scopes: ``cross`` and one per isolated position."""
    margin = engine.margin(account_id)
    return ["cross", *(f"isolated:{p.symbol}" for p in margin.isolated if p.position_side is PositionSide.BOTH)]


def holder_problem(engine: Engine, account_id: str, st: Statement, w: Witness, salt: str) -> str | None:
    """The holder's check against the journal (``engine`` replayed to the statement's checkpoint):
    the statement is about this account (its salted pseudonym) and covers its whole scope, every
    position and balance the journal gives it, with the values its openings hold; ``None`` when so."""
    if pseudonym(st.checkpoint, account_id, salt) != st.account:
        return f"the statement is about {st.account}, not {account_id}"
    try:
        expected, values = account_statement(engine, account_id, st.checkpoint, st.claim, st.bits, st.scope, salt)
    except InvalidInput as bad:
        return f"the journal's {account_id} cannot be attested: {bad}"
    if expected.positions != st.positions or expected.collateral != st.collateral:
        return (f"the statement does not cover {account_id}'s whole {st.scope} scope as the journal has it "
                f"({len(expected.positions)} position(s), the statement {len(st.positions)})")
    if values != w:
        return f"the opened values are not {account_id}'s in the journal"
    return None
