"""A newcomer's first fault: the banner's outage command, the alert's e-mail and webhook in the
demo's inbox, the one-click acknowledgement link that acknowledges, then the resolution; SIGTERM
ends it all."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ioc import db
from tests.demo.support import Demo, alive, children_of, demo_ports, listening, wait_until


def _suggested_fault(banner: str) -> list[str]:
    """The banner's fault command, run with this interpreter."""
    line = next(ln for ln in banner.splitlines() if "sim fault add outage" in ln)
    argv = shlex.split(line)
    assert argv[0].endswith("ioc"), line
    return [sys.executable, "-m", "ioc.cli", *argv[1:]]


def _portal_down(messages: list[dict[str, Any]], status: str) -> dict[str, Any] | None:
    """The first system-down event of the portal with that status in an accepted webhook (the
    per-target alerts it explains are muted by inhibition: one outage, one page)."""
    for m in messages:
        for ev in m["alerts"] if m["channel"] == "webhook" and m["accepted"] else []:
            if ev["rule_id"] == "system-down" and ev["status"] == status \
                    and ev["labels"].get("system") == "portal":
                return {**ev, "hmac_ok": m["hmac_ok"]}
    return None


def _email_link(messages: list[dict[str, Any]], fingerprint: str) -> str | None:
    for m in messages:
        for url in m["ack_urls"] if m["channel"] == "email" else []:
            if f"/ack/{fingerprint}." in url:
                return str(url)
    return None


def _no_runtime_superuser(db_url: str) -> None:
    """Every connection of the running demo's collector, engine and API is its own role's
    login (ioc/db_roles.py), none a superuser."""
    with db.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT a.application_name, r.rolname, r.rolsuper, r.rolcreaterole "
            "FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid "
            "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() "
            "AND a.backend_type = 'client backend'").fetchall()  # not TimescaleDB's workers
    groups = {"ioc-collector": "ioc_collector", "ioc-alerts": "ioc_engine", "ioc-api": "ioc_api"}
    for prefix in groups:  # each process is connected (the collector's writer connects lazily)
        assert any(str(app).startswith(prefix) for app, *_ in rows), (prefix, rows)
    assert [row for row in rows if row[2] or row[3]] == []
    for app, role, _, _ in rows:
        group = next((g for prefix, g in groups.items() if str(app).startswith(prefix)), None)
        assert group is not None and str(role).startswith(group + "_"), (app, role)


def _fetch(url: str, method: str = "GET") -> tuple[int, str]:
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.read().decode()


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_suggested_fault_reaches_the_inbox_and_its_link_acknowledges(
        fresh_db_url: str, tmp_path: Path) -> None:
    demo = Demo.start(fresh_db_url, tmp_path)
    try:
        demo.wait_live()
        _no_runtime_superuser(fresh_db_url)
        banner = demo.output()
        assert f"{demo.inbox}/" in banner
        fault = _suggested_fault(banner)
        assert fault[-2:] == ["--control-url", f"http://127.0.0.1:{demo.base}"]
        subprocess.run(fault, check=True, timeout=60, capture_output=True)

        firing = wait_until(lambda: _portal_down(demo.inbox_messages(), "firing"), 180,
                            "the webhook of the portal's outage")
        assert firing["hmac_ok"] is True
        fp = firing["fingerprint"]
        assert firing["ack_url"].startswith(f"{demo.api}/api/v1/alerts/ack/{fp}.")
        link = wait_until(lambda: _email_link(demo.inbox_messages(), fp), 60,
                          "the e-mail of the portal's outage")
        status, page = _fetch(demo.inbox + "/")
        assert status == 200 and "system-down" in page and "Hợp lệ" in page

        # one click: the link shows its confirmation, its button acknowledges
        status, confirm = _fetch(link)
        assert status == 200 and '<form method="post">' in confirm
        status, done = _fetch(link, "POST")
        assert status == 200 and "Đã xác nhận cảnh báo" in done
        with db.connect(fresh_db_url) as conn:
            acked = conn.execute("SELECT acked_at IS NOT NULL, acked_by FROM alerts"
                                 " WHERE fingerprint = %s", (fp,)).fetchone()
            via = conn.execute("SELECT via FROM alert_acks WHERE fingerprint = %s",
                               (fp,)).fetchall()
            muted = conn.execute("SELECT count(*), count(*) FILTER (WHERE acked_at IS NOT NULL)"
                                 " FROM alerts WHERE inhibited_by = %s", (fp,)).fetchone()
        # the link names the person it was sent to, not "link"
        assert acked is not None and acked[0] is True and acked[1] not in (None, "", "link")
        assert via == [("link",)]
        # acknowledging the system alert covers the per-target alerts it mutes
        assert muted is not None and muted[0] >= 1 and muted[1] == muted[0], muted

        # the portal comes back (sooner than the 2 minutes: the test ends the fault)
        subprocess.run([sys.executable, "-m", "ioc.cli", "sim", "fault", "clear",
                        "--control-url", f"http://127.0.0.1:{demo.base}"],
                       check=True, timeout=60, capture_output=True)
        resolved = wait_until(lambda: _portal_down(demo.inbox_messages(), "resolved"), 180,
                              "the resolution of the portal's outage")
        assert resolved["hmac_ok"] is True and resolved.get("ack_url") is None

        children = children_of(demo.proc.pid)
        assert len(children) == 5, children
        assert demo.stop(signal.SIGTERM) == 0, demo.output()[-2000:]
        assert not alive(children)
        assert listening(demo_ports(demo.base)) == []
    finally:
        demo.kill()
