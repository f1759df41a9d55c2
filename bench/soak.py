"""Soak benchmark (issue 9): the default province for an hour, the database restarted twice and
the collector killed once; memory growth, samples lost, duplicate notifications.

    .venv/bin/python bench/soak.py --duration 3600   # the soak (about 62 minutes in all)
    .venv/bin/python bench/soak.py --duration 300    # a short check of the machinery

Runs, all on 127.0.0.1, each child in its own process group (stopped on exit and Ctrl-C):
- a private PostgreSQL 15 + TimescaleDB cluster (initdb as `postgres` into .ioc/soak/pg, port
  55433, scram password) migrated by `ioc db migrate`; the shared cluster on 55432 is untouched;
- `ioc sim` (default volumes, speed 1, ports 18280-18283), `ioc collect` (self-metrics on 18290)
  and `ioc alerts` on a copy of config/ whose channels are reduced to one webhook to a receiver
  in this process (18291) that counts deliveries per Idempotency-Key.
Schedule (fractions of --duration): simulator outages of portal at 5 %, payments at 30 % and
documents at 70 % (4 min each, so target-down fires and resolves); the database stopped for
30 s at 25 % and 60 %; the collector killed with SIGKILL at 45 % and restarted 20 s later.
Measured: RSS of sim, collector and alerts every 10 s; collections counted by the collector's
self-metrics (scraped every 5 s, and right before the kill and the final stop) against the rows
stored; deliveries per idempotency key against the notifications outbox and the transitions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import psycopg  # noqa: E402
import yaml  # noqa: E402
from aiohttp import web  # noqa: E402

from collectors.service import CollectOptions  # noqa: E402

COMMAND = " ".join(shlex.quote(a) for a in [".venv/bin/python", "bench/soak.py", *sys.argv[1:]])
SOAK = ROOT / ".ioc" / "soak"
PGBIN = Path("/usr/lib/postgresql/15/bin")
PG_PORT, SIM_BASE, METRICS_PORT, HOOK_PORT = 55433, 18280, 18290, 18291
STRICT_KINDS = ("http", "json", "prometheus")  # one result per collection, always
IOC = [sys.executable, "-m", "ioc.cli"]


def now_utc() -> datetime:
    return datetime.now(UTC)


# --- the private database cluster ----------------------------------------------------------

@dataclass
class Cluster:
    data: Path = SOAK / "pg" / "data"
    url: str = ""

    def ctl(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PGBIN / "pg_ctl"), "-D",
                        str(self.data), "-w", "-t", "60", *args], check=True,
                       stdout=subprocess.DEVNULL)

    def create(self) -> None:
        top = self.data.parent
        if (self.data / "postmaster.pid").exists():
            self.ctl("stop", "-m", "immediate")
        shutil.rmtree(top, ignore_errors=True)
        top.mkdir(parents=True)
        password = secrets.token_hex(16)
        pwfile = top / "pwfile"
        pwfile.write_text(password + "\n")
        shutil.chown(top, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
        subprocess.run(["runuser", "-u", "postgres", "--", str(PGBIN / "initdb"), "-D",
                        str(self.data), "-U", "ioc", f"--pwfile={pwfile}", "--auth=scram-sha-256",
                        "-E", "UTF8", "--no-locale"], check=True, stdout=subprocess.DEVNULL)
        pwfile.unlink()
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {PG_PORT}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{top}'\n"
                       "shared_preload_libraries = 'timescaledb'\n"
                       "timescaledb.telemetry_level = off\nmax_connections = 50\n")
        self.start()
        base = f"postgresql://ioc:{password}@127.0.0.1:{PG_PORT}"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE ioc")
        self.url = f"{base}/ioc"

    def start(self) -> None:
        self.ctl("start", "-l", str(self.data.parent / "postgres.log"))

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.ctl("stop", "-m", "fast")


# --- children ------------------------------------------------------------------------------

@dataclass
class Children:
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    rss: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)

    def start(self, name: str, argv: list[str]) -> None:
        log = (SOAK / "logs" / f"{name.split('#')[0]}.log").open("ab")
        self.procs[name] = subprocess.Popen(argv, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.started[name] = time.time()
        self.rss[name] = []

    def sample_rss(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is None:
                try:
                    text = Path(f"/proc/{proc.pid}/status").read_text()
                except OSError:
                    continue
                kb = int(re.search(r"VmRSS:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
                self.rss[name].append((time.time(), kb))

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def kill9(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait()

    def term(self, name: str, timeout: float = 60) -> int | None:
        proc = self.procs[name]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return proc.returncode

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.term(name, timeout=30)


def wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # loopback
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not answering after {timeout:.0f} s") from None
            time.sleep(0.5)


def derive_config(dest: Path, hook: str) -> None:
    """config/ with one webhook channel (to our receiver); routes and rules kept."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(ROOT / "config", dest, ignore=shutil.ignore_patterns("*.md"))
    for name in ("oncall.yaml", "report.yaml"):  # escalation and report use removed channels
        (dest / name).unlink()
    (dest / "channels.yaml").write_text(json.dumps({"channels": [
        {"name": "ops-webhook", "kind": "webhook", "url": hook,
         "hmac_secret": "soak-only-webhook-secret"}]}))
    rules = yaml.safe_load((dest / "rules.yaml").read_text())
    routing = rules["routing"]
    routing["channels"] = ["ops-webhook"]
    routes = [r for r in routing.get("routes", []) if "ops-webhook" in r.get("channels", [])]
    for route in routes:
        route["channels"] = ["ops-webhook"]
        route.pop("escalation", None)
    routing["routes"] = routes
    (dest / "rules.yaml").write_text(json.dumps(rules, ensure_ascii=False, default=str))


# --- receiver and self-metrics -------------------------------------------------------------

@dataclass
class Receiver:
    deliveries: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    event_keys: Counter[str] = field(default_factory=Counter)
    first_at: dict[str, str] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "<none>")
        body = await request.json()
        self.deliveries[key] += 1
        if self.deliveries[key] == 1:
            self.first_at[key] = now_utc().isoformat(timespec="seconds")
            for ev in body.get("alerts", []):
                self.events[str(ev.get("status"))] += 1
                self.event_keys[str(ev.get("key"))] += 1
        return web.Response(text="ok")


_LINE = re.compile(r"^(ioc_collector_[a-z_]+)(\{[^}]*\})?\s+(\S+)$")


def scrape() -> tuple[datetime, datetime, dict[str, float]]:
    """(before, after, counters) of the collector's self-metrics."""
    before = now_utc()
    url = f"http://127.0.0.1:{METRICS_PORT}/metrics"
    with urllib.request.urlopen(url, timeout=5) as resp:  # loopback
        text = resp.read().decode()
    after = now_utc()
    found = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m and not m.group(1).endswith(("_bucket", "_created", "_sum", "_count")):
            found[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return before, after, found


def probes(counters: dict[str, float], kinds: tuple[str, ...]) -> int:
    return int(sum(counters.get(f'ioc_collector_probes_total{{kind="{k}"}}', 0) for k in kinds))


# --- the run -------------------------------------------------------------------------------

@dataclass
class Life:
    """One collector process: its window and its last self-metrics scrape."""

    name: str
    start: datetime
    end: datetime | None = None
    killed: bool = False
    last: tuple[datetime, datetime, dict[str, float]] | None = None


@dataclass
class Soak:
    duration: float
    children: Children
    receiver: Receiver
    lives: list[Life] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)
    t0: float = 0.0
    alerts: str = "alerts#1"

    def note(self, text: str) -> None:
        stamp = now_utc().isoformat(timespec="seconds")
        self.log.append((stamp, text))
        print(f"{stamp} +{time.monotonic() - self.t0:6.0f}s {text}", flush=True)

    def start_collector(self) -> None:
        name = f"collector#{len(self.lives) + 1}"
        self.children.start(name, [*IOC, "collect", "--metrics-port", str(METRICS_PORT),
                                   "--collector-id", "soak"])  # as a restarted service
        self.lives.append(Life(name, now_utc()))
        self.note(f"started {name}")

    def scrape_life(self) -> dict[str, float]:
        got = scrape()
        self.lives[-1].last = got
        return got[2]

    async def sampler(self) -> None:
        n = 0
        while True:
            self.children.sample_rss()
            if n % 2 == 0 and self.children.alive(self.lives[-1].name):
                try:
                    c = await asyncio.to_thread(self.scrape_life)
                    if n % 30 == 0:
                        written = c.get("ioc_collector_rows_written_total", 0)
                        spool = c.get("ioc_collector_spool_bytes", 0)
                        self.note(f"collector: {probes(c, (*STRICT_KINDS, 'records'))} "
                                  f"collections, {written:.0f} rows written, spool {spool:.0f} B")
                except OSError:
                    pass
            n += 1
            await asyncio.sleep(5)

    async def fault(self, system: str, seconds: float) -> None:
        body = json.dumps({"kind": "outage", "system": system, "duration": f"{seconds:.0f}s"})
        req = urllib.request.Request(f"http://127.0.0.1:{SIM_BASE}/faults", body.encode(),
                                     {"Content-Type": "application/json"})
        await asyncio.to_thread(urllib.request.urlopen, req, timeout=5)  # loopback
        self.note(f"outage of {system} for {seconds:.0f} s")

    async def restart_db(self, cluster: Cluster, down: float) -> None:
        self.note("database: stopping (pg_ctl stop -m fast)")
        await asyncio.to_thread(cluster.stop)
        await asyncio.sleep(down)
        await asyncio.to_thread(cluster.start)
        self.note(f"database: started again after {down:.0f} s down")
        await self.check_alerts()

    async def check_alerts(self) -> None:
        """A healthy engine stops failing once the database is back; a wedged one is restarted
        (as an operator would) so the rest of the soak still has notifications to count."""
        log = SOAK / "logs" / "alerts.log"
        await asyncio.sleep(45)
        offset = log.stat().st_size
        await asyncio.sleep(15)
        with log.open("rb") as f:
            f.seek(offset)
            failed = f.read().count(b"evaluation cycle failed")
        if not failed:
            self.note("alerts: evaluating again after the database restart")
            return
        self.note(f"ANOMALY alerts wedged: {failed} failed evaluation cycles in the 15 s ending "
                  "60 s after the database came back; restarting ioc alerts")
        self.children.term(self.alerts)
        self.alerts = f"alerts#{int(self.alerts.split('#')[1]) + 1}"
        self.children.start(self.alerts, [*IOC, "alerts"])

    async def drain_spool(self, limit: float = 120) -> None:
        """Before the final stop: wait (bounded) until the spool has been replayed."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            c = await asyncio.to_thread(self.scrape_life)
            if not c.get("ioc_collector_spool_bytes", 0):
                return
            await asyncio.sleep(2)
        self.note("spool not empty at the final stop (see the collector's spool figures)")

    async def kill_collector(self) -> None:
        c = await asyncio.to_thread(self.scrape_life)  # the last count before the kill
        self.children.kill9(self.lives[-1].name)
        self.lives[-1].end, self.lives[-1].killed = now_utc(), True
        self.note(f"collector killed (SIGKILL) right after a scrape: spool "
                  f"{c.get('ioc_collector_spool_bytes', 0):.0f} B")
        await asyncio.sleep(20)
        self.start_collector()

    async def run(self, cluster: Cluster) -> None:
        d = self.duration
        outage = min(240.0, 0.2 * d)
        plan: list[tuple[float, Callable[[], Awaitable[None]]]] = [
            (0.05, lambda: self.fault("portal", outage)),
            (0.25, lambda: self.restart_db(cluster, 30)),
            (0.30, lambda: self.fault("payments", outage)), (0.45, self.kill_collector),
            (0.60, lambda: self.restart_db(cluster, 30)),
            (0.70, lambda: self.fault("documents", outage))]
        for at, step in plan:
            await asyncio.sleep(max(0.0, self.t0 + at * d - time.monotonic()))
            await step()
        await asyncio.sleep(max(0.0, self.t0 + d - time.monotonic()))


async def soak(duration: float, cluster: Cluster, children: Children) -> dict[str, Any]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", HOOK_PORT).start()
    run = Soak(duration, children, receiver, t0=time.monotonic())
    try:
        children.start("sim", [*IOC, "sim", "--host", "127.0.0.1", "--port-base",
                               str(SIM_BASE)])
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{SIM_BASE + 1}/health", 120)
        run.note("sim up")
        run.start_collector()
        children.start(run.alerts, [*IOC, "alerts"])
        run.t0 = time.monotonic()
        sampler = asyncio.create_task(run.sampler())
        try:
            await run.run(cluster)
        finally:
            sampler.cancel()
        await run.drain_spool()
        await asyncio.to_thread(run.scrape_life)  # the last count before the final stop
        rc = children.term(run.lives[-1].name)
        run.lives[-1].end = now_utc()
        run.note(f"collector stopped (SIGTERM), exit {rc}")
        await asyncio.sleep(5)  # let the outbox send what the last cycles queued
        run.note(f"alerts stopped (SIGTERM), exit {children.term(run.alerts)}")
    finally:
        await runner.cleanup()
    return report(run, cluster.url)


# --- figures -------------------------------------------------------------------------------

_RESULTS = """
SELECT t.kind, count(*) AS stored,
       count(*) FILTER (WHERE r.time + coalesce(r.duration_ms, 0) * interval '1 ms' <= %(before)s)
         AS done_before,
       count(*) FILTER (WHERE r.time + coalesce(r.duration_ms, 0) * interval '1 ms' <= %(after)s)
         AS done_after
  FROM probe_results r JOIN targets t ON t.id = r.target_id
 WHERE r.time >= %(start)s AND r.time < %(end)s GROUP BY t.kind
"""
_SAMPLES_IN = ("SELECT count(*) FROM samples s JOIN series x ON x.id = s.series_id"
               " WHERE s.time >= %(start)s AND s.time < %(end)s")
_NO_SAMPLES = """
SELECT t.kind, count(*) AS ok_results,
       count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM samples s JOIN series x
                        ON x.id = s.series_id WHERE x.target_id = r.target_id
                        AND s.time = r.time)) AS without_samples
  FROM probe_results r JOIN targets t ON t.id = r.target_id
 WHERE r.ok AND t.kind IN ('json', 'prometheus') GROUP BY t.kind
"""


def life_figures(conn: psycopg.Connection[Any], life: Life) -> dict[str, Any]:
    assert life.last is not None and life.end is not None
    before, after, c = life.last
    span = {"start": life.start, "end": life.end + timedelta(seconds=1), "before": before,
            "after": after}
    rows = {r[0]: r[1:] for r in conn.execute(_RESULTS, span).fetchall()}
    samples = conn.execute(_SAMPLES_IN, span).fetchone()[0]  # type: ignore[index]
    counted = probes(c, STRICT_KINDS)
    done_before = sum(rows.get(k, (0, 0, 0))[1] for k in STRICT_KINDS)
    done_after = sum(rows.get(k, (0, 0, 0))[2] for k in STRICT_KINDS)
    stored_rows = sum(v[0] for v in rows.values()) + samples
    written = int(c.get("ioc_collector_rows_written_total", 0))
    return {
        "process": life.name, "from": life.start.isoformat(timespec="seconds"),
        "to": life.end.isoformat(timespec="seconds"),
        "collections_counted_at_last_scrape": counted,
        "results_stored_done_by_that_scrape": [done_before, done_after],
        "results_lost": max(0, counted - done_after),
        "results_stored_in_window": {k: v[0] for k, v in rows.items()},
        "records_collections_counted": probes(c, ("records",)),
        "rows_written_counter_at_last_scrape": written,
        "rows_stored_in_window_results_plus_samples": stored_rows,
        "rows_counted_written_but_not_stored": max(0, written - stored_rows),
        "spool": {k.removeprefix("ioc_collector_"): v for k, v in c.items()
                  if "spool" in k or "rejected" in k},
    }


def memory(children: Children, duration: float) -> dict[str, Any]:
    warm = min(300.0, 0.1 * duration)
    out = {}
    for name, points in children.rss.items():
        if not points:
            continue
        later = [(t, kb) for t, kb in points if t - children.started[name] >= warm]
        slope = (statistics.linear_regression([t for t, _ in later], [kb for _, kb in later]).slope
                 if len(later) >= 3 else None)
        out[name] = {"samples": len(points), "start_mib": round(points[0][1] / 1024, 1),
                     "after_warmup_mib": round(later[0][1] / 1024, 1) if later else None,
                     "peak_mib": round(max(kb for _, kb in points) / 1024, 1),
                     "end_mib": round(points[-1][1] / 1024, 1),
                     "growth_mib_per_hour_after_warmup":
                         None if slope is None else round(slope * 3600 / 1024, 1)}
    return out


def notifications(conn: psycopg.Connection[Any], receiver: Receiver) -> dict[str, Any]:
    transitions = dict(conn.execute("SELECT to_state, count(*) FROM alert_transitions"
                                    " GROUP BY 1").fetchall())
    states = dict(conn.execute("SELECT state, count(*) FROM notifications GROUP BY 1").fetchall())
    sent = {r[0] for r in conn.execute("SELECT idempotency_key FROM notifications"
                                       " WHERE state = 'sent'").fetchall()}
    dups = {k: n for k, n in receiver.deliveries.items() if n > 1}
    timeline = [f"{r[0]:%H:%M:%S} {r[1]} {r[2]} {r[3]}->{r[4]}" for r in conn.execute(
        "SELECT at, rule_id, coalesce(labels->>'target', labels->>'system', labels::text),"
        " from_state, to_state FROM alert_transitions ORDER BY at, id LIMIT 60").fetchall()]
    return {"transitions_by_state": transitions, "outbox_by_state": states,
            "deliveries": sum(receiver.deliveries.values()),
            "distinct_keys_received": len(receiver.deliveries),
            "duplicate_keys": len(dups), "duplicate_detail": dups,
            "events_in_more_than_one_message": {k: n for k, n in receiver.event_keys.items()
                                                if n > 1},
            "events_received_by_status": dict(receiver.events),
            "sent_but_not_received": sorted(sent - set(receiver.deliveries)),
            "received_but_not_marked_sent": sorted(set(receiver.deliveries) - sent),
            "transition_timeline": timeline}


def log_errors() -> dict[str, int]:
    found: dict[str, int] = {}
    for name in ("collector", "alerts", "sim"):  # counts over every life of each
        path = SOAK / "logs" / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        found[name] = sum(1 for line in text.splitlines()
                          if re.search(r"\b(ERROR|Traceback|CRITICAL)\b", line))
    return found


def report(run: Soak, url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        lives = [life_figures(conn, life) for life in run.lives]
        no_samples = {r[0]: {"ok_results": r[1], "without_samples": r[2]}
                      for r in conn.execute(_NO_SAMPLES).fetchall()}
        notes = notifications(conn, run.receiver)
    policy = {f.name: getattr(CollectOptions(), f.name) for f in fields(CollectOptions)
              if f.name in ("flush_rows", "flush_age_s", "spool_max_bytes")}
    return {
        "duration_s": run.duration, "events": [f"{a} {b}" for a, b in run.log],
        "flush_policy": {**policy, "note": "a batch is written when it reaches flush_rows or "
                         "is flush_age_s old; on a database error it goes to the on-disk spool "
                         "(fsynced segments) and is replayed in order when the database is back"},
        "memory": memory(run.children, run.duration),
        "collector_lives": lives,
        "results_lost_at_the_kill_allowed": sum(x["results_lost"] for x, life
                                                in zip(lives, run.lives, strict=True)
                                                if life.killed),
        "results_lost_otherwise_must_be_0": sum(x["results_lost"] for x, life
                                                in zip(lives, run.lives, strict=True)
                                                if not life.killed),
        "ok_scrapes_without_samples": no_samples,
        "notifications": notes, "log_error_lines": log_errors(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3600.0, help="seconds (3600)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    (SOAK / "logs").mkdir(parents=True, exist_ok=True)
    for old in (SOAK / "logs").glob("*.log"):
        old.unlink()
    cluster = Cluster()
    cluster.create()
    state = SOAK / "state"
    shutil.rmtree(state, ignore_errors=True)
    env = {**os.environ, "IOC_DATABASE_URL": cluster.url, "IOC_CONFIG_DIR": str(SOAK / "config"),
           "IOC_STATE_DIR": str(state),
           **{f"IOC_SIM_{s.upper()}_URL": f"http://127.0.0.1:{SIM_BASE + i}"
              for i, s in enumerate(("portal", "payments", "documents"), 1)}}
    derive_config(SOAK / "config", f"http://127.0.0.1:{HOOK_PORT}/hooks/ioc")
    children = Children(env)
    try:
        subprocess.run([*IOC, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*IOC, "config", "check", str(SOAK / "config")], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        result = asyncio.run(soak(args.duration, cluster, children))
        print(json.dumps({"command": COMMAND, **result}, ensure_ascii=False, indent=2))
    finally:
        children.stop_all()
        cluster.stop()


if __name__ == "__main__":
    main()
