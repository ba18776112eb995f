"""Argument types the command line shares (``bloodledger`` and ``bloodledger audit``)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime


def timestamp(text: str) -> datetime:
    """ISO-8601 with a timezone, or a plain date (midnight UTC)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        msg = f"not an ISO-8601 timestamp: {text!r}"
        raise argparse.ArgumentTypeError(msg) from e
    if len(text) == 10:
        return value.replace(tzinfo=UTC)
    if value.tzinfo is None:
        msg = "give a timezone, e.g. 2026-09-01T08:00:00Z or +08:00"
        raise argparse.ArgumentTypeError(msg)
    return value
