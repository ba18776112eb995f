"""bloodledger: an event-sourced vein-to-vein transfusion traceability ledger."""

__version__ = "0.1.0"
