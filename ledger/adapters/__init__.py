"""Adapters at the edge, one module per technology: Avro, the integrator's JSON,
Kafka (consumer, dead letters, the embedded broker), the stored-event
transcoder, and persistence (one module per backend).

Adapters implement the ports of :mod:`ledger.services.ports` and
:mod:`projections.ports` and depend on :mod:`ledger.domain`; neither the
domain nor the services import from here — :mod:`ledger.bootstrap` plugs
the adapters in.
"""
