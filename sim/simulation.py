"""The running simulation: the model, its clock and the fault board, and what faults do to them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Mapping
from datetime import datetime
from random import Random
from typing import Any

from sim.clock import SimClock
from sim.faults import Fault, FaultBoard, FaultSpec, Outage, StatsMismatch, StuckQueue
from sim.province import Province
from sim.queries import StatsCache, parse_window
from sim.server import SystemServer
from sim.wire import iso

log = logging.getLogger(__name__)
REOPEN_RETRY_S = 0.5


class Simulation:
    """Ties the province model to simulated time and to the faults injected through the API."""

    def __init__(self, province: Province, clock: SimClock, board: FaultBoard, seed: int) -> None:
        self.province = province
        self.clock = clock
        self.board = board
        self.seed = seed
        self.fault_rng = Random(f"{seed}:faults")
        self.servers: dict[str, SystemServer] = {}
        self._cache = StatsCache()
        self._tasks: set[asyncio.Task[None]] = set()
        self.stopping = False

    @property
    def now(self) -> datetime:
        return self.province.now

    def sync(self) -> None:
        """End faults whose time is up, then bring the model to the simulated now."""
        for fault in self.board.expire():
            self._ended(fault)
        self.province.advance(self.clock.now())

    async def add_fault(self, spec: FaultSpec) -> Fault:
        self.sync()
        fault = self.board.add(spec)
        if isinstance(spec, Outage):
            await self.servers[spec.system].close_listener()
        elif isinstance(spec, StuckQueue):
            self.province.hold(fault.id, spec.system, spec.agency_code)
        log.info("fault %s started: %s on %s for %s", fault.id, spec.kind, spec.system,
                 spec.duration)
        return fault

    def remove_fault(self, fault_id: str) -> Fault | None:
        self.sync()
        fault = self.board.remove(fault_id)
        if fault is not None:
            self._ended(fault)
        return fault

    def clear_faults(self) -> list[Fault]:
        self.sync()
        faults = self.board.clear()
        for fault in faults:
            self._ended(fault)
        return faults

    def _ended(self, fault: Fault) -> None:
        spec = fault.spec
        log.info("fault %s ended: %s on %s", fault.id, spec.kind, spec.system)
        if isinstance(spec, StuckQueue):
            self.province.release(fault.id, spec.drain)
        elif isinstance(spec, Outage) and not self.stopping:
            if not any(isinstance(f.spec, Outage) and f.spec.system == spec.system
                       for f in self.board.active()):
                task = asyncio.get_running_loop().create_task(self._reopen(spec.system))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _reopen(self, system: str) -> None:
        server = self.servers[system]
        while not self.stopping:
            try:
                await server.reopen()
                return
            except OSError as exc:
                log.warning("cannot reopen %s on port %s yet: %s", system, server.port, exc)
                await asyncio.sleep(REOPEN_RETRY_S)

    def stats(self, key: Hashable, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Statistics computed from the records, cached while neither they nor the second change."""
        now = self.province.now
        return self._cache.get((key, self.province.version, int(now.timestamp())), compute)

    def window_stats(self, system: str, query: Mapping[str, str],
                     compute: Callable[[datetime, datetime], dict[str, Any]],
                     total: str) -> dict[str, Any]:
        """Statistics of a [from, to) window; `total` goes wrong while stats_mismatch is on."""
        start, end = parse_window(query, self.now)
        stats = self.stats((system, start, end), lambda: compute(start, end))
        out = {"from": iso(start), "to": iso(end), "as_of": iso(self.now), **stats}
        fault = self.board.first("stats_mismatch", system)
        if fault is not None and isinstance(fault.spec, StatsMismatch):
            out[total] = inflate(stats[total], fault.spec.ratio)
        return out

    async def run_ticker(self, interval: float = 0.05) -> None:
        """End faults on time and keep the model current even when nobody asks."""
        while not self.stopping:
            try:
                self.sync()
            except Exception:  # a bug must not stop faults from ending: log it and go on
                log.exception("simulation tick failed")
                await asyncio.sleep(1.0)
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        self.stopping = True
        self.board.clear()  # releases hung requests
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def inflate(total: int, ratio: float) -> int:
    """A wrong total that differs from `total` by `ratio` of it, and by at least one."""
    wrong = total + (round(total * ratio) or (1 if ratio >= 0 else -1))
    return wrong if wrong >= 0 else total + 1
