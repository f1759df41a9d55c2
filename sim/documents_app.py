"""HTTP API of the simulated electronic document system."""

from __future__ import annotations

from aiohttp import web

from sim.documents import document_stats
from sim.queries import records_page
from sim.server import answer, health_response
from sim.simulation import Simulation


class DocumentsApi:
    """Handlers of the document system."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/health", self.health),
            web.get("/api/stats", self.stats),
            web.get("/api/documents", self.documents),
        ]

    async def health(self, request: web.Request) -> web.Response:
        return health_response("documents", self.sim.now)

    async def stats(self, request: web.Request) -> web.Response:
        province = self.sim.province
        return answer(lambda: self.sim.window_stats(
            "documents", request.query,
            lambda start, end: document_stats(province.documents_between(start, end), province.now),
            total="total",
        ))

    async def documents(self, request: web.Request) -> web.Response:
        return answer(lambda: records_page(self.sim.province.logs["documents"], request.query))
