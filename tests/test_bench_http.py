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


WRK_SUMMARY = """Running 3s test @ http://127.0.0.1:8791/floor
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.51ms  520.33us  16.89ms   89.43%
    Req/Sec     5.36k   703.20    10.30k    98.36%
  Latency Distribution
     50%    1.43ms
     75%    1.48ms
     90%    1.56ms
     99%  812.00us
  32530 requests in 3.10s, 4.22MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 40
Requests/sec:  10492.98
Transfer/sec:      1.36MB
"""
"""wrk 4.1's summary with ``--latency`` (a floor run on this machine; the error lines in wrk's
own format, as its source prints them)."""


def test_wrks_summary_is_read_with_its_units_and_errors() -> None:
    from solvent.bench.bench_http import parse_wrk

    run = parse_wrk(WRK_SUMMARY)
    assert run.rate == 10492.98 and run.p50_ms == 1.43
    assert run.p99_ms == pytest.approx(0.812)  # 812 µs
    assert run.ok == 32530 - 40 and run.other == 40 + 3
    with pytest.raises(ValueError, match="not a wrk"):
        parse_wrk(SUMMARY)  # hey's


def test_the_order_script_gives_every_order_a_new_id_on_the_accounts_in_turn() -> None:
    from solvent.bench.bench_http import order_script

    script = order_script("/v1/accounts/orders-%d/orders", 200, {"X-API-Key": "slv_k"})
    assert script.startswith('PATH = "/v1/accounts/orders-%d/orders"\nACCOUNTS = 200\n')
    assert 'HEADERS = {["Content-Type"] = "application/json", ["X-API-Key"] = "slv_k"}' in script
    assert '"order_id":"w%d-%d"' in script and "counter % ACCOUNTS" in script
