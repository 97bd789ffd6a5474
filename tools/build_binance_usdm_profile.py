"""Regenerate src/solvent/profiles/binance-usdm.json from the shared bracket snapshot.

Usage: python tools/build_binance_usdm_profile.py [../shared/data/tiers/binance_usdm_2026-09.json]

The brackets are copied verbatim (decimal strings); this script only reshapes them into
the profile format and derives each symbol's base/quote and, for dated futures, expiry.
Binance delivers quarterly USDⓈ-M futures at 08:00 UTC on the date in the symbol.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "tiers" / "binance_usdm_2026-09.json"
QUOTES = ("USDT", "USDC", "USD1", "BTC", "U")
# Tick and lot sizes published in Binance's exchangeInfo for the two majors; other symbols
# carry none, so their prices are reported unrounded.
STEPS = {
    "BTCUSDT": {"tick_size": "0.1", "lot_size": "0.001"},
    "ETHUSDT": {"tick_size": "0.01", "lot_size": "0.001"},
}


def split_symbol(symbol: str) -> dict[str, object]:
    m = re.fullmatch(r"(.+?)(USDT|USDC|USD1|BTC|U)(?:_(\d{2})(\d{2})(\d{2}))?", symbol)
    if not m:
        raise SystemExit(f"cannot split symbol {symbol!r}")
    base, quote, yy, mm, dd = m.groups()
    spec: dict[str, object] = {"base": base, "quote": quote, "settle": quote}
    if yy:
        expiry = datetime(2000 + int(yy), int(mm), int(dd), 8, tzinfo=UTC)
        spec["kind"] = "linear_future"
        spec["expiry_ms"] = int(expiry.timestamp()) * 1000
    spec.update(STEPS.get(symbol, {}))
    spec["tiers"] = symbol
    return spec


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    data = json.loads(src.read_text("utf-8"))
    tables = {
        sym: [
            {k: str(b[k]) for k in ("notional_floor", "notional_cap", "maint_margin_ratio",
                                    "initial_leverage", "cum")}
            for b in sorted(rows, key=lambda b: b["bracket"])
        ]
        for sym, rows in sorted(data["symbols"].items())
    }
    profile = {
        "schema_version": 1,
        "name": "binance-usdm",
        "display_name": "Binance USDⓈ-M futures",
        "source": data["source"],
        "effective_from": "2026-09-01",
        "notes": (
            "Brackets: every symbol of the September 2026 snapshot, copied verbatim. "
            "Liquidation clearance fee: Binance publishes per-symbol rates; 1.25% is used for all "
            "symbols here (the rate Binance documents for its major contracts). Margin call at a "
            "margin ratio of 80% (Binance margin-call notification)."
        ),
        "margin_model": "tiered",
        "mm_basis": "mark",
        "trigger_price": "mark",
        "liquidation_trigger": "equity_at_or_below_mm",
        "liquidation_fee_rate": "0.0125",
        "levels": {"warning": "0.7", "margin_call": "0.8"},
        "defaults": {"kind": "linear_perpetual", "contract_size": "1"},
        "tier_tables": tables,
        "instruments": {sym: split_symbol(sym) for sym in sorted(tables)},
    }
    out = ROOT / "src" / "solvent" / "profiles" / "binance-usdm.json"
    out.write_text(json.dumps(profile, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {out} ({len(tables)} symbols)")


if __name__ == "__main__":
    main()
