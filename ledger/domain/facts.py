"""A reported fact: what an integrating system said happened, before storage.

:class:`ReportedFact` is the boundary object between the adapters and the
domain. The Avro adapter turns a Kafka message into one; the demo generator
makes them directly; the aggregates turn one into a stored event of the
matching class (see :mod:`ledger.domain.events`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.domain.vocabulary import DONATION_LEVEL


@dataclass(frozen=True)
class ReportedFact:
    """One contract event: the envelope's fields plus its payload's fields.

    ``payload`` holds the payload record's fields with Python values
    (``datetime`` for timestamp-millis, ``str`` for enum symbols).
    """

    event_id: str
    event_type: str
    occurred_at: datetime
    source_system: str
    facility: str
    actor: str | None
    din: str
    product_code: str | None
    payload: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_donation_level(self) -> bool:
        """True for facts about the whole donation (collection, test results)."""
        return self.event_type in DONATION_LEVEL
