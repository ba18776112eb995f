"""The production compose file: valid, and every ledger command it runs exists."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ledger.entrypoints.cli import build_parser

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def services() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    found: dict[str, Any] = document["services"]
    return found


def ledger_services() -> dict[str, list[str]]:
    return {
        name: service["command"]
        for name, service in services().items()
        if service.get("build") == "." or str(service.get("image", "")).startswith("bloodledger")
    }


def test_compose_runs_kafka_in_kraft_mode_postgres_topics_and_ingest() -> None:
    found = services()
    assert found["kafka"]["image"].startswith("apache/kafka:")
    assert "controller" in found["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert found["postgres"]["image"].startswith("postgres:")
    assert {"topics", "ingest"} <= set(ledger_services())


@pytest.mark.parametrize("name", sorted(ledger_services()))
def test_every_ledger_command_in_compose_parses(name: str) -> None:
    command = ledger_services()[name]
    args = build_parser().parse_args(command)  # exits (fails the test) on an unknown option
    assert args.command == command[0]


@pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="Debian's docker-compose not installed"
)
def test_docker_compose_config_validates_the_file() -> None:
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
