"""Process settings read from the environment (never at import time: call `Settings.from_env`)."""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A process setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    """What a process needs to know about its surroundings, as opposed to the province config."""

    database_url: str
    config_dir: Path = PROJECT_ROOT / "config"
    state_dir: Path = PROJECT_ROOT / ".ioc"
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    secret_key: str = field(default="", repr=False)
    trusted_proxies: tuple[str, ...] = ()
    """Reverse proxies believed about the client and scheme (IOC_TRUSTED_PROXIES)."""
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *,
                 process: str | None = None) -> Settings:
        """Build settings from environment variables (IOC_*).

        A long-running `process` ("collector", "engine", "api", "report") connects with its
        own least-privilege login (ioc/db_roles.py) when IOC_COLLECTOR_DATABASE_URL,
        IOC_ENGINE_DATABASE_URL, IOC_API_DATABASE_URL or IOC_REPORT_DATABASE_URL is set, else
        with IOC_DATABASE_URL.
        """
        env = os.environ if env is None else env
        own = f"IOC_{process.upper()}_DATABASE_URL" if process else ""
        url = (env.get(own, "") if own else "") or env.get("IOC_DATABASE_URL", "")
        if not url:
            raise SettingsError(
                f"{own + ' and ' if own else ''}IOC_DATABASE_URL {'are' if own else 'is'} not "
                "set: run scripts/setup.sh (it writes .ioc/env) "
                "or export IOC_DATABASE_URL=postgresql://user:password@host:port/dbname"
            )
        state_dir = Path(env.get("IOC_STATE_DIR", str(PROJECT_ROOT / ".ioc")))
        port = _int(env, "IOC_API_PORT", 8080)
        host = env.get("IOC_API_HOST", "127.0.0.1")
        return cls(
            database_url=url,
            config_dir=Path(env.get("IOC_CONFIG_DIR", str(PROJECT_ROOT / "config"))),
            state_dir=state_dir,
            api_host=host,
            api_port=port,
            public_url=env.get("IOC_PUBLIC_URL", f"http://{host}:{port}"),
            secret_key=env.get("IOC_SECRET_KEY", "") or _state_secret(state_dir),
            trusted_proxies=parse_proxies(env.get("IOC_TRUSTED_PROXIES", "").split(","),
                                          "IOC_TRUSTED_PROXIES"),
            tls_cert=_path(env, "IOC_TLS_CERT"),
            tls_key=_path(env, "IOC_TLS_KEY"),
        )


def settings_or_exit(process: str | None = None) -> Settings:
    """Settings for a command: on a bad environment, say what to fix and exit with status 2."""
    try:
        return Settings.from_env(process=process)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def parse_proxies(items: Iterable[str], source: str) -> tuple[str, ...]:
    """Trusted proxy addresses or CIDRs (`127.0.0.1`, `10.0.0.0/8`, `::1`), normalised."""
    found: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise SettingsError(f"{source}: {item!r} is not an IP address or network "
                                "(e.g. 127.0.0.1, 10.0.0.0/8 or ::1)") from None
    return tuple(found)


def check_serving(public_url: str, tls: bool, trusted_proxies: Sequence[str]) -> None:
    """Refuse to serve an https IOC_PUBLIC_URL over plain HTTP with no proxy in front.

    Links in notifications point at IOC_PUBLIC_URL: if it says https, either `ioc serve` speaks
    HTTPS itself or a reverse proxy terminates TLS, and that proxy must be declared (else its
    X-Forwarded-For is ignored and every client would share its address).
    """
    if urlsplit(public_url).scheme.lower() != "https" or tls or trusted_proxies:
        return
    raise SettingsError(
        f"IOC_PUBLIC_URL is {public_url}, but `ioc serve` would speak plain HTTP with no "
        "reverse proxy declared. Either serve HTTPS itself (--tls-cert and --tls-key, or "
        "IOC_TLS_CERT and IOC_TLS_KEY), or declare the TLS-terminating proxy in front of it "
        "(--trusted-proxy 127.0.0.1, or IOC_TRUSTED_PROXIES=127.0.0.1), or set IOC_PUBLIC_URL "
        "to an http:// address")


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    return Path(raw) if raw else None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None


def _state_secret(state_dir: Path) -> str:
    """A per-installation secret kept in the state directory, created on first use."""
    path = state_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    secret = os.urandom(32).hex()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
    return secret


def redact_url(url: str) -> str:
    """A database URL safe to print: the password is replaced."""
    try:
        parts = conninfo_to_dict(url)
    except Exception:  # a malformed URL must still never be echoed with its secret
        return "<unparseable database URL>"
    if "password" in parts:
        parts["password"] = "***"  # noqa: S105 - the redaction marker
    return make_conninfo("", **{k: v for k, v in parts.items() if v is not None})
