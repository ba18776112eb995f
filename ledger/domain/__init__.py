"""The pure domain: identifiers, facts, the unit's state machine, aggregates.

Nothing in this package does I/O. Adapters (Avro, Kafka, SQL, CLI) depend on
it; it depends on nothing of theirs.
"""
