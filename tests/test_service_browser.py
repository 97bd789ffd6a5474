"""The dashboard in headless Debian chromium: a price posted through the API that puts an
account into margin call shows up in the health table and the live feed.

Needs ``/usr/bin/chromium`` (Debian package ``chromium``) and the ``playwright`` Python
package (its bundled driver; no browser download). Skipped with the reason when either is
missing, except with ``SOLVENT_REQUIRE_SERVICES=1`` (CI), where that is a failure. The
screenshot goes to pytest's tmp dir, and also to ``$SOLVENT_SCREENSHOT_DIR`` when set.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from solvent.demo_session import SOURCE
from solvent.service import KeyStore, Role, build_service, create_app

CHROMIUM = os.environ.get("SOLVENT_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WATCHED = "erin-isolated-50x"
MARGIN_CALL_PRICE = "115400"  # erin (50x isolated long) crosses the margin-call ratio, not yet liquidation


def _unavailable(reason: str) -> None:
    if os.environ.get("SOLVENT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (SOLVENT_REQUIRE_SERVICES=1: the browser test is required)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server() -> Iterator[tuple[str, str]]:
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


def test_a_margin_call_posted_through_the_api_appears_in_the_table_and_the_feed(server: tuple[str, str],
                                                                                tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        _unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed (pip install playwright)")
    base, operator = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base}/#key={operator}")
            row = page.locator(f'#health tbody tr[data-account="{WATCHED}"]')
            expect(row).to_have_attribute("data-level", "healthy", timeout=10_000)
            expect(page.locator("#conn")).to_have_text("live", timeout=10_000)
            expect(page.locator("#ladder rect").first).to_be_visible()

            answer = httpx.post(f"{base}/v1/prices", json={"symbol": "BTCUSDT", "price": MARGIN_CALL_PRICE,
                                                           "source": SOURCE}, headers={"X-API-Key": operator})
            assert answer.status_code == 200, answer.text
            assert any(e["type"] == "MarginCall" and e["account_id"] == WATCHED for e in answer.json()["events"])

            expect(row).to_have_attribute("data-level", "margin_call", timeout=10_000)
            expect(page.locator("#feed li.MarginCall")).to_contain_text(WATCHED, timeout=10_000)
            expect(page.locator("#health tbody tr").first).to_have_attribute("data-account", WATCHED)
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            if os.environ.get("SOLVENT_SCREENSHOT_DIR"):
                shutil.copy(shot, Path(os.environ["SOLVENT_SCREENSHOT_DIR"]) / "dashboard.png")
        finally:
            browser.close()
