"""``bloodledger serve`` as an operator starts it: a real uvicorn process, over HTTPS.

A self-signed certificate is made for 127.0.0.1, the server started with it, and
the API called over TLS with that certificate as the only trusted root; the
projector inside the server picks up facts recorded after it started; nothing
the server logs names a donor or a patient.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_ledger
from tests.builders import Timeline, din

pytestmark = pytest.mark.e2e

BIN = [sys.executable, "-m", "ledger.entrypoints.cli"]


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bloodledger test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, str, str, subprocess.Popen[str]]]:
    store = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = open_ledger(store_for(store))
    ledger.record(Timeline(din=din(1)).transfused_cleanly().facts)
    ledger.close()
    made = subprocess.run(
        [*BIN, "token", "create", "--role", "investigator", "--name", "hv", "--store", store],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    token = made.stdout.strip()
    cert, key = _certificate(tmp_path)
    port = _free_port()
    process = subprocess.Popen(
        [*BIN, "serve", "--store", store, "--port", str(port),
         "--certfile", str(cert), "--keyfile", str(key)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", verify=str(cert), timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
    try:
        yield url, cert, token, store, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_api_over_tls_with_a_self_signed_certificate(
    server: tuple[str, Path, str, str, subprocess.Popen[str]],
) -> None:
    url, cert, token, store, process = server
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, verify=str(cert), headers=headers, timeout=10) as client:
        unit = client.get(f"/api/v1/units/{din(1)}")
        assert unit.status_code == 200 and unit.json()["units"]
        assert client.get("/api/v1/trace?patient=P000001").json()["units"]
        ledger = open_ledger(store_for(store), create=False)
        ledger.record(Timeline(din=din(2)).transfused_cleanly().facts)
        ledger.close()
        deadline = time.monotonic() + 20  # the server's projector picks the new facts up
        while time.monotonic() < deadline:
            traced = client.get(f"/api/v1/trace?din={din(2)}")
            if traced.status_code == 200 and traced.json()["units"]:
                break
            time.sleep(0.3)
        assert traced.json()["units"], traced.text
        assert client.get("/readyz").json()["projection_lag"] == 0
    with pytest.raises(httpx.ConnectError):  # without the certificate: not trusted
        httpx.get(f"{url}/healthz", timeout=5)
    plain = url.replace("https", "http")
    with pytest.raises(httpx.HTTPError):  # and no plain HTTP on that port
        httpx.get(f"{plain}/healthz", timeout=5)
    process.terminate()
    output, _ = process.communicate(timeout=30)
    for person in ("D000001", "P000001"):
        assert person not in output


def test_serve_refuses_half_a_tls_configuration(tmp_path: Path) -> None:
    refused = subprocess.run(
        [*BIN, "serve", "--store", f"sqlite:///{tmp_path / 'l.db'}", "--certfile", "x.pem"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2 and "--keyfile" in refused.stdout + refused.stderr
