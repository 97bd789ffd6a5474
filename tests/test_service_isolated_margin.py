"""Margin mode, isolated margin and insurance-fund contributions through the service: the
engine had ``SetMarginMode``, ``AddIsolatedMargin``, ``RemoveIsolatedMargin`` and
``FundInsurance``, but no endpoint reached them, so an account could not be isolated over HTTP
and the operator could not pay into the fund. The numbers below are worked by hand on the demo
book (alice holds BTCUSDT cross and nothing in ETHUSDT; ETHUSDT's mark is read at the start)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from service_support import ALICE, Harness, make_harness


@pytest.fixture
def hx() -> Iterator[Harness]:
    yield from make_harness()


def _post(hx: Harness, path: str, body: dict[str, Any], key: str, idempotency: str | None = None) -> Any:
    headers = hx.h(key) | ({"Idempotency-Key": idempotency} if idempotency else {})
    return hx.client.post(path, json=body, headers=headers)


def _eth(hx: Harness) -> tuple[Decimal, dict[str, Any] | None]:
    """alice's USDT balance and her ETHUSDT position (``None``: none)."""
    view = hx.client.get(f"/v1/accounts/{ALICE}", headers=hx.h(hx.alice)).json()
    eth = [p for p in view["positions"] if p["symbol"] == "ETHUSDT"]
    return Decimal(view["balances"]["USDT"]), (eth[0] if eth else None)


def test_an_account_isolates_a_symbol_and_moves_margin_in_and_out(hx: Harness) -> None:
    base = f"/v1/accounts/{ALICE}"
    mark = hx.svc.venue.engine.state.markets["ETHUSDT"].mark
    assert mark is not None
    refused = _post(hx, f"{base}/margin-mode", {"symbol": "BTCUSDT", "mode": "isolated"}, hx.alice)
    assert (refused.status_code, refused.json()["code"]) == (422, "MODE_CHANGE_WITH_OPEN_POSITION")
    assert _post(hx, f"{base}/margin-mode", {"symbol": "ETHUSDT", "mode": "isolated"}, hx.bob).status_code == 403
    assert _post(hx, f"{base}/margin-mode", {"symbol": "ETHUSDT", "mode": "isolated"}, hx.alice).status_code == 200
    assert _post(hx, f"{base}/leverage", {"symbol": "ETHUSDT", "leverage": "10"}, hx.alice).status_code == 200
    assert _post(hx, f"{base}/deposits", {"amount": "10000"}, hx.operator).status_code == 200  # free margin to move
    balance, _ = _eth(hx)
    fill = {"trade_id": "iso-1", "symbol": "ETHUSDT", "price": str(mark), "qty": "1", "buyer_id": ALICE,
            "seller_id": "desk"}
    assert _post(hx, "/v1/fills", fill, hx.operator).status_code == 200
    # 1 ETH at the mark, leverage 10: the fill locks a tenth of the notional in the position
    locked = mark / 10
    after, eth = _eth(hx)
    assert eth is not None and eth["margin_mode"] == "isolated" and Decimal(eth["isolated_margin"]) == locked
    assert after == balance - locked

    add = {"symbol": "ETHUSDT", "amount": "70", "type": "add"}
    first = _post(hx, f"{base}/isolated-margin", add, hx.alice, idempotency="add-70")
    assert first.status_code == 200, first.text
    again = _post(hx, f"{base}/isolated-margin", add, hx.alice, idempotency="add-70")  # a retry: applied once
    assert again.json() == first.json()
    now, eth = _eth(hx)
    assert eth is not None and Decimal(eth["isolated_margin"]) == locked + 70 and now == after - 70

    # what stays must cover the position's initial margin, notional ÷ 10 = ``locked`` at the mark (no PnL
    # yet): 100 of the 70 added would leave locked − 30, refused; 50 leaves locked + 20
    too_much = _post(hx, f"{base}/isolated-margin", {"symbol": "ETHUSDT", "amount": "100", "type": "remove"},
                     hx.alice)
    assert (too_much.status_code, too_much.json()["code"]) == (422, "INSUFFICIENT_INITIAL_MARGIN")
    assert Decimal(too_much.json()["required"]) == locked
    removed = _post(hx, f"{base}/isolated-margin", {"symbol": "ETHUSDT", "amount": "50", "type": "remove"},
                    hx.alice)
    assert removed.status_code == 200, removed.text
    now, eth = _eth(hx)
    assert eth is not None and Decimal(eth["isolated_margin"]) == locked + 20 and now == after - 20
    assert _eth(hx) == (now, eth)
    none = _post(hx, f"{base}/isolated-margin", {"symbol": "BTCUSDT", "amount": "1", "type": "add"}, hx.alice)
    assert (none.status_code, none.json()["code"]) == (422, "NO_POSITION")  # BTCUSDT is cross
    bad = _post(hx, f"{base}/isolated-margin", {"symbol": "ETHUSDT", "amount": "1", "type": "move"}, hx.alice)
    assert bad.status_code == 400


def test_the_operator_pays_into_the_insurance_fund(hx: Harness) -> None:
    before = Decimal(hx.client.get("/v1/insurance-fund", headers=hx.h(hx.operator)).json()["balance"])
    paid = _post(hx, "/v1/insurance-fund/contributions", {"amount": "1000"}, hx.operator, idempotency="fund-1")
    assert paid.status_code == 200, paid.text
    assert _post(hx, "/v1/insurance-fund/contributions", {"amount": "1000"}, hx.operator,
                 idempotency="fund-1").json() == paid.json()
    changed = [e for e in paid.json()["events"] if e["type"] == "InsuranceFundChanged"]
    assert [(Decimal(e["delta"]), Decimal(e["balance"])) for e in changed] == [(1000, before + 1000)]
    assert Decimal(hx.client.get("/v1/insurance-fund", headers=hx.h(hx.operator)).json()["balance"]) == before + 1000
    assert _post(hx, "/v1/insurance-fund/contributions", {"amount": "1000"}, hx.alice).status_code == 403
    assert _post(hx, "/v1/insurance-fund/contributions", {"amount": "1000"}, hx.treasury).status_code == 403
    assert _post(hx, "/v1/insurance-fund/contributions", {"amount": 1000}, hx.operator).status_code == 400  # a number
    zero = _post(hx, "/v1/insurance-fund/contributions", {"amount": "0"}, hx.operator)
    assert zero.status_code == 422
    assert Decimal(hx.client.get("/v1/insurance-fund", headers=hx.h(hx.operator)).json()["balance"]) == before + 1000


def test_a_position_and_the_settings_show_the_leverage_in_force_where_the_account_set_none(hx: Harness) -> None:
    """binance-usdm's default leverage is 20 (``DEFAULT_LEVERAGE``; ETHUSDT's smallest bracket
    allows more): a position opened without ``/leverage`` shows 20, not null, and one set shows
    the account's own. Isolated at the default, the fill locks a twentieth of the notional."""
    base = f"/v1/accounts/{ALICE}"
    mark = hx.svc.venue.engine.state.markets["ETHUSDT"].mark
    assert mark is not None
    assert _post(hx, f"{base}/margin-mode", {"symbol": "ETHUSDT", "mode": "isolated"}, hx.alice).status_code == 200
    # no position yet: the mode set shows in the account's settings, with the leverage in force
    view = hx.client.get(base, headers=hx.h(hx.alice)).json()
    assert view["settings"]["ETHUSDT"] == {"margin_mode": "isolated", "leverage": "20"}
    assert _post(hx, f"{base}/deposits", {"amount": "10000"}, hx.operator).status_code == 200
    fill = {"trade_id": "lev-1", "symbol": "ETHUSDT", "price": str(mark), "qty": "1", "buyer_id": ALICE,
            "seller_id": "desk"}
    assert _post(hx, "/v1/fills", fill, hx.operator).status_code == 200
    _, eth = _eth(hx)
    assert eth is not None and eth["leverage"] == "20" and Decimal(eth["isolated_margin"]) == mark / 20
    # 15× would need a fifteenth of the notional in the position, which holds a twentieth: refused
    cut = _post(hx, f"{base}/leverage", {"symbol": "ETHUSDT", "leverage": "15"}, hx.alice)
    assert (cut.status_code, cut.json()["code"]) == (422, "INSUFFICIENT_INITIAL_MARGIN")
    assert _post(hx, f"{base}/leverage", {"symbol": "ETHUSDT", "leverage": "25"}, hx.alice).status_code == 200
    _, eth = _eth(hx)
    assert eth is not None and eth["leverage"] == "25"
    view = hx.client.get(base, headers=hx.h(hx.alice)).json()
    assert view["settings"]["ETHUSDT"] == {"margin_mode": "isolated", "leverage": "25"}
