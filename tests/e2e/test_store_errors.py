"""A missing, unreachable or misconfigured store: one line naming it, never an empty answer.

Only the commands that write may create a store; every command that only
reads, pointed at a store that holds no ledger, exits non-zero saying so (and
creates nothing). A store that cannot be reached or opened gives every
command one line naming the store, its password hidden, not a traceback.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.entrypoints.cli import main
from tests.conftest import PG_URL

PASSWORD = "s3cret-Pa55"

READERS: list[list[str]] = [
    ["history", "S310126000101"],
    ["trace", "--donor", "D000001"],
    ["inventory"],
    ["alerts"],
    ["lookback", "show", "LB-AUTO-S310126000101"],
    ["reconcile", "--bootstrap", "127.0.0.1:1"],
    ["projections", "status"],
    ["projections", "rebuild"],
]
WRITERS: list[list[str]] = [
    ["ingest", "--bootstrap", "127.0.0.1:1", "--until-idle", "1"],
    ["project", "--until-idle", "1"],
    ["lookback", "open", "--donor", "D000001", "--reason", "test"],
]


class RefusingServer:
    """Speaks just enough of the PostgreSQL protocol to refuse a password."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.socket.accept()
            except OSError:
                return
            with conn:
                self._refuse(conn)

    def _refuse(self, conn: socket.socket) -> None:
        while True:  # SSL and GSS encryption requests first, then the startup message
            header = conn.recv(8)
            if len(header) < 8:
                return
            length, code = struct.unpack("!ii", header)
            conn.recv(length - 8)
            if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest: "not here"
                conn.sendall(b"N")
                continue
            break
        conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        conn.recv(1024)  # the password message
        fields = b'SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "root"\0\0'
        conn.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)

    def close(self) -> None:
        self.socket.close()


@pytest.fixture(scope="module")
def refusing() -> Iterator[RefusingServer]:
    server = RefusingServer()
    yield server
    server.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _pg(port: int | None = None, database: str = "test", schema: str | None = None) -> str:
    host = PG_URL.split("@", 1)[1].split("/", 1)[0]
    if port is not None:
        host = f"127.0.0.1:{port}"
    query = f"?schema={schema}" if schema else ""
    return f"postgresql://root:{PASSWORD}@{host}/{database}{query}"


def _run(capsys: pytest.CaptureFixture[str], args: list[str], url: str) -> tuple[int, str]:
    status = main([*args, "--store", url])
    captured = capsys.readouterr()
    return status, captured.err


def _assert_one_line_naming(error: str, url: str) -> None:
    lines = error.strip().splitlines()
    assert len(lines) == 1, error
    assert "Traceback" not in error
    assert PASSWORD not in error
    assert url.replace(f":{PASSWORD}", "").split("?")[0] in lines[0]


@pytest.mark.parametrize("command", READERS, ids=lambda c: " ".join(c[:2]))
def test_a_read_command_on_a_store_that_does_not_exist_says_so_and_creates_nothing(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "ledger.db"
    for url in (f"sqlite:///{missing}", _pg(schema=f"no_such_{tmp_path.name[-8:].lower()}")):
        status, error = _run(capsys, command, url)
        assert status != 0
        assert "no ledger is stored at" in error
        _assert_one_line_naming(error, url)
    assert not missing.exists()


@pytest.mark.parametrize("command", READERS + WRITERS, ids=lambda c: " ".join(c[:2]))
def test_every_command_on_an_unusable_store_gives_one_line(
    command: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    refusing: RefusingServer,
) -> None:
    unusable = {
        "missing folder": f"sqlite:///{tmp_path / 'nowhere' / 'ledger.db'}",
        "refused port": _pg(port=_closed_port()),
        "wrong password": _pg(port=refusing.port),
        "missing database": _pg(database="no_such_database"),
    }
    for case, url in unusable.items():
        status, error = _run(capsys, command, url)
        assert status != 0, case
        _assert_one_line_naming(error, url)
    assert not (tmp_path / "nowhere").exists()


def test_the_reasons_are_the_ones_the_operator_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], refusing: RefusingServer
) -> None:
    expected = {
        f"sqlite:///{tmp_path / 'nowhere' / 'ledger.db'}": "does not exist",
        _pg(port=_closed_port()): "Connection refused",
        _pg(port=refusing.port): "password authentication failed",
        _pg(database="no_such_database"): 'database "no_such_database" does not exist',
    }
    for url, reason in expected.items():
        _, error = _run(capsys, ["ingest", "--bootstrap", "127.0.0.1:1"], url)
        assert reason in error, error
