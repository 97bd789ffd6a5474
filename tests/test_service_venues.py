"""`solvent serve --venue NAME [--settle ASSET]`: the service runs any bundled venue, not only binance-usdm.

Hand numbers (Hyperliquid, margined in USDC): alice deposits 10,000 and buys 0.1 BTC at
60,000 from the desk; at a mark of 58,000 her equity is 10,000 + 0.1 × (58,000 − 60,000) =
9,800. Hyperliquid's BTC maintenance margin is half the initial margin at the maximum
leverage, 40×: 1/80 of the notional, 5,800 / 80 = 72.5.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families
from test_journal_trust import run

from solvent.errors import InvalidInput
from solvent.service import KeyStore, Role, Service, build_service, create_app
from solvent.service.venue import venue_config

D = Decimal


@dataclass
class Served:
    """A service on one venue with an operator key: ``post`` asserts 200 and returns the body."""

    svc: Service
    client: TestClient  # type: ignore[type-arg]
    head: dict[str, str]

    def post(self, path: str, body: dict[str, str]) -> Any:
        r = self.client.post(path, json=body, headers=self.head)
        assert r.status_code == 200, r.text
        return r.json()

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=self.head).json()


@contextmanager
def served(venue: str) -> Iterator[Served]:
    keys = KeyStore()
    operator = keys.issue(Role.OPERATOR)
    svc = build_service(keys, config=venue_config(venue))
    with TestClient(create_app(svc)) as client:
        yield Served(svc, client, {"X-API-Key": operator})


def test_a_hyperliquid_venue_served_in_usdc() -> None:
    with served("hyperliquid") as api:
        api.post("/v1/accounts/alice/deposits", {"amount": "10000"})    # no asset: the venue's, USDC
        api.post("/v1/accounts/desk/deposits", {"amount": "1000000"})
        api.post("/v1/prices", {"symbol": "BTC", "price": "60000"})
        api.post("/v1/fills", {"trade_id": "t1", "symbol": "BTC", "price": "60000", "qty": "0.1",
                               "buyer_id": "alice", "seller_id": "desk"})
        api.post("/v1/prices", {"symbol": "BTC", "price": "58000"})
        m = api.get("/v1/accounts/alice/margin")
        assert D(m["equity"]) == D(9800)
        assert D(m["maintenance_margin"]) == D("72.5")
        refused = api.client.post("/v1/accounts/alice/deposits", json={"asset": "USDT", "amount": "1"},
                                  headers=api.head)
        assert refused.status_code == 422 and refused.json()["code"] == "UNKNOWN_ASSET"
        assert api.svc.venue.engine.config.settle_asset == "USDC"


def test_a_settlement_asset_the_venue_does_not_use_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no hyperliquid instrument settles in it"):
        venue_config("hyperliquid", "USDT")
    assert venue_config("binance-usdm", "USDC").settle_asset == "USDC"


@pytest.mark.parametrize(("argv", "says"), [
    (["--venue", "no-such-venue"], "no-such-venue"),
    (["--venue", "hyperliquid", "--settle", "USDT"], "no hyperliquid instrument settles in it"),
    (["--venue", "drift", "--demo"], "--demo runs the bundled binance-usdm sample book"),
    (["--venue", "binance-usdm", "--settle", "USDC", "--demo"], "--demo runs the bundled binance-usdm sample book"),
    (["--settle", "ETH"], "--settle needs --venue"),
])
def test_serve_refuses_a_venue_it_cannot_run(argv: list[str], says: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run("serve", "--journal", str(tmp_path / "j.sqlite"), "--port", "1", *argv)
    assert code == 2 and says in err


def test_serve_freezes_the_heap_it_starts_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the process holds when it starts serving (modules, the recovered venue) is frozen:
    the collector's full passes then walk only what was made since, not every object (57 ms a
    pass at start-up here, during which no request is answered)."""
    import gc

    import uvicorn

    frozen: list[int] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: frozen.append(gc.get_freeze_count()))
    monkeypatch.chdir(tmp_path)
    try:
        code, _, err = run("serve", "--journal", str(tmp_path / "j.sqlite"), "--port", "1")
    finally:
        gc.unfreeze()
    assert code == 0, err
    assert frozen and frozen[0] > 10_000  # the imported modules alone are more objects than this


def _metric(text: str, name: str) -> float:
    """The value of the sample ``name`` (``metric{label="value",...}``, labels in any order), read
    with prometheus_client's own parser of the text format."""
    metric, _, rest = name.partition("{")
    wanted = dict(pair.split("=", 1) for pair in rest.rstrip("}").split(",")) if rest else {}
    wanted = {k: v.strip('"') for k, v in wanted.items()}
    return next(s.value for family in text_string_to_metric_families(text) for s in family.samples
                if s.name == metric and s.labels == wanted)


def _alice_long_one_btc(api: Served) -> None:
    """alice: 3,100 USDT and one BTC long at 60,000 (20×), bought from desk (four commands)."""
    api.post("/v1/accounts/alice/deposits", {"amount": "3100"})
    api.post("/v1/accounts/desk/deposits", {"amount": "10000000"})
    api.post("/v1/prices", {"symbol": "BTCUSDT", "price": "60000"})
    api.post("/v1/fills", {"trade_id": "t1", "symbol": "BTCUSDT", "price": "60000", "qty": "1",
                           "buyer_id": "alice", "seller_id": "desk"})


def test_metrics_carry_the_risk_a_risk_manager_watches() -> None:
    with served("binance-usdm") as api:
        post, client, svc = api.post, api.client, api.svc
        _alice_long_one_btc(api)
        text = client.get("/metrics").text
        # one BTC long against one BTC short: open interest 1; the mark 60,000; a fund of 0
        assert _metric(text, 'solvent_open_interest{symbol="BTCUSDT"}') == 1.0
        assert _metric(text, 'solvent_mark_price{symbol="BTCUSDT"}') == 60000.0
        assert _metric(text, 'solvent_insurance_fund{asset="USDT"}') == 0.0
        levels = {lv: _metric(text, f'solvent_accounts{{level="{lv}"}}')
                  for lv in ("healthy", "warning", "margin_call", "liquidation", "bankrupt")}
        assert sum(levels.values()) == len(svc.venue.engine.state.accounts) and levels["liquidation"] == 0
        # 20× on 3,100: at 57,000 equity is 3,100 − 3,000 = 100, below MM 0.4 % × 57,000 = 228 and
        # above 0: liquidated without a deficit (one with a deficit and no fund would go to ADL)
        done = post("/v1/prices", {"symbol": "BTCUSDT", "price": "57000"})
        steps = [e for e in done["events"] if e["type"] == "LiquidationStep"]
        assert steps
        text = client.get("/metrics").text
        closed = sum(float(s["qty"]) * float(s["price"]) for s in steps)
        assert _metric(text, 'solvent_liquidated_notional_total{symbol="BTCUSDT",kind="book"}') == pytest.approx(closed)
        assert _metric(text, "solvent_event_log_head_seq") == float(svc.venue.events.head_seq)
        assert _metric(text, "solvent_stream_subscribers") == 0.0


def test_metrics_count_adl_oracle_guard_trips_and_journal_latency() -> None:
    with served("binance-usdm") as api:
        post, client = api.post, api.client
        commits_at_start = _metric(client.get("/metrics").text, "solvent_journal_commits_total")
        _alice_long_one_btc(api)
        # the counters of a priced symbol exist from its first price, at 0 (not only from their first event)
        text = client.get("/metrics").text
        assert _metric(text, 'solvent_adl_events_total{symbol="BTCUSDT"}') == 0.0
        assert _metric(text, 'solvent_liquidated_notional_total{symbol="BTCUSDT",kind="backstop"}') == 0.0
        assert _metric(text, 'solvent_oracle_guard_trips_total{symbol="BTCUSDT",guard="index_dropped"}') == 0.0
        assert _metric(text, 'solvent_socialised_loss_total{asset="USDT"}') == 0.0
        # at 56,000 alice's equity is 3,100 − 4,000 < 0: bankrupt; the fund is empty, so her
        # deficit goes to the one profitable opposite position, desk's short: one ADL
        post("/v1/prices", {"symbol": "BTCUSDT", "price": "56000"})
        text = client.get("/metrics").text
        assert _metric(text, 'solvent_adl_events_total{symbol="BTCUSDT"}') == 1.0
        assert _metric(text, 'solvent_index_price{symbol="BTCUSDT"}') == 56000.0
        assert _metric(text, 'solvent_liquidations_paused{symbol="BTCUSDT"}') == 0.0
        # 40,000 is 28.6 % below 56,000, beyond the default 10 % jump guard: held, liquidations paused
        post("/v1/prices", {"symbol": "BTCUSDT", "price": "40000"})
        text = client.get("/metrics").text
        assert _metric(text, 'solvent_oracle_guard_trips_total{symbol="BTCUSDT",guard="mark_held"}') == 1.0
        assert _metric(text, 'solvent_oracle_guard_trips_total{symbol="BTCUSDT",guard="liquidations_paused"}') == 1.0
        assert _metric(text, 'solvent_liquidations_paused{symbol="BTCUSDT"}') == 1.0
        assert _metric(text, 'solvent_mark_price{symbol="BTCUSDT"}') == 56000.0  # the held price is not the mark
        # six commands went through the writer, one request after another (each answered before
        # the next was sent): each waited once, and each was its own group commit
        assert _metric(text, "solvent_journal_lag_seconds_count") == 6.0
        commits = _metric(text, "solvent_journal_commits_total")
        assert commits - commits_at_start == 6.0
        assert _metric(text, "solvent_journal_commit_duration_seconds_count") == commits
        assert _metric(text, "solvent_journal_seq") >= 6.0

def test_an_existing_journal_refuses_another_venue_naming_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from solvent.service.builder import open_durable

    journal = tmp_path / "coin.sqlite"
    open_durable(journal, venue_config("binance-coinm")).close()
    code, _, err = run("serve", "--journal", str(journal), "--venue", "hyperliquid", "--port", "1")
    assert code == 2 and "hyperliquid in USDC, the journal binance-coinm in BTC" in err


def test_a_venue_without_ticks_shows_its_liquidation_price_on_the_venues_price_rule() -> None:
    # Hyperliquid lists no tick: its prices have at most five significant figures
    # (VenueProfile.price_rule), the grid `solvent account` rounds to as well (a new-user pass
    # found the API at 10^-8 beside the calculator at five figures); the distance to 10^-4
    with served("hyperliquid") as api:
        for path, body in (("/v1/accounts/alice/deposits", {"amount": "10000"}),
                           ("/v1/accounts/desk/deposits", {"amount": "1000000"}),
                           ("/v1/prices", {"symbol": "BTC", "price": "50000"}),
                           ("/v1/fills", {"trade_id": "t1", "symbol": "BTC", "price": "50000", "qty": "1",
                                          "buyer_id": "alice", "seller_id": "desk"})):
            api.post(path, body)
        (pos,) = api.get("/v1/accounts/alice/margin")["positions"]
    price, pct = D(pos["liquidation_price"]), D(pos["distance_to_liquidation_pct"])
    assert pct == pct.quantize(D("1e-4"))
    # equity 10,000 + (P − 50,000) = MM P / 80 at P = 40,000 × 80 / 79 = 40,506.329113924…, a
    # long's lower bound rounded up (against the holder) to five significant figures: 40,507
    assert price == D(40507)


def test_serve_with_the_same_venue_keeps_the_journals_recorded_specs(tmp_path: Path) -> None:
    """``serve --venue X`` on an existing journal of X keeps the configuration the journal
    recorded, even when X's specs changed since (``solvent venues update``); another venue or
    settlement asset is still refused."""
    import dataclasses

    from solvent.journal import CodecError
    from solvent.service.builder import open_durable

    journal = tmp_path / "usdm.sqlite"
    started = venue_config("binance-usdm")
    open_durable(journal, started).close()
    newer_specs = dataclasses.replace(started, profile=dataclasses.replace(
        started.profile, liquidation_fee_rate=started.profile.liquidation_fee_rate + D("0.001")))
    with pytest.raises(CodecError, match="the venue specs differ"):
        open_durable(journal, newer_specs).close()  # the library keeps its rule: a given config must match
    durable = open_durable(journal, newer_specs, venue_only=True)
    try:
        assert durable.engine.config == started
    finally:
        durable.close()
    with pytest.raises(CodecError, match="binance-usdm in USDC, the journal binance-usdm in USDT"):
        open_durable(journal, venue_config("binance-usdm", "USDC"), venue_only=True).close()
    # no --settle: the venue's default asset was filled in, but the journal keeps its own
    usdc = tmp_path / "usdc.sqlite"
    open_durable(usdc, venue_config("binance-usdm", "USDC")).close()
    durable = open_durable(usdc, venue_config("binance-usdm"), venue_only=True, settle_given=False)
    try:
        assert durable.engine.config.settle_asset == "USDC"
    finally:
        durable.close()


@pytest.mark.parametrize(("venue", "symbol", "asset", "price", "qty"), [
    ("hyperliquid", "BTC", "USDC", "60000", "0.2"),      # five significant figures
    ("binance-usdm", "0GUSDT", "USDT", "1.3", "9000"),   # no known tick: eight significant figures
])
def test_the_api_and_the_account_command_show_one_liquidation_price(venue: str, symbol: str, asset: str,
                                                                    price: str, qty: str) -> None:
    """The same long, 10× and a wallet of a tenth of its notional, through the engine (what the
    API shows) and through an account file (what ``solvent account`` shows): one price (found
    by a new-user pass: 50,632.91139241 beside 50,633 on Hyperliquid)."""
    from solvent import load_venue, parse_portfolio
    from solvent.engine import AdvanceTime, Deposit, Engine, EngineConfig, Fill, PriceUpdate, SetLeverage
    from solvent.service.views import margin_view

    profile = load_venue(venue, overlays=False)
    engine = Engine(EngineConfig(profile))
    wallet = D(qty) * D(price) / 10
    for cmd in (AdvanceTime(0), *(PriceUpdate(symbol, s, D(price)) for s in "abc"),
                Deposit("alice", asset, wallet), Deposit("desk", asset, D(10) ** 8),
                SetLeverage("alice", symbol, D(10)), Fill("t1", symbol, D(price), D(qty), "alice", "desk")):
        assert engine.apply(cmd).accepted, cmd
    shown = margin_view(engine, "alice")["positions"][0]["liquidation_price"]
    account = {"wallet": str(wallet), "positions": [{"symbol": symbol, "side": "long", "qty": qty, "entry": price,
                                                     "leverage": "10"}]}
    assert D(shown) == parse_portfolio(account, profile).assess().positions[0].liquidation.price
