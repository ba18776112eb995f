"""Fault-injection fixtures: processes that are always reaped, a broker of the test's own."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest

from ledger.adapters.broker import EmbeddedBroker, free_port
from tests.integration.support import start_ingest

StartIngest = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def ingest_process() -> Iterator[StartIngest]:
    """Start ``bloodledger ingest`` processes; any still running at the end are killed."""
    started: list[subprocess.Popen[str]] = []

    def start(bootstrap: str, topic: str, store: str, *extra: str) -> subprocess.Popen[str]:
        process = start_ingest(bootstrap, topic, store, *extra)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker on a fixed port of its own, which the test may stop and start again."""
    broker = EmbeddedBroker(port=free_port()).start()
    yield broker
    broker.stop()
