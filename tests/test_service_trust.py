"""Service trust fixes (issue 9, items 10, 11 and 13).

* A request body with duplicate keys (or nested as a stack bomb) is refused with 400 before
  any handler reads it, and changes nothing (item 11): msgspec alone keeps the last key.
* After a journal failure, command routes answer 503 with a typed code, as ``/healthz``
  does, not ``500 "RuntimeError"`` (item 13).
* The one-time operator key never reaches stderr, where the JSON logs go (item 10).
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from service_support import ALICE, Harness, make_harness

from solvent.service.context import keys_given


@pytest.fixture
def hx() -> Iterator[Harness]:
    yield from make_harness()


def balance(hx: Harness) -> Any:
    return hx.client.get(f"/v1/accounts/{ALICE}", headers=hx.h(hx.operator)).json()


@pytest.mark.parametrize("body", [
    b'{"amount": "1", "amount": "999"}',
    b'{"asset": "USDT", "amount": "1", "asset": "BTC"}',
    b'{"amount": ' + b"[" * 200 + b"]" * 200 + b"}",
    b'{"amount": 1.5}',
], ids=["duplicate amount", "duplicate asset", "nested 200 deep", "float amount"])
def test_a_body_a_lenient_parser_would_misread_is_400_and_changes_nothing(hx: Harness, body: bytes) -> None:
    before_hash, before = hx.svc.venue.state_hash(), balance(hx)
    r = hx.client.post(f"/v1/accounts/{ALICE}/deposits", content=body,
                       headers={**hx.h(hx.operator), "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "INVALID_REQUEST"
    assert hx.svc.venue.state_hash() == before_hash and balance(hx) == before


def test_a_well_formed_body_still_goes_through(hx: Harness) -> None:
    r = hx.client.post(f"/v1/accounts/{ALICE}/deposits", content=b'{"amount": "1"}',
                       headers={**hx.h(hx.operator), "Content-Type": "application/json"})
    assert r.status_code == 200, r.text


def test_after_a_journal_failure_commands_answer_503_with_a_typed_code(hx: Harness,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object, **__: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(hx.svc.venue.journal.backend, "append", broken)
    for _ in range(2):  # the failing command, then every later one
        r = hx.client.post(f"/v1/accounts/{ALICE}/deposits", json={"amount": "5"}, headers=hx.h(hx.operator))
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "JOURNAL_FAILED" and "RuntimeError" not in r.text
    assert hx.client.get("/healthz").status_code == 503


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_one_time_operator_key_is_never_written_to_stderr(tmp_path: Path) -> None:
    # start_new_session: no controlling terminal, as under a service manager; the key then
    # goes to a 0600 file, and stderr (the log stream) only says where.
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from solvent.cli import entry_point; entry_point()",
                             "serve", "--port", str(port)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, text=True)
    key_file = tmp_path / "solvent-data" / "operator-key.txt"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    text = key_file.read_text("utf-8")
    key = text.split("operator key for this run is ")[1].split()[0]
    assert key.startswith("slv_")
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert key not in err and key not in out
    assert "operator-key.txt" in err


def test_the_api_distance_to_liquidation_is_signed_and_negative_past_the_price() -> None:
    # binance-usdm, liquidation off so the account stays past its price. alice: 10,000 USDT,
    # long 1 BTC at 60,000 (cross). MM at mark P = 0.004·P (bracket 1), equity = 10,000 + P − 60,000:
    # liquidation price 10,000 + P − 60,000 = 0.004·P → P = 50,000 / 0.996 = 50,200.80… → 50,200.9
    # (rounded up to the 0.1 tick against the holder). At a mark of 50,000 the distance is
    # (50,000 − 50,200.9) / 50,000 × 100 = −0.4018 %.
    from decimal import Decimal

    from solvent import load_venue
    from solvent.engine import AdvanceTime, Deposit, Engine, EngineConfig, Fill, PriceUpdate
    from solvent.service.views import margin_view

    engine = Engine(EngineConfig(load_venue("binance-usdm")))
    for cmd in (AdvanceTime(1_000), Deposit("alice", "USDT", Decimal(10_000)), Deposit("bob", "USDT", Decimal(10**6)),
                PriceUpdate("BTCUSDT", "s", Decimal(60_000)),
                Fill("t1", "BTCUSDT", Decimal(60_000), Decimal(1), "alice", "bob"),
                # two steps, each inside the jump guard's 10 %, so the mark follows
                PriceUpdate("BTCUSDT", "s", Decimal(55_000)), PriceUpdate("BTCUSDT", "s", Decimal(50_000))):
        assert engine.apply(cmd).accepted, cmd
    pos = margin_view(engine, "alice")["positions"][0]
    assert pos["liquidation_price"] == "50200.9"
    assert Decimal(pos["distance_to_liquidation_pct"]) == Decimal("-0.4018")


# ---------------------------------------------------------------- issue 10: 500s and lax parsing


@pytest.mark.parametrize("bucket", ["NaN", "Infinity", "-Infinity", "1e999999", "1e3", "+5", "1_0", "%205"])
def test_a_bucket_that_is_not_a_width_is_400_not_500(hx: Harness, bucket: str) -> None:
    r = hx.client.get(f"/v1/ladder/BTCUSDT?bucket={bucket}", headers=hx.h(hx.operator))
    assert r.status_code == 400, r.text


def test_a_nul_byte_in_a_path_is_404_not_500(hx: Harness) -> None:
    for path in ("/static/%00x", "/static/a%00.js", "/v1/accounts/a%00b/margin"):
        r = hx.client.get(path, headers=hx.h(hx.operator))
        assert r.status_code == 404, (path, r.text)


@pytest.mark.parametrize(("why", "path", "body"), [
    ("a time as a string", "/v1/time", {"now_ms": "1760125600000"}),
    ("reduce_only as 0", f"/v1/accounts/{ALICE}/orders",
     {"order_id": "z1", "symbol": "BTCUSDT", "side": "long", "qty": "0.001", "price": "116000", "reduce_only": 0}),
    ("reduce_only as a string", f"/v1/accounts/{ALICE}/orders",
     {"order_id": "z2", "symbol": "BTCUSDT", "side": "long", "qty": "0.001", "price": "116000",
      "reduce_only": "false"}),
])
def test_a_value_of_the_wrong_json_type_is_400_not_coerced(hx: Harness, why: str, path: str,
                                                          body: dict[str, Any]) -> None:
    before = hx.svc.venue.state_hash()
    key = hx.operator if path == "/v1/time" else hx.alice
    r = hx.client.post(path, json=body, headers=hx.h(key))
    assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST", (why, r.text)
    assert hx.svc.venue.state_hash() == before


def test_a_text_plain_body_is_415(hx: Harness) -> None:
    before = hx.svc.venue.state_hash()
    r = hx.client.post(f"/v1/accounts/{ALICE}/deposits", content=b'{"amount": "1"}',
                       headers={**hx.h(hx.treasury), "Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert hx.svc.venue.state_hash() == before


@pytest.mark.parametrize("content_type", ["application/json; charset=latin-1", "application/json;charset=UTF-16",
                                          'application/json; charset=""'])
def test_a_json_body_in_another_charset_is_415(hx: Harness, content_type: str) -> None:
    # RFC 8259 §8.1: JSON exchanged between systems is UTF-8. Read as UTF-8 anyway, a Latin-1
    # body would fail on its accented letters with a confusing "not UTF-8"; say why instead.
    before = hx.svc.venue.state_hash()
    r = hx.client.post(f"/v1/accounts/{ALICE}/deposits", content=b'{"amount": "1"}',
                       headers={**hx.h(hx.treasury), "Content-Type": content_type})
    assert r.status_code == 415 and r.json()["code"] == "UNSUPPORTED_MEDIA_TYPE", r.text
    assert "UTF-8" in r.json()["detail"]
    assert hx.svc.venue.state_hash() == before


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", 'Application/JSON; Charset="UTF8"',
                                          "application/json; charset=us-ascii"])
def test_a_json_body_declared_utf8_is_read(hx: Harness, content_type: str) -> None:
    r = hx.client.post(f"/v1/accounts/{ALICE}/deposits", content=b'{"amount": "1"}',
                       headers={**hx.h(hx.treasury), "Content-Type": content_type})
    assert r.status_code in (200, 201), r.text


def test_a_write_without_a_body_says_it_needs_one(hx: Harness) -> None:
    before = hx.svc.venue.state_hash()
    r = hx.client.post(f"/v1/accounts/{ALICE}/deposits", content=b"",
                       headers={**hx.h(hx.treasury), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json() == {"code": "INVALID_REQUEST", "detail": "this request needs a JSON body"}
    assert hx.svc.venue.state_hash() == before


def test_an_engine_failure_is_a_500_rolled_back_and_the_venue_keeps_serving(
        hx: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 10, item 1: one request must not stop the venue. The engine refuses and rolls
    # back a command that fails inside it; the service answers 500 (a bug, not the caller's
    # fault), nothing is journaled, reads do not show it, and the next command is served.
    from solvent.engine import Deposit, core
    from solvent.errors import InvariantViolation

    real = core.HANDLERS[Deposit]

    def half_applied(ctx: object, cmd: object, commit: bool) -> object:
        real(ctx, cmd, commit)  # type: ignore[arg-type]
        raise InvariantViolation("bug after the balance moved")

    before_hash, before, seq = hx.svc.venue.state_hash(), balance(hx), hx.svc.venue.journal_seq
    monkeypatch.setitem(core.HANDLERS, Deposit, half_applied)
    r = hx.client.post(f"/v1/accounts/{ALICE}/deposits", json={"amount": "5"}, headers=hx.h(hx.treasury))
    assert r.status_code == 500 and r.json()["code"] == "INTERNAL_ERROR", r.text
    assert hx.svc.venue.state_hash() == before_hash and balance(hx) == before
    assert hx.svc.venue.journal_seq == seq
    monkeypatch.setitem(core.HANDLERS, Deposit, real)
    r = hx.client.post(f"/v1/accounts/{ALICE}/deposits", json={"amount": "5"}, headers=hx.h(hx.treasury))
    assert r.status_code == 200, r.text
    assert hx.client.get("/healthz").status_code == 200


@pytest.mark.parametrize("order_id", [".", "..", "-_", "z-1\n", "a" * 65])
def test_an_order_id_a_url_cannot_carry_is_400_and_changes_nothing(hx: Harness, order_id: str) -> None:
    """Found by a new-user pass: ``.`` and ``..`` were order ids (clients rewrite them out of a
    URL, so the order could not be cancelled), and ``$`` let an id end in a newline."""
    before = hx.svc.venue.state_hash()
    r = hx.client.post(f"/v1/accounts/{ALICE}/orders", headers=hx.h(hx.operator), json={
        "order_id": order_id, "symbol": "BTCUSDT", "side": "long", "qty": "0.001", "price": "100000"})
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "INVALID_REQUEST" and hx.svc.venue.state_hash() == before


@pytest.mark.parametrize("path", [f"/v1/accounts/{ALICE}%0A/deposits", "/v1/accounts/x%0A1/deposits"])
def test_an_account_id_ending_in_a_newline_is_400(hx: Harness, path: str) -> None:
    before = hx.svc.venue.state_hash()
    r = hx.client.post(path, headers=hx.h(hx.operator), json={"amount": "1"})
    assert r.status_code == 400 and "account id must be" in r.json()["detail"], r.text
    assert hx.svc.venue.state_hash() == before


def test_a_cancel_naming_a_malformed_order_id_is_400(hx: Harness) -> None:
    r = hx.client.delete(f"/v1/accounts/{ALICE}/orders/x%0A1", headers=hx.h(hx.operator))
    assert r.status_code == 400 and "order id must be" in r.json()["detail"], r.text


def test_a_request_with_two_api_keys_is_400_and_changes_nothing(hx: Harness) -> None:
    """Found by a new-user pass: the first key was taken silently (which one was meant?). An
    ``X-API-Key`` and a Bearer key over HTTP and on the stream; two ``X-API-Key`` lines (which the
    test client joins into one value, a wrong key: 401) counted on the raw headers."""
    two = [("X-API-Key", hx.operator), ("Authorization", f"Bearer {hx.operator}")]
    before = hx.svc.venue.state_hash()
    r = hx.client.post(f"/v1/accounts/{ALICE}/deposits", json={"amount": "1"}, headers=two)
    assert r.status_code == 400 and "one API key" in r.json()["detail"], r.text
    assert hx.svc.venue.state_hash() == before
    assert hx.client.get(f"/v1/accounts/{ALICE}/margin", headers=two).status_code == 400
    with hx.client.websocket_connect("/v1/stream", headers=two) as ws:
        error = ws.receive_json(timeout=5)
    assert error["code"] == "INVALID_REQUEST" and "one API key" in error["detail"]
    assert keys_given([(b"x-api-key", b"a"), (b"X-API-Key", b"b")]) == 2
    assert keys_given([(b"authorization", b"Basic xyz"), (b"x-api-key", b"a")]) == 1  # not a key


def test_a_symbol_binance_writes_in_chinese_characters_trades_over_http(hx: Harness) -> None:
    """Found by a new-user pass: binance-usdm lists five perpetuals named in Chinese characters
    (``龙虾USDT`` among them, as Binance's exchangeInfo names it), and the id pattern every
    body's symbol was held to is ASCII: none of them could be priced, traded or laddered over
    HTTP. A symbol now takes any character but a space, a control character or one a URL treats
    specially; the venue's list decides the rest."""
    symbol = "龙虾USDT"
    assert symbol in hx.svc.venue.engine.config.profile.instruments
    r = hx.client.post("/v1/prices", headers=hx.h(hx.operator), json={"symbol": symbol, "price": "0.02"})
    assert r.status_code == 200, r.text
    order = {"order_id": "cjk-1", "symbol": symbol, "side": "long", "qty": "100", "price": "0.02"}
    assert hx.client.post("/v1/accounts/cjk/deposits", headers=hx.h(hx.operator),
                          json={"amount": "1000"}).status_code == 200
    r = hx.client.post("/v1/accounts/cjk/orders", headers=hx.h(hx.operator), json=order)
    assert r.status_code == 200, r.text
    assert [o["symbol"] for o in hx.client.get("/v1/accounts/cjk", headers=hx.h(hx.operator)).json()["orders"]] \
        == [symbol]
    r = hx.client.get(f"/v1/ladder/{symbol}", headers=hx.h(hx.operator))
    assert r.status_code == 200, r.text
    # no ASCII letter; a space; a newline; a slash; markup; a right-to-left override; a zero-width space
    # an Arabic letter mark (a bidirectional control too), a soft hyphen, a variation selector (found by review)
    for bad in ("龙虾", "龙虾 USDT", "龙虾USDT\n", "a/b", "<b>BTCUSDT", "\u202eTDSUCTB", "BTC\u200bUSDT",
                "BTC\u061cUSDT", "BTC\u00adUSDT", "BTC\ufe0fUSDT"):
        r = hx.client.post("/v1/prices", headers=hx.h(hx.operator), json={"symbol": bad, "price": "1"})
        assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST", (bad, r.text)
    r = hx.client.post("/v1/prices", headers=hx.h(hx.operator), json={"symbol": "龙虾USDC", "price": "1"})
    assert r.status_code == 422 and r.json()["code"] == "UNKNOWN_SYMBOL", r.text


def test_every_bundled_symbol_can_be_named_over_http() -> None:
    """The symbol pattern admits every instrument of every bundled venue profile."""
    import re

    from solvent.risk.venues import bundled_venues, load_venue
    from solvent.service.schemas import SYMBOL_PATTERN

    symbols = [s for name in bundled_venues() for s in load_venue(name).instruments]
    assert len(symbols) > 500 and [s for s in symbols if not re.match(SYMBOL_PATTERN, s)] == []


@pytest.mark.parametrize(("path", "body", "words"), [
    ("/v1/prices", {"symbol": "BTCUSDT", "price": "-5"}, "at `$.price`"),
    ("/v1/options/price", {"type": "call", "forward": "-5", "strike": "100", "expiry_days": "30", "vol": "0.6"},
     "at `$.forward`"),
])
def test_a_malformed_number_is_explained_in_words_not_by_its_regex(hx: Harness, path: str, body: dict[str, str],
                                                                   words: str) -> None:
    """Found by a new-user pass: ``"forward": "-5"`` was answered with the decimal pattern's
    source, ``Expected `str` matching regex '^[0-9]{1,24}(\\\\.[0-9]{1,18})?$(?![\\\\s\\\\S])'``."""
    r = hx.client.post(path, headers=hx.h(hx.operator), json=body)
    assert r.status_code == 400, r.text
    detail = r.json()["detail"]
    assert "a decimal string in plain digits (no sign, exponent or space" in detail and words in detail, detail
    assert "regex" not in detail
