"""Human-readable renderings of histories, inventory, traces, alerts and lookback cases.

Each takes the same JSON-ready data the ``--json`` output prints, so the
two forms can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.domain.inventory import AlertLevel

_COLOURS = {
    AlertLevel.YELLOW: "\033[33m",
    AlertLevel.ORANGE: "\033[38;5;208m",
    AlertLevel.RED: "\033[31m",
    AlertLevel.EMERGENCY: "\033[1;31m",
}
_RESET = "\033[0m"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return [line, "-" * len(line), *body]


def inventory_text(rows: Sequence[dict[str, Any]], *, as_of: str, colour: bool) -> str:
    """The stock table; rows in alert are marked (and coloured on a terminal). ``autol``:
    units reserved for their autologous donor-patient, not counted as available."""
    headers = (
        "facility",
        "component",
        "abo",
        "rhd",
        "avail",
        "autol",
        "单位",
        "exp24h",
        "exp72h",
        "use/day",
        "DOS",
        "alert",
    )
    cells = [
        [
            r["facility"],
            r["component"],
            r["abo"],
            r["rhd"],
            str(r["available"]),
            str(r["reserved_autologous"]),
            f"{r['units']:g}",
            str(r["expiring_24h"]),
            str(r["expiring_72h"]),
            f"{r['daily_use']:.2f}",
            "-" if r["days_of_supply"] is None else f"{r['days_of_supply']:.1f}",
            r["alert"] if r["alert"] == AlertLevel.GREEN else f"!! {r['alert']}",
        ]
        for r in rows
    ]
    lines = _table(headers, cells)
    if colour:
        lines[2:] = [
            f"{_COLOURS[r['alert']]}{text}{_RESET}" if r["alert"] in _COLOURS else text
            for r, text in zip(rows, lines[2:], strict=True)
        ]
    alerts = sum(1 for r in rows if r["alert"] != AlertLevel.GREEN)
    return "\n".join([f"Inventory as of {as_of}: {len(rows)} rows, {alerts} in alert", *lines])


def _recipient(r: dict[str, Any]) -> str:
    when = f"transfused {r['transfused_at']} at {r['facility']}"
    return f"  {r['patient_id']}  {r['din']} {r['product_code']}  {when}"


def _unit(u: dict[str, Any]) -> str:
    flags = f"  !! {','.join(u['flags'])}" if u.get("flags") else ""
    what = f"{u['component'] or '?':<11} {u['status']:<14} at {u['facility'] or '?'}"
    return f"  {u['din']} {u['product_code']}  {what}{flags}"


def trace_text(document: dict[str, Any]) -> str:
    lines = [f"Donors: {', '.join(document['donors']) or 'unknown'}"]
    lines.append(f"Donations ({len(document['donations'])}):")
    for d in document["donations"]:
        reactive = "  REACTIVE" if d["reactive"] else ""
        where = f"at {d['facility'] or '?'}"
        lines.append(f"  {d['din']}  collected {d['collected_at'] or '?'} {where}{reactive}")
    lines.append(f"Units ({len(document['units'])}):")
    lines += [_unit(u) for u in document["units"]]
    lines.append(f"Recipients ({len(document['recipients'])}):")
    lines += [_recipient(r) for r in document["recipients"]]
    return "\n".join(lines)


def _open_notice(n: dict[str, Any]) -> str:
    """Where a notice went, how long it has been open, and whether past its limit."""
    late = f"  !! OVERDUE (limit {n['limit_hours']:g} h)" if n["overdue"] else ""
    return f"{n['action']} to {n['facility']}, open {n['age_hours']:g} h{late}"


def _unmatched(a: dict[str, Any]) -> str:
    return (
        f"{a['din']} {a['product_code']}  {a['action_taken']} from {a['facility']} "
        f"at {a['at']} for notice {a['notice_id']}: {a['why']}"
    )


def _alert(e: dict[str, Any]) -> str:
    if e["kind"] == "SAFETY_FLAG":
        return f"{e['at']}  {e['flag']:<20} {e['din']} {e['product_code']}  {e['detail']}"
    if e["kind"] == "OPEN_NOTICE":
        what = f"{e['din']} {e['product_code']}  {_open_notice(e)}"
        return f"{e['at']}  OPEN_NOTICE          {what}; issued {e['issued_at']}, {e['case_id']}"
    if e["kind"] == "UNMATCHED_ACKNOWLEDGEMENT":
        return f"{e['at']}  UNMATCHED_ACK        {_unmatched(e)}"
    dos = "-" if e["days_of_supply"] is None else f"{e['days_of_supply']:.1f}"
    group = f"{e['facility']} {e['component']} {e['abo']} {e['rhd']}"
    stock = f"{e['available']} available, {dos} days of supply"
    return f"{e['at']}  INVENTORY {e['alert']:<10} {group}  {stock}"


def alerts_text(entries: Sequence[dict[str, Any]]) -> str:
    if not entries:
        return "No alerts."
    return "\n".join(_alert(e) for e in entries)


def _units(title: str, units: Sequence[dict[str, Any]]) -> list[str]:
    lines = [f"{title} ({len(units)}):"]
    lines += [
        f"  {u['din']} {u['product_code']}  {u['status']} at {u['facility'] or '?'}" for u in units
    ]
    return lines


def lookback_text(report: dict[str, Any]) -> str:
    lines = [
        f"Lookback case {report['case_id']}: donor {report['donor_id']}",
        f"  reason: {report['reason']}",
        f"  window: {report['since']} .. {report['until']}",
        f"  opened {report['opened_at']} by {report['opened_by']}",
        f"  donations traced: {len(report['donations'])}",
    ]
    lines += _units("Units quarantined", report["units_quarantined"])
    lines += _units("Units consumed", report["units_consumed"])
    lines += _units("Units already disposed of", report["units_disposed"])
    lines.append(f"Recipients to notify ({len(report['recipients_to_notify'])}):")
    lines += [_recipient(r) for r in report["recipients_to_notify"]]
    lines += _units("Units not yet accounted for", report["units_not_accounted_for"])
    lines += ["Could not be determined:", *(f"  - {u}" for u in report["undetermined"])]
    lines += _notices_text(report)
    return "\n".join(lines)


def _notice(n: dict[str, Any]) -> list[str]:
    """One notice: to whom and why, when sent, and how it was answered (or how late)."""
    sent = f"sent {n['sent_at']}" if n["sent_at"] else "not yet sent"
    answer = n["acknowledged"]
    if answer is not None:
        state = f"acknowledged {answer['at']}: {answer['action_taken']} by {answer['facility']}"
    elif n["open"]:
        state = _open_notice(n)
    else:
        state = "not issued yet at this moment"
    head = f"  {n['din']} {n['product_code']}  {n['action']} to {n['facility']}"
    return [f"{head}  issued {n['issued_at']}, {sent}", f"    {n['notice_id']}  {state}"]


def _notices_text(report: dict[str, Any]) -> list[str]:
    limits = ", ".join(f"{a} {h:g} h" for a, h in report["notice_limits_hours"].items())
    lines = [f"Recall notices ({len(report['notices'])}), as of {report['as_of']} ({limits}):"]
    for notice in report["notices"]:
        lines += _notice(notice)
    opened = report["open_notices"]
    lines.append(f"Open notices ({len(opened)}):")
    lines += [f"  {n['notice_id']}  {n['din']} {n['product_code']}  {_open_notice(n)}"
              for n in opened]  # fmt: skip
    unmatched = report["unmatched_acknowledgements"]
    lines.append(f"Acknowledgements that closed no notice ({len(unmatched)}):")
    lines += [f"  {_unmatched(a)}" for a in unmatched]
    return lines


def _payload_text(entry: dict[str, Any]) -> str:
    skip = {
        "event_id",
        "event_type",
        "occurred_at",
        "recorded_at",
        "facility",
        "source_system",
        "actor",
    }
    return " ".join(f"{k}={v}" for k, v in entry.items() if k not in skip and v is not None)


def history_text(document: dict[str, Any]) -> str:
    """A readable timeline per unit, flags first."""
    lines: list[str] = []
    if "as_of" in document:
        lines.append(f"As of {document['as_of']} (facts occurred by then)")
    if "known_at" in document:
        lines.append(f"Known at {document['known_at']} (facts the ledger had recorded by then)")
    for unit in document["units"]:
        state = unit["state"]
        group = " ".join(str(x) for x in (state["abo"], state["rhd"]) if x)
        lines.append("")
        component = state["component"] or "?"
        lines.append(f"Unit {unit['din']} {unit['product_code']}  {component} {group}".rstrip())
        transit = state["in_transit_to"]
        where = f"in transit to {transit}" if transit else state["facility"]
        lines.append(
            f"  status {state['status']} at {where or '?'}; expires {state['expires_at'] or '?'}"
        )
        for finding in unit["findings"]:
            when = f"occurred {finding['occurred_at']}, known since {finding['known_since']}"
            lines.append(f"  !! {finding['flag']}: {finding['detail']} ({when})")
        for entry in unit["events"]:
            lines.append(
                f"  {entry['occurred_at']:<25} {entry['facility']:<6} {entry['event_type']:<24} "
                f"{_payload_text(entry)}".rstrip()
            )
    if not document["units"]:
        lines.append("No units recorded for this DIN.")
    return "\n".join(lines)
