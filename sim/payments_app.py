"""HTTP API of the simulated payment gateway, with the daily reconciliation files."""

from __future__ import annotations

import zlib
from datetime import date, timedelta
from typing import Any

from aiohttp import web

from sim.catalogue import ERROR_CODES, INTERMEDIARIES, INTERMEDIARY_BY_CODE
from sim.faults import RECON_KINDS, Fault, ReconAmount, ReconDuplicate, ReconLate, ReconMissing
from sim.payments import payment_stats, recon_rows
from sim.province import NotReady
from sim.queries import records_page
from sim.server import answer, error_response, health_response, json_object, json_response
from sim.simulation import Simulation
from sim.wire import iso, parse_time

MAX_AMOUNT = 1_000_000_000
SIDES = ("intermediary", "treasury")


class PaymentsApi:
    """Handlers of the payment gateway."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/health", self.health),
            web.get("/api/intermediaries", self.intermediaries),
            web.post("/api/payments", self.pay),
            web.get("/api/stats", self.stats),
            web.get("/api/transactions", self.transactions),
            web.get("/api/reconciliation/{day}", self.reconciliation),
        ]

    async def health(self, request: web.Request) -> web.Response:
        return health_response("payments", self.sim.now)

    async def intermediaries(self, request: web.Request) -> web.Response:
        return json_response({
            "items": [{"code": i.code, "name": i.name} for i in INTERMEDIARIES],
            "error_codes": [{"code": c, "description": d} for c, d, _ in ERROR_CODES],
        })

    async def pay(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request, '{"amount": 50000, "intermediary": "vnpay"}')
        except ValueError as exc:
            return error_response(str(exc))
        amount = body.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_AMOUNT:
            return error_response(f"amount must be a whole number of VND from 1 to {MAX_AMOUNT}")
        intermediary = body.get("intermediary")
        if intermediary is not None and intermediary not in INTERMEDIARY_BY_CODE:
            return error_response("intermediary is not in /api/intermediaries")
        dossier_code = body.get("dossier_code")
        tx = self.sim.province.pay_synthetic(amount, intermediary,
                                             None if dossier_code is None else str(dossier_code))
        return json_response(tx.to_json(), status=201 if tx.status == "success" else 402)

    async def stats(self, request: web.Request) -> web.Response:
        province = self.sim.province
        return answer(lambda: self.sim.window_stats(
            "payments", request.query,
            lambda start, end: payment_stats(province.transactions_between(start, end)),
            total="attempts",
        ))

    async def transactions(self, request: web.Request) -> web.Response:
        return answer(lambda: records_page(self.sim.province.logs["payments"], request.query))

    async def reconciliation(self, request: web.Request) -> web.Response:
        side = request.query.get("side", "intermediary")
        if side not in SIDES:
            return error_response("side must be intermediary or treasury")
        try:
            day = date.fromisoformat(request.match_info["day"])
        except ValueError:
            return error_response("the day is written YYYY-MM-DD (the business day, local time)")
        only = request.query.get("intermediary")
        if only is not None and only not in INTERMEDIARY_BY_CODE:
            return error_response("intermediary is not in /api/intermediaries")
        try:
            txs = self.sim.province.day_transactions(day)
        except NotReady as exc:
            return json_response({"error": "not yet available",
                                  "available_at": iso(exc.ready_at)}, 404)
        rows = recon_rows(day, (t for t in txs if only is None or t.intermediary == only))
        for fault in self.sim.board.of_kinds(RECON_KINDS, "payments"):
            rows = break_rows(rows, fault, side, day)
        return json_response({"date": day.isoformat(), "side": side, "intermediary": only,
                              "items": rows})


def break_rows(rows: list[dict[str, Any]], fault: Fault, side: str,
               day: date) -> list[dict[str, Any]]:
    """Apply a reconciliation fault to one side's file: the same rows each time it is fetched."""
    spec = fault.spec
    if getattr(spec, "side", None) != side or getattr(spec, "date", None) not in (None, day):
        return rows
    rate = getattr(spec, "rate", 0.0)
    chosen = {r["ref"] for r in rows if zlib.crc32(r["ref"].encode()) % 10_000 < rate * 10_000}
    if not chosen and rows:
        chosen = {rows[0]["ref"]}  # at least one break, so a small file shows it too
    if isinstance(spec, ReconMissing):
        return [r for r in rows if r["ref"] not in chosen]
    out = []
    for row in rows:
        out.append(row)
        if row["ref"] not in chosen:
            continue
        if isinstance(spec, ReconDuplicate):
            out.append(dict(row))
        elif isinstance(spec, ReconAmount):
            out[-1] = {**row, "amount": row["amount"] + spec.amount_delta}
        elif isinstance(spec, ReconLate) and row["settled_at"] is not None:
            late = parse_time(row["settled_at"], "settled_at") + timedelta(days=spec.days)
            out[-1] = {**row, "settled_at": iso(late)}
    return out
