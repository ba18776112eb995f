"""``docs/integrators.md`` says what works; these run its examples as written.

The Python producer (confluent-kafka's ``AvroSerializer`` through the ledger's registry)
runs as its own process against the embedded broker and the registry, and the ledger
stores its event; the JSON line goes through ``bloodledger encode`` and reads back as the
event it shows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

from ledger.adapters.avro import AvroCodec
from ledger.adapters.broker import EmbeddedBroker
from ledger.adapters.persistence import store_for
from ledger.bootstrap import KafkaSettings, ingestor, open_ledger
from ledger.entrypoints.registry import contract_registry
from ledger.services.ingest import IngestSettings
from tests.integration.support import run_cli
from tests.support.servers import serving

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "integrators.md"


def block(heading: str, language: str) -> str:
    """The first ``language`` code block after ``heading`` in the guide."""
    text = GUIDE.read_text(encoding="utf-8")
    after = text[text.index(heading) :]
    found = re.search(rf"```{language}\n(.*?)```", after, re.DOTALL)
    assert found, f"no {language} block after {heading!r}"
    return found.group(1)


def test_the_python_producer_of_the_guide_is_stored(
    broker: EmbeddedBroker, topic: str, tmp_path: Path, sqlite_url: str
) -> None:
    example = tmp_path / "producer.py"
    example.write_text(block("### Python (confluent-kafka)", "python"), encoding="utf-8")
    # The guide's advice for a topic that is not the default: the server knows its subject.
    with serving(contract_registry(topic=topic)) as base:
        environment = {**os.environ, "KAFKA_BOOTSTRAP": broker.bootstrap,
                       "BLOODLEDGER_REGISTRY": f"{base}/", "BLOODLEDGER_TOPIC": topic}  # fmt: skip
        ran = subprocess.run([sys.executable, str(example)], capture_output=True, text=True,
                             env=environment, timeout=120, check=False)  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr

    ledger = open_ledger(store_for(sqlite_url))
    try:
        kafka = KafkaSettings(bootstrap=broker.bootstrap, topic=topic, group=f"g-{uuid.uuid4()}")
        counters = ingestor(ledger, kafka, IngestSettings(topic=topic, until_idle=3.0)).run()
        assert (counters.records, counters.stored, counters.dead_lettered) == (1, 1, 0)
        [unit] = ledger.units_of("S310226000017", "E0791V00")
        [fact] = unit.facts
        assert (fact.EVENT_TYPE, fact.facility, fact.temperature_ok) == (
            "UnitReceived", "S3102", True,
        )  # fmt: skip
    finally:
        ledger.close()


def test_the_json_line_of_the_guide_encodes_to_the_event_it_shows(tmp_path: Path) -> None:
    line = block("## Without a registry", "json").strip()
    shown = json.loads(line)
    source = tmp_path / "events.jsonl"
    source.write_text(line + "\n", encoding="utf-8")
    encoded = run_cli("encode", str(source))
    assert encoded.returncode == 0, encoded.stderr
    [(key, value)] = [row.split("\t") for row in encoded.stdout.splitlines()]
    assert key == shown["din"]
    fact = AvroCodec().decode(bytes.fromhex(value))
    assert (fact.event_id, fact.event_type, fact.product_code) == (
        shown["event_id"], shown["event_type"], shown["product_code"],
    )  # fmt: skip
    assert bytes.fromhex(value)[1:5] == (4).to_bytes(4, "big")  # the latest id, as the guide says
