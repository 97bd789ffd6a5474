"""Options: Black-76 pricing and greeks, Deribit-style instruments, standard and portfolio
(scenario) margin of a portfolio of options and futures on one coin or several (``cross``),
the pre-trade check of an order (``pretrade``), expiry settlement and exercise
(``settlement``, ``expiry_settlement``) and liquidation planning (``liquidation``), on
portfolio files (``docs/options.md``).

Not built yet: options in the engine (orders, fills, journal, fund and ADL).
"""

from solvent.options.black76 import Greeks, OptionKind, coin_delta, coin_value, greeks, implied_vol, price
from solvent.options.instruments import OptionInstrument, parse_instrument, years_to_expiry
from solvent.options.margin import MarginReport, margin, portfolio_margin, scan, scenario_grid, standard_margin
from solvent.options.portfolio import OptionPortfolio, read_portfolio
from solvent.options.rules import OptionRules, bundled_option_rules, load_option_rules

__all__ = ["Greeks", "MarginReport", "OptionInstrument", "OptionKind", "OptionPortfolio", "OptionRules",
           "bundled_option_rules", "coin_delta", "coin_value", "greeks", "implied_vol", "load_option_rules", "margin",
           "parse_instrument", "portfolio_margin", "price", "read_portfolio", "scan", "scenario_grid",
           "standard_margin", "years_to_expiry"]
