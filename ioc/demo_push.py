"""The demo's document system pushing its own signing figures to the API, as a real one would.

The example province has a `push` target (`documents-push`): the document system sends its
signing counts to `POST /api/v1/push` with an ingest token named after the target. In the demo
nobody else plays that part, so this thread does: every minute it reads today's figures from the
simulated document system and pushes them. Without it the target would rightly show "no data".
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime

log = logging.getLogger(__name__)

# sim statistics field -> pushed metric (the target allows documents_signing_*)
FIELDS = {
    "outgoing": "documents_signing_outgoing",
    "outgoing_signed": "documents_signing_signed",
}


class DocumentPusher(threading.Thread):
    """Push the document system's signing counts every `period` seconds until stopped."""

    def __init__(self, documents_url: str, api_url: str, token: str, period: float = 60) -> None:
        super().__init__(name="demo-document-pusher", daemon=True)
        self.documents_url = documents_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.period = period
        self.stopped = threading.Event()

    def run(self) -> None:
        # the caller makes the first push itself, so the thread starts by waiting
        while not self.stopped.wait(self.period):
            try:
                self.push_once(datetime.now(UTC))
            except (urllib.error.URLError, OSError, ValueError) as exc:
                log.warning("demo push failed: %s", type(exc).__name__)

    def push_once(self, now: datetime) -> int:
        """One read of the document system and one push; returns the samples sent."""
        with urllib.request.urlopen(f"{self.documents_url}/api/stats", timeout=10) as resp:  # noqa: S310
            stats = json.load(resp)
        samples = [{"metric": metric, "labels": {"source": "qlvb"}, "value": float(stats[key]),
                    "time": now.isoformat()}
                   for key, metric in FIELDS.items() if isinstance(stats.get(key), int | float)]
        body = json.dumps({"samples": samples}).encode()
        req = urllib.request.Request(  # noqa: S310 - our own loopback API
            f"{self.api_url}/api/v1/push", data=body, method="POST",
            headers={"Authorization": f"Bearer {self.token}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10):  # noqa: S310
            return len(samples)
