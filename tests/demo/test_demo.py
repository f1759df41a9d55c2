"""`ioc demo` brings the whole centre up on a fresh database and announces a working wall."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from ioc import db


def _free_block(n: int) -> int:
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
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no block of free ports")


def test_demo_starts_everything_and_exits_cleanly(fresh_db_url: str, tmp_path: Path) -> None:
    base = _free_block(5)
    env = {**os.environ, "IOC_DATABASE_URL": fresh_db_url, "IOC_STATE_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "ioc.cli", "demo", "--exit-when-live", "--backfill-days", "1",
         "--sim-port-base", str(base), "--port", str(base + 4)],
        env=env, capture_output=True, text=True, timeout=240, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"http://127.0.0.1:{base + 4}/wall#token=ioc_" in out.stdout
    assert "[6/6] live in" in out.stdout
    assert "password" not in out.stdout.replace("password=***", "")
    with db.connect(fresh_db_url) as conn:
        history = conn.execute(
            "SELECT count(*) FROM probe_results WHERE collector = 'history'").fetchone()
        pushed = conn.execute(
            "SELECT count(*) FROM probe_results WHERE target_id = 'documents-push' AND ok"
        ).fetchone()
        tokens = conn.execute(
            "SELECT name, role FROM api_tokens WHERE revoked_at IS NULL ORDER BY name").fetchall()
    assert history is not None and history[0] > 10_000  # a day of the example's probes
    assert pushed == (1,)
    assert tokens == [("demo-wall", "viewer"), ("documents-push", "ingest")]
    # every child was stopped: nothing listens on the demo's ports any more
    for port in range(base, base + 5):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0
