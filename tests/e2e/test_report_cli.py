"""``bloodledger report`` as a quality manager runs it: separate processes on a store file.

The store holds the facts of :mod:`tests.report_story`; each command's output must
give the numbers counted by hand there, in the file asked for, and bad arguments are
refused in one line before any store is touched.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_ledger
from tests.builders import HOSPITAL
from tests.integration.support import run_cli
from tests.report_story import QC, SHELF, SHELF_HOSPITAL, september_facts, shelf_facts

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store with the stories recorded and not yet projected: the command projects."""
    url = f"sqlite:///{tmp_path_factory.mktemp('report-cli') / 'ledger.db'}"
    ledger = open_ledger(store_for(url))
    try:
        ledger.record([*september_facts(), *shelf_facts()])
    finally:
        ledger.close()
    return url


def report(store: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("report", *args, "--store", store)


SEPTEMBER = ("--facility", HOSPITAL, "--from", "2026-09-01", "--to", "2026-09-30")


def test_qc_as_json_on_stdout(store: str) -> None:
    shown = report(store, "qc", *SEPTEMBER, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["end"] == "2026-10-01T00:00:00Z"  # --to's day included
    assert document["totals"] == QC["totals"]
    found = {i["key"]: i["value"] for i in document["indicators"]}
    assert {k: found[k] for k in QC["indicators"]} == {
        k: value for k, (_, _, value) in QC["indicators"].items()
    }


def test_qc_as_a_chinese_pdf_file(store: str, tmp_path: Path) -> None:
    out = tmp_path / "qc.pdf"
    shown = report(store, "qc", *SEPTEMBER, "--lang", "zh", "--out", str(out))  # .pdf: a PDF
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == ""
    assert out.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(
        ["pdftotext", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "成分输血率" in text and "80.95" in text
    assert "weasyprint" not in shown.stderr  # no layout chatter on the terminal
    assert not list(tmp_path.glob(".*partial"))  # the file was moved in place whole


def test_hemovigilance_as_english_html(store: str) -> None:
    shown = report(store, "hemovigilance", *SEPTEMBER, "--lang", "en")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("<!DOCTYPE html>")
    assert "Hemovigilance: transfusion reactions" in shown.stdout
    assert "428.57" in shown.stdout  # 3 cases per 7 units, per 1,000


def test_inventory_with_the_shared_threshold_arguments(store: str) -> None:
    shown = report(
        store, "inventory", "--facility", SHELF_HOSPITAL, "--from", "2026-09-01",
        "--to", "2026-09-04", "--window-days", "2", "--format", "json",
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    groups = {(g["component"], g["abo"], g["rhd"]): g for g in json.loads(shown.stdout)["groups"]}
    red = groups[("RED_CELLS", "O", "POS")]["points"]
    assert [p["days_of_supply"] for p in red] == SHELF[("RED_CELLS", "O", "POS")]["days_of_supply"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("qc", "--facility", "HOSPITAL-1", "--from", "2026-09-01", "--to", "2026-09-30"),
         "Facility Identification Number"),
        (("qc", *SEPTEMBER, "--format", "pdf"), "--out"),
        (("qc", *SEPTEMBER, "--lang", "fr"), "--lang"),
        (("qc", "--facility", HOSPITAL, "--from", "2026-09-30", "--to", "2026-09-01"),
         "end after it starts"),
        (("qc", "--facility", HOSPITAL, "--from", "1 Sept", "--to", "2026-09-30"),
         "not a date"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_in_one_line(
    store: str, args: tuple[str, ...], said: str
) -> None:
    shown = report(store, *args)
    assert shown.returncode == 2
    assert said in shown.stderr
    assert shown.stderr.startswith("bloodledger report: ")
    assert len(shown.stderr.strip().splitlines()) == 1
    assert shown.stdout == ""


def test_a_store_that_is_not_there_is_said(tmp_path: Path) -> None:
    shown = run_cli("report", "qc", *SEPTEMBER, "--store", f"sqlite:///{tmp_path / 'none.db'}")
    assert shown.returncode == 2
    assert shown.stderr.startswith("bloodledger report: ")
    assert not (tmp_path / "none.db").exists()


def test_the_report_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "reports.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.reports", "--records", "8000", "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["events"] >= 8000
    qc = results[f"qc {results['hospital']} month"]
    assert qc["document_ms"] > 0 and qc["pdf_ms"] > 0 and qc["pdf_kb"] > 10
