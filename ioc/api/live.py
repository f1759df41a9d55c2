"""The live feed hub: one LISTEN connection per process fanning events out to websocket clients.

Each client has a bounded queue; a client whose queue overflows, or whose socket does not take a
message within `send_timeout_s`, is dropped so the others are never delayed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import date, datetime
from typing import Any

import psycopg
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ioc.api.auth import Principal
from ioc.api.database import Database, lost_connection
from ioc.api.metrics import ApiMetrics

log = logging.getLogger(__name__)
CHANNEL = "ioc_events"
EventHandler = Callable[[dict[str, Any]], Awaitable[list[dict[str, Any]]]]
CLOSE_SLOW = (1013, "too slow: reconnect")
CLOSE_REVOKED = (1008, "token revoked")
CLOSE_DATABASE_DOWN = (1013, "database unavailable")  # "try again later"
# What screens are told when the database goes away (or is away when they connect).
DATABASE_DOWN: dict[str, Any] = {"type": "database", "state": "down"}


def dumps(message: dict[str, Any]) -> str:
    """JSON text of a live message (datetimes as ISO 8601)."""
    return json.dumps(message, default=_default, ensure_ascii=False, separators=(",", ":"))


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


class LiveClient:
    """One connected websocket: who it is and its bounded outgoing queue."""

    def __init__(self, principal: Principal, queue_size: int) -> None:
        self.principal = principal
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(queue_size)
        self.close: tuple[int, str] | None = None

    def end(self, close: tuple[int, str]) -> None:
        """Stop this client: empty its queue and leave the end marker."""
        if self.close is None:
            self.close = close
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class Hub:
    """Fans messages out to clients; listens on `ioc_events` and reconnects with backoff."""

    def __init__(self, database: Database, metrics: ApiMetrics, handler: EventHandler, *,
                 queue_size: int = 64, send_timeout_s: float = 5.0,
                 reconnect_max_s: float = 30.0) -> None:
        self._db = database
        self._metrics = metrics
        self._handler = handler
        self.queue_size = queue_size
        self.send_timeout_s = send_timeout_s
        self.reconnect_max_s = reconnect_max_s
        self.clients: set[LiveClient] = set()
        self.listening = asyncio.Event()
        database.subscribe(self._database_changed)

    def _database_changed(self, up: bool) -> None:
        """Tell every screen the database is gone; its return comes as the resync snapshot
        once the listener is back."""
        if not up:
            self.publish(DATABASE_DOWN)

    def add(self, principal: Principal) -> LiveClient:
        client = LiveClient(principal, self.queue_size)
        self.clients.add(client)
        self._metrics.ws_clients.set(len(self.clients))
        return client

    def remove(self, client: LiveClient) -> None:
        self.clients.discard(client)
        self._metrics.ws_clients.set(len(self.clients))

    def publish(self, message: dict[str, Any]) -> None:
        """Queue a message to every client (serialised once); overflowing clients are dropped."""
        text = dumps(message)
        for client in list(self.clients):
            if client.close is not None:
                continue
            try:
                client.queue.put_nowait(text)
                self._metrics.ws_messages.inc()
            except asyncio.QueueFull:
                self._metrics.ws_dropped.inc()
                client.end(CLOSE_SLOW)

    def revoke(self, token_id: int) -> None:
        """Close every client using a revoked token."""
        for client in list(self.clients):
            if client.principal.token_id == token_id:
                client.end(CLOSE_REVOKED)

    async def serve(self, ws: WebSocket, client: LiveClient) -> None:
        """Send queued messages until the client leaves or is dropped."""
        receiver = asyncio.create_task(self._receive(ws, client))
        try:
            while (text := await client.queue.get()) is not None:
                try:
                    async with asyncio.timeout(self.send_timeout_s):  # no task per message
                        await ws.send_text(text)
                except TimeoutError:
                    self._metrics.ws_dropped.inc()
                    client.close = CLOSE_SLOW
                    break
        except (WebSocketDisconnect, RuntimeError, OSError):
            client.close = None
        finally:
            receiver.cancel()
            with suppress(asyncio.CancelledError):
                await receiver
            await _close(ws, client.close)

    async def _receive(self, ws: WebSocket, client: LiveClient) -> None:
        """Read (and ignore) what the client sends, to notice when it goes away."""
        with suppress(WebSocketDisconnect, RuntimeError, OSError):
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass
        client.end((1000, "bye"))
        client.close = None

    async def listen(self) -> None:
        """Run the LISTEN loop forever: after a lost connection, LISTEN again as soon as the
        database is back (or with exponential backoff while it is thought reachable)."""
        backoff = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self._db.url, autocommit=True, application_name="ioc-api-listen",
                        connect_timeout=self._db.connect_timeout_s) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._metrics.listener_up.set(1)
                    self.listening.set()
                    backoff = 0.5
                    # Events may have been missed while disconnected: resynchronise everyone.
                    await self.dispatch('{"type": "resync"}')
                    async for notify in conn.notifies():
                        await self.dispatch(notify.payload)
            except psycopg.Error as exc:
                if lost_connection(exc):
                    self._db.suspect()  # the database's watcher logs the outage once
                else:
                    log.warning("live listener failed (%s); retrying in %.1fs",
                                type(exc).__name__, backoff)
            finally:
                self._metrics.listener_up.set(0)
                self.listening.clear()
            await asyncio.sleep(backoff)
            if not self._db.up:
                await self._db.wait_up()
                backoff = 0.5
            else:
                backoff = min(backoff * 2, self.reconnect_max_s)

    async def dispatch(self, payload: str) -> None:
        """Handle one notification: token revocations here, the rest by the handler."""
        try:
            event = json.loads(payload)
        except ValueError:
            log.warning("ignoring a non-JSON ioc_events payload (%d bytes)", len(payload))
            return
        if not isinstance(event, dict):
            return
        kind = str(event.get("type", "unknown"))
        self._metrics.events.labels(kind if kind in _KNOWN else "other").inc()
        if kind == "token" and event.get("action") == "revoked":
            with suppress(TypeError, ValueError):
                self.revoke(int(event["id"]))
            return
        try:
            messages = await self._handler(event)
        except Exception as exc:  # one bad event must not stop the feed for every screen
            if lost_connection(exc):
                self._db.suspect()
            else:
                log.exception("live event handler failed for a %s event", kind)
            return
        for message in messages:
            self.publish(message)


_KNOWN = frozenset({"status", "alert", "kpi", "token", "resync"})


async def _close(ws: WebSocket, close: tuple[int, str] | None) -> None:
    if ws.client_state == WebSocketState.CONNECTED and ws.application_state != \
            WebSocketState.DISCONNECTED:
        with suppress(RuntimeError, OSError, WebSocketDisconnect):
            code, reason = close or (1000, "bye")
            await ws.close(code, reason)
