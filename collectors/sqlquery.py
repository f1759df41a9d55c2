"""The `sql` kind: a read-only query against a source system's database, one connection each."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import psycopg
from psycopg import errors
from psycopg.rows import dict_row

from collectors.model import CollectFailure, Outcome, ProbeResult, Reason, Sample, failed, finite
from ioc.config.targets import SqlTarget


class SqlQuery:
    """Runs the target's query in a read-only transaction with a server-side statement timeout.

    The connection is the target's own (never the IOC database's pool), kept open between runs
    and replaced after any failure.
    """

    def __init__(self, target: SqlTarget) -> None:
        self.target = target
        self._conn: psycopg.AsyncConnection | None = None

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            timeout_ms = int(self.target.statement_timeout.total_seconds() * 1000)
            self._conn = await psycopg.AsyncConnection.connect(
                self.target.dsn.get_secret_value(), autocommit=True,
                application_name="ioc-collector", connect_timeout=10,
                options=f"-c statement_timeout={timeout_ms} "
                        "-c default_transaction_read_only=on")
        return self._conn

    async def close(self) -> None:
        """Close the connection (on reload or shutdown)."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def collect(self, now: datetime) -> Outcome:
        """Run the query once; each row becomes a sample."""
        t = self.target
        start = time.perf_counter()
        # The server enforces statement_timeout; this guard also bounds a server that does not
        # (a pooler that drops startup options, a server whose timer misbehaves).
        guard = t.statement_timeout.total_seconds() + 1.0
        try:
            try:
                async with asyncio.timeout(guard):
                    rows = await self._query()
            except TimeoutError:
                await self.close()
                raise CollectFailure("timeout", f"no answer within {guard:g} s; the server did "
                                     "not enforce statement_timeout") from None
            samples = [self._sample(row, now) for row in rows]
        except CollectFailure as failure:
            return failed(t.id, now, failure, (time.perf_counter() - start) * 1000)
        except BaseException:
            await self.close()  # cancelled mid-query: the connection's state is unknown
            raise
        duration = (time.perf_counter() - start) * 1000
        return Outcome(ProbeResult(at=now, target_id=t.id, ok=True, duration_ms=duration,
                                   detail=f"{len(samples)} rows"), samples)

    async def _query(self) -> list[dict[str, object]]:
        try:
            conn = await self._connection()
            async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                await cur.execute("SET TRANSACTION READ ONLY")
                await cur.execute(self.target.query.encode())
                return await cur.fetchall()
        except psycopg.Error as exc:
            if self._conn is not None and (self._conn.broken or isinstance(
                    exc, psycopg.OperationalError)):
                await self.close()
            raise CollectFailure(_reason(exc), _detail(exc)) from None

    def _sample(self, row: dict[str, object], now: datetime) -> Sample:
        t = self.target
        if t.value_column not in row:
            raise CollectFailure("garbage", f"no column {t.value_column!r} in the result")
        value = finite(row[t.value_column])
        if value is None:
            raise CollectFailure("garbage", f"column {t.value_column!r} is not a number")
        labels = {**t.labels, **{c: str(row.get(c)) for c in t.label_columns}}
        return Sample(now, t.metric, labels, value, t.id)


def _reason(exc: psycopg.Error) -> Reason:
    if isinstance(exc, errors.QueryCanceled):
        return "timeout"
    if isinstance(exc, psycopg.OperationalError):
        text = str(exc).lower()
        if "refused" in text:
            return "refused"
        if "timeout" in text:
            return "timeout"
    return "error"


def _detail(exc: psycopg.Error) -> str:
    # The server's message names the problem; the DSN (which holds the password) never appears.
    sqlstate = exc.sqlstate or "connection"
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__} [{sqlstate}]: {first}"[:300]
