"""The dashboard in headless Debian chromium, on the demo venue.

Prices posted through the API put accounts into margin call and liquidation, and the page
shows it; at phone (390×844) and desktop (1440×900) sizes the page never scrolls sideways;
the event feed holds the log's latest events on load and goes on live without repeating
one; the ladder marks the current mark; the insurance fund is drawn over venue time; a
click on an account opens its positions with MM, IM, tier, liquidation price and distance.

Needs ``/usr/bin/chromium`` (Debian package ``chromium``) and the ``playwright`` Python
package (its bundled driver; no browser download). Skipped with the reason when either is
missing, except with ``SOLVENT_REQUIRE_SERVICES=1`` (CI), where that is a failure.
Screenshots go to pytest's tmp dir, and also to ``$SOLVENT_SCREENSHOT_DIR`` when set.
Tests that only read share one server; a test that posts prices has its own.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from solvent.demo_session import SOURCE
from solvent.service import KeyStore, Role, build_service, create_app

CHROMIUM = os.environ.get("SOLVENT_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WATCHED = "erin-isolated-50x"
"""0.2 BTC long at 117,200 on 50x isolated (468.8 USDT isolated margin); the demo's mark is 117,500."""
MARGIN_CALL_PRICE = "115400"  # erin (50x isolated long) crosses the margin-call ratio, not yet liquidation
LIQUIDATING_PRICE = "114000"
"""erin loses 0.2 × (117,200 − 114,000) = 640 > her 468.8 isolated margin: past bankruptcy, liquidated."""
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000
Served = tuple[str, str]


def _unavailable(reason: str) -> None:
    if os.environ.get("SOLVENT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (SOLVENT_REQUIRE_SERVICES=1: the browser test is required)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve() -> Iterator[Served]:
    keys = KeyStore()
    operator = keys.issue(Role.OPERATOR)
    app = create_app(build_service(keys, demo=True))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                        lifespan="on", ws="websockets-sansio"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", operator
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture
def server() -> Iterator[Served]:
    """A venue of the test's own (for tests that post prices)."""
    with _serve() as served:
        yield served


@pytest.fixture(scope="module")
def shared_server() -> Iterator[Served]:
    """One venue for the tests that only read."""
    with _serve() as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed (pip install playwright)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def _page(browser: Any, served: Served, viewport: dict[str, int]) -> Iterator[Any]:
    """The dashboard loaded at ``viewport`` with the operator key, its table filled and its stream live."""
    from playwright.sync_api import expect

    base, operator = served
    page = browser.new_page(viewport=viewport)
    try:
        page.goto(f"{base}/#key={operator}")
        expect(page.locator(f'#health tbody tr[data-account="{WATCHED}"]')).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.locator("#conn")).to_have_text("live", timeout=TIMEOUT_MS)
        yield page
    finally:
        page.close()


def _shoot(page: Any, tmp_path: Path, name: str) -> None:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("SOLVENT_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["SOLVENT_SCREENSHOT_DIR"]) / name)


def _post_price(served: Served, price: str) -> list[dict[str, Any]]:
    base, operator = served
    answer = httpx.post(f"{base}/v1/prices", json={"symbol": "BTCUSDT", "price": price, "source": SOURCE},
                        headers={"X-API-Key": operator})
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def _feed_seqs(page: Any) -> list[int]:
    return [int(s) for s in page.locator("#feed li").evaluate_all("els => els.map(e => e.dataset.seq)")]


def _no_sideways_scroll(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for box in page.locator("main > section").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().right)"):
        assert box <= width


@pytest.mark.parametrize("name, viewport", [("desktop", DESKTOP), ("phone", PHONE)], ids=["desktop 1440x900",
                                                                                        "phone 390x844"])
def test_the_page_fits_the_width_of_a_phone_and_a_desktop(browser: Any, shared_server: Served, tmp_path: Path,
                                                          name: str, viewport: dict[str, int]) -> None:
    with _page(browser, shared_server, viewport) as page:
        page.locator("#ladder rect").first.wait_for()
        _no_sideways_scroll(page, viewport["width"])
        health = page.locator("#health-section").bounding_box()
        ladder = page.locator("#ladder-section").bounding_box()
        if name == "phone":  # one column: the ladder comes below the account table, never over it
            assert ladder["y"] >= health["y"] + health["height"]
        else:  # two columns side by side
            assert ladder["x"] >= health["x"] + health["width"]
        _shoot(page, tmp_path, f"dashboard-{name}.png")


def test_the_feed_holds_the_latest_events_of_the_log_on_load(browser: Any, shared_server: Served) -> None:
    from playwright.sync_api import expect

    base, operator = shared_server
    head = httpx.get(f"{base}/v1/state", headers={"X-API-Key": operator}).json()["event_seq"]
    assert head > 0  # the demo's deposits, fills and prices
    with _page(browser, shared_server, DESKTOP) as page:
        expect(page.locator("#feed li")).to_have_count(min(head, 200), timeout=TIMEOUT_MS)
        seqs = _feed_seqs(page)
        assert seqs == sorted(seqs, reverse=True) and seqs[0] == head  # newest first, through the head


def test_the_ladder_draws_a_labelled_line_at_the_mark(browser: Any, shared_server: Served) -> None:
    from playwright.sync_api import expect

    with _page(browser, shared_server, DESKTOP) as page:
        expect(page.locator("#mark-line line")).to_have_count(1, timeout=TIMEOUT_MS)
        expect(page.locator("#mark-line text")).to_have_text("mark 117,500")  # the demo's BTCUSDT mark


def test_the_insurance_fund_is_drawn_over_venue_time(browser: Any, shared_server: Served) -> None:
    from playwright.sync_api import expect

    with _page(browser, shared_server, DESKTOP) as page:
        axis = page.locator("#fund-axis")
        expect(axis).to_contain_text("2025-10-10", timeout=TIMEOUT_MS)  # the demo's day: 2025-10-10's crash path
        assert "1970" not in (axis.text_content() or "")
        expect(page.locator("#fund path")).to_have_count(1)


def test_a_click_on_an_account_shows_its_positions_with_their_margin(browser: Any, shared_server: Served,
                                                                      tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with _page(browser, shared_server, PHONE) as page:
        page.locator(f'#health tbody tr[data-account="{WATCHED}"]').click()
        panel = page.locator("#account")
        expect(panel).to_be_visible(timeout=TIMEOUT_MS)
        expect(panel).to_have_attribute("data-account", WATCHED)
        headers = page.locator("#positions thead th").all_text_contents()  # on a phone, beside each value
        for column in ("MM", "IM", "tier · MMR", "liq. price", "to liquidation"):
            assert column in headers
        row = page.locator('#positions tbody tr[data-symbol="BTCUSDT"]')
        expect(row).to_have_count(1)
        cells = dict(zip(headers, row.locator("td").all_inner_texts(), strict=True))
        assert [c.get_attribute("data-label") for c in row.locator("td").all()] == headers
        # at the mark 117,500: notional 23,500, tier 1 of BTCUSDT (MMR 0.4 %, max 150x), MM 0.004 × 23,500,
        # IM 23,500 / 50; liquidation where 468.8 + 0.2 × (p − 117,200) = 0.004 × 0.2 × p: p = 115,317.27…,
        # shown on the 0.1 tick against the holder; distance (117,500 − 115,317.3) / 117,500
        assert cells["side"] == "long" and cells["qty"] == "0.2" and cells["mode"] == "isolated"
        assert cells["notional"] == "23,500" and cells["MM"] == "94" and cells["IM"] == "470"
        assert cells["tier · MMR"] == "1 · 0.40 %"
        assert cells["liq. price"] == "115,317.3" and cells["to liquidation"] == "1.86 %"
        _no_sideways_scroll(page, PHONE["width"])
        _shoot(page, tmp_path, "dashboard-phone-account.png")


def test_a_margin_call_posted_through_the_api_appears_in_the_table_and_the_feed(browser: Any, server: Served,
                                                                                tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with _page(browser, server, {"width": 1400, "height": 900}) as page:
        row = page.locator(f'#health tbody tr[data-account="{WATCHED}"]')
        expect(row).to_have_attribute("data-level", "healthy", timeout=TIMEOUT_MS)
        expect(page.locator("#ladder rect").first).to_be_visible()
        before = _feed_seqs(page)

        events = _post_price(server, MARGIN_CALL_PRICE)
        assert any(e["type"] == "MarginCall" and e["account_id"] == WATCHED for e in events)

        expect(row).to_have_attribute("data-level", "margin_call", timeout=TIMEOUT_MS)
        expect(page.locator("#feed li.MarginCall")).to_contain_text(WATCHED, timeout=TIMEOUT_MS)
        expect(page.locator("#health tbody tr").first).to_have_attribute("data-account", WATCHED)
        after = _feed_seqs(page)
        # the live events on top of those loaded, each once, none lost: seqs strictly falling, through the last
        assert after == sorted(set(after), reverse=True) and after[0] == events[-1]["seq"] and before[0] in after
        assert len(after) == min(200, len(before) + after[0] - before[0])
        _shoot(page, tmp_path, "dashboard.png")


def test_an_account_liquidated_out_of_its_position_shows_as_liquidated(browser: Any, server: Served,
                                                                        tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with _page(browser, server, DESKTOP) as page:
        row = page.locator(f'#health tbody tr[data-account="{WATCHED}"]')
        expect(row).to_have_attribute("data-status", "healthy", timeout=TIMEOUT_MS)

        events = _post_price(server, LIQUIDATING_PRICE)
        assert any(e["type"] == "LiquidationStep" and e["account_id"] == WATCHED for e in events)

        expect(row).to_have_attribute("data-status", "liquidated", timeout=TIMEOUT_MS)
        expect(row.locator(".level")).to_have_text("liquidated")
        expect(row.locator(".level")).to_have_class("level level-liquidated")
        row.click()
        expect(page.locator("#account-title .level")).to_have_text("liquidated", timeout=TIMEOUT_MS)
        expect(page.locator("#positions tbody")).to_contain_text("no open positions")
        _shoot(page, tmp_path, "dashboard-liquidated.png")
