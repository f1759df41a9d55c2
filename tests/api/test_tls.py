"""`ioc serve` over HTTPS with a certificate made for the test (from the real clock): the REST
API, the wall's live feed over wss:, a renewed certificate picked up without a restart, and the
refusal to serve an https public URL over plain HTTP."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.typing import Subprotocol

from ioc.cli import main
from ioc.settings import PROJECT_ROOT
from tests.pgserver import free_port

from .conftest import Tokens, make_tokens
from .server import terminate


@dataclass(frozen=True)
class Pem:
    cert: bytes
    key: bytes

    def der(self) -> bytes:
        return x509.load_pem_x509_certificate(self.cert).public_bytes(serialization.Encoding.DER)


def make_cert(name: str) -> Pem:
    """A self-signed certificate for 127.0.0.1, valid from a minute ago for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return Pem(cert.public_bytes(serialization.Encoding.PEM),
               key.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()))


def install(pem: Pem, cert: Path, key: Path) -> None:
    """Replace the files the way a renewal tool does (write aside, rename over)."""
    for data, path in ((pem.key, key), (pem.cert, cert)):
        tmp = path.with_suffix(".new")
        tmp.write_bytes(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)


def trusting(*pems: Pem) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cadata="".join(p.cert.decode() for p in pems))
    return ctx


def served_cert(port: int, ctx: ssl.SSLContext) -> bytes:
    """The certificate a fresh handshake presents (DER)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def wait_for(cond: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Https:
    port: int
    url: str
    cert: Path
    key: Path
    first: Pem
    tokens: Tokens
    proc: subprocess.Popen[bytes]
    log: Path


def _env(db_url: str, state: Path, port: int, public_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("IOC_TRUSTED_PROXIES", "IOC_TLS_CERT", "IOC_TLS_KEY")}
    return {**env, "IOC_DATABASE_URL": db_url, "IOC_API_PORT": str(port),
            "IOC_STATE_DIR": str(state), "IOC_SECRET_KEY": "tls-test-secret",
            "IOC_CONFIG_DIR": str(PROJECT_ROOT / "config"), "IOC_PUBLIC_URL": public_url}


def _up(url: str, ctx: ssl.SSLContext) -> bool:
    try:
        return httpx.get(f"{url}/healthz", verify=ctx, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def https(api_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Https]:
    state = tmp_path_factory.mktemp("tls")
    cert, key = state / "cert.pem", state / "key.pem"
    first = make_cert("ioc-test-1")
    install(first, cert, key)
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    log = state / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ioc.cli", "serve", "--tls-cert", str(cert),
             "--tls-key", str(key)], env=_env(api_db, state, port, url),
            stdout=out, stderr=out)
    try:
        wait_for(lambda: proc.poll() is not None or _up(url, trusting(first)), "ioc serve")
        assert proc.poll() is None, log.read_text()
        yield Https(port, url, cert, key, first, make_tokens(api_db, "-tls"), proc, log)
    finally:
        terminate(proc)


def test_the_api_and_the_live_feed_are_served_over_tls(https: Https) -> None:
    ctx = trusting(https.first)
    me = httpx.get(f"{https.url}/api/v1/me", verify=ctx,
                   headers={"Authorization": f"Bearer {https.tokens.viewer}"})
    assert me.json() == {"name": "viewer-tls", "role": "viewer"}
    with pytest.raises(httpx.ConnectError):  # not trusted without the test's certificate
        httpx.get(f"{https.url}/healthz")
    assert "IOC API on https://" in https.log.read_text()

    async def live() -> dict[str, object]:
        async with websockets.connect(
                f"wss://127.0.0.1:{https.port}/ws/live", ssl=ctx,
                subprotocols=[Subprotocol("ioc.v1"),
                              Subprotocol(f"bearer.{https.tokens.viewer}")]) as ws:
            assert ws.subprotocol == "ioc.v1"
            return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout=15)))

    snapshot = asyncio.run(live())
    assert snapshot["type"] == "snapshot" and "systems" in snapshot


def test_a_renewed_certificate_is_served_without_a_restart(https: Https) -> None:
    renewed = make_cert("ioc-test-2")
    both = trusting(https.first, renewed)
    assert served_cert(https.port, both) == https.first.der()
    install(renewed, https.cert, https.key)
    wait_for(lambda: served_cert(https.port, both) == renewed.der(), "the renewed certificate",
             timeout_s=30)
    assert httpx.get(f"{https.url}/healthz", verify=trusting(renewed)).status_code == 200
    assert https.log.read_text().count("TLS certificate reloaded") == 1
    # SIGHUP reloads at once (and does not stop the server).
    https.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: https.log.read_text().count("TLS certificate reloaded") == 2, "SIGHUP",
             timeout_s=30)
    assert https.proc.poll() is None and served_cert(https.port, both) == renewed.der()


@dataclass
class Refusal:
    code: int
    stderr: str


def test_serve_refuses_https_public_url_over_plain_http(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Each refusal comes before anything is started: `ioc serve` runs in this process.
    for name, value in _env("postgresql://unused@127.0.0.1:1/none", tmp_path, free_port(),
                            "https://ioc.example.vn").items():
        monkeypatch.setenv(name, value)
    for name in ("IOC_TRUSTED_PROXIES", "IOC_TLS_CERT", "IOC_TLS_KEY"):
        monkeypatch.delenv(name, raising=False)

    def serve(*args: str) -> Refusal:
        capsys.readouterr()
        try:
            code = main(["serve", *args])
        except SystemExit as exc:  # a bad environment: settings_or_exit
            code = int(exc.code or 0)
        return Refusal(code, capsys.readouterr().err)

    refused = serve()
    assert refused.code == 2
    assert "IOC_PUBLIC_URL is https://ioc.example.vn" in refused.stderr
    assert "--tls-cert" in refused.stderr and "IOC_TRUSTED_PROXIES" in refused.stderr

    bad_proxy = serve("--trusted-proxy", "proxy.lan")
    assert bad_proxy.code == 2 and "'proxy.lan' is not an IP address" in bad_proxy.stderr
    monkeypatch.setenv("IOC_TRUSTED_PROXIES", "10.0.0.0/8, nginx")
    from_env = serve()
    assert from_env.code == 2 and "IOC_TRUSTED_PROXIES: 'nginx'" in from_env.stderr
    monkeypatch.delenv("IOC_TRUSTED_PROXIES")

    one, other = make_cert("a"), make_cert("b")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(one.cert)
    key.write_bytes(other.key)  # not the certificate's key
    mismatched = serve("--tls-cert", str(cert), "--tls-key", str(key))
    assert mismatched.code == 2
    assert f"cannot load the TLS certificate {cert}" in mismatched.stderr
    missing = serve("--tls-cert", str(cert), "--tls-key", str(tmp_path / "nowhere.pem"))
    assert missing.code == 2 and "TLS key file" in missing.stderr
    half = serve("--tls-cert", str(cert))
    assert half.code == 2 and "both a certificate and its key" in half.stderr
