"""The commands run with the garbage-collector setting the benchmarks were measured with."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.entrypoints.cli import main
from ledger.entrypoints.runtime import YOUNG_GENERATION_THRESHOLD


@pytest.fixture
def default_threshold() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


@pytest.mark.usefixtures("default_threshold")
def test_a_command_collects_cycles_less_often(tmp_path: Path) -> None:
    main(["history", "S310126000101", "--store", f"sqlite:///{tmp_path / 'ledger.db'}"])
    assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
