"""Exchange and ccxt payloads in, solvent inputs out (no network, no ccxt dependency).

Tier tables come back as ``TierTable``; accounts as the dict ``solvent.parse_portfolio``
accepts (``docs/account-file.md``), so that every check of an account stays in one place.
Read saved responses with ``loads_payload``: JSON numbers become exact ``Decimal`` values.
See ``docs/adapters.md``; each venue module's docstring cites the documentation of its shapes.
"""

from __future__ import annotations

from solvent.adapters._fields import loads_payload
from solvent.adapters.binance import account_from_binance, tiers_from_binance
from solvent.adapters.bybit import account_from_bybit, tiers_from_bybit
from solvent.adapters.ccxt import account_from_ccxt, ccxt_symbol, tiers_from_ccxt

__all__ = [
    "account_from_binance",
    "account_from_bybit",
    "account_from_ccxt",
    "ccxt_symbol",
    "loads_payload",
    "tiers_from_binance",
    "tiers_from_bybit",
    "tiers_from_ccxt",
]
