"""``solvent bench http`` reads hey's summary: the figures come from the text hey prints."""

from __future__ import annotations

import pytest

pytest.importorskip("litestar", reason="the http benchmark needs the service extra")

from solvent.bench.bench_http import parse_hey

SUMMARY = """
Summary:
  Total:\t3.0046 secs
  Slowest:\t0.0412 secs
  Fastest:\t0.0011 secs
  Average:\t0.0152 secs
  Requests/sec:\t1005.4700

Response time histogram:
  0.001 [1]\t|
  0.005 [120]\t|■■

Latency distribution:
  10% in 0.0101 secs
  25% in 0.0125 secs
  50% in 0.0152 secs
  75% in 0.0170 secs
  90% in 0.0190 secs
  95% in 0.0199 secs
  99% in 0.0203 secs

Status code distribution:
  [200]\t3020 responses
  [422]\t5 responses

Error distribution:
  [2]\tPost "http://127.0.0.1:8000/v1/prices": EOF
"""


def test_the_rate_percentiles_and_outcomes_are_read_from_heys_summary() -> None:
    run = parse_hey(SUMMARY)
    assert run.rate == 1005.47
    assert run.p50_ms == pytest.approx(15.2) and run.p99_ms == pytest.approx(20.3)
    assert run.ok == 3020
    assert run.other == 5 + 2  # the 422s and the two connection errors


def test_anything_else_is_refused() -> None:
    with pytest.raises(ValueError, match="not a hey summary"):
        parse_hey("Usage: hey [options...] <url>")
