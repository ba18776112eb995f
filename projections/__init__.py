"""Read models built from the ledger's notification log.

Empty until the projections issue: inventory with days-of-supply alerts and
vein-to-vein traceability will live here, one module per projection.
"""
