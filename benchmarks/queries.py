"""Investigator latency: a unit's history and traces from a donor and a patient.

Each store size is filled through the same code path as real events
(``BloodLedger.record`` with the facts the Avro codec decodes to), without
Kafka, then projected; the busiest donor and patient are traced.
"""

from __future__ import annotations

import random
from typing import Any

from benchmarks.measure import latencies_ms
from benchmarks.workload import history
from ledger.history import history_json
from ledger.readmodels import ReadModels
from ledger.store import StoreURL
from projections import queries


def fill(store: StoreURL, records: int, batch: int = 2000) -> ReadModels:
    models = ReadModels(store)
    facts = history(records, seed=records)
    for start in range(0, len(facts), batch):
        models.ledger.record(facts[start : start + batch])
    models.projector.catch_up()
    return models


def measure(models: ReadModels, repeats: int = 200) -> dict[str, Any]:
    view = models.view
    dins = [r["din"] for r in view.select("SELECT din FROM {donations} ORDER BY din")]
    donor = view.select(
        "SELECT donor_id, COUNT(*) AS n FROM {donations} WHERE donor_id IS NOT NULL "
        "GROUP BY donor_id ORDER BY n DESC LIMIT 1"
    )[0]
    patient = view.select(
        "SELECT patient_id, COUNT(*) AS n FROM {transfusions} "
        "GROUP BY patient_id ORDER BY n DESC LIMIT 1"
    )[0]
    chance = random.Random(1)
    return {
        "events": models.projector.head(),
        "history": latencies_ms(
            lambda: history_json(models.ledger.units_of(chance.choice(dins))), repeats
        ),
        "trace_donor": {
            "donations": donor["n"],
            **latencies_ms(lambda: queries.trace_donor(view, donor["donor_id"]), repeats),
        },
        "trace_patient": {
            "transfusions": patient["n"],
            **latencies_ms(lambda: queries.trace_patient(view, patient["patient_id"]), repeats),
        },
    }
