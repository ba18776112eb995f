"""A store written by earlier code reads back with exactly the answers it gave then.

``tests/fixtures/store-before-issue-9`` holds a SQLite store written before the
event classes were written out and persistence was split per backend, and the
answers that code gave from it. Stored topics and field names are a contract
with every store in use: a refactoring that changes any answer fails here.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.adapters.persistence import store_for
from ledger.bootstrap import ReadModels, open_read_models_of
from ledger.domain.inventory import AlertPolicy
from ledger.services.history import history_json
from projections import queries

FIXTURE = Path(__file__).parents[1] / "fixtures" / "store-before-issue-9"


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text("utf-8"))
    return document


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadModels]:
    copy = tmp_path_factory.mktemp("compat") / "ledger.db"
    shutil.copyfile(FIXTURE / "ledger.db", copy)
    with open_read_models_of(store_for(f"sqlite:///{copy}"), automatic_lookbacks=False) as opened:
        opened.projector.rebuild()
        yield opened


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


#: Fields the history gained after the fixture was written (issue 10: knowledge time).
ADDED_LATER = {"known_since", "flags_known_since"}
#: What a lookback report gained after (issue 13): its recall notices and their answers.
REPORT_ADDED_LATER = {
    "as_of", "notice_limits_hours", "notices", "open_notices", "unmatched_acknowledgements",
}  # fmt: skip
#: Alerts added after (issue 13): the old quarantines' notices are derived like new ones.
ALERTS_ADDED_LATER = {"OPEN_NOTICE", "UNMATCHED_ACKNOWLEDGEMENT"}


def _as_written(document: Any) -> Any:
    """A document as the fixture's code wrote it: without the fields added since."""
    if isinstance(document, dict):
        return {k: _as_written(v) for k, v in document.items() if k not in ADDED_LATER}
    if isinstance(document, list):
        return [_as_written(v) for v in document]
    return document


def test_every_history_reads_back_identically(models: ReadModels, expected: dict[str, Any]) -> None:
    histories = expected["histories"]
    assert len(histories) == 71
    for din, document in histories.items():
        assert _as_written(history_json(models.ledger.units_of(din))) == document, din


def test_histories_as_of_a_past_moment_read_back_identically(
    models: ReadModels, expected: dict[str, Any]
) -> None:
    as_of = _moment(expected["as_of"])
    for din, document in expected["histories_as_of"].items():
        assert _as_written(history_json(models.ledger.units_of(din), as_of)) == document, din


def test_every_flag_of_the_contract_is_in_the_fixture(expected: dict[str, Any]) -> None:
    flags = {
        flag
        for document in expected["histories"].values()
        for unit in document["units"]
        for flag in unit["state"]["flags"]
    }
    assert len(flags) == 11


def test_inventory_and_alerts_are_the_same(models: ReadModels, expected: dict[str, Any]) -> None:
    policy = AlertPolicy()
    for moment, rows in expected["inventory"].items():
        found = [r.to_json() for r in queries.inventory(models.view, _moment(moment), policy)]
        assert found == rows, moment
    last = max(_moment(m) for m in expected["inventory"])
    alerts = queries.alerts(models.view, last, policy)
    assert [a for a in alerts if a["kind"] not in ALERTS_ADDED_LATER] == expected["alerts"]


def test_lookback_cases_and_traces_are_the_same(
    models: ReadModels, expected: dict[str, Any]
) -> None:
    assert expected["lookbacks"]
    last = max(_moment(m) for m in expected["inventory"])
    for case_id, report in expected["lookbacks"].items():
        found = models.lookbacks.report(case_id, last) or {}
        assert {k: v for k, v in found.items() if k not in REPORT_ADDED_LATER} == report, case_id
    traces = expected["trace"]
    for donor, document in traces["donor"].items():
        assert queries.trace_donor(models.view, donor) == document
    for patient, document in traces["patient"].items():
        assert queries.trace_patient(models.view, patient) == document
    for din, document in traces["din"].items():
        assert queries.trace_din(models.view, din) == document
