"""The API's way to the database: the connection pool behind a health state.

While the database is known to be unreachable, `Database.connection()` raises `DatabaseDown` at
once, so every route that needs it answers 503 with Retry-After without waiting on the pool. A
call that fails as if the server were gone wakes the watcher, which probes with a fresh
connection (a short connect timeout): if that fails too the database is marked down, requests
already queued for a pooled connection are released with `DatabaseDown`, and the watcher probes
again about once a second until the server answers. Each change is logged on one line and told
to subscribers (the live feed tells its screens).

The pool does not retry on its own meanwhile (that is the probe's job, and its backoff would
delay recovery by up to minutes): on recovery its idle connections, broken by the outage, are
checked and replaced before requests are let through.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

log = logging.getLogger("ioc.api")
RETRY_AFTER_S = 5  # what a 503 tells clients; the probe runs every second
# SQLSTATEs of a server going away: admin shutdown, crash shutdown, cannot connect now.
_GONE = frozenset({"57P01", "57P02", "57P03"})


class DatabaseDown(Exception):
    """The database is known to be unreachable (HTTP 503 with Retry-After)."""

    def __init__(self) -> None:
        super().__init__("database unavailable; retry later")


def lost_connection(exc: BaseException) -> bool:
    """Whether a database error says the server could not be reached or went away (as opposed
    to a query error such as a statement timeout or a constraint violation)."""
    if isinstance(exc, DatabaseDown | PoolTimeout):
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith("08") or state in _GONE
    return False


class Database:
    """The pool, a health state and the watcher that keeps the state true.

    `wait_s` bounds how long a request waits for a pooled connection (the pool's own default
    is 30 s); `probe_every_s` is the probing period while the database is down.
    """

    def __init__(self, pool: AsyncConnectionPool, url: str, *, wait_s: float = 5.0,
                 probe_every_s: float = 1.0, connect_timeout_s: int = 2) -> None:
        self.pool = pool
        self.url = url
        self.wait_s = wait_s
        self.probe_every_s = probe_every_s
        self.connect_timeout_s = connect_timeout_s
        self.up = True
        self._since = time.monotonic()
        self._suspect = asyncio.Event()
        self._back = asyncio.Event()
        self._back.set()
        self._waiting: set[asyncio.Timeout] = set()
        self._subscribers: list[Callable[[bool], None]] = []
        # One attempt and a quick retry, then the pool gives up and grows again on demand.
        pool.reconnect_timeout = 0.0

    def subscribe(self, callback: Callable[[bool], None]) -> None:
        """Call `callback(up)` on every change of state."""
        self._subscribers.append(callback)

    def suspect(self) -> None:
        """A call failed as if the server were gone: probe now (while the database is known
        to be down the watcher probes on its own clock, however many calls fail)."""
        if self.up:
            self._suspect.set()

    async def wait_up(self) -> None:
        """Return once the database is (again) believed reachable."""
        await self._back.wait()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled connection; `DatabaseDown` at once while the database is unreachable."""
        if not self.up:
            raise DatabaseDown()
        try:
            async with asyncio.timeout(self.wait_s) as waiting:
                self._waiting.add(waiting)  # released at once if the database is marked down
                try:
                    conn = await self.pool.getconn(self.wait_s + 1)
                finally:
                    self._waiting.discard(waiting)
        except (TimeoutError, PoolTimeout):
            self.suspect()
            if not self.up:
                raise DatabaseDown() from None
            raise PoolTimeout(f"no database connection free within {self.wait_s:g}s") from None
        try:
            yield conn
        except psycopg.OperationalError as exc:
            if lost_connection(exc):
                self.suspect()
            raise
        finally:
            await self.pool.putconn(conn)

    async def watch(self) -> None:
        """Probe when a call failed, and every `probe_every_s` while down; forever."""
        while True:
            if self.up:
                await self._suspect.wait()
            else:
                await asyncio.sleep(self.probe_every_s)
            self._suspect.clear()
            reason = await self.probe()
            if reason is not None and self.up:
                self._lost(reason)
            elif reason is None and not self.up:
                await self._recovered()

    async def probe(self) -> str | None:
        """None if a fresh connection answers, else why not (without the server's address)."""
        try:
            async with asyncio.timeout(self.connect_timeout_s + 2):
                conn = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=self.connect_timeout_s,
                    application_name="ioc-api-probe")
                async with conn:
                    await conn.execute("SELECT 1")
        except (psycopg.Error, OSError, TimeoutError) as exc:
            return _reason(exc)
        return None

    def _lost(self, reason: str) -> None:
        self.up = False
        self._back.clear()
        self._since = time.monotonic()
        log.error("database unreachable (%s): answering 503 until it is back; probing every "
                  "%gs", reason, self.probe_every_s)
        now = asyncio.get_running_loop().time()
        for waiting in list(self._waiting):
            waiting.reschedule(now)
        self._tell(False)

    async def _recovered(self) -> None:
        # Idle pooled connections did not survive the outage: replace them first.
        try:
            async with asyncio.timeout(self.wait_s):
                await self.pool.check()
        except (psycopg.Error, OSError, TimeoutError) as exc:
            log.debug("pool check after the outage failed (%s)", _reason(exc))
            return  # probe again
        self.up = True
        self._back.set()
        log.warning("database reachable again after %.0fs", time.monotonic() - self._since)
        self._tell(True)

    def _tell(self, up: bool) -> None:
        for callback in self._subscribers:
            try:
                callback(up)
            except Exception:  # a subscriber's bug must not stop the watcher
                log.exception("database state subscriber failed")


def _reason(exc: BaseException) -> str:
    """The error's type and SQLSTATE: libpq's text names the server, so it stays out of logs."""
    state = getattr(exc, "sqlstate", None)
    return type(exc).__name__ + (f" {state}" if state else "")
