"""The `json` kind: fields of a statistics API's JSON answer become labelled samples."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from collectors.fetch import HttpClient
from collectors.httpprobe import timed_result
from collectors.model import CollectFailure, Outcome, Sample, failed, finite
from ioc.config.targets import JsonMapping, JsonTarget


def rfc3339(at: datetime) -> str:
    """UTC time as RFC 3339 with a Z (what the statistics APIs take)."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class JsonPoll:
    """GETs the statistics URL for the window ending now and maps fields to samples."""

    def __init__(self, target: JsonTarget, client: HttpClient) -> None:
        self.target = target
        self._client = client
        self._headers = {k: v.get_secret_value() for k, v in target.headers.items()}

    def url(self, now: datetime) -> str:
        """The URL with `{from}`/`{to}` in the parameters replaced by the window's bounds."""
        t = self.target
        if not t.params:
            return t.url
        window = {"from": rfc3339(now - t.effective_window), "to": rfc3339(now)}
        query = urlencode({k: v.format_map(window) for k, v in t.params.items()})
        return f"{t.url}{'&' if '?' in t.url else '?'}{query}"

    async def collect(self, now: datetime) -> Outcome:
        """Poll once; a bad status or an unparsable answer is a failed result."""
        t = self.target
        try:
            resp = await self._client.fetch("GET", self.url(now), now=now,
                                            headers=self._headers)
            if not 200 <= resp.status < 300:
                raise CollectFailure("status", f"status {resp.status}", status_code=resp.status)
            try:
                document = json.loads(resp.body)
            except ValueError:
                raise CollectFailure("garbage", "answer is not JSON",
                                     status_code=resp.status) from None
        except CollectFailure as failure:
            return failed(t.id, now, failure)
        result = timed_result(t.id, now, resp)
        samples: list[Sample] = []
        missing: list[str] = []
        for mapping in t.mappings:
            found = map_samples(mapping, document, now, t.id, t.labels)
            samples.extend(found)
            if not found:
                missing.append(mapping.path)
        if missing:
            result.detail = "no number at: " + ", ".join(missing)
            if not samples:
                result.ok, result.reason = False, "garbage"
        return Outcome(result, samples)


def map_samples(mapping: JsonMapping, document: Any, now: datetime, target_id: str,
                base: dict[str, str]) -> list[Sample]:
    """The samples one mapping takes from a document (labels from sibling fields)."""
    samples = []
    for value, parent in mapping.json_path.find(document):
        number = finite(value)
        if number is None:
            continue
        labels = {**base, **mapping.static_labels}
        for label, field in mapping.labels.items():
            sibling = parent.get(field) if isinstance(parent, dict) else None
            if sibling is not None:
                labels[label] = str(sibling)
        samples.append(Sample(now, mapping.metric, labels, number, target_id))
    return samples
