"""Questions people ask of the read models: inventory, trace, alerts.

Every answer is a few indexed queries over the projection tables; no
aggregate is replayed to answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ledger.domain.inventory import AlertLevel, AlertPolicy, daily_use, days_of_supply
from projections.rows import Row, iso_ms, ms
from projections.store import LedgerView

GroupKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class InventoryRow:
    facility: str
    component: str
    abo: str
    rhd: str
    available: int
    units: float
    expiring_24h: int
    expiring_72h: int
    daily_use: float
    days_of_supply: float | None
    alert: AlertLevel
    centre: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "facility": self.facility,
            "component": self.component,
            "abo": self.abo,
            "rhd": self.rhd,
            "available": self.available,
            "units": round(self.units, 2),
            "expiring_24h": self.expiring_24h,
            "expiring_72h": self.expiring_72h,
            "daily_use": round(self.daily_use, 3),
            "days_of_supply": None
            if self.days_of_supply is None
            else round(self.days_of_supply, 2),
            "alert": self.alert,
        }


def inventory(
    view: LedgerView, at: datetime, policy: AlertPolicy, facility: str | None = None
) -> list[InventoryRow]:
    """Stock per facility x component x ABO x RhD at ``at``, with days of supply and alerts."""
    t = ms(at)
    params = {
        "t": t,
        "in24": ms(at + timedelta(hours=24)),
        "in72": ms(at + timedelta(hours=72)),
        "window_start": ms(at - timedelta(days=policy.window_days)),
        "facility": facility,
    }
    only = "AND facility = :facility" if facility else ""
    stock = view.select(
        "SELECT facility, component, abo, rhd, COUNT(*) AS available, SUM(units) AS units, "
        "SUM(CASE WHEN expires_at <= :in24 THEN 1 ELSE 0 END) AS expiring_24h, "
        "SUM(CASE WHEN expires_at <= :in72 THEN 1 ELSE 0 END) AS expiring_72h "
        "FROM {available} WHERE valid_from <= :t AND (valid_to IS NULL OR valid_to > :t) "
        f"AND (expires_at IS NULL OR expires_at > :t) {only} "
        "GROUP BY facility, component, abo, rhd",
        params,
    )
    uses = view.select(
        "SELECT facility, component, abo, rhd, COUNT(*) AS used FROM {uses} "
        f"WHERE used_at > :window_start AND used_at <= :t {only} "
        "GROUP BY facility, component, abo, rhd",
        params,
    )
    centres = {
        r["production_facility"]
        for r in view.select(
            "SELECT DISTINCT production_facility FROM {units} WHERE production_facility IS NOT NULL"
        )
    }
    return _inventory_rows(stock, uses, centres, policy)


def _key(row: Row) -> GroupKey:
    return (row["facility"], row["component"] or "?", row["abo"] or "?", row["rhd"] or "?")


def _inventory_rows(
    stock: list[Row], uses: list[Row], centres: set[str], policy: AlertPolicy
) -> list[InventoryRow]:
    on_shelf = {_key(r): r for r in stock}
    used = {_key(r): int(r["used"]) for r in uses}
    rows = []
    for key in sorted(set(on_shelf) | set(used)):
        shelf = on_shelf.get(key, {})
        available = int(shelf.get("available") or 0)
        use = daily_use(used.get(key, 0), policy.window_days)
        dos = days_of_supply(available, use)
        centre = key[0] in centres
        rows.append(
            InventoryRow(
                *key,
                available=available,
                units=float(shelf.get("units") or 0.0),
                expiring_24h=int(shelf.get("expiring_24h") or 0),
                expiring_72h=int(shelf.get("expiring_72h") or 0),
                daily_use=use,
                days_of_supply=dos,
                alert=policy.level(dos, centre=centre),
                centre=centre,
            )
        )
    return rows


def _in(column: str, values: list[str]) -> tuple[str, dict[str, Any]]:
    """An ``IN`` clause with one named parameter per value (empty -> matches nothing)."""
    if not values:
        return "1 = 0", {}
    names = {f"v{i}": v for i, v in enumerate(values)}
    return f"{column} IN ({', '.join(':' + n for n in names)})", names


def _units_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [
        {
            "din": r["din"],
            "product_code": r["product_code"],
            "component": r["component"],
            "status": r["status"],
            "facility": r["facility"],
            "flags": [f for f in r["flags"].split(",") if f],
        }
        for r in rows
    ]


def _recipients_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [
        {
            "patient_id": r["patient_id"],
            "din": r["din"],
            "product_code": r["product_code"],
            "facility": r["facility"],
            "transfused_at": iso_ms(r["transfused_at"]),
        }
        for r in rows
    ]


def _donations_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [
        {
            "din": r["din"],
            "donor_id": r["donor_id"],
            "donation_type": r["donation_type"],
            "collected_at": iso_ms(r["collected_at"]),
            "facility": r["facility"],
            "reactive": bool(r["reactive_tests"]),
        }
        for r in rows
    ]


def _by_dins(view: LedgerView, dins: list[str]) -> tuple[list[Row], list[Row], list[Row]]:
    where, params = _in("din", dins)
    donations = view.select(
        f"SELECT * FROM {{donations}} WHERE {where} ORDER BY collected_at, din", params
    )
    units = view.select(f"SELECT * FROM {{units}} WHERE {where} ORDER BY din, product_code", params)
    recipients = view.select(
        f"SELECT * FROM {{transfusions}} WHERE {where} ORDER BY transfused_at, din", params
    )
    return donations, units, recipients


def _trace_document(
    donations: list[Row], units: list[Row], recipients: list[Row]
) -> dict[str, Any]:
    donors = sorted({r["donor_id"] for r in donations if r["donor_id"]})
    return {
        "donors": donors,
        "donations": _donations_json(donations),
        "units": _units_json(units),
        "recipients": _recipients_json(recipients),
    }


def trace_donor(view: LedgerView, donor_id: str) -> dict[str, Any]:
    """Forward: the donor's donations, their units, where each is, who received them."""
    dins = [
        r["din"]
        for r in view.select("SELECT din FROM {donations} WHERE donor_id = :d", {"d": donor_id})
    ]
    return _trace_document(*_by_dins(view, dins))


def trace_patient(view: LedgerView, patient_id: str) -> dict[str, Any]:
    """Backward: the units a patient received, their donations and donors."""
    received = view.select(
        "SELECT * FROM {transfusions} WHERE patient_id = :p ORDER BY transfused_at",
        {"p": patient_id},
    )
    dins = sorted({r["din"] for r in received})
    donations, units, _ = _by_dins(view, dins)
    unit_ids = {r["unit_id"] for r in received}
    return _trace_document(donations, [u for u in units if u["unit_id"] in unit_ids], received)


def trace_din(view: LedgerView, din: str) -> dict[str, Any]:
    """Both ways from a donation: its donor, its units and their recipients."""
    return _trace_document(*_by_dins(view, [din]))


def alerts(
    view: LedgerView, at: datetime, policy: AlertPolicy, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Safety flags raised on units, and inventory rows in alert, newest first."""
    findings = view.select(
        "SELECT * FROM {findings} WHERE occurred_at >= :since AND occurred_at <= :at "
        "ORDER BY occurred_at DESC",
        {"since": ms(since) if since else 0, "at": ms(at)},
    )
    entries: list[dict[str, Any]] = [
        {
            "kind": "SAFETY_FLAG",
            "at": iso_ms(r["occurred_at"]),
            "flag": r["flag"],
            "din": r["din"],
            "product_code": r["product_code"],
            "event_id": r["event_id"],
            "detail": r["detail"],
        }
        for r in findings
    ]
    stock = [row for row in inventory(view, at, policy) if row.alert != AlertLevel.GREEN]
    entries.extend({"kind": "INVENTORY", "at": iso_ms(ms(at)), **row.to_json()} for row in stock)
    entries.sort(key=lambda e: e["at"] or "", reverse=True)
    return entries


def donor_units(
    view: LedgerView, donor_id: str, since: datetime, until: datetime
) -> tuple[list[Row], list[Row]]:
    """A donor's donations collected in [since, until] and their units."""
    donations = view.select(
        "SELECT * FROM {donations} WHERE donor_id = :d "
        "AND collected_at >= :since AND collected_at <= :until ORDER BY collected_at",
        {"d": donor_id, "since": ms(since), "until": ms(until)},
    )
    _, units, _ = _by_dins(view, [r["din"] for r in donations])
    return donations, units


def recipients_of(view: LedgerView, unit_ids: list[str]) -> list[dict[str, Any]]:
    where, params = _in("unit_id", unit_ids)
    return _recipients_json(
        view.select(f"SELECT * FROM {{transfusions}} WHERE {where} ORDER BY transfused_at", params)
    )


def reactive_donations_without_case(view: LedgerView) -> list[Row]:
    """Reactive donations with a known donor that no case was opened for."""
    return view.select(
        "SELECT * FROM {donations} d WHERE d.reactive_at IS NOT NULL AND d.donor_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM {cases} c WHERE c.trigger_din = d.din) ORDER BY d.din"
    )


def case(view: LedgerView, case_id: str) -> Row | None:
    rows = view.select("SELECT * FROM {cases} WHERE case_id = :c", {"c": case_id})
    return rows[0] if rows else None
