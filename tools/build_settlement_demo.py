"""Build ``src/solvent/data/settlement-BTC-10OCT25.json``: four sources' real BTC prices over
the last 35 minutes before the 2025-10-10 08:00 UTC option expiry, in the settlement file's form
(``solvent options settle``, ``docs/options.md``).

Run from the repository root with the shared data beside it::

    python tools/build_settlement_demo.py ../shared/data   # with solvent installed (pip install -e .)

Sources (``shared/data/MANIFEST.csv`` has each file's sha256):

* ``okx-index``: the OKX BTC-USD index (``underlying_price``) of the OKX options chain
  (``options/okx-BTC-USD-options-chain-2025-10-10-1min.csv``, Tardis.dev), one per minute, at the
  row's ``timestamp``; the 5 instruments carry the same index, the first row of each minute is kept;
* ``binance-coinm-mark``: Binance COIN-M BTCUSD_PERP 1-minute mark-price candles
  (``prices/crash/BTCUSD_PERP-cm-markprice-1m-2025-10-10.csv``), each close at its close time;
* ``binance-usdm-mark``: Binance USDⓈ-M BTCUSDT 5-minute mark-price candles (in USDT, not USD)
  (``prices/mark/BTCUSDT-um-markprice-5m-2025-10-01_2025-12-30.csv``), each close at its close time;
* ``gemini-trades``: every Gemini BTCUSD trade (``trades/gemini-BTCUSD-trades-2025-10-10.csv``,
  Tardis.dev) at its exchange timestamp (the last of those in one millisecond).

Nothing is changed but the form: prices as published, times cut to the millisecond.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from solvent.options.expiry_settlement import time_text

EXPIRY_MS = 1_760_083_200_000  # 2025-10-10T08:00:00Z
FROM_MS = EXPIRY_MS - 35 * 60_000


def _keep(rows: list[tuple[int, str]]) -> list[list[str]]:
    by_ms: dict[int, str] = {}
    for ms, price in rows:
        if FROM_MS <= ms < EXPIRY_MS:
            by_ms[ms] = price.rstrip("0").rstrip(".") if "." in price else price
    return [[time_text(ms), by_ms[ms]] for ms in sorted(by_ms)]


def main(data: Path) -> None:
    with (data / "options/okx-BTC-USD-options-chain-2025-10-10-1min.csv").open() as f:
        okx: dict[str, tuple[int, str]] = {}
        for row in csv.DictReader(f):
            if row["underlying_price"] and row["minute_utc"] not in okx:
                okx[row["minute_utc"]] = (int(row["timestamp"]) // 1000, row["underlying_price"])
    with (data / "prices/crash/BTCUSD_PERP-cm-markprice-1m-2025-10-10.csv").open() as f:
        coinm = [(int(r["close_time"]), r["close"]) for r in csv.DictReader(f)]
    with (data / "prices/mark/BTCUSDT-um-markprice-5m-2025-10-01_2025-12-30.csv").open() as f:
        usdm = [(int(r["close_time"]), r["close"]) for r in csv.DictReader(f)]
    with (data / "trades/gemini-BTCUSD-trades-2025-10-10.csv").open() as f:
        gemini = [(int(r["timestamp"]) // 1000, r["price"]) for r in csv.DictReader(f)]
    note = ("Real BTC prices (in USD; binance-usdm-mark's in USDT) of four sources over the last 35 minutes "
            "before the 2025-10-10 08:00 UTC option expiry, built by tools/build_settlement_demo.py from "
            "shared/data: okx-index (OKX BTC-USD index of the "
            "OKX options chain, Tardis.dev, options/okx-BTC-USD-options-chain-2025-10-10-1min.csv, sha256 "
            "6a43a55f...), binance-coinm-mark (BTCUSD_PERP 1-minute mark closes, prices/crash/"
            "BTCUSD_PERP-cm-markprice-1m-2025-10-10.csv), binance-usdm-mark (BTCUSDT 5-minute mark closes, "
            "prices/mark/BTCUSDT-um-markprice-5m-2025-10-01_2025-12-30.csv), gemini-trades (every Gemini BTCUSD "
            "trade, Tardis.dev, trades/gemini-BTCUSD-trades-2025-10-10.csv). Prices as published; times cut to "
            "the millisecond. The weights and rules are solvent's defaults.")
    out = {"note": note, "expiry": "BTC-10OCT25", "tick": "0.01",
           "observations": {"binance-coinm-mark": _keep(coinm), "binance-usdm-mark": _keep(usdm),
                            "gemini-trades": _keep(gemini), "okx-index": _keep(list(okx.values()))}}
    target = Path("src/solvent/data/settlement-BTC-10OCT25.json")
    lines = ["{", f'  "note": {json.dumps(note)},', '  "expiry": "BTC-10OCT25",', '  "tick": "0.01",',
             '  "observations": {']
    sources = list(out["observations"].items())  # type: ignore[union-attr]
    for i, (source, rows) in enumerate(sources):
        body = ",\n".join(f"      {json.dumps(r)}" for r in rows)
        lines.append(f'    "{source}": [\n{body}\n    ]{"," if i < len(sources) - 1 else ""}')
    lines += ["  }", "}"]
    target.write_text("\n".join(lines) + "\n")
    print(target, {s: len(r) for s, r in sources})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
