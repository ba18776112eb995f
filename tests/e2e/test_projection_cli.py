"""The read-model commands as processes: ingest --project, inventory, trace,
lookback, alerts, and a rebuild killed with SIGKILL then resumed."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from ledger.adapters.broker import EmbeddedBroker
from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_read_models_of
from simulator import DemoConfig, generate
from tests.integration.support import cli, publish_facts, run_cli, run_ingest
from tests.integration.test_projections import D1, D2, T, dump, story


def test_ingest_with_projections_then_every_query_command(
    broker: EmbeddedBroker, topic: str, pg_url: str
) -> None:
    publish_facts(broker.bootstrap, topic, story())
    ingested = run_ingest(broker.bootstrap, topic, pg_url, "--project")
    assert ingested.returncode == 0, ingested.stderr

    status = run_cli("projections", "status", "--store", pg_url)
    assert "lag 0" in status.stdout, status.stdout + status.stderr

    inventory = json.loads(
        run_cli(
            "inventory",
            "--as-of",
            "2026-09-07T04:00:00Z",  # hour 140 of the story
            "--json",
            "--facility",
            "S3102",
            "--store",
            pg_url,
        ).stdout
    )
    assert {(r["component"], r["abo"], r["rhd"]): r["available"] for r in inventory} == {
        ("RED_CELLS", "A", "POS"): 2,
        ("RED_CELLS", "O", "NEG"): 1,
    }
    assert set(inventory[0]) == {
        "facility",
        "component",
        "abo",
        "rhd",
        "available",
        "units",
        "expiring_24h",
        "expiring_72h",
        "daily_use",
        "days_of_supply",
        "alert",
        "reserved_autologous",
        "thresholds",
    }
    assert inventory[0]["thresholds"] == {"yellow": 3.0, "orange": 2.0, "red": 1.0}
    # A POS: 2 on the shelf, 1 used in 14 days (D1 at hour 23) -> 28 days: below 30.
    judged = json.loads(
        run_cli(
            "inventory", "--as-of", "2026-09-07T04:00:00Z", "--json", "--facility", "S3102",
            "--component-threshold", "RED_CELLS=30,20,10,50", "--store", pg_url,
        ).stdout
    )  # fmt: skip
    a_pos = next(r for r in judged if (r["abo"], r["rhd"]) == ("A", "POS"))
    assert (a_pos["days_of_supply"], a_pos["alert"]) == (28.0, "YELLOW")
    assert a_pos["thresholds"] == {"yellow": 30.0, "orange": 20.0, "red": 10.0}

    trace = json.loads(run_cli("trace", "--donor", "D-ALPHA", "--json", "--store", pg_url).stdout)
    assert [d["din"] for d in trace["donations"]] == [D1, D2]
    assert trace["recipients"][0]["patient_id"] == "P-ONE"
    backward = run_cli("trace", "--patient", "P-ONE", "--store", pg_url)
    assert "D-ALPHA" in backward.stdout

    case = json.loads(
        run_cli("lookback", "show", f"LB-AUTO-{D2}", "--json", "--store", pg_url).stdout
    )
    assert [r["patient_id"] for r in case["recipients_to_notify"]] == ["P-ONE"]

    open_case = ("lookback", "open", "--donor", "D-BETA", "--reason", "post-donation illness",
                 "--since", "2026-01-01", "--json", "--store", pg_url)  # fmt: skip
    opened = run_cli(*open_case)
    assert opened.returncode == 0, opened.stderr
    report = json.loads(opened.stdout)
    assert [u["status"] for u in report["units_quarantined"]] == ["QUARANTINED"]
    again = json.loads(run_cli(*open_case).stdout)
    assert [u["status"] for u in again["units_quarantined"]] == ["QUARANTINED"]
    assert again["case_id"] == report["case_id"]

    alerts = json.loads(
        run_cli("alerts", "--json", "--as-of", T.isoformat(), "--store", pg_url).stdout
    )
    assert {a["flag"] for a in alerts if a["kind"] == "SAFETY_FLAG"} == {"REACTIVE_DONATION"}
    assert any(a["kind"] == "INVENTORY" and a["alert"] == "EMERGENCY" for a in alerts)
    times = [a["at"] for a in alerts]
    assert times == sorted(times, reverse=True)
    assert "!!" in run_cli("inventory", "--as-of", T.isoformat(), "--store", pg_url).stdout


def test_rebuild_killed_midway_then_resumed_by_project(sqlite_url: str) -> None:
    stream = generate(DemoConfig(days=70, hospitals=2, seed=3))  # several pages of 5,000
    with open_read_models_of(store_for(sqlite_url)) as models:
        models.ledger.record(list(stream.facts))
        models.projector.catch_up()
        expected = dump(models)
    rebuild = subprocess.Popen(
        cli("projections", "rebuild", "--store", sqlite_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    with open_read_models_of(store_for(sqlite_url)) as watcher:
        while time.monotonic() < deadline:
            position = watcher.projector.position()
            if 0 < position < watcher.projector.head() // 2:
                break
            time.sleep(0.01)
    rebuild.send_signal(signal.SIGKILL)
    rebuild.wait(timeout=10)
    with open_read_models_of(store_for(sqlite_url)) as models:
        assert models.projector.lag() > 0, "the rebuild finished before it was killed"
    resumed = run_cli("project", "--until-idle", "1", "--store", sqlite_url)
    assert resumed.returncode == 0, resumed.stderr
    with open_read_models_of(store_for(sqlite_url)) as models:
        assert dump(models) == expected
