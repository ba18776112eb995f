"""Unit tests do no network I/O: no database server, no broker.

Any attempt to open a connection (a Python socket, or libpq's, which
bypasses Python's sockets) fails the test that made it, so the unit suite
keeps passing with PostgreSQL and every broker stopped.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(self: socket.socket, address: Any) -> None:
        msg = f"a unit test tried to connect to {address!r}: put it in tests/integration"
        raise AssertionError(msg)

    def refuse_database(cls: type[psycopg.Connection[Any]], *args: Any, **kwargs: Any) -> None:
        msg = "a unit test tried to connect to PostgreSQL: put it in tests/integration"
        raise AssertionError(msg)

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(refuse_database))
    monkeypatch.setattr(psycopg, "connect", psycopg.Connection.connect)
    yield
