"""The service layer: the ledger's use cases, written against ports.

Recording facts (:mod:`.application`), ingesting a Kafka topic exactly once
(:mod:`.ingest`, :mod:`.partitions`, :mod:`.retry`), lookbacks
(:mod:`.lookback`), reconciliation (:mod:`.reconcile`) and a unit's history
(:mod:`.history`). What they need from outside is in :mod:`.ports`.
"""
