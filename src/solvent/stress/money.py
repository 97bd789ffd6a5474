"""How a stress report shows money: rounded once, to the settlement asset's quantum, against the fund.

The quantum is the engine's (``EngineConfig.money_quantum`` of the configuration both cascades
run, ``stress_config``): 10^-8 of the settlement asset on every bundled venue (a BTC amount to
the satoshi; USDT and USDC to 10^-8). The cascades keep the engine's full precision (on Drift
and Hyperliquid, whose prices have no tick, a deficit or a fee carries up to 20 places; on
Binance the 0.1 tick and 0.001 lot happen to leave 4), so a figure is rounded here, once, when
a report (``CascadeResult.summary``, ``adequacy_report.report_json``) writes it:

* ``held``: what the fund has or receives (its balance, fees paid into it, a backstop vault's
  equity) rounds **down**;
* ``owed``: what the waterfall loses or must hold (deficits, bad debt, the fund a run needs,
  Cover-n, VaR and expected shortfall, a fund size a reverse-stress move is quoted for, the
  notional liquidated) rounds **up**.

So rounding never overstates a figure in the fund's favour (docs/stress.md, docs/adequacy.md).
"""

from __future__ import annotations

from decimal import Decimal

from solvent.stress.book import SyntheticBook
from solvent.stress.policy import stress_config
from solvent.units import plain, round_down, round_up

__all__ = ["held", "money_quantum", "owed"]


def money_quantum(book: SyntheticBook) -> Decimal:
    """The settlement asset's money quantum of runs on ``book`` (``EngineConfig.money_quantum``)."""
    return stress_config(book).money_quantum


def held(value: Decimal, quantum: Decimal) -> str:
    """A figure the fund holds or receives, rounded down to ``quantum``, as a plain string."""
    return plain(round_down(value, quantum))


def owed(value: Decimal, quantum: Decimal) -> str:
    """A loss, or an amount the waterfall must hold, rounded up to ``quantum``, as a plain string."""
    return plain(round_up(value, quantum))
