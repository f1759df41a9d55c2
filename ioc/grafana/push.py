"""`ioc grafana push`: folder, data source, dashboards and playlist into a running Grafana.

For a Grafana that is not provisioned from files. Uses grafana-client; every call is one of
Grafana's documented HTTP API endpoints, and an object with our fixed uid is created or updated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from ioc.grafana.model import (
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    FOLDER_TITLE,
    FOLDER_UID,
    Json,
)

DATASOURCE_NAME = "IOC TimescaleDB"
PLAYLIST_UID = "ioc-wall"
PLAYLIST_NAME = "IOC - Màn hình tường"


class PushError(RuntimeError):
    """Grafana refused a step; the message names the step and Grafana's answer (no secrets)."""


@dataclass(frozen=True)
class DatabaseAccess:
    """How Grafana reaches TimescaleDB (as the read-only role)."""

    address: str  # host:port as seen from Grafana
    database: str
    user: str
    password: str
    sslmode: str = "disable"

    def __repr__(self) -> str:  # the password never appears in logs or tracebacks
        return f"DatabaseAccess({self.address!r}, {self.database!r}, {self.user!r}, ***)"


def datasource_model(db: DatabaseAccess) -> Json:
    """The data source as the API takes it: the same settings as the provisioning file."""
    return {
        "uid": DATASOURCE_UID, "name": DATASOURCE_NAME, "type": DATASOURCE_TYPE,
        "access": "proxy", "url": db.address, "user": db.user, "isDefault": True,
        "jsonData": {"database": db.database, "sslmode": db.sslmode, "postgresVersion": 1500,
                     "timescaledb": True, "timeInterval": "1m", "maxOpenConns": 10},
        "secureJsonData": {"password": db.password},
    }


def playlist_model(uids: Sequence[str], interval: str = "1m") -> Json:
    """A playlist cycling the wall screens."""
    return {"uid": PLAYLIST_UID, "name": PLAYLIST_NAME, "interval": interval,
            "items": [{"type": "dashboard_by_uid", "value": uid} for uid in uids]}


def _missing(exc: GrafanaClientError) -> bool:
    return exc.status_code == 404


def _step(name: str, exc: GrafanaException) -> PushError:
    return PushError(f"{name}: Grafana answered {exc.status_code}: {exc.message}")


class Pusher:
    """Pushes everything through one GrafanaApi (a constructor seam: any URL, any auth)."""

    def __init__(self, api: GrafanaApi) -> None:
        self.api = api
        self.done: list[str] = []

    def folder(self) -> None:
        try:
            self.api.folder.get_folder(FOLDER_UID)
            self.done.append(f"folder {FOLDER_UID} exists")
        except GrafanaClientError as exc:
            if not _missing(exc):
                raise _step("folder", exc) from None
            self.api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
            self.done.append(f"folder {FOLDER_UID} created")

    def datasource(self, db: DatabaseAccess) -> None:
        model = datasource_model(db)
        try:
            self.api.datasource.get_datasource_by_uid(DATASOURCE_UID)
        except GrafanaClientError as exc:
            if not _missing(exc):
                raise _step("data source", exc) from None
            self.api.datasource.create_datasource(model)
            self.done.append(f"data source {DATASOURCE_UID} created")
            return
        self.api.datasource.update_datasource_by_uid(DATASOURCE_UID, model)
        self.done.append(f"data source {DATASOURCE_UID} updated")

    def dashboards(self, models: Sequence[Json]) -> None:
        for model in models:
            body = {"dashboard": {**model, "id": None}, "folderUid": FOLDER_UID,
                    "overwrite": True, "message": "ioc grafana push"}
            self.api.dashboard.update_dashboard(body)
            self.done.append(f"dashboard {model['uid']} saved")

    def playlist(self, uids: Sequence[str]) -> None:
        model = playlist_model(uids)
        try:
            self.api.client.GET(f"/playlists/{PLAYLIST_UID}")
        except GrafanaClientError as exc:
            if not _missing(exc):
                raise _step("playlist", exc) from None
            self.api.client.POST("/playlists", json=model)
            self.done.append(f"playlist {PLAYLIST_UID} created")
            return
        self.api.client.PUT(f"/playlists/{PLAYLIST_UID}", json=model)
        self.done.append(f"playlist {PLAYLIST_UID} updated")

    def health(self) -> str:
        """Grafana's own check that the data source can reach the database."""
        try:
            answer: Any = self.api.datasource.health(DATASOURCE_UID)
        except GrafanaException as exc:
            raise _step("data source health", exc) from None
        status = str(answer.get("status", "")) if isinstance(answer, dict) else ""
        message = str(answer.get("message", "")) if isinstance(answer, dict) else str(answer)
        if status.upper() != "OK":
            raise PushError(f"data source health: {status or 'no status'}: {message}")
        self.done.append(f"data source health OK: {message}")
        return message


def push(api: GrafanaApi, db: DatabaseAccess, dashboards: Sequence[Json],
         playlist: Sequence[str]) -> list[str]:
    """Folder, data source, dashboards, playlist, then the health check; returns what was done."""
    pusher = Pusher(api)
    steps = (("folder", pusher.folder), ("data source", lambda: pusher.datasource(db)),
             ("dashboards", lambda: pusher.dashboards(dashboards)),
             ("playlist", lambda: pusher.playlist(playlist)))
    for name, step in steps:
        try:
            step()
        except GrafanaException as exc:
            raise _step(name, exc) from None
    pusher.health()
    return pusher.done
