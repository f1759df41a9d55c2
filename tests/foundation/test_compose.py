"""docker-compose.yml and the Dockerfile checked statically (no Docker engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("ioc", "collectors", "alerts", "sim")


def _compose() -> dict[str, Any]:
    with (ROOT / "docker-compose.yml").open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict)
    return data


def _names_read_by_code() -> set[str]:
    names: set[str] = set()
    for d in CODE_DIRS:
        for path in (ROOT / d).rglob("*.py"):
            names.update(re.findall(r"IOC_[A-Z0-9_]+", path.read_text(encoding="utf-8")))
    for path in (ROOT / "config").rglob("*.yaml"):
        names.update(re.findall(r"\$\{(IOC_[A-Z0-9_]+)", path.read_text(encoding="utf-8")))
    for path in (ROOT / "grafana").rglob("*.yaml"):
        names.update(re.findall(r"\$__env\{(IOC_[A-Z0-9_]+)\}", path.read_text(encoding="utf-8")))
    return names


def test_compose_has_the_whole_centre() -> None:
    services = set(_compose()["services"])
    assert {"timescaledb", "grafana", "migrate", "sim", "collector", "alerts", "api"} <= services


def test_images_are_pinned_by_version() -> None:
    for name, svc in _compose()["services"].items():
        image = svc.get("image")
        assert image, f"service {name} has no image"
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and re.search(r"\d+\.\d+", tag), (name, image)


def test_environment_names_are_the_ones_the_code_reads() -> None:
    known = _names_read_by_code()
    for name, svc in _compose()["services"].items():
        env = svc.get("environment") or {}
        for key in env:
            if key.startswith("IOC_"):
                assert key in known, f"service {name} sets {key}, which nothing reads"


def test_commands_are_ioc_subcommands() -> None:
    from ioc.cli import build_parser

    parser = build_parser()
    for svc in _compose()["services"].values():
        cmd = svc.get("command")
        if cmd and cmd[0] == "ioc":
            parser.parse_args(cmd[1:])  # exits (fails the test) on an unknown command or option


def test_migrate_service_enables_the_grafana_role() -> None:
    migrate = _compose()["services"]["migrate"]
    script = " ".join(migrate["entrypoint"])
    assert "ioc db migrate" in script and "ioc grafana db-role" in script
    assert "IOC_GRAFANA_DB_PASSWORD" in migrate["environment"]


def test_mounted_paths_exist() -> None:
    for name, svc in _compose()["services"].items():
        for vol in svc.get("volumes") or []:
            src = vol.split(":")[0]
            if src.startswith("./"):
                assert (ROOT / src).exists(), f"service {name} mounts missing {src}"


def test_dockerfile_base_is_pinned_and_copies_existing_paths() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    base = re.search(r"^FROM (\S+)", text, re.M)
    assert base and re.search(r":\d+\.\d+\.\d+", base.group(1))
    for src in re.findall(r"^COPY (\S+(?: \S+)*) \S+$", text, re.M):
        for part in src.split():
            assert (ROOT / part).exists(), f"Dockerfile copies missing {part}"


def test_runtime_services_connect_as_their_own_logins_not_the_owner() -> None:
    from ioc import db_roles

    services = _compose()["services"]
    own = {"collector": "collector", "alerts": "engine", "api": "api", "report": "report"}
    for name, svc in services.items():
        if name in ("migrate", "timescaledb", "grafana"):
            continue
        env = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
        assert "IOC_DATABASE_URL" not in env, f"{name} knows the migration owner's URL"
        assert not any("IOC_DB_PASSWORD" in v for v in env.values()), name
        process = own.get(name)
        if process is None:  # the simulator needs no database
            assert not any(k.endswith("DATABASE_URL") for k in env), name
            continue
        url = env[db_roles.url_variable(process)]
        login = db_roles.login_name(db_roles.PROCESS_ROLES[process], "ioc")
        password = f"${{IOC_{process.upper()}_DB_PASSWORD:?set IOC_{process.upper()}_DB_PASSWORD}}"
        assert url == f"postgresql://{login}:{password}@timescaledb:5432/ioc", name
    migrate = services["migrate"]
    assert "ioc db logins" in " ".join(migrate["entrypoint"])
    for process in db_roles.PROCESS_ROLES:
        assert f"IOC_{process.upper()}_DB_PASSWORD" in migrate["environment"]
