"""The ledger's store: one module per backend, chosen here and only here, by URL.

``sqlite:///ledger.db`` (the embedded default), ``postgresql://...`` (production)
or ``memory://`` (tests). :func:`store_for` turns the URL into the backend's
:class:`~.base.Store`; everything else — the application's recorder, the
read models' tables — is made from that store's library environment.
"""

from __future__ import annotations

import os

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from ledger.adapters.persistence.base import (
    Checkpoint,
    LedgerRecorder,
    ReadModelTables,
    Store,
    StoreError,
    StoreMissing,
    StoreUnavailable,
)
from ledger.adapters.persistence.memory import MemoryStore
from ledger.adapters.persistence.postgres import PostgresStore
from ledger.adapters.persistence.sqlite import SQLiteStore

__all__ = [
    "DEFAULT_STORE",
    "STORE_ENV_VAR",
    "Checkpoint",
    "InvalidStoreURL",
    "LedgerRecorder",
    "ReadModelTables",
    "Store",
    "StoreError",
    "StoreMissing",
    "StoreUnavailable",
    "open_read_models",
    "resolve_store",
    "store_for",
]

DEFAULT_STORE = "sqlite:///bloodledger.db"
STORE_ENV_VAR = "BLOODLEDGER_STORE"
#: The library's name for the read models (PostgreSQL: ``projections_tracking``).
READ_MODELS_NAME = "projections"

_BACKENDS: dict[str, type[Store]] = {
    scheme: backend
    for backend in (SQLiteStore, PostgresStore, MemoryStore)
    for scheme in backend.SCHEMES
}


class InvalidStoreURL(StoreError, ValueError):
    """A store URL the ledger cannot use."""


def store_for(url: str) -> Store:
    """The backend a store URL names (the one place a backend is chosen)."""
    scheme = url.partition(":")[0]
    backend = _BACKENDS.get(scheme)
    if backend is None:
        msg = f"unsupported store URL scheme {scheme!r}: use sqlite:///, postgresql:// or memory://"
        raise InvalidStoreURL(msg)
    try:
        return backend(url)
    except ValueError as error:
        raise InvalidStoreURL(str(error)) from None


def resolve_store(url: str | None) -> Store:
    """The store named by ``--store``, else ``$BLOODLEDGER_STORE``, else the SQLite default."""
    return store_for(url or os.environ.get(STORE_ENV_VAR) or DEFAULT_STORE)


def open_read_models(store: Store) -> ReadModelTables:
    """The read models' tables of a store (created if missing)."""
    if not store.has_read_models:
        msg = "projections need a database: use a sqlite:/// or postgresql:// store"
        raise InvalidStoreURL(msg)
    env = Environment(READ_MODELS_NAME, store.library_env())
    with store.ddl_lock():
        store.prepare()
        tables = InfrastructureFactory.construct(env).tracking_recorder()
    if not isinstance(tables, ReadModelTables):
        msg = f"{type(tables).__name__} is not a read-model store"
        raise TypeError(msg)
    return tables
