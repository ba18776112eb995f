"""Argument types the command line shares (``bloodledger`` and ``bloodledger audit``)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from ledger.domain.inventory import Thresholds
from ledger.domain.vocabulary import Component


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


def component_thresholds(text: str) -> tuple[str, Thresholds]:
    """``COMPONENT=YELLOW,ORANGE,RED,EMERGENCY`` (days of supply), e.g.
    ``PLATELETS=1.5,1,0.5,2``: a component's hospital levels and centre emergency."""
    component, _, numbers = text.partition("=")
    component = component.strip().upper()
    if component not in set(Component):
        msg = f"not a component: {component!r} (one of {', '.join(Component)}), in {text!r}"
        raise argparse.ArgumentTypeError(msg)
    try:
        values = [float(number) for number in numbers.split(",")]
    except ValueError:
        values = []
    if len(values) != len(_THRESHOLDS):
        msg = f"{text!r} is not COMPONENT={','.join(_THRESHOLDS)}, e.g. PLATELETS=1.5,1,0.5,2"
        raise argparse.ArgumentTypeError(msg)
    try:
        return component, Thresholds(*values)
    except ValueError as e:
        msg = f"{text!r}: {e}"
        raise argparse.ArgumentTypeError(msg) from e


#: The numbers of ``--component-threshold``, in their order.
_THRESHOLDS = ("YELLOW", "ORANGE", "RED", "EMERGENCY")
