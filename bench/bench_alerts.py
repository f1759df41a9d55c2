"""Alert benchmarks: detection latency end to end, and rule evaluation over 10,000 series.

    .venv/bin/python bench/bench_alerts.py detection   # 20 outages of the simulated province
    .venv/bin/python bench/bench_alerts.py evaluate    # one cycle over 10,000 series

`detection`: the simulated province runs; the real collectors probe each system's /health every
10 s; the real engine (rule interval 2 s, tick 1 s) and delivery worker (poll 0.5 s) send to a
webhook receiver on 127.0.0.1. Each trial injects an outage (connection refused) into one system
at a random phase of its probe interval and measures injection → webhook received. The three
systems run trials in parallel, so 20 trials take about 4 minutes.

`evaluate`: 10,000 probe targets with 5 minutes of 10 s probes (300,000 rows) and 10,000 metric
series with 5 minutes of samples; four rules (p95 latency, last probe failed, absence, metric
average) evaluated together in one engine cycle, 1 % of the targets failing (100 alerts firing,
notifications enqueued). Reports the time per cycle.

Needs IOC_DATABASE_URL (a scratch database is created and dropped). Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shlex
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from bench_collectors import scratch_db  # noqa: E402

from ioc import db  # noqa: E402

COMMAND = " ".join(shlex.quote(a) for a in [".venv/bin/python", "bench/bench_alerts.py",
                                              *sys.argv[1:]])
SYSTEMS = ("portal", "payments", "documents")
PROVINCE = {"name": "Tỉnh Đo Đạc", "code": "DD", "public_url": "http://127.0.0.1:8080"}
DOWN_RULE = {"id": "target-down", "kind": "threshold", "name": "Dịch vụ không phản hồi",
             "severity": "critical", "probe": "success_rate", "aggregate": "last",
             "window": "1m", "op": "<", "value": 1, "interval": "2s",
             "flap_threshold": 100}  # trials repeat outages of the same target on purpose


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ranked = sorted(values)
    return ranked[max(0, round(q * len(ranked) + 0.5) - 1)]


def write_config(directory: Path, **sections: Any) -> Path:
    for name, data in {"province": PROVINCE, **sections}.items():
        (directory / f"{name}.yaml").write_text(json.dumps({name: data}, ensure_ascii=False))
    return directory


# --- detection -------------------------------------------------------------------------------

class Arrivals:
    """Webhook receiver noting when each (target, status) first arrived (monotonic clock)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], float] = {}
        self.changed = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        for ev in (await request.json())["alerts"]:
            self.seen.setdefault((ev["labels"]["target"], ev["status"]), at)
        self.changed.set()
        return web.Response(text="ok")

    async def wait(self, key: tuple[str, str], limit_s: float) -> float:
        deadline = time.monotonic() + limit_s
        while key not in self.seen:
            self.changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {key} within {limit_s} s")
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass
        return self.seen.pop(key)


async def _trials(province: Any, system: str, count: int, arrivals: Arrivals,
                  rng: random.Random) -> list[float]:
    target = f"{system}-health"
    found = []
    for _ in range(count):
        await asyncio.sleep(rng.uniform(0, 10))  # a random phase of the 10 s probe interval
        start = time.monotonic()
        await province.add_fault({"kind": "outage", "system": system, "duration": "25s"})
        found.append(await arrivals.wait((target, "firing"), 60) - start)
        await arrivals.wait((target, "resolved"), 90)
    return found


async def detection(trials: int) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry

    from alerts.engine import Engine, run_engine, utc_now
    from alerts.outbox import Outbox, run_worker
    from collectors.metrics import CollectorMetrics
    from collectors.service import CollectOptions, CollectorService
    from ioc.config import ConfigHolder
    from sim import SimOptions, run_province

    arrivals = Arrivals()
    app = web.Application()
    app.router.add_post("/hook", arrivals.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    hook = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    with scratch_db() as [url], tempfile.TemporaryDirectory() as tmp:
        async with run_province(SimOptions(seed=11, speed=1)) as province, \
                aiohttp.ClientSession() as session:
            targets = [{"kind": "http", "id": f"{s}-health", "system": s, "name": s,
                        "url": province.urls[s] + "/health", "interval": "10s",
                        "timeout": "2s"} for s in SYSTEMS]
            holder = ConfigHolder(write_config(
                Path(tmp), targets=targets, rules=[DOWN_RULE],
                channels=[{"name": "ops", "kind": "webhook", "url": hook}],
                routing={"channels": ["ops"], "group_wait": "0s", "group_by": ["target"]}))
            cfg = holder.config
            conns = [await db.connect_async(url) for _ in range(3)]
            stop = asyncio.Event()
            collector = CollectorService(url, holder, Path(tmp) / "spool",
                                         CollectOptions(collector_id="bench"),
                                         CollectorMetrics.create(CollectorRegistry()))
            tasks = [asyncio.create_task(c) for c in (
                collector.run(stop), run_engine(Engine(conns[0], cfg), conns[2], utc_now, 1.0,
                                                stop),
                run_worker(Outbox(conns[1], cfg, session, secret="bench" * 8), utc_now, 0.5,
                           stop))]
            await asyncio.sleep(12)  # every target probed healthy at least once
            rng = random.Random(5)
            per = [trials // 3 + (1 if i < trials % 3 else 0) for i in range(3)]
            results = await asyncio.gather(*(_trials(province, s, n, arrivals, rng)
                                             for s, n in zip(SYSTEMS, per, strict=True)))
            stop.set()
            await asyncio.gather(*tasks)
            for conn in conns:
                await conn.close()
    await runner.cleanup()
    values = [v for r in results for v in r]
    return {"trials": len(values), "probe_interval_s": 10,
            "p50_s": round(statistics.median(values), 2),
            "p95_s": round(percentile(values, 0.95), 2), "max_s": round(max(values), 2),
            "goal_p95_s": 15, "samples_s": sorted(round(v, 2) for v in values)}


# --- evaluation over 10,000 series -------------------------------------------------------------

SEED_SQL = """
INSERT INTO targets (id, system, kind, name, labels, interval_s)
SELECT 't' || i, (ARRAY['portal','payments','documents'])[1 + i % 3], 'http', 'Mục tiêu ' || i,
       jsonb_build_object('agency', 'so-' || (i % 40)), 10
  FROM generate_series(1, %(n)s) AS i;
INSERT INTO probe_results (time, target_id, ok, reason, duration_ms)
SELECT %(now)s - (s * interval '10 seconds') - (i % 10) * interval '1 second', 't' || i,
       NOT (i %% 100 = 0 AND s < 6), CASE WHEN i %% 100 = 0 AND s < 6 THEN 'refused' END,
       50 + (i * 7 + s * 13) %% 900
  FROM generate_series(1, %(n)s) AS i, generate_series(0, 29) AS s;
INSERT INTO series (name, labels, target_id)
SELECT 'portal_queue_depth', jsonb_build_object('queue', 'q' || i, 'system', 'portal'), NULL
  FROM generate_series(1, %(n)s) AS i;
INSERT INTO samples (time, series_id, value)
SELECT %(now)s - (s * interval '15 seconds'), x.id, (x.id * 31 + s) %% 120
  FROM series x, generate_series(0, 19) AS s;
ANALYZE;
"""

EVAL_RULES = [
    {"id": "latency-p95", "kind": "threshold", "name": "p95 chậm", "probe": "latency_ms",
     "aggregate": "p95", "window": "5m", "op": ">", "value": 2000, "interval": "1s"},
    {**DOWN_RULE, "interval": "1s", "flap_threshold": 3},
    {"id": "no-data", "kind": "absence", "name": "Không có số liệu", "after": "3m",
     "selector": {"labels": {}, "system": "portal"}, "interval": "1s"},
    {"id": "queue-deep", "kind": "threshold", "name": "Hàng đợi dài",
     "metric": "portal_queue_depth", "aggregate": "avg", "window": "5m", "op": ">",
     "value": 100, "interval": "1s"},
]


async def evaluate(series: int, cycles: int) -> dict[str, Any]:
    from alerts.engine import Engine
    from ioc.config.model import ProvinceConfig

    now = datetime.now(UTC).replace(microsecond=0)
    cfg = ProvinceConfig.model_validate({
        "province": PROVINCE, "rules": EVAL_RULES,
        "channels": [{"name": "ops", "kind": "webhook", "url": "http://127.0.0.1:9/none"}],
        "routing": {"channels": ["ops"], "group_wait": "0s"}})
    with scratch_db() as [url]:
        with db.connect(url) as conn:
            conn.execute(SEED_SQL.replace("%%", "%").replace("%(n)s", str(series))
                         .replace("%(now)s", f"'{now.isoformat()}'::timestamptz").encode())
        aconn = await db.connect_async(url)
        engine = Engine(aconn, cfg)
        times, reports = [], []
        for i in range(cycles):
            at = now + timedelta(seconds=i)
            started = time.perf_counter()
            reports.append(await engine.cycle(at))
            times.append(time.perf_counter() - started)
        cur = await aconn.execute("SELECT count(*) FROM alerts WHERE state = 'firing'")
        firing = (await cur.fetchone() or [0])[0]
        await aconn.close()
    return {"series": series, "rules": len(EVAL_RULES), "cycles": cycles,
            "first_cycle_s": round(times[0], 3),
            "median_cycle_s": round(statistics.median(times[1:] or times), 3),
            "max_cycle_s": round(max(times), 3), "alerts_firing": firing,
            "last_cycle_parts_s": {k: round(v, 3) for k, v in reports[-1].seconds.items()},
            "failed_rules": sorted({k for r in reports for k in r.failed}), "goal_s": 1.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    d = sub.add_parser("detection")
    d.add_argument("--trials", type=int, default=20)
    e = sub.add_parser("evaluate")
    e.add_argument("--series", type=int, default=10_000)
    e.add_argument("--cycles", type=int, default=10)
    args = parser.parse_args()
    if args.what == "detection":
        result = asyncio.run(detection(args.trials))
    else:
        result = asyncio.run(evaluate(args.series, args.cycles))
    print(json.dumps({"command": COMMAND, **result}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
