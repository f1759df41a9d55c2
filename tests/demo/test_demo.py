"""`ioc demo` brings the whole centre up on a fresh database and announces a working wall."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ioc import db, db_roles
from tests.demo.support import demo_env, demo_ports, free_block, listening


def test_demo_starts_everything_and_exits_cleanly(fresh_db_url: str, tmp_path: Path) -> None:
    base = free_block(12)
    env = demo_env(fresh_db_url, tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "ioc.cli", "demo", "--exit-when-live", "--backfill-days", "1",
         "--sim-port-base", str(base), "--port", str(base + 4)],
        env=env, capture_output=True, text=True, timeout=240, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"http://127.0.0.1:{base + 4}/wall#token=ioc_" in out.stdout
    assert "[6/6] live in" in out.stdout
    assert f"http://127.0.0.1:{base + 10}/" in out.stdout  # the notification inbox
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
    assert listening(demo_ports(base)) == []
    # the children's database logins (kept 0600 while it ran) went with them
    assert (tmp_path / "db-logins.env").stat().st_mode & 0o777 == 0o600
    with db.connect(fresh_db_url) as conn:
        names = [db_roles.login_name(g, str(conn.info.dbname))
                 for g in db_roles.PROCESS_ROLES.values()]
        left = conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                            (names,)).fetchall()
    assert left == []

