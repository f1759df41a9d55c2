"""The `http` kind: status, conditions on the body and JSON, response time, certificate expiry."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from collectors.fetch import HttpClient, Response
from collectors.model import CollectFailure, Outcome, ProbeResult, Reason, failed
from ioc.config.conditions import JsonPathCondition, ResponseTimeBelow
from ioc.config.targets import HttpTarget


def request_body(body: str | dict[str, Any] | None) -> tuple[bytes | None, dict[str, str]]:
    """The body to send and the content type it implies (a mapping is sent as JSON)."""
    if body is None:
        return None, {}
    if isinstance(body, dict):
        return json.dumps(body).encode(), {"Content-Type": "application/json"}
    return body.encode(), {}


def timed_result(target_id: str, now: datetime, resp: Response) -> ProbeResult:
    """A successful probe result carrying the response's timing breakdown."""
    return ProbeResult(at=now, target_id=target_id, ok=True, status_code=resp.status,
                       duration_ms=resp.duration_ms, dns_ms=resp.dns_ms,
                       connect_ms=resp.connect_ms, tls_ms=resp.tls_ms, ttfb_ms=resp.ttfb_ms,
                       cert_days=resp.cert_days, bytes=len(resp.body))


class HttpProbe:
    """Requests the URL and judges the response against the target's expectations."""

    def __init__(self, target: HttpTarget, client: HttpClient) -> None:
        self.target = target
        self._client = client
        self._body, extra = request_body(target.body)
        self._headers = {**extra, **{k: v.get_secret_value() for k, v in target.headers.items()}}

    async def collect(self, now: datetime) -> Outcome:
        """Probe once; every problem becomes a failed result with a reason."""
        t = self.target
        try:
            resp = await self._client.fetch(
                t.method, t.url, now=now, headers=self._headers, data=self._body,
                max_bytes=t.max_body_bytes, verify_tls=t.tls.verify)
        except CollectFailure as failure:
            return failed(t.id, now, failure)
        result = timed_result(t.id, now, resp)
        problem = self._judge(resp)
        if problem is not None:
            result.ok, result.reason, result.detail = False, problem[0], problem[1]
        return Outcome(result)

    def _judge(self, resp: Response) -> tuple[Reason, str] | None:
        t = self.target
        if not t.status_ok(resp.status):
            return "status", f"status {resp.status} not in expected {list(t.expected_status)}"
        min_days = t.tls.min_cert_days
        if min_days is not None and (resp.cert_days is None or resp.cert_days < min_days):
            return "tls", f"certificate expires in {resp.cert_days} days (< {min_days})"
        return _conditions(t, resp)


def _conditions(t: HttpTarget, resp: Response) -> tuple[Reason, str] | None:
    text: str | None = None
    document: Any = None
    for i, cond in enumerate(t.conditions):
        if isinstance(cond, ResponseTimeBelow):
            passed = cond.check(timedelta(milliseconds=resp.duration_ms))
        elif isinstance(cond, JsonPathCondition):
            if document is None:
                try:
                    document = json.loads(resp.body)
                except ValueError:
                    return "garbage", "body is not JSON"
            passed = cond.check(document)
        else:
            if text is None:
                text = resp.body.decode("utf-8", errors="replace")
            passed = cond.check(text)
        if not passed:
            return "condition", f"condition {i + 1} failed: {cond.model_dump(mode='json')}"
    return None
