"""A reported fact: what an integrating system said happened, before storage.

:class:`ReportedFact` is the boundary object between the adapters and the
domain. The Avro adapter turns a Kafka message into one; the simulator makes
them directly; the aggregates turn one into a stored event of the matching
class (see :mod:`ledger.domain.events`). A message that is not a fact at all
is a :class:`NotAFact`, whose :class:`ErrorClass` is the reason the contract
gives for dead-lettering it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ledger.domain.vocabulary import DONATION_LEVEL

__all__ = ["ErrorClass", "NotAFact", "ReportedFact"]


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


class ErrorClass(StrEnum):
    """Stable codes for why a message is not a fact (dead-letter header values)."""

    EMPTY = "EMPTY"
    TOO_LARGE = "TOO_LARGE"
    BAD_MAGIC = "BAD_MAGIC"
    TRUNCATED = "TRUNCATED"
    UNKNOWN_SCHEMA_ID = "UNKNOWN_SCHEMA_ID"
    #: A writer schema a schema registry gave that the contract's reader cannot read.
    INCOMPATIBLE_SCHEMA = "INCOMPATIBLE_SCHEMA"
    UNDECODABLE = "UNDECODABLE"
    MISSING_FIELD = "MISSING_FIELD"
    BAD_ENUM = "BAD_ENUM"
    BAD_DIN = "BAD_DIN"
    BAD_PRODUCT_CODE = "BAD_PRODUCT_CODE"
    BAD_EVENT_ID = "BAD_EVENT_ID"
    BAD_FACILITY = "BAD_FACILITY"
    BAD_TIMESTAMP = "BAD_TIMESTAMP"
    UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"
    UNENCODABLE = "UNENCODABLE"
    KEY_MISMATCH = "KEY_MISMATCH"
    EVENT_ID_CONFLICT = "EVENT_ID_CONFLICT"


class NotAFact(Exception):
    """A message (or a fact to encode) that the ledger does not store as a fact.

    ``error_class`` is one of :class:`ErrorClass`; ``message`` names the field
    and the rule broken, never the offending value. ``details`` are further
    value-free facts about the refusal (for a conflict: where the first fact is).
    """

    def __init__(
        self, error_class: str, message: str, details: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(error_class, message)
        self.error_class = error_class
        self.message = message
        self.details: Mapping[str, str] = details or {}

    def __str__(self) -> str:
        return f"{self.error_class}: {self.message}"
