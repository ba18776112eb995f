"""Several workers starting at once on a fresh PostgreSQL schema all come up."""

from __future__ import annotations

import subprocess
import sys

from tests.integration.support import stored_facts_at

OPEN_LEDGER_AND_VIEW = """
import sys
from ledger.bootstrap import open_read_models_of
from ledger.adapters.persistence import store_for
open_read_models_of(store_for(sys.argv[1])).close()
"""


def test_concurrent_start_up_creates_the_tables_once(pg_url: str) -> None:
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_LEDGER_AND_VIEW, pg_url], stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    for worker in workers:
        _, errors = worker.communicate(timeout=60)
        assert worker.returncode == 0, errors
    assert stored_facts_at(pg_url) == {}
