"""A highly available PostgreSQL on one machine: etcd and N PostgreSQL nodes under Patroni.

This runs the production engines (Debian's `patroni` and `etcd-server`), not a copy of them:
Patroni keeps one primary, promotes a synchronous standby when the primary is lost
(`synchronous_mode`, so a commit the primary acknowledged is on the standby too) and rejoins an
old primary as a replica with `pg_rewind`. Every node listens on 127.0.0.1 and its own port;
clients follow the primary with a multi-host libpq URL (`target_session_attrs=read-write`).

Used by `scripts/ha` (the demo on the highly available database) and by tests/ha. The layout
for three machines is in README "High availability".

    python -m ioc.ha up --dir .ioc/ha        # start (or restart) it, print the URL, keep running
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg.conninfo import make_conninfo

SCOPE = "ioc"
SUPERUSER = "ioc"
REPLICATOR = "replicator"
BACKREST = "/usr/bin/pgbackrest"
PG_BIN = Path(os.environ.get("IOC_PG_BIN", "/usr/lib/postgresql/15/bin"))


class HaError(RuntimeError):
    """The cluster could not be started or did not reach the expected state in time."""


def _run_as() -> dict[str, Any]:
    """Popen arguments that run a child as `postgres` when we are root (PostgreSQL refuses
    root); a non-root caller runs everything as itself."""
    return {"user": "postgres", "group": "postgres", "extra_groups": []} if os.geteuid() == 0 \
        else {}


def _clean_env() -> dict[str, str]:
    # The servers keep real time even when a test run fakes the clock.
    return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}


class HaCluster:
    """etcd plus `nodes` Patroni-managed PostgreSQL nodes under `root`, on loopback ports:
    PostgreSQL on `pg_port + i`, Patroni's REST API on `api_port + i`, etcd clients on
    `etcd_port` (peers on `etcd_port + 1`). Passwords are generated once and kept in
    `root/secrets.json` (mode 0600)."""

    def __init__(self, root: Path, *, nodes: int = 2, pg_port: int = 56000,
                 api_port: int = 56050, etcd_port: int = 23790,
                 parameters: dict[str, Any] | None = None, ttl: int = 10) -> None:
        if nodes < 2:
            raise HaError("a highly available cluster needs at least 2 nodes")
        self.root = root.resolve()
        self.nodes = nodes
        self.pg_port = pg_port
        self.api_port = api_port
        self.etcd_port = etcd_port
        self.parameters = parameters or {}
        self.ttl = ttl
        self.etcd: subprocess.Popen[bytes] | None = None
        self.patroni: dict[int, subprocess.Popen[bytes]] = {}

    # ------------------------------------------------------------------ configuration
    def _secrets(self) -> dict[str, str]:
        path = self.root / "secrets.json"
        if path.exists():
            return dict(json.loads(path.read_text()))
        values = {"superuser": secrets.token_urlsafe(18), "replication": secrets.token_urlsafe(18)}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(values, f)
        return values

    def node_dir(self, i: int) -> Path:
        return self.root / f"node{i}"

    def node_config(self, i: int) -> dict[str, Any]:
        """Patroni's YAML for node `i` (as a dict)."""
        pw = self._secrets()
        d = self.node_dir(i)
        parameters = {
            "listen_addresses": "127.0.0.1", "unix_socket_directories": str(d),
            "shared_preload_libraries": "timescaledb", "timescaledb.telemetry_level": "off",
            "wal_log_hints": "on", "max_connections": 200, "max_wal_senders": 10,
            "max_replication_slots": 10, "wal_keep_size": "256MB", "hot_standby": "on",
            "log_min_messages": "warning", **self.parameters,
        }
        return {
            "scope": SCOPE, "namespace": "/ioc-ha/", "name": f"node{i}",
            "log": {"level": "WARNING", "dir": str(d), "file_num": 2},
            "restapi": {"listen": f"127.0.0.1:{self.api_port + i}",
                        "connect_address": f"127.0.0.1:{self.api_port + i}"},
            "etcd3": {"hosts": [f"127.0.0.1:{self.etcd_port}"]},
            "bootstrap": {
                "dcs": {
                    # A lost primary's leader key expires after ttl; a standby takes over then.
                    "ttl": self.ttl, "loop_wait": 1, "retry_timeout": max(2, self.ttl // 3),
                    "maximum_lag_on_failover": 16 * 1024 * 1024,
                    "synchronous_mode": True,
                    "postgresql": {"use_pg_rewind": True, "use_slots": True,
                                   "parameters": {k: v for k, v in parameters.items()
                                                  if k in ("wal_log_hints", "max_connections",
                                                           "max_wal_senders",
                                                           "max_replication_slots",
                                                           "wal_keep_size", "hot_standby")}},
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, "data-checksums"],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{self.pg_port + i}",
                "connect_address": f"127.0.0.1:{self.pg_port + i}",
                "data_dir": str(d / "data"), "bin_dir": str(PG_BIN),
                "pgpass": str(d / "pgpass"),
                "authentication": {
                    "superuser": {"username": SUPERUSER, "password": pw["superuser"]},
                    "replication": {"username": REPLICATOR, "password": pw["replication"]},
                },
                "pg_hba": [f"local all {SUPERUSER} scram-sha-256", "local all all peer",
                           f"host replication {REPLICATOR} 127.0.0.1/32 scram-sha-256",
                           "host all all 127.0.0.1/32 scram-sha-256"],
                "parameters": parameters,
            },
            "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False},
        }

    def write_configs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._secrets()
        for i in range(self.nodes):
            d = self.node_dir(i)
            d.mkdir(exist_ok=True)
            (d / "patroni.yml").write_text(yaml.safe_dump(self.node_config(i), sort_keys=False))
            os.chmod(d / "patroni.yml", 0o600)
        (self.root / "etcd").mkdir(exist_ok=True)
        if os.geteuid() == 0:
            for path in [self.root, *self.root.rglob("*")]:
                if not path.name.endswith(".log"):
                    shutil.chown(path, "postgres", "postgres")

    # ------------------------------------------------------------------ processes
    def _spawn(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=self.root,
                                    env=_clean_env(), start_new_session=True, **_run_as())

    def start(self, timeout: float = 120) -> None:
        """Start etcd and every node; return when there is a primary and the `ioc` database
        (with TimescaleDB) exists."""
        self.write_configs()
        self.start_etcd()
        for i in range(self.nodes):
            self.start_node(i)
        self.wait_primary(timeout)
        self._create_database()
        self.wait_replicas(self.nodes - 1, timeout)

    def start_etcd(self) -> None:
        peer = f"http://127.0.0.1:{self.etcd_port + 1}"
        client = f"http://127.0.0.1:{self.etcd_port}"
        self.etcd = self._spawn(
            ["etcd", "--name", "ha", "--data-dir", str(self.root / "etcd" / "data"),
             "--listen-client-urls", client, "--advertise-client-urls", client,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"ha={peer}", "--initial-cluster-state", "new",
             "--log-level", "warn"],
            self.root / "etcd" / "etcd.log")
        deadline = time.monotonic() + 30
        while not self._http(f"{client}/health"):
            if self.etcd.poll() is not None or time.monotonic() > deadline:
                raise HaError(f"etcd did not start; see {self.root / 'etcd' / 'etcd.log'}")
            time.sleep(0.2)

    def start_node(self, i: int) -> None:
        """Start node `i`'s Patroni (which starts, or rewinds and rejoins, its PostgreSQL)."""
        d = self.node_dir(i)
        self.patroni[i] = self._spawn(["patroni", str(d / "patroni.yml")], d / "patroni.out")

    def kill_node(self, i: int) -> None:
        """The machine is lost: kill -9 node `i`'s Patroni, its postmaster and every backend."""
        pids = []
        proc = self.patroni.pop(i, None)
        if proc is not None:
            pids.append(proc.pid)
        pidfile = self.node_dir(i) / "data" / "postmaster.pid"
        if pidfile.exists():
            postmaster = int(pidfile.read_text().split()[0])
            pids += [postmaster, *_children(postmaster)]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc is not None:
            proc.wait()

    def stop(self, timeout: float = 60) -> None:
        """Stop every node (Patroni stops its PostgreSQL cleanly) and then etcd."""
        for proc in self.patroni.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for i, proc in list(self.patroni.items()):
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill_node(i)
        self.patroni.clear()
        for i in range(self.nodes):  # a postmaster left behind by a killed Patroni
            pidfile = self.node_dir(i) / "data" / "postmaster.pid"
            if pidfile.exists():
                try:
                    os.kill(int(pidfile.read_text().split()[0]), signal.SIGQUIT)
                except (ProcessLookupError, ValueError):
                    pass
        if self.etcd is not None and self.etcd.poll() is None:
            self.etcd.terminate()
            try:
                self.etcd.wait(timeout)
            except subprocess.TimeoutExpired:
                self.etcd.kill()
                self.etcd.wait()
        self.etcd = None

    # ------------------------------------------------------------------ state
    def _http(self, url: str) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 (our http URLs)
                body = r.read()
        except urllib.error.HTTPError as exc:  # Patroni answers 503 with its state too
            body = exc.read()
        except (OSError, ValueError):
            return None
        try:
            return dict(json.loads(body or b"{}"))
        except ValueError:
            return {}

    def status(self, i: int) -> dict[str, Any] | None:
        """Node `i`'s state from its Patroni REST API (None when it does not answer)."""
        return self._http(f"http://127.0.0.1:{self.api_port + i}/patroni")

    def primary(self) -> int | None:
        """The node that is a running primary now, if any."""
        for i in range(self.nodes):
            st = self.status(i)
            if st and st.get("role") in ("master", "primary") and st.get("state") == "running":
                return i
        return None

    def wait_primary(self, timeout: float = 60, *, other_than: int | None = None) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            i = self.primary()
            if i is not None and i != other_than:
                return i
            time.sleep(0.2)
        raise HaError(f"no primary within {timeout:.0f}s; logs under {self.root}/node*\n"
                      + self.log_tails())

    def replicas(self) -> list[dict[str, Any]]:
        """Streaming replicas as the primary's Patroni sees them (with sync_state)."""
        i = self.primary()
        if i is None:
            return []
        st = self._http(f"http://127.0.0.1:{self.api_port + i}/patroni") or {}
        return list(st.get("replication") or [])

    def sync_standby(self) -> str | None:
        """The member etcd names as synchronous standby: the only one Patroni will promote
        in synchronous mode (streaming in sync is not enough until it is recorded there)."""
        for i in range(self.nodes):
            found = self._http(f"http://127.0.0.1:{self.api_port + i}/cluster")
            if found and "members" in found:
                return next((m["name"] for m in found["members"]
                             if m.get("role") == "sync_standby"), None)
        return None

    def wait_replicas(self, count: int, timeout: float = 60, *, sync: bool = True) -> None:
        """Until `count` replicas stream and, when `sync`, one of them is the recorded
        synchronous standby (so the primary may be lost now without losing a commit)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reps = [r for r in self.replicas() if r.get("state") == "streaming"]
            if len(reps) >= count and (not sync or self.sync_standby() is not None):
                return
            time.sleep(0.3)
        raise HaError(f"{count} streaming replica(s) not there within {timeout:.0f}s: "
                      f"{self.replicas()}\n" + self.log_tails())

    def log_tails(self, lines: int = 15) -> str:
        """The last lines of every node's Patroni and PostgreSQL output (for errors)."""
        out = []
        for i in range(self.nodes):
            for name in ("patroni.log", "patroni.out"):
                path = self.node_dir(i) / name
                if path.exists():
                    tail = path.read_text(errors="replace").splitlines()[-lines:]
                    out.append(f"--- node{i}/{name}\n" + "\n".join(tail))
        return "\n".join(out)

    # ------------------------------------------------------------------ clients
    def url(self, dbname: str = "ioc", *, attrs: str = "read-write") -> str:
        """The multi-host URL every process uses: libpq tries each node and keeps the one that
        matches `attrs` (read-write: the primary; prefer-standby: a replica when one is up)."""
        hosts = ",".join(f"127.0.0.1:{self.pg_port + i}" for i in range(self.nodes))
        pw = self._secrets()["superuser"]
        return (f"postgresql://{SUPERUSER}:{pw}@{hosts}/{dbname}"
                f"?target_session_attrs={attrs}&connect_timeout=3")

    def node_url(self, i: int, dbname: str = "ioc") -> str:
        return make_conninfo(host="127.0.0.1", port=str(self.pg_port + i), dbname=dbname,
                             user=SUPERUSER, password=self._secrets()["superuser"])

    def _create_database(self) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT FROM pg_database WHERE datname = 'ioc'").fetchone():
                try:
                    conn.execute("CREATE DATABASE ioc")
                except psycopg.errors.DuplicateDatabase:
                    pass
        with psycopg.connect(self.url("ioc"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (a postmaster's backends)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def backup_drill(root: Path, *, pg_port: int, api_port: int, etcd_port: int) -> str:
    """Back up a running cluster with pgBackRest, write more rows, restore the backup and the
    archived WAL into an empty data directory, start it and count: the report line, or
    HaError when a row is missing."""
    root = root.resolve()
    if root.exists() and any(root.iterdir()):
        raise HaError(f"{root} is not empty: the drill starts from nothing")
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "pgbackrest.conf"
    cluster = HaCluster(root / "cluster", pg_port=pg_port, api_port=api_port,
                        etcd_port=etcd_port, parameters={
                            "archive_mode": "on",
                            # run by the shell in the node's data directory
                            "archive_command": f"pgbackrest --config={conf} --stanza=ioc "
                                               '--pg1-path="$PWD" archive-push %p'})
    restored = root / "restored"
    try:
        cluster.write_configs()
        conf.write_text(
            f"[global]\nrepo1-path={root / 'repo'}\nrepo1-retention-full=2\n"
            f"log-path={root / 'log'}\nlock-path={root / 'lock'}\nstart-fast=y\n"
            "log-level-console=warn\n")
        for d in ("repo", "log", "lock"):
            (root / d).mkdir(exist_ok=True)
        if os.geteuid() == 0:
            for path in [root, conf, root / "repo", root / "log", root / "lock"]:
                shutil.chown(path, "postgres", "postgres")
        cluster.start()
        primary = cluster.wait_primary()
        env = {**_clean_env(), "PGPASSWORD": cluster._secrets()["superuser"]}

        def backrest(*args: str) -> None:
            node = cluster.node_dir(primary)
            stanza = [f"--config={conf}", "--stanza=ioc", f"--pg1-path={node}/data",
                      f"--pg1-port={cluster.pg_port + primary}", f"--pg1-socket-path={node}",
                      f"--pg1-user={SUPERUSER}"]
            done = subprocess.run([BACKREST, *stanza, *args], capture_output=True,
                                  env=env, timeout=600, **_run_as())
            if done.returncode != 0:
                raise HaError(f"pgbackrest {args[-1]} failed: "
                              f"{(done.stdout + done.stderr).decode(errors='replace')[-2000:]}")

        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE TABLE drill (n int PRIMARY KEY, at timestamptz DEFAULT now())")
            conn.execute("INSERT INTO drill (n) SELECT generate_series(1, 1000)")
        backrest("stanza-create")
        backrest("--type=full", "backup")
        with psycopg.connect(cluster.url(), autocommit=True) as conn:  # after the backup
            conn.execute("INSERT INTO drill (n) SELECT generate_series(1001, 1500)")
            expected = conn.execute("SELECT count(*) FROM drill").fetchone()
        backrest("check")  # switches the WAL segment and waits until it is archived
        cluster.stop()
        restored.mkdir(mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(restored, "postgres", "postgres")
        subprocess.run([BACKREST, f"--config={conf}", "--stanza=ioc",
                        f"--pg1-path={restored}", "restore"], check=True, capture_output=True,
                       env=env, timeout=600, **_run_as())
        port = cluster.pg_port + cluster.nodes
        start = subprocess.run(
            [str(PG_BIN / "pg_ctl"), "-D", str(restored), "-l", str(root / "restored.log"),
             "-w", "-t", "120", "-o",
             f"-p {port} -c unix_socket_directories={restored} -c archive_mode=off "
             f"-c hba_file={restored}/pg_hba.conf -c ident_file={restored}/pg_ident.conf",
             "start"], capture_output=True, env=env, timeout=180, **_run_as())
        if start.returncode != 0:
            raise HaError(f"the restored server did not start: {start.stdout.decode()[-500:]}"
                          f"{(root / 'restored.log').read_text(errors='replace')[-1500:]}")
        url = make_conninfo(host="127.0.0.1", port=str(port), dbname="ioc", user=SUPERUSER,
                            password=cluster._secrets()["superuser"])
        deadline = time.monotonic() + 60
        while True:  # until recovery has replayed the archive and the server is promoted
            with psycopg.connect(url, autocommit=True) as conn:
                if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:  # type: ignore[index]
                    got = conn.execute("SELECT count(*) FROM drill").fetchone()
                    break
            if time.monotonic() > deadline:
                raise HaError("the restored server stayed in recovery")
            time.sleep(0.5)
        if got != expected:
            raise HaError(f"restored {got} rows, expected {expected}")
        return (f"pgBackRest: full backup of 1000 rows, 500 more archived as WAL, restored into "
                f"an empty directory and recovered: {got[0] if got else 0} rows, as expected")
    finally:
        cluster.stop()
        if (restored / "postmaster.pid").exists():
            subprocess.run([str(PG_BIN / "pg_ctl"), "-D", str(restored), "-m", "immediate",
                            "stop"], capture_output=True, timeout=60, **_run_as())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ioc.ha", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["up", "backup-drill"],
                        help="up: start and keep running until Ctrl-C; backup-drill: back up "
                        "a fresh cluster with pgBackRest, restore it and check the rows")
    parser.add_argument("--dir", type=Path, default=Path(".ioc/ha"))
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("IOC_HA_PG_PORT",
                                                                          56000)))
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("IOC_HA_API_PORT",
                                                                           56050)))
    parser.add_argument("--etcd-port", type=int, default=int(os.environ.get("IOC_HA_ETCD_PORT",
                                                                            23790)))
    parser.add_argument("--url-file", type=Path, help="write the multi-host URL here (0600)")
    args = parser.parse_args(argv)
    if args.command == "backup-drill":
        try:
            print(backup_drill(args.dir, pg_port=args.pg_port, api_port=args.api_port,
                               etcd_port=args.etcd_port))
        except (HaError, subprocess.CalledProcessError, psycopg.Error) as exc:
            print(f"[ha] backup drill failed: {exc}", file=sys.stderr)
            return 1
        return 0
    cluster = HaCluster(args.dir, nodes=args.nodes, pg_port=args.pg_port,
                        api_port=args.api_port, etcd_port=args.etcd_port)
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        cluster.start()
        url = cluster.url()
        if args.url_file:
            fd = os.open(args.url_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(url + "\n")
        print(f"[ha] primary: node{cluster.primary()}; {cluster.nodes} nodes, synchronous "
              f"replication; data and logs in {cluster.root}", flush=True)
        while not stop:
            time.sleep(0.5)
    except HaError as exc:
        print(f"[ha] error: {exc}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
