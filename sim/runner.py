"""Start the simulated province: the model, its four HTTP servers and the fault ticker."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from sim.clock import SimClock
from sim.control_app import ControlApi
from sim.documents_app import DocumentsApi
from sim.faults import Fault, FaultBoard, parse_spec
from sim.metrics import SystemMetrics
from sim.payments_app import PaymentsApi
from sim.portal_app import PortalApi
from sim.province import Province, Volumes
from sim.server import SystemServer, make_middleware
from sim.simulation import Simulation

SYSTEMS = ("portal", "payments", "documents")
DEFAULT_PORT_BASE = 18080


def ports_from_base(base: int) -> dict[str, int]:
    """control = base, portal = base + 1, payments = base + 2, documents = base + 3 (0: any)."""
    names = ("control", *SYSTEMS)
    return {name: base + i if base else 0 for i, name in enumerate(names)}


@dataclass(frozen=True)
class SimOptions:
    """How to run the province. `start_at` defaults to the real time now."""

    seed: int = 1
    speed: float = 1.0
    backfill_days: float = 0.0
    start_at: datetime | None = None
    host: str = "127.0.0.1"
    ports: Mapping[str, int] | None = None  # keys control/portal/payments/documents; None: 0
    volumes: Volumes = field(default_factory=Volumes)


@dataclass
class RunningProvince:
    """A running province: where its systems listen, and its model for direct inspection."""

    simulation: Simulation
    servers: dict[str, SystemServer]

    @property
    def urls(self) -> dict[str, str]:
        """Base URL of each system: 'portal', 'payments', 'documents'."""
        return {name: self.servers[name].url for name in SYSTEMS}

    @property
    def control_url(self) -> str:
        return self.servers["control"].url

    @property
    def model(self) -> Province:
        """The records behind the APIs; call `sync()` first to see them as of the simulated now."""
        return self.simulation.province

    @property
    def clock(self) -> SimClock:
        return self.simulation.clock

    @property
    def faults(self) -> FaultBoard:
        return self.simulation.board

    def sync(self) -> None:
        self.simulation.sync()

    async def add_fault(self, spec: Mapping[str, Any]) -> Fault:
        """Inject a fault as POST /faults would (same validation, raises ValueError)."""
        return await self.simulation.add_fault(parse_spec(dict(spec)))


def _gauges(system: str, province: Province,
            board: FaultBoard) -> dict[str, tuple[str, Callable[[], float]]]:
    gauges: dict[str, tuple[str, Callable[[], float]]] = {
        "sim_faults_active": ("Faults injected into this system that are on",
                              lambda: float(sum(f.spec.system == system for f in board.active()))),
    }
    if system == "portal":
        gauges["sim_queue_depth"] = ("Open dossiers (received, not finished)",
                                     lambda: float(province.open_dossiers))
        gauges["sim_dossiers"] = ("Dossiers received", lambda: float(len(province.dossiers)))
    elif system == "payments":
        gauges["sim_transactions"] = ("Transactions recorded",
                                      lambda: float(len(province.transactions)))
    else:
        gauges["sim_queue_depth"] = ("Documents awaiting handling against a deadline",
                                     lambda: float(province.open_documents))
        gauges["sim_documents"] = ("Documents received", lambda: float(len(province.documents)))
    return gauges


def _system_app(name: str, sim: Simulation, routes: list[web.RouteDef]) -> web.Application:
    metrics = SystemMetrics(name, _gauges(name, sim.province, sim.board))

    async def metrics_handler(request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application(middlewares=[make_middleware(name, sim, metrics)])
    app.add_routes([*routes, web.get("/metrics", metrics_handler)])
    return app


@contextlib.asynccontextmanager
async def run_province(options: SimOptions | None = None, *,
                       wall: Callable[[], float] = time.monotonic
                       ) -> AsyncIterator[RunningProvince]:
    """Run the province for the duration of the block.

    History of `backfill_days` is generated before the servers start; `wall` is the real-time
    source of the simulated clock and of fault durations.
    """
    opts = options or SimOptions()
    start_at = (opts.start_at or datetime.now(UTC)).astimezone(UTC)
    province = Province(opts.seed, start_at - timedelta(days=opts.backfill_days), opts.volumes)
    province.advance(start_at)
    sim = Simulation(province, SimClock(start_at, opts.speed, wall), FaultBoard(mono=wall),
                     opts.seed)
    ports = {**ports_from_base(0), **(opts.ports or {})}
    apps = {
        "portal": _system_app("portal", sim, PortalApi(sim).routes()),
        "payments": _system_app("payments", sim, PaymentsApi(sim).routes()),
        "documents": _system_app("documents", sim, DocumentsApi(sim).routes()),
    }
    running = RunningProvince(sim, {})
    control = web.Application()
    control.add_routes(ControlApi(sim, lambda: running.urls).routes())
    apps["control"] = control
    servers = {name: SystemServer(name, app, opts.host, ports[name]) for name, app in apps.items()}
    running.servers.update(servers)
    sim.servers.update(servers)
    ticker: asyncio.Task[None] | None = None
    try:
        for server in servers.values():
            await server.start()
        ticker = asyncio.get_running_loop().create_task(sim.run_ticker())
        yield running
    finally:
        await sim.stop()
        if ticker is not None:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
        for server in servers.values():
            await server.stop()
