"""solvent computes in its own decimal context and leaves the caller's alone (issue 9, item 17).

Importing solvent used to change the process-wide ``decimal`` context: every thread and
every other library in the process got 40 digits and the float trap. Now each public entry
point enters solvent's context and leaves it on return, so

* importing solvent (any of its layers) changes neither ``decimal.getcontext()`` nor
  ``decimal.DefaultContext`` (checked in a fresh interpreter);
* a caller with a hostile context (5 digits, rounding down, no traps) gets the same exact
  answers as anyone else: the published vectors below hold under it;
* inside solvent the float trap is still on, whatever the caller's context says.
"""

from __future__ import annotations

import decimal
import subprocess
import sys
from decimal import Decimal

import pytest

import solvent
from solvent.errors import InvalidInput
from solvent.market import funding_rate
from solvent.risk.volatility import ewma_volatility

HOSTILE = decimal.Context(prec=5, rounding=decimal.ROUND_DOWN, traps=[])


def test_importing_every_layer_leaves_the_process_decimal_context_alone() -> None:
    script = """
import decimal
before = (repr(decimal.getcontext()), repr(decimal.DefaultContext))
import solvent, solvent.engine, solvent.journal, solvent.stress, solvent.market, solvent.calc, solvent.service
after = (repr(decimal.getcontext()), repr(decimal.DefaultContext))
assert before == after, (before, after)
decimal.Decimal(0.1)  # a float into a Decimal: allowed in the caller's own context
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_a_hostile_caller_context_does_not_change_the_readmes_liquidation_price() -> None:
    # README example: isolated long 0.5 BTC at 60,000 with 1,500 margin on Binance USD-M.
    # BTCUSDT bracket 1 (notional 0–300,000; the position is ~28,600): mmr 0.004, cum 0:
    #   0.5·(P − 60000) + 1500 = 0.004 · 0.5 · P  →  0.498·P = 28500  →  P = 57228.915…
    # rounded up to the 0.1 tick against the holder: 57229.0. At 5 digits rounding down the
    # caller's context would give 57220 (or worse) if solvent computed in it.
    usdm = solvent.load_venue("binance-usdm")
    with decimal.localcontext(HOSTILE):
        pos = solvent.Position(usdm.instrument("BTCUSDT"), solvent.Side.LONG, Decimal("0.5"), Decimal("60000"),
                               margin_mode=solvent.MarginMode.ISOLATED, isolated_margin=Decimal("1500"))
        report = solvent.assess_account(Decimal(0), [pos], [usdm.rules_for("BTCUSDT")], usdm)
        price = report.positions[0].liquidation.price
        context_after = decimal.getcontext()
        assert context_after.prec == 5 and context_after.rounding == decimal.ROUND_DOWN  # caller's, untouched
    assert price == Decimal("57229.0")


def test_a_hostile_caller_context_does_not_change_a_funding_rate() -> None:
    # Binance: F = P + clamp(I − P, −0.05 %, +0.05 %). P = 0.000123456789, I = 0.000100000001:
    # I − P = −0.000023456788 lies inside the clamp, so F = I = 0.000100000001 exactly — ten
    # significant digits, which the caller's 5-digit context could not even hold.
    with decimal.localcontext(HOSTILE):
        rate = funding_rate(Decimal("0.000123456789"), Decimal("0.000100000001"), Decimal("0.0005"))
    assert rate == Decimal("0.000100000001")


def test_a_hostile_caller_context_keeps_full_precision_inside_solvent() -> None:
    # Log returns of 100 → 101 → 100 are ln 1.01 and −ln 1.01, so with λ = 0.94 the EWMA
    # variance is 0.94·(ln 1.01)² + 0.06·(ln 1.01)² = (ln 1.01)² and σ = ln 1.01
    # = 0.0099503308531680828482153575442… A 5-digit context could not come within 1e-30.
    with decimal.localcontext(decimal.Context(prec=60)):
        expected = Decimal("1.01").ln()
    with decimal.localcontext(HOSTILE):
        got = ewma_volatility(["100", "101", "100"])
    assert abs(got - expected) < Decimal("1e-30")


def test_floats_are_still_refused_inside_solvent_when_the_caller_does_not_trap_them() -> None:
    usdm = solvent.load_venue("binance-usdm")
    with decimal.localcontext(HOSTILE), pytest.raises((InvalidInput, decimal.FloatOperation, TypeError)):
        solvent.Position(usdm.instrument("BTCUSDT"), solvent.Side.LONG, 0.5, Decimal("60000"))  # type: ignore[arg-type]


def test_the_context_solvent_reuses_keeps_its_settings_and_hands_the_callers_back() -> None:
    # Each thread keeps one copy of solvent's context and installs it on every outermost call
    # (``units.exact``). Whatever the calls before did (rounded, inexact, a trapped error that
    # set a flag), the next call must still see 40 digits, ROUND_HALF_EVEN and the float trap,
    # and the caller must get back its own context object, unchanged.
    from solvent.units import exact

    @exact
    def settings() -> tuple[int, str, bool, bool]:
        ctx = decimal.getcontext()
        return ctx.prec, ctx.rounding, ctx.traps[decimal.FloatOperation], ctx.traps[decimal.DivisionByZero]

    @exact
    def divide(a: Decimal, b: Decimal) -> Decimal:
        return a / b

    mine = decimal.Context(prec=5, rounding=decimal.ROUND_DOWN, traps=[])
    with decimal.localcontext(mine) as caller:
        assert divide(Decimal(1), Decimal(3)) == Decimal("0." + "3" * 40)  # 40 digits, not the caller's 5
        with pytest.raises(decimal.DivisionByZero):
            divide(Decimal(1), Decimal(0))
        assert settings() == (40, decimal.ROUND_HALF_EVEN, True, True)
        assert decimal.getcontext() is caller and caller.prec == 5 and caller.rounding == decimal.ROUND_DOWN
        assert not any(caller.flags.values())  # solvent's divisions flagged nothing in the caller's context
