"""Running `ioc demo` in tests: free ports, its environment, its children, its output."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# the user's own notification servers would change what the demo starts
OWN_SERVERS = ("IOC_WEBHOOK_URL", "IOC_SMTP_HOST", "IOC_SMTP_PORT", "IOC_WEBHOOK_SECRET")


def free_block(n: int) -> int:
    """The first port of n consecutive free loopback ports."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n >= 65535:
            continue
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return int(base)
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no block of free ports")


def demo_ports(base: int) -> list[int]:
    """Simulator (4), API, inbox page and webhook, inbox SMTP."""
    return [*range(base, base + 5), base + 10, base + 11]


def listening(ports: list[int]) -> list[int]:
    """The ports something still accepts connections on."""
    found = []
    for port in ports:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                found.append(port)
    return found


def demo_env(db_url: str, state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OWN_SERVERS}
    return {**env, "IOC_DATABASE_URL": db_url, "IOC_STATE_DIR": str(state_dir)}


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat fields after the command name, or None once the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return raw.rsplit(")", 1)[1].split()


def children_of(ppid: int) -> dict[int, str]:
    """pid -> start time (clock ticks) of the live children of a process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[1]) == ppid and fields[0] != "Z":
                found[int(entry.name)] = fields[19]
    return found


def cmdlines(pids: list[int]) -> list[str]:
    """What those processes run (for failure messages)."""
    found = []
    for pid in pids:
        try:
            found.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            pass
    return found


def alive(procs: dict[int, str]) -> list[int]:
    """Those processes still running (the same process: same start time; zombies are dead)."""
    left = []
    for pid, started in procs.items():
        fields = _stat(pid)
        if fields and fields[19] == started and fields[0] != "Z":
            left.append(pid)
    return left


@dataclass
class Demo:
    """`ioc demo` as a user starts it, on free ports, its output in a file."""

    proc: subprocess.Popen[bytes]
    base: int
    out: Path

    @classmethod
    def start(cls, db_url: str, tmp_path: Path, *extra: str) -> Demo:
        base = free_block(12)
        out = tmp_path / "demo.out"
        with out.open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ioc.cli", "demo", "--backfill-days", "0",
                 "--sim-port-base", str(base), "--port", str(base + 4), *extra],
                env=demo_env(db_url, tmp_path), stdout=sink, stderr=subprocess.STDOUT)
        return cls(proc, base, out)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.base + 4}"

    @property
    def inbox(self) -> str:
        return f"http://127.0.0.1:{self.base + 10}"

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_live(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while "[6/6] live in" not in self.output():
            assert self.proc.poll() is None, self.output()[-3000:]
            assert time.monotonic() < deadline, "the demo did not go live:\n" + self.output()
            time.sleep(0.3)

    def inbox_messages(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.inbox + "/messages.json", timeout=5) as r:
            return list(json.load(r)["messages"])

    def stop(self, sig: signal.Signals, timeout: float = 90) -> int:
        """Send sig and wait for the demo to end; its exit status."""
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """Last resort at the end of a failed test (the children follow: PDEATHSIG)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_until(predicate: Any, timeout: float, what: str, step: float = 0.5) -> Any:
    """Poll predicate() until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(step)
