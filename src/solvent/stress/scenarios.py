"""Scenario price paths: ``steps + 1`` exact prices, one per minute, tick-rounded.

* ``crash`` (shape ``sample``, the default): the bundled BTCUSDT 2025-10-10 1-minute path
  (the file ``solvent.cli.demo.load_sample_path`` reads) from its open to its lowest close, resampled to
  ``steps`` minutes and scaled so the fall from the start price is exactly ``drop``::

      f(t)    = (close(t') − close(0)) / (min close − close(0))       (0 → 1 along the crash)
      price_t = start × (1 − drop × f(t)),  rounded down to the tick

  with ``t'`` the sample minute at the same fraction of the way (linear interpolation).
* ``crash`` with shape ``linear``: ``f(t) = t / steps``.
* ``path:FILE``: a CSV with a ``close`` column (``#`` lines skipped), or one price per
  line (a line with more than one field, ``100,000``, is refused); the first ``steps + 1``
  prices (all of them when ``steps`` is ``None``), rounded to the tick. A CSV with a time
  column (``TIME_COLUMNS``) must run forward in equal steps: a row is one step of the run, so
  a newest-first file, a repeated row or a gap is refused.
* a named replay (``REPLAYS``): one of the bundled Binance BTCUSDT perpetual 1-minute paths
  around a real crash (``bf_2020_03_12``, ``china_2021_05_19``, ``celsius_2022_06_13``,
  ``ftx_2022_11_08``, ``tariff_2025_10_10``; ``solvent/data/crash/``, each with its source
  line), read as a path file.

A replay (a file or a named path) is built at its first price, so its first step must not be a
gap: a move of more than ``MAX_OPENING_GAP`` (1 %) from the first price to the second is
refused (``check_opening_gap``), since the book would meet it as one jump no minute records.

Deterministic: no randomness; the same arguments give the same path.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from importlib import resources
from pathlib import Path

from solvent.csv_table import CsvRow, bundled_rows, parse_rows, read_text
from solvent.errors import InvalidInput
from solvent.limits import MAX_PRICE
from solvent.units import exact, round_down, to_decimal

__all__ = [
    "MAX_OPENING_GAP", "REPLAYS", "check_opening_gap", "crash_path", "is_replay", "load_path_file", "replay_file",
    "sample_closes", "scenario_path",
]

REPLAYS = {
    "bf_2020_03_12": "Black Thursday, 2020-03-12 10:00 to 03-13 04:00 UTC (1,081 minutes)",
    "china_2021_05_19": "China ban / Tesla, 2021-05-19 10:00 to 18:00 UTC (481 minutes)",
    "celsius_2022_06_13": "Celsius / 3AC, 2022-06-13 00:00 to 06-14 00:00 UTC (1,440 minutes)",
    "ftx_2022_11_08": "FTX collapse, 2022-11-08 14:00 to 11-09 02:00 UTC (721 minutes)",
    "tariff_2025_10_10": "tariff shock, 2025-10-10 18:00 to 10-11 04:00 UTC (601 minutes)",
}
"""The bundled real paths a scenario can name (Binance USD-M BTCUSDT perpetual 1-minute klines)."""
MAX_OPENING_GAP = Decimal("0.01")
"""The largest move a replay may make at its first step (a fraction of its first price)."""


def sample_closes() -> list[Decimal]:
    """Closes of the bundled 2025-10-10 path (the file ``solvent demo`` reads; stress sits below cli)."""
    return [to_decimal(r["close"], "close") for r in bundled_rows("btcusdt-1m-2025-10-10.csv", ("close",))]


def _sample_fractions(steps: int) -> list[Decimal]:
    closes = sample_closes()
    low = min(range(len(closes)), key=lambda i: (closes[i], i))
    span = closes[0] - closes[low]
    out: list[Decimal] = []
    for t in range(steps + 1):
        pos = Decimal(t * low) / Decimal(steps)
        i = int(pos.to_integral_value(rounding=ROUND_FLOOR))
        j = min(i + 1, low)
        close = closes[i] + (closes[j] - closes[i]) * (pos - i)
        out.append(min(max((closes[0] - close) / span, Decimal(0)), Decimal(1)))
    out[-1] = Decimal(1)
    return out


@exact
def crash_path(start: Decimal, drop: Decimal, steps: int, tick: Decimal, shape: str = "sample") -> list[Decimal]:
    """A fall of ``drop`` (a fraction, e.g. 0.20) from ``start`` in ``steps`` minutes."""
    if steps < 1:
        raise InvalidInput(f"steps must be >= 1, got {steps}")
    if not Decimal(0) < drop < Decimal(1):
        raise InvalidInput(f"drop must lie strictly between 0 and 1, got {drop}")
    if shape == "linear":
        fractions = [Decimal(t) / Decimal(steps) for t in range(steps + 1)]
    elif shape == "sample":
        fractions = _sample_fractions(steps)
    else:
        raise InvalidInput(f"unknown crash shape {shape!r} (linear, sample)")
    return [max(round_down(start * (1 - drop * f), tick), tick) for f in fractions]


def _numeric(field: str) -> bool:
    try:
        Decimal(field.strip())
    except ArithmeticError:
        return False
    return True


def _names_close(line: str) -> bool:
    """Whether ``line``, read as a CSV header (as ``csv_table.parse_rows`` reads it), names a
    ``close`` column; a line the CSV reader refuses is left to ``parse_rows`` to name."""
    try:
        names = next(csv.reader([line]), [])
    except csv.Error:
        return True
    return "close" in (name.strip() for name in names)


def _only_price(line: str, where: str) -> str:
    """The one field of a line of a file without a header; a line with more (``100,000``: a
    thousands separator, or a CSV missing its header) is refused, as a header file's would be."""
    fields = line.split(",")
    if len(fields) != 1:
        raise InvalidInput(f"{where}: {len(fields)} field(s), a file without a header has one price per line "
                           "(no thousands separator or trailing comma)")
    return fields[0].strip()


@exact
def load_path_file(path: Path, steps: int | None, tick: Decimal) -> list[Decimal]:
    """Prices from a file (module docstring); at least ``steps + 1`` are needed (two when
    ``steps`` is ``None``: every price of the file)."""
    text = read_text(path, "price path")
    lines = [(n, ln) for n, ln in enumerate(text.removeprefix("\ufeff").splitlines(), 1)
             if ln.strip() and not ln.lstrip().startswith("#")]
    if lines and _numeric(lines[0][1].split(",")[0]):  # no header: one price per line
        raw = [(n, _only_price(ln, f"price path {path} line {n}")) for n, ln in lines]
    else:  # a header naming a close column
        if lines and not _names_close(lines[0][1]):
            first = lines[0][1].strip()
            raise InvalidInput(f"price path {path} line {lines[0][0]}: {first[:40]!r} is neither a price nor a CSV "
                               "header with a 'close' column: a file without a header holds one price per line "
                               "(digits, a point: no quotes, tabs or thousands separators), a CSV names its "
                               "columns, separated by commas")
        rows = parse_rows(text, f"price path {path}", ("close",), None)
        _check_times(rows if steps is None else rows[: steps + 1], f"price path {path}")
        raw = [(row.line, row["close"]) for row in rows]
    prices = [round_down(to_decimal(v, f"price path {path} line {n}: price {i + 1}"), tick)
              for i, (n, v) in enumerate(raw if steps is None else raw[: steps + 1])]
    if steps is None and len(prices) < 2:
        raise InvalidInput(f"{path} holds {len(prices)} price{'' if len(prices) == 1 else 's'}; a path needs at "
                           "least 2")
    if steps is not None and len(prices) < steps + 1:
        raise InvalidInput(f"{path} holds {len(prices)} prices; {steps + 1} are needed for {steps} steps")
    if any(p <= 0 for p in prices):
        raise InvalidInput(f"{path}: prices must be > 0 after rounding to the tick {tick}")
    lines_used = raw if steps is None else raw[: steps + 1]
    for (n, _), p in zip(lines_used, prices, strict=True):
        if p > MAX_PRICE:  # the engine refuses such a mark mid-run (exit 1), the fast cascade ran it
            raise InvalidInput(f"price path {path} line {n}: price {p} is above the engine's largest price "
                               f"{MAX_PRICE:,}")
    return prices


TIME_COLUMNS = ("open_time_ms", "open_time", "time_ms", "timestamp", "datetime", "date")
"""A path file's time column, if it has one of these (the first found): integer times in any
unit, or ISO 8601 dates and times (``2020-03-12 10:00:00``, ``2025-10-10T20:45:00Z``; UTC when
no offset is given)."""


def _time_value(text: str) -> int | None:
    """A time column's value as an integer (milliseconds for an ISO time), ``None`` if neither."""
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _check_times(rows: list[CsvRow], where: str) -> None:
    """Refuse a path whose time column does not run forward in equal steps: a newest-first
    export would replay the crash backwards, a repeated row would hold a price twice, and a
    gap would fold the minutes it lost into one step (each row is one step of the run)."""
    column = next((c for c in TIME_COLUMNS if rows and c in rows[0].fields), None)
    if column is None or len(rows) < 2:
        return
    times: list[int] = []
    for row in rows:
        text = row[column].strip()
        value = _time_value(text)
        if value is None:
            raise InvalidInput(f"{where} line {row.line}: {column} {text[:40]!r} is neither a whole number nor an "
                               "ISO 8601 time")
        times.append(value)
    step = times[1] - times[0]
    for i in range(1, len(times)):
        moved = times[i] - times[i - 1]
        if moved == 0:
            raise InvalidInput(f"{where} line {rows[i].line}: {column} {times[i]} repeats line {rows[i - 1].line}'s: "
                               "a path holds each time once")
        if moved < 0:
            raise InvalidInput(f"{where} line {rows[i].line}: {column} {times[i]} is before line {rows[i - 1].line}'s "
                               f"({times[i - 1]}): a path runs forward in time (an export newest first needs "
                               "reversing)")
        if moved != step:
            what = (f"{moved // step - 1} row(s) missing before it" if moved % step == 0 and moved > step
                    else f"a step of {moved}, not {step}")
            raise InvalidInput(f"{where} line {rows[i].line}: {column} {times[i]}: {what} (line {rows[i - 1].line} "
                               f"is {times[i - 1]}); every row is one step of the run: fill the gap or cut the file")


def replay_file(scenario: str) -> Path | None:
    """The file a replay scenario reads (``path:FILE`` or a bundled named path); ``None`` for a
    crash scenario."""
    if scenario.startswith("path:") and len(scenario) > 5:
        return Path(scenario[5:])
    if scenario in REPLAYS:
        return Path(str(resources.files("solvent") / "data" / "crash" / f"{scenario}.csv"))
    return None


def is_replay(scenario: str) -> bool:
    return replay_file(scenario) is not None


@exact
def check_opening_gap(prices: list[Decimal], where: str) -> None:
    """Refuse a replay whose first step moves more than ``MAX_OPENING_GAP`` (module docstring)."""
    if len(prices) >= 2 and abs(prices[1] - prices[0]) > MAX_OPENING_GAP * prices[0]:
        move = (prices[1] - prices[0]) / prices[0]
        raise InvalidInput(f"{where} opens with a {_past(move, MAX_OPENING_GAP)} gap ({prices[0]} to {prices[1]}); "
                           f"the book is built at the first price, so a move above {MAX_OPENING_GAP:.0%} there is a "
                           "jump no minute records: start the path one price later")


def _past(move: Decimal, limit: Decimal) -> str:
    """``move`` as a signed percentage with the places it takes to show it is past ``limit``
    (``+1.0001%``, not ``+1.00%``, for a move just above 1 %)."""
    places = 2
    while places < 12 and abs(round(move * 100, places)) <= limit * 100:
        places += 1
    return f"{move * 100:+.{places}f}%"


@exact
def scenario_path(scenario: str, start: Decimal, drop: Decimal, steps: int, tick: Decimal) -> list[Decimal]:
    """``crash``, ``crash-linear``, ``path:FILE`` or a named replay (module docstring)."""
    if scenario == "crash":
        return crash_path(start, drop, steps, tick, "sample")
    if scenario == "crash-linear":
        return crash_path(start, drop, steps, tick, "linear")
    file = replay_file(scenario)
    if file is not None:
        prices = load_path_file(file, steps, tick)
        check_opening_gap(prices, scenario)
        return prices
    raise InvalidInput(f"unknown scenario {scenario!r} (crash, crash-linear, path:FILE, or a bundled replay: "
                       f"{', '.join(REPLAYS)})")
