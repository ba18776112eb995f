"""Synthetic, seeded streams of contract facts for demos, tests and benchmarks.

Real donor and patient data can never leave a blood centre or a hospital, yet the
ledger, its projections and its alerting need a realistic vein-to-vein stream to
be shown, tested and measured against. :mod:`simulator` builds one
deterministically from a seed: one blood centre, a few hospitals, a month of
collections, testing, distribution and transfusions, with a known set of rule
breaches injected so that the flags the ledger raises can be checked against them.
The package does no I/O; writing the facts anywhere is the caller's business.
"""
