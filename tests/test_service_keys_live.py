"""Keys in a running service (issue 10, "Venue safety", item "Keys").

Revocation without a restart: the service follows its keys file (checked at most once per
second of an injected clock), keeps the last good keys when the file turns bad, and logs one
error line. Failed authentications are limited per client address: 20 in a row, then 1 per
second; once the budget is spent every request from that address is answered 429 before its
key is looked at (a good key too: otherwise the answer would tell a good guess from a bad one).

No test sleeps: time is a fake clock shared by the key store and both rate limiters.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from solvent.cli import main
from solvent.cli.keys_command import issue_key
from solvent.service import KeyStore, RateLimiter, Role, Service, build_service, create_app
from solvent.service.ratelimit import address_bucket

BURST = 20
RATE_PER_S = 1.0
"""The failed-authentication limits under test: the documented defaults, given explicitly."""


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


class ErrorLines(logging.Handler):
    """Collects the ``solvent.service`` records at level ERROR."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def from_address(app: ASGIApp) -> ASGIApp:
    """The test client always calls from ``testclient``: ``X-Test-Client: <host>`` sets the address."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = dict(scope["headers"]).get(b"x-test-client")
            if host:
                scope = {**scope, "client": (host.decode(), 50000)}  # type: ignore[assignment]
        await app(scope, receive, send)

    return asgi


@dataclass
class Live:
    path: Path
    clock: FakeClock
    svc: Service
    client: TestClient  # type: ignore[type-arg]
    operator: str
    alice: str
    errors: ErrorLines = field(default_factory=ErrorLines)

    def get(self, key: str | None, address: str = "198.51.100.1", path: str = "/v1/state") -> Any:
        headers = {"X-Test-Client": address}
        if key is not None:
            headers["X-API-Key"] = key
        return self.client.get(path, headers=headers)

    def error_lines(self) -> list[logging.LogRecord]:
        return [r for r in self.errors.records if r.name == "solvent.service"]


def key_id(plain_key: str) -> str:
    return plain_key.split("_", 2)[1]


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    monkeypatch.delenv("SOLVENT_KEYS_FILE", raising=False)
    path = tmp_path / "keys.json"
    operator = issue_key("operator", str(path))
    alice = issue_key("account:alice", str(path))
    clock = FakeClock()
    keys = KeyStore.load(path, clock=clock)
    svc = build_service(keys, limiter=RateLimiter(1e6, 1e6, clock=clock),
                        failed_auth=RateLimiter(RATE_PER_S, BURST, clock=clock))
    errors = ErrorLines()
    logger = logging.getLogger("solvent.service")
    logger.addHandler(errors)
    try:
        with TestClient(from_address(create_app(svc))) as client:
            yield Live(path, clock, svc, client, operator, alice, errors)
    finally:
        logger.removeHandler(errors)


# ---- revocation and new keys, without a restart ----------------------------------------------

def test_a_key_revoked_with_the_cli_is_refused_once_the_next_check_is_due(
        live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    assert live.get(live.alice).status_code == 200
    assert main(["keys", "revoke", key_id(live.alice), "--keys-file", str(live.path)]) == 0
    assert key_id(live.alice) in capsys.readouterr().out
    live.clock.advance(0.5)  # the file is stat'ed at most once a second: not yet looked at
    assert live.get(live.alice).status_code == 200
    live.clock.advance(0.5)  # one second after the last check
    r = live.get(live.alice)
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"
    assert live.get(live.operator).status_code == 200


def test_a_key_added_to_the_file_works_on_the_next_request(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "new", "account:bob", "--keys-file", str(live.path)]) == 0
    bob = capsys.readouterr().out.strip()
    live.clock.advance(1.0)
    r = live.client.get("/v1/accounts/bob", headers={"X-API-Key": bob})
    assert r.status_code == 404 and r.json()["code"] == "UNKNOWN_ACCOUNT"  # authenticated, own account, no such book
    assert live.get(bob).status_code == 200


def test_the_cli_rewrites_the_file_atomically_with_mode_0600(live: Live) -> None:
    inode_before = live.path.stat().st_ino
    assert main(["keys", "revoke", live.alice, "--keys-file", str(live.path)]) == 0  # a whole key names its id
    assert live.path.stat().st_ino != inode_before  # a new file put in place, not the old one rewritten
    assert live.path.stat().st_mode & 0o777 == 0o600
    ids = [k["id"] for k in json.loads(live.path.read_text())["keys"]]
    assert ids == [key_id(live.operator)]
    assert [p.name for p in live.path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_keys_list_shows_ids_and_roles_never_secrets_or_digests(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "list", "--keys-file", str(live.path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["keys"]
    expected = sorted([{"key_id": key_id(live.operator), "role": "operator", "account_id": None},
                       {"key_id": key_id(live.alice), "role": "account", "account_id": "alice"}],
                      key=lambda k: str(k["key_id"]))
    assert listed == expected


def test_revoking_an_unknown_key_exits_2_and_leaves_the_file_alone(live: Live, capsys: pytest.CaptureFixture[str]
                                                                   ) -> None:
    before = live.path.read_bytes()
    assert main(["keys", "revoke", "0123456789ab", "--keys-file", str(live.path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: no key with id 0123456789ab"]
    assert live.path.read_bytes() == before


@pytest.mark.parametrize("account", ["a/b", "..", "a" * 65, "zoé", "a b"])
def test_an_account_key_for_an_id_the_api_refuses_is_not_issued(live: Live, account: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new-user pass: ``keys new account:a/b`` printed a key no request could use."""
    before = live.path.read_bytes()
    assert main(["keys", "new", f"account:{account}", "--keys-file", str(live.path)]) == 2
    assert "is not one the API takes" in capsys.readouterr().err
    assert live.path.read_bytes() == before


def test_a_key_added_in_the_process_survives_a_reload(live: Live) -> None:
    live.svc.keys.add_plain("slv_envop_secret", Role.OPERATOR)  # as $SOLVENT_OPERATOR_KEY is
    assert main(["keys", "revoke", key_id(live.alice), "--keys-file", str(live.path)]) == 0
    live.clock.advance(1.0)
    assert live.get(live.alice).status_code == 401  # the reload happened
    assert live.get("slv_envop_secret").status_code == 200


# ---- a keys file that turns bad changes nothing --------------------------------------------

def _break(path: Path, how: str) -> None:
    if how == "deleted":
        path.unlink()
        return
    text = {"not JSON": "{\"keys\": [", "empty (a writer caught half-way)": "", "wrong shape": "{\"keys\": {}}",
            "a record with an unknown role": json.dumps({"keys": [{"id": "ab", "role": "root", "salt": "00",
                                                                  "sha256": "0" * 64}]}),
            "a digest that is not hex": json.dumps({"keys": [{"id": "ab", "role": "operator", "salt": "zz",
                                                             "sha256": "0" * 64}]})}[how]
    path.write_text(text)  # written in place, not atomically: as a hand edit or a broken tool would


BROKEN = ["not JSON", "empty (a writer caught half-way)", "wrong shape", "a record with an unknown role",
          "a digest that is not hex", "deleted"]


@pytest.mark.parametrize("how", BROKEN)
def test_a_keys_file_that_turns_bad_keeps_the_last_good_keys_and_logs_one_error(live: Live, how: str) -> None:
    _break(live.path, how)
    for _ in range(3):  # three checks of the same bad file: one error line, not one per check
        live.clock.advance(1.0)
        assert live.get(live.alice).status_code == 200
        assert live.get(live.operator).status_code == 200
        assert live.get("slv_ab_guess").status_code == 401  # the door did not open either
    lines = live.error_lines()
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert "last good keys" in lines[0].getMessage()
    logged = json.dumps({k: str(v) for k, v in vars(lines[0]).items()})
    for plain_key in (live.alice, live.operator):
        assert plain_key.split("_", 2)[2] not in logged  # no secret in the log


def test_a_bad_file_fixed_by_the_cli_is_followed_again(live: Live) -> None:
    good = live.path.read_text()
    _break(live.path, "not JSON")
    live.clock.advance(1.0)
    assert live.get(live.alice).status_code == 200
    live.path.write_text(good)
    assert main(["keys", "revoke", key_id(live.alice), "--keys-file", str(live.path)]) == 0
    live.clock.advance(1.0)
    assert live.get(live.alice).status_code == 401
    assert live.get(live.operator).status_code == 200
    assert len(live.error_lines()) == 1


def test_an_unreadable_keys_file_keeps_the_last_good_keys(live: Live) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads a file whatever its mode")
    live.path.chmod(0)
    try:
        live.clock.advance(1.0)
        assert live.get(live.alice).status_code == 200
        assert len(live.error_lines()) == 1
    finally:
        live.path.chmod(0o600)


# ---- failed authentications are limited per client address ---------------------------------

def test_after_20_failed_logins_an_address_gets_429_with_retry_after(live: Live) -> None:
    bad = live.alice[:-4] + "xxxx"
    wrong = [None, "garbage", "slv_0123456789ab_nope", bad]  # missing key, not a key, unknown id, bad secret
    codes = [live.get(wrong[i % 4]).status_code for i in range(BURST)]
    assert codes == [401] * BURST
    r = live.get(bad)
    assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED"
    # the bucket is empty; the next token comes 1 / RATE_PER_S = 1 s later
    assert r.headers["retry-after"] == "1" and r.json()["retry_after_s"] == "1.000"


def test_a_good_key_from_the_locked_out_address_gets_the_same_429_as_a_bad_one(live: Live) -> None:
    for _ in range(BURST):
        assert live.get("slv_0123456789ab_nope").status_code == 401
    good, bad = live.get(live.operator), live.get(live.operator[:-4] + "xxxx")
    assert good.status_code == bad.status_code == 429
    assert good.json() == bad.json() and good.headers["retry-after"] == bad.headers["retry-after"]


def test_other_addresses_keep_their_own_budget(live: Live) -> None:
    for _ in range(BURST + 5):
        live.get("slv_0123456789ab_nope", address="203.0.113.9")
    assert live.get(live.operator, address="198.51.100.1").status_code == 200
    assert live.get("slv_0123456789ab_nope", address="198.51.100.1").status_code == 401


def test_the_budget_refills_at_one_failure_per_second_and_successes_spend_nothing(live: Live) -> None:
    for _ in range(BURST):
        live.get(None)
    assert live.get(None).status_code == 429
    live.clock.advance(1.0)  # one token back
    for _ in range(5):
        assert live.get(live.operator).status_code == 200  # a success spends none
    assert live.get(None).status_code == 401  # the one token
    assert live.get(None).status_code == 429
    live.clock.advance(BURST / RATE_PER_S)  # full again
    assert [live.get(None).status_code for _ in range(BURST + 1)] == [401] * BURST + [429]


def test_failed_logins_on_the_stream_spend_the_same_budget(live: Live) -> None:
    for _ in range(BURST):
        with live.client.websocket_connect("/v1/stream", headers={"X-Test-Client": "198.51.100.1"}) as ws:
            ws.send_json({"type": "auth", "key": "slv_0123456789ab_nope"})
            assert ws.receive_json(timeout=5.0)["code"] == "UNAUTHORIZED"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json(timeout=5.0)
            assert closed.value.code == 4401
    assert live.get(live.operator).status_code == 429  # the HTTP API from that address is locked out too
    with live.client.websocket_connect("/v1/stream", headers={"X-Test-Client": "198.51.100.1",
                                                              "X-API-Key": live.operator}) as ws:
        assert ws.receive_json(timeout=5.0)["code"] == "RATE_LIMITED"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=5.0)
        assert closed.value.code == 4429


@pytest.mark.parametrize(("host", "bucket"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.7", "203.0.113.7"),
    ("testclient", "testclient"),
    (None, "unknown"),
], ids=["an IPv4 address is its own bucket", "an IPv6 address shares its /64", "another address in the same /64",
        "an IPv4-mapped IPv6 address is the IPv4 address", "a name is kept as given", "no address at all"])
def test_which_addresses_share_a_failure_budget(host: str | None, bucket: str) -> None:
    assert address_bucket(host) == bucket


def test_the_limiter_forgets_the_least_recently_used_bucket_past_its_cap() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_s=1.0, burst=1.0, clock=clock, max_buckets=2)
    assert limiter.take("a") is None and limiter.take("b") is None
    assert limiter.take("a") == 1.0  # "a" is now the most recently used
    assert limiter.take("c") is None  # a third bucket: "b" is forgotten
    assert limiter.wait("a") == 1.0 and limiter.wait("b") is None
