"""Adapters at the edge: they turn the outside world's formats into domain objects.

Each adapter (Avro wire format, the integrator's JSON, Kafka, SQL, CLI) depends
on :mod:`ledger.domain`; the domain never imports from here. Keeping the
dependency one-way lets the domain be tested without brokers, files or
serialisation libraries.
"""
