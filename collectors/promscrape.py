"""The `prometheus` kind: a scrape of an exporter's text exposition into samples."""

from __future__ import annotations

from datetime import datetime

from prometheus_client.parser import text_string_to_metric_families

from collectors.fetch import HttpClient
from collectors.httpprobe import timed_result
from collectors.model import CollectFailure, Outcome, Sample, failed, finite
from ioc.config.targets import PrometheusTarget

_ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"


def parse_exposition(text: str, target: PrometheusTarget, now: datetime) -> list[Sample]:
    """The allowed samples of an exposition; raises CollectFailure('garbage') if unparsable."""
    samples = []
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                value = finite(s.value)
                if value is None or not (target.allows(s.name) or target.allows(family.name)):
                    continue
                samples.append(Sample(now, s.name, {**target.labels, **s.labels}, value,
                                      target.id))
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise CollectFailure("garbage", f"not a Prometheus exposition: {exc}"[:300]) from None
    return samples


class PrometheusScrape:
    """Scrapes the exposition URL."""

    def __init__(self, target: PrometheusTarget, client: HttpClient) -> None:
        self.target = target
        self._client = client
        self._headers = {"Accept": _ACCEPT,
                         **{k: v.get_secret_value() for k, v in target.headers.items()}}

    async def collect(self, now: datetime) -> Outcome:
        """Scrape once; a bad status or a body that is not an exposition is a failure."""
        t = self.target
        try:
            resp = await self._client.fetch("GET", t.url, now=now, headers=self._headers)
            if not 200 <= resp.status < 300:
                raise CollectFailure("status", f"status {resp.status}", status_code=resp.status)
            samples = parse_exposition(resp.body.decode("utf-8", errors="replace"), t, now)
        except CollectFailure as failure:
            return failed(t.id, now, failure)
        result = timed_result(t.id, now, resp)
        return Outcome(result, samples)
