"""Collector benchmarks: probe scheduling at scale (vs blackbox_exporter) and write throughput.

    .venv/bin/python bench/bench_collectors.py probes   # 5,000 targets / 10 s / 2 min
    .venv/bin/python bench/bench_collectors.py ingest   # write path vs psql COPY, spool replay

Needs IOC_DATABASE_URL (a scratch database is created and dropped). Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from psycopg import sql  # noqa: E402
from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: E402

from collectors.model import ProbeResult  # noqa: E402
from ioc import db, migrate  # noqa: E402

RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
            b"Connection: keep-alive\r\n\r\nok")
COMMAND = " ".join(shlex.quote(a) for a in [".venv/bin/python", "bench/bench_collectors.py",
                                              *sys.argv[1:]])


# --- a scratch database ------------------------------------------------------------------------

@contextlib.contextmanager
def scratch_db(count: int = 1) -> Iterator[list[str]]:
    """Fresh migrated databases on the IOC_DATABASE_URL server, dropped afterwards."""
    admin = os.environ["IOC_DATABASE_URL"]
    names = [f"ioc_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}" for _ in range(count)]
    urls = []
    for name in names:
        with db.connect(admin) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        parts = conninfo_to_dict(admin)
        parts["dbname"] = name
        url = make_conninfo("", **{k: v for k, v in parts.items() if v is not None})
        with db.connect(url) as conn:
            migrate.migrate(conn)
        urls.append(url)
    try:
        yield urls
    finally:
        with db.connect(admin) as conn:
            for name in names:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))


# --- the loopback target server (its own process) ----------------------------------------------

class _Answer(asyncio.Protocol):
    """Answers every HTTP/1.1 request on the connection with a fixed 200 (keep-alive)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            self.buffer = self.buffer[end + 4:]
            self.transport.write(RESPONSE)


def serve(port_file: Path) -> None:
    """Run the target server until killed; writes its port to `port_file`."""
    import uvloop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Answer, "127.0.0.1", 0, backlog=4096)
        port_file.write_text(str(server.sockets[0].getsockname()[1]))  # noqa: ASYNC240
        await asyncio.Event().wait()

    uvloop.run(main())


# --- the collector under test (its own process, so its CPU and memory are its own) -------------

def collector_child(config: Path, url: str, warmup: float, duration: float) -> None:
    """Run the real CollectorService; print probes, lag percentiles, CPU and peak RSS as JSON."""
    from prometheus_client import CollectorRegistry

    from collectors.metrics import CollectorMetrics
    from collectors.model import Outcome
    from collectors.service import CollectOptions, CollectorService
    from ioc.config import ConfigHolder

    lags: list[float] = []
    failures: dict[str, int] = {}
    window = {"on": False}

    def tap(outcome: Outcome) -> None:
        if window["on"]:
            lags.append(outcome.lag_s)
            if outcome.result is not None and not outcome.result.ok:
                key = outcome.result.reason or "?"
                failures[key] = failures.get(key, 0) + 1

    async def main() -> dict[str, object]:
        state = Path(tempfile.mkdtemp(prefix="ioc-bench-"))
        svc = CollectorService(url, ConfigHolder(config), state / "spool",
                               CollectOptions(collector_id="bench", reload_s=3600),
                               CollectorMetrics.create(CollectorRegistry()), tap=tap)
        stop = asyncio.Event()
        task = asyncio.create_task(svc.run(stop))
        await asyncio.sleep(warmup)
        window["on"] = True
        cpu0, t0 = _cpu(), time.perf_counter()
        await asyncio.sleep(duration)
        cpu1, t1 = _cpu(), time.perf_counter()
        window["on"] = False
        stop.set()
        await task
        return {"probes": len(lags), "seconds": t1 - t0, "cpu_s": cpu1 - cpu0,
                "lag_p50_ms": _pct(lags, 50) * 1000, "lag_p99_ms": _pct(lags, 99) * 1000,
                "lag_max_ms": max(lags, default=0) * 1000, "failures": failures,
                "stored_rows": svc.writer.stored_rows,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}

    print(json.dumps(asyncio.run(main())))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _pct(values: list[float], q: int) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- probes: ours and blackbox_exporter's, same targets, same run --------------------------------

BLACKBOX_CONFIG = """modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
"""


async def drive_blackbox(bb_port: int, urls: list[str], interval: float,
                         duration: float) -> tuple[int, int]:
    """Ask blackbox_exporter to probe every URL once per interval, spread evenly (as Prometheus
    would); returns (probes answered, probes that reported success)."""
    import aiohttp

    done = ok = 0
    gap = interval / len(urls)
    sem = asyncio.Semaphore(200)
    connector = aiohttp.TCPConnector(limit=200)

    async def one(session: aiohttp.ClientSession, target: str) -> None:
        nonlocal done, ok
        try:
            async with sem, session.get(f"http://127.0.0.1:{bb_port}/probe",
                                        params={"module": "http_2xx", "target": target}) as resp:
                text = await resp.text()
        except aiohttp.ClientError:
            return
        done += 1
        ok += "probe_success 1" in text

    async with aiohttp.ClientSession(connector=connector) as session:
        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = set()
        i = 0
        while loop.time() - start < duration:
            due = start + i * gap
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            task = asyncio.create_task(one(session, urls[i % len(urls)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        await asyncio.gather(*tasks, return_exceptions=True)
    return done, ok


def write_targets(config: Path, port: int, count: int, interval: int) -> list[str]:
    config.mkdir(parents=True, exist_ok=True)
    (config / "province.yaml").write_text('province: {name: "Bench", code: B01}\n')
    urls = [f"http://127.0.0.1:{port}/t/{i}" for i in range(count)]
    targets = [{"id": f"t{i}", "kind": "http", "system": "portal", "name": f"t{i}",
                "url": u, "interval": f"{interval}s", "timeout": "5s"}
               for i, u in enumerate(urls)]
    (config / "targets.yaml").write_text(json.dumps({"targets": targets}))
    return urls


async def probes(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="ioc-bench-"))
    port_file = work / "port"
    server = subprocess.Popen([sys.executable, __file__, "_serve", str(port_file)])  # noqa: ASYNC220
    bb = None
    try:
        while not port_file.exists() or not port_file.read_text():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        urls = write_targets(work / "cfg", int(port_file.read_text()), args.targets,
                             args.interval)
        (work / "bb.yml").write_text(BLACKBOX_CONFIG)
        bb_port = 19115 + os.getpid() % 500
        bb = subprocess.Popen(  # noqa: ASYNC220
            ["prometheus-blackbox-exporter", f"--config.file={work}/bb.yml",
             f"--web.listen-address=127.0.0.1:{bb_port}", "--log.level=error"])
        with scratch_db() as [url]:
            child = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "_collector", str(work / "cfg"), url,
                str(args.warmup), str(args.duration), stdout=asyncio.subprocess.PIPE)
            out, _ = await child.communicate()
        ours = json.loads(out)
        # blackbox_exporter second, on the same targets and server: on a small machine the two
        # running at once would measure the contention between them, not either of them.
        bb_cpu0 = _proc_cpu(bb.pid)
        bb_done = bb_ok = 0
        if args.blackbox:
            bb_done, bb_ok = await drive_blackbox(bb_port, urls, args.interval, args.duration)
        bb_cpu = _proc_cpu(bb.pid) - bb_cpu0
        report_probes(args, ours, bb_done, bb_ok, bb_cpu)
    finally:
        for proc in (server, bb):
            if proc is not None:
                proc.terminate()
                proc.wait()


def report_probes(args: argparse.Namespace, ours: dict[str, float], bb_done: int,
                  bb_ok: int, bb_cpu: float) -> None:
    rate = ours["probes"] / ours["seconds"]
    our_per = ours["cpu_s"] / max(ours["probes"], 1) * 1e6
    bb_per = bb_cpu / max(bb_done, 1) * 1e6 or float("nan")
    print(f"command: {COMMAND}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"targets {args.targets} at {args.interval}s for {args.duration:.0f}s "
          f"(expected {args.targets / args.interval:.0f} probes/s)")
    print(f"ours: {rate:.1f} probes/s, lag p50 {ours['lag_p50_ms']:.1f} ms, "
          f"p99 {ours['lag_p99_ms']:.1f} ms, max {ours['lag_max_ms']:.1f} ms, "
          f"CPU {ours['cpu_s'] / ours['seconds'] * 100:.1f}% of a core, "
          f"peak RSS {ours['peak_rss_mb']:.0f} MB, failures {ours['failures']}, "
          f"rows stored {ours['stored_rows']}")
    print(f"blackbox_exporter: {bb_done / args.duration:.1f} probes/s "
          f"({bb_ok} successful), CPU {bb_cpu / args.duration * 100:.1f}% of a core")
    print(f"CPU per probe: ours {our_per:.0f} us, blackbox {bb_per:.0f} us, "
          f"ratio ours/theirs {our_per / bb_per:.2f}")


# --- ingest: our write path vs psql COPY of the same rows; spool replay ------------------------

def make_rows(count: int) -> list[ProbeResult]:
    t0 = datetime(2026, 11, 23, tzinfo=UTC)
    per_target = max(1, count // 5000)
    return [ProbeResult(t0 + timedelta(seconds=10 * k), f"target-{i}", k % 50 != 0,
                        None if k % 50 else "timeout", 200, 12.5 + (k % 100),
                        connect_ms=0.4, ttfb_ms=11.0, bytes=2)
            for k in range(per_target) for i in range(5000)][:count]


async def ingest(args: argparse.Namespace) -> None:
    results = make_rows(args.rows)
    sizes = [int(x) for x in args.batch.split(",")]
    with scratch_db(3) as [ours_url, raw_url, replay_url]:
        ours = {size: await timed_write_path(ours_url, results, size) for size in sizes}
        raw_s = timed_psql_copy(raw_url, results)
        spool_s, replay_s, replayed = await timed_spool(replay_url, results, sizes[0])
    n = len(results)
    print(f"command: {COMMAND}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{n} probe rows (5,000 targets x {n // 5000} times)")
    print(f"psql COPY (one transaction): {n / raw_s:,.0f} rows/s ({raw_s:.2f} s)")
    for size, secs in ours.items():
        print(f"our write path, batches of {size}: {n / secs:,.0f} rows/s ({secs:.2f} s), "
              f"ratio to psql COPY {raw_s / secs:.2f}")
    print(f"spool append (fsync per {sizes[0]}-row batch): {n / spool_s:,.0f} rows/s; "
          f"replay into the database: {n / replay_s:,.0f} rows/s ({replayed} rows stored)")


async def timed_write_path(url: str, results: list[ProbeResult], size: int) -> float:
    """Seconds to store the rows through write_batch in batches of `size` (table emptied)."""
    from collectors.model import Batch
    from collectors.writepath import SeriesCache, write_batch

    with db.connect(url) as c:
        c.execute("TRUNCATE probe_results, rollup_dirty")
    batches = [Batch(results[i:i + size]) for i in range(0, len(results), size)]
    conn = await db.connect_async(url)
    t0 = time.perf_counter()
    for b in batches:
        await write_batch(conn, b, SeriesCache(), "bench")
    secs = time.perf_counter() - t0
    await conn.close()
    return secs


def timed_psql_copy(url: str, results: list[ProbeResult]) -> float:
    """Seconds for psql to COPY the same rows (CSV) into probe_results."""
    from collectors.writepath import PROBE_COLUMNS

    csv = Path(tempfile.mkdtemp()) / "rows.csv"
    with csv.open("w") as fh:
        for r in results:
            fh.write(",".join("" if v is None else str(v) for v in (
                r.at.isoformat(), r.target_id, r.ok, r.reason, r.status_code, r.duration_ms,
                r.dns_ms, r.connect_ms, r.tls_ms, r.ttfb_ms, r.cert_days, r.bytes, r.detail,
                "bench")) + "\n")
    copy = f"\\copy probe_results ({', '.join(PROBE_COLUMNS)}) FROM '{csv}' CSV"
    t0 = time.perf_counter()
    subprocess.run(["psql", url, "-q", "-c", copy], check=True)
    return time.perf_counter() - t0


async def timed_spool(url: str, results: list[ProbeResult],
                      size: int) -> tuple[float, float, int]:
    """Seconds to spool the rows (fsync per batch) and to replay them; rows stored."""
    from prometheus_client import CollectorRegistry

    from collectors.metrics import CollectorMetrics
    from collectors.model import Batch
    from collectors.spool import Spool
    from collectors.writer import BatchWriter

    spool = Spool(Path(tempfile.mkdtemp()) / "spool", max_bytes=2**40)
    t0 = time.perf_counter()
    for i in range(0, len(results), size):
        spool.append(Batch(results[i:i + size]).to_json())
    spool_s = time.perf_counter() - t0
    writer = BatchWriter(url, spool, CollectorMetrics.create(CollectorRegistry()),
                         drain_budget_s=3600)
    t0 = time.perf_counter()
    await writer.flush()
    replay_s = time.perf_counter() - t0
    await writer.close()
    with db.connect(url) as c:
        row = c.execute("SELECT count(*) FROM probe_results").fetchone()
    return spool_s, replay_s, int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("probes")
    p.add_argument("--targets", type=int, default=5000)
    p.add_argument("--interval", type=int, default=10)
    p.add_argument("--duration", type=float, default=120)
    p.add_argument("--warmup", type=float, default=15)
    p.add_argument("--no-blackbox", dest="blackbox", action="store_false",
                   help="probe with ours only")
    i = sub.add_parser("ingest")
    i.add_argument("--rows", type=int, default=1_000_000)
    i.add_argument("--batch", default="5000,50000",
                   help="batch sizes of our write path, comma-separated (the first is also "
                   "the spooled batch size)")
    s = sub.add_parser("_serve")
    s.add_argument("port_file", type=Path)
    c = sub.add_parser("_collector")
    c.add_argument("config", type=Path)
    c.add_argument("url")
    c.add_argument("warmup", type=float)
    c.add_argument("duration", type=float)
    args = parser.parse_args()
    if args.cmd == "probes":
        asyncio.run(probes(args))
    elif args.cmd == "ingest":
        asyncio.run(ingest(args))
    elif args.cmd == "_serve":
        serve(args.port_file)
    else:
        collector_child(args.config, args.url, args.warmup, args.duration)


if __name__ == "__main__":
    main()
