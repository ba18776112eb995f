"""Read models built from the ledger's notification log.

``rows`` turns one aggregate into its rows (pure); ``store`` holds the tables
and writes a page of rows with its tracking record atomically; ``projector``
follows the log; ``queries`` answers inventory, trace and alert questions.
"""
