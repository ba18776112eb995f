"""The ways in: the ``bloodledger`` command line (and, next, HTTP).

Entrypoints parse, call :mod:`ledger.bootstrap` for what they need, run a
use case and render its answer (:mod:`.reports`); they hold no rules.
"""
