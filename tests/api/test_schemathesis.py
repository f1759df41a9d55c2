"""Requests generated from the OpenAPI schema (schemathesis + hypothesis): no server errors.

schemathesis generates the cases; they are sent with httpx (its own requests transport does not
work beside urllib3-future, which another dependency installs).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from ioc.api.ratelimit import FailureLimiter
from ioc.config.model import ProvinceConfig

from .conftest import Tokens
from .server import ApiServer

EXAMPLES = 10


@pytest.fixture(scope="module")
def fuzz_server(api_db: str, province: ProvinceConfig) -> Iterator[ApiServer]:
    limiter = FailureLimiter(limit=1_000_000, window_s=1, clock=lambda: 0.0)
    server = ApiServer(api_db, limiter=limiter, config=lambda: province).start()
    yield server
    server.stop()


def _role(path: str) -> str:
    if path == "/api/v1/push":
        return "ingest"
    return "admin" if path.startswith("/api/v1/tokens") else "operator"


def _send(client: httpx.Client, case: schemathesis.Case, secret: str) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url),
                                      headers={"Authorization": f"Bearer {secret}"})
    data = kwargs.get("data")
    return client.request(kwargs["method"], kwargs["url"], params=kwargs.get("params"),
                          headers=kwargs.get("headers"), json=kwargs.get("json"),
                          content=data if isinstance(data, str | bytes) else None)


def test_no_generated_request_makes_a_server_error(fuzz_server: ApiServer,
                                                   api_tokens: Tokens) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()
                  if isinstance(result, Ok)]
    assert len(operations) >= 20
    failures: list[str] = []
    with httpx.Client(base_url=fuzz_server.url, timeout=30) as client:
        for operation in operations:
            secret = getattr(api_tokens, _role(operation.path))

            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy())
            def check(case: schemathesis.Case) -> None:
                resp = _send(client, case, secret)  # noqa: B023 - check() runs in this turn
                if resp.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} query={case.query} "
                                    f"body={case.body!r}: {resp.status_code} {resp.text[:200]}")

            check()
    assert failures == []
