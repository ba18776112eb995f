"""``bloodledger demo`` as a person runs it: the whole pipeline, and the recall round.

The demo plants a recall (a repeat donor turning reactive, whose earlier donation's
units are on a hospital's shelf, in a patient at another and on their way to a third),
relays the ledger's notices to ``bloodledger.notices``, lets the centre and the hospital
holding the plasma acknowledge theirs and leaves the others silent. What it prints must
say exactly that: every notice to its facility, and the open ones in the alerts — the
silent hospitals', none of those that answered.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from simulator import REGION_CONFIG, generate
from tests.integration.support import run_cli

pytestmark = pytest.mark.e2e

#: A smaller region than the demo's default (the same preset, the recall planted).
DAYS, HOSPITALS, PER_DAY = 10, 3, 60

OPEN_NOTICE = re.compile(
    r"OPEN_NOTICE\s+(?P<din>\S+) (?P<product>\S+)\s+(?P<action>\S+) to (?P<facility>\S+), "
    r"open [\d.]+ h\s+!! OVERDUE"
)


def notices_by_facility(out: str) -> dict[str, list[str]]:
    """The notice lines the demo prints under each facility's heading (hospitals only:
    the centre's are counted, not listed)."""
    block = out[out.index("Recall notices:") : out.index("acknowledge their")]
    found: dict[str, list[str]] = {}
    facility = ""
    for line in block.splitlines()[1:]:
        heading = re.fullmatch(r"  (\S+): \d+", line)
        if heading:
            facility = heading.group(1)
            found[facility] = []
        elif line.startswith("    ") and facility:
            found[facility].append(line)
    return found


def test_the_demo_shows_notices_reaching_hospitals_one_answering_and_the_rest_open(
    tmp_path: Path,
) -> None:
    store = f"sqlite:///{tmp_path / 'demo.db'}"
    done = run_cli(
        "demo", "--store", store, "--days", str(DAYS), "--hospitals", str(HOSPITALS),
        "--donations-per-day", str(PER_DAY), timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    stream = generate(
        replace(REGION_CONFIG, days=DAYS, hospitals=HOSPITALS, donations_per_day=PER_DAY)
    )
    recall = stream.recall
    assert recall is not None
    answering, silent = (
        recall.on_shelf.facility,
        {
            recall.transfused.facility,
            recall.in_transit.facility,
        },
    )
    assert answering not in silent

    # Every planted notice went out, to its facility, the recipient named to the hospital
    # that transfused.
    sent = notices_by_facility(out)
    for din, product, facility, action, _ in recall.notices():
        line = next((x for x in sent.get(facility, []) if action in x and din in x), None)
        assert line is not None, f"no {action} notice to {facility} for {din} {product}"
        assert product in line and f"LB-AUTO-{recall.reactive_din}" in line
    assert f"recipient {recall.recipient_id}" in out
    assert f"the hospital {answering} acknowledge" in out

    # The alerts four days on: the silent hospitals' notices open, none of the answering
    # hospital's or the centre's.
    alerts = out[out.index("recall notices open past their limit") :]
    open_ones = [m.groupdict() for m in OPEN_NOTICE.finditer(alerts)]
    facilities = {o["facility"] for o in open_ones}
    assert silent <= facilities
    assert answering not in facilities and stream.centre not in facilities
    assert {
        (o["din"], o["product"], o["action"], o["facility"])
        for o in open_ones
        if o["din"] == recall.earlier_din
    } == {
        (recall.transfused.din, recall.transfused.product_code, "NOTIFY_RECIPIENT",
         recall.transfused.facility),
        (recall.in_transit.din, recall.in_transit.product_code, "QUARANTINE",
         recall.in_transit.facility),
    }  # fmt: skip

    # The case report says the answering hospital's notice is closed, and how.
    assert "acknowledged" in out and f"QUARANTINED by {answering}" in out
    # And it ends by saying how to serve what it left.
    assert f"bloodledger serve --store {store}" in out
