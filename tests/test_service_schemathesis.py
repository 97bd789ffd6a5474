"""Schemathesis against /openapi.json: generated requests never get a 5xx.

Runs in-process (ASGI) with an operator key, a bounded number of examples per operation.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install '.[dev]')")

from solvent.service import KeyStore, RateLimiter, Role, build_service, create_app  # noqa: E402

KEYS = KeyStore()
OPERATOR = KEYS.issue(Role.OPERATOR)
# in-memory journal, kept open: the ASGI client runs the app's lifespan for every case
APP = create_app(build_service(KEYS, demo=True, limiter=RateLimiter(1e9, 1e9)), close_journal=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_generated_requests_never_get_a_server_error(case: schemathesis.Case) -> None:
    response = case.call(headers={"X-API-Key": OPERATOR})
    assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text)
    if response.status_code >= 400:
        assert "code" in response.json(), response.text  # every error is JSON with a code
